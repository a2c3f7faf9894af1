//! The columns of an event's values and of a dispute's projection, each
//! listed once: the statements that write them (intake, rebuilds) and read
//! them (the fold, rebuilds, the timeline) are written from these lists,
//! and bind and decode them here, in this order. A new event field is one
//! entry in `EVENT_VALUES`, one bind and one field of `EventColumns`.

use dispute_core::domain::{
    DisputeRef, DisputeState, Effect, EventKey, FoldEvent, NormalizedEvent, ProviderTime, Stage,
    Status,
};
use jiff_sqlx::ToSqlx;
use sqlx::{
    postgres::PgArguments,
    query::{Query, QueryAs},
    Postgres,
};

use super::{money, Named, StoreError};

/// An event's values in `dispute_events`, in the order `bind_event` binds
/// them.
const EVENT_VALUES: [&str; 16] = [
    "kind",
    "effect",
    "stage",
    "status",
    "occurred_at",
    "occurred_at_text",
    "deadline",
    "deadline_text",
    "amount",
    "currency",
    "amount_text",
    "reason",
    "reason_code",
    "provider_status",
    "payment_reference",
    "merchant_reference",
];

/// A dispute's projected values in `disputes`, in the order
/// `bind_projection` binds them.
const PROJECTION: [&str; 13] = [
    "stage",
    "status",
    "deadline",
    "amount",
    "currency",
    "amount_text",
    "reason",
    "reason_code",
    "payment_reference",
    "merchant_reference",
    "opened_at",
    "last_event_at",
    "event_count",
];

/// `e.kind, e.effect, …` for a select from `dispute_events` as `table`.
pub(super) fn event_columns(table: &str) -> String {
    qualified(table, &EVENT_VALUES)
}

/// `kind, effect, …` for an insert.
pub(super) fn event_names() -> String {
    EVENT_VALUES.join(", ")
}

/// `$first, $first + 1, …`, one for each event value.
pub(super) fn event_placeholders(first: usize) -> String {
    placeholders(first, EVENT_VALUES.len())
}

/// `kind = $first, effect = $first + 1, …` for an update.
pub(super) fn event_assignments(first: usize) -> String {
    assignments(first, &EVENT_VALUES)
}

/// `d.stage, d.status, …` for a select from `disputes` as `table`.
pub(super) fn projection_columns(table: &str) -> String {
    qualified(table, &PROJECTION)
}

/// `stage, status, …` for an insert.
pub(super) fn projection_names() -> String {
    PROJECTION.join(", ")
}

/// `$first, …`, one for each projected value.
pub(super) fn projection_placeholders(first: usize) -> String {
    placeholders(first, PROJECTION.len())
}

/// `stage = $first, …` for an update.
pub(super) fn projection_assignments(first: usize) -> String {
    assignments(first, &PROJECTION)
}

/// `stage = excluded.stage, …` for an upsert.
pub(super) fn projection_from_excluded() -> String {
    PROJECTION
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn qualified(table: &str, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn assignments(first: usize, columns: &[&str]) -> String {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A statement values can be bound to (`query` or `query_as`).
pub(super) trait Binds<'q>: Sized {
    fn value<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send;
}

impl<'q> Binds<'q> for Query<'q, Postgres, PgArguments> {
    fn value<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
    {
        self.bind(value)
    }
}

impl<'q, O> Binds<'q> for QueryAs<'q, Postgres, O, PgArguments> {
    fn value<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
    {
        self.bind(value)
    }
}

/// The event-effect columns (`effect`, `stage`, `status`) of `effect`.
pub(super) fn effect_columns(
    effect: Effect,
) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    match effect {
        Effect::Sets(stage, status) => ("sets", Some(stage.as_str()), Some(status.as_str())),
        Effect::ExpiresCurrentStage => ("expires", None, Some(Status::Expired.as_str())),
        Effect::None => ("none", None, None),
    }
}

/// An effect read back from its columns.
pub(super) fn effect_of(
    effect: &str,
    stage: Option<Named<Stage>>,
    status: Option<Named<Status>>,
) -> Result<Effect, StoreError> {
    match (effect, stage, status) {
        ("sets", Some(stage), Some(status)) => Ok(Effect::Sets(stage.0, status.0)),
        ("expires", _, _) => Ok(Effect::ExpiresCurrentStage),
        ("none", _, _) => Ok(Effect::None),
        (other, ..) => Err(StoreError::corrupt(format!("event effect {other:?}"))),
    }
}

/// Binds `event`'s values in `EVENT_VALUES`' order; `occurred_at` is its
/// time, or its heard time when the provider gives none.
pub(super) fn bind_event<'q, B: Binds<'q>>(
    statement: B,
    event: &'q NormalizedEvent,
    occurred_at: jiff::Timestamp,
) -> B {
    let (effect, stage, status) = effect_columns(event.effect);
    let amount = event.amount.as_ref();
    statement
        .value(event.kind.as_str())
        .value(effect)
        .value(stage)
        .value(status)
        .value(occurred_at.to_sqlx())
        .value(event.occurred_at.as_ref().map(|t| t.text.as_str()))
        .value(event.deadline.as_ref().map(|t| t.at.to_sqlx()))
        .value(event.deadline.as_ref().map(|t| t.text.as_str()))
        .value(amount.map(|m| m.amount()))
        .value(amount.map(|m| m.currency()))
        .value(amount.map(|m| m.text()))
        .value(event.reason.as_deref())
        .value(event.reason_code.as_deref())
        .value(event.provider_status.as_deref())
        .value(event.payment_reference.as_deref())
        .value(event.merchant_reference.as_deref())
}

/// Binds a dispute's projection, as the fold derives it from `events`, in
/// `PROJECTION`'s order.
pub(super) fn bind_projection<'q, B: Binds<'q>>(statement: B, projection: Projection) -> B {
    let state = projection.state;
    let (amount, currency, amount_text) = match state.amount {
        Some(m) => (
            Some(m.amount()),
            Some(m.currency().to_owned()),
            Some(m.text().to_owned()),
        ),
        None => (None, None, None),
    };
    statement
        .value(state.stage.map(Stage::as_str))
        .value(state.status.map(Status::as_str))
        .value(state.deadline.map(|d| d.to_sqlx()))
        .value(amount)
        .value(currency)
        .value(amount_text)
        .value(state.reason)
        .value(state.reason_code)
        .value(state.payment_reference)
        .value(state.merchant_reference)
        .value(projection.opened_at.to_sqlx())
        .value(projection.last_event_at.to_sqlx())
        .value(projection.event_count)
}

/// A dispute's projection, as the fold derives it from its events.
pub(super) struct Projection {
    state: DisputeState,
    opened_at: jiff::Timestamp,
    last_event_at: jiff::Timestamp,
    event_count: i32,
}

impl Projection {
    /// `None` for no events: a dispute has at least one.
    pub(super) fn of(events: &[FoldEvent]) -> Option<Self> {
        let state = dispute_core::domain::fold(events);
        Some(Self {
            opened_at: state.opened_at?,
            last_event_at: state.last_event_at?,
            event_count: i32::try_from(events.len()).unwrap_or(i32::MAX),
            state,
        })
    }

    /// The stage and status this projection writes.
    pub(super) fn stage_status(&self) -> (Option<Stage>, Option<Status>) {
        (self.state.stage, self.state.status)
    }
}

/// An event's values as read back, in `EVENT_VALUES` (from a left join, so
/// each may be missing).
#[derive(sqlx::FromRow)]
pub(super) struct EventColumns {
    pub kind: Option<String>,
    pub effect: Option<String>,
    pub stage: Option<Named<Stage>>,
    pub status: Option<Named<Status>>,
    pub occurred_at: Option<jiff_sqlx::Timestamp>,
    pub occurred_at_text: Option<String>,
    pub deadline: Option<jiff_sqlx::Timestamp>,
    pub deadline_text: Option<String>,
    pub currency: Option<String>,
    pub amount_text: Option<String>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    pub provider_status: Option<String>,
    pub payment_reference: Option<String>,
    pub merchant_reference: Option<String>,
}

impl EventColumns {
    /// The event as the fold takes it, received `id`th; `None` when the
    /// row has no event (the left join found none).
    pub(super) fn fold_event(&self, id: i64, key: &str) -> Result<Option<FoldEvent>, StoreError> {
        let (Some(effect), Some(occurred_at)) = (&self.effect, self.occurred_at) else {
            return Ok(None);
        };
        Ok(Some(FoldEvent {
            key: EventKey::from_stored(key.to_owned()),
            effect: effect_of(effect, self.stage, self.status)?,
            occurred_at: occurred_at.to_jiff(),
            received_seq: id,
            deadline: self.deadline.map(|d| d.to_jiff()),
            amount: money(self.amount_text.clone(), self.currency.clone())?,
            reason: self.reason.clone(),
            reason_code: self.reason_code.clone(),
            payment_reference: self.payment_reference.clone(),
            merchant_reference: self.merchant_reference.clone(),
        }))
    }

    /// The event as it was recorded for `dispute_ref` under `key`.
    pub(super) fn normalized(
        self,
        dispute_ref: &str,
        key: String,
    ) -> Result<NormalizedEvent, StoreError> {
        let (Some(kind), Some(effect), Some(occurred_at)) =
            (self.kind, self.effect, self.occurred_at)
        else {
            return Err(StoreError::corrupt(
                "an event without its kind, effect or time",
            ));
        };
        let occurred_at = self.occurred_at_text.map(|text| ProviderTime {
            at: occurred_at.to_jiff(),
            text,
        });
        let deadline = self.deadline.map(|at| ProviderTime {
            at: at.to_jiff(),
            text: self.deadline_text.unwrap_or_default(),
        });
        Ok(NormalizedEvent {
            dispute_ref: DisputeRef::parse(dispute_ref).map_err(StoreError::corrupt)?,
            key: EventKey::from_stored(key),
            kind,
            effect: effect_of(&effect, self.stage, self.status)?,
            occurred_at,
            deadline,
            amount: money(self.amount_text, self.currency)?,
            reason: self.reason,
            reason_code: self.reason_code,
            provider_status: self.provider_status,
            payment_reference: self.payment_reference,
            merchant_reference: self.merchant_reference,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_write_statements_in_their_order() {
        assert!(event_columns("e").starts_with("e.kind, e.effect, e.stage"));
        assert_eq!(
            event_placeholders(3).split(", ").count(),
            EVENT_VALUES.len()
        );
        assert!(event_placeholders(3).starts_with("$3, $4"));
        assert!(event_placeholders(3).ends_with("$18"));
        assert!(event_assignments(2).starts_with("kind = $2, effect = $3"));
        assert!(projection_assignments(2).ends_with("event_count = $14"));
        assert!(projection_from_excluded().starts_with("stage = excluded.stage"));
    }
}
