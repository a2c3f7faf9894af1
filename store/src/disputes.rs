//! Reading disputes, their timelines and their payments, typed: stages,
//! statuses and money come back as the domain's values.

use std::sync::LazyLock;

use dispute_core::domain::{fold, DisputeState, EventOrigin, Money, ProviderKind, Stage, Status};
use serde::{Deserialize, Serialize};

use super::{
    columns::{self, EventColumns},
    money, Named, QueryConflict, Store, StoreError,
};

/// A dispute's projected state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeRecord {
    pub id: i64,
    pub connection_slug: String,
    pub provider: ProviderKind,
    pub dispute_ref: String,
    pub stage: Option<Stage>,
    pub status: Option<Status>,
    pub deadline: Option<jiff::Timestamp>,
    pub amount: Option<Money>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    pub payment_reference: Option<String>,
    pub merchant_reference: Option<String>,
    pub opened_at: jiff::Timestamp,
    pub last_event_at: jiff::Timestamp,
    pub assignee: Option<Person>,
    /// When the provider was last asked about it.
    pub last_queried_at: Option<jiff::Timestamp>,
    /// The provider's latest answer, while it disagrees with what was known
    /// before it.
    pub query_conflict: Option<QueryConflict>,
}

/// Someone named on a page: an assignee, a note's author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub display_name: String,
}

/// One event on a dispute's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub id: i64,
    /// The event's key within its connection (what the fold's reasons name).
    pub key: String,
    pub dispute_id: i64,
    pub dispute_ref: String,
    pub notification_id: Option<i64>,
    pub kind: String,
    pub stage: Option<Stage>,
    pub status: Option<Status>,
    pub occurred_at: jiff::Timestamp,
    /// The provider's text; `None` when the receipt time stands in.
    pub occurred_at_text: Option<String>,
    pub deadline: Option<jiff::Timestamp>,
    pub amount: Option<Money>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    /// The provider's own status text.
    pub provider_status: Option<String>,
    /// When Dispute Desk recorded it.
    pub recorded_at: jiff::Timestamp,
    /// Whether it changed the dispute (an unrecognized event does not).
    pub recognized: bool,
    /// How many more times the provider delivered the notification.
    pub duplicates: i64,
    /// How Dispute Desk learned of it.
    pub source: EventOrigin,
    /// For a status query's answer: who asked (`None`: reconciliation) and
    /// the answer as received.
    pub queried_by: Option<String>,
    pub query_answer: Option<String>,
}

/// A payment event linked to a dispute by its references.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub kind: String,
    pub status: String,
    pub payment_reference: String,
    pub merchant_reference: Option<String>,
    pub operation_reference: Option<String>,
    pub amount: Option<Money>,
}

#[derive(sqlx::FromRow)]
pub(super) struct DisputeRow {
    id: i64,
    connection_slug: String,
    provider: Named<ProviderKind>,
    dispute_ref: String,
    stage: Option<Named<Stage>>,
    status: Option<Named<Status>>,
    deadline: Option<jiff_sqlx::Timestamp>,
    amount_text: Option<String>,
    currency: Option<String>,
    reason: Option<String>,
    reason_code: Option<String>,
    payment_reference: Option<String>,
    merchant_reference: Option<String>,
    opened_at: jiff_sqlx::Timestamp,
    last_event_at: jiff_sqlx::Timestamp,
    assignee_id: Option<i64>,
    assignee_name: Option<String>,
    last_queried_at: Option<jiff_sqlx::Timestamp>,
    query_conflict: Option<sqlx::types::Json<QueryConflict>>,
}

impl TryFrom<DisputeRow> for DisputeRecord {
    type Error = StoreError;

    fn try_from(r: DisputeRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.id,
            connection_slug: r.connection_slug,
            provider: r.provider.0,
            dispute_ref: r.dispute_ref,
            stage: r.stage.map(|s| s.0),
            status: r.status.map(|s| s.0),
            deadline: r.deadline.map(|d| d.to_jiff()),
            amount: money(r.amount_text, r.currency)?,
            reason: r.reason,
            reason_code: r.reason_code,
            payment_reference: r.payment_reference,
            merchant_reference: r.merchant_reference,
            opened_at: r.opened_at.to_jiff(),
            last_event_at: r.last_event_at.to_jiff(),
            assignee: r.assignee_id.map(|id| Person {
                id,
                display_name: r.assignee_name.unwrap_or_default(),
            }),
            last_queried_at: r.last_queried_at.map(|t| t.to_jiff()),
            query_conflict: r.query_conflict.map(|c| c.0),
        })
    }
}

#[derive(sqlx::FromRow)]
struct TimelineRow {
    id: i64,
    event_key: String,
    dispute_id: i64,
    dispute_ref: String,
    notification_id: Option<i64>,
    #[sqlx(flatten)]
    values: EventColumns,
    recorded_at: jiff_sqlx::Timestamp,
    source: Named<EventOrigin>,
    duplicates: i64,
    queried_by: Option<String>,
    query_answer: Option<String>,
}

impl TryFrom<TimelineRow> for TimelineEntry {
    type Error = StoreError;

    fn try_from(r: TimelineRow) -> Result<Self, StoreError> {
        let v = r.values;
        let (Some(kind), Some(effect), Some(occurred_at)) = (v.kind, v.effect, v.occurred_at)
        else {
            return Err(StoreError::corrupt(
                "an event without its kind, effect or time",
            ));
        };
        Ok(Self {
            id: r.id,
            key: r.event_key,
            dispute_id: r.dispute_id,
            dispute_ref: r.dispute_ref,
            notification_id: r.notification_id,
            kind,
            stage: v.stage.map(|s| s.0),
            status: v.status.map(|s| s.0),
            occurred_at: occurred_at.to_jiff(),
            occurred_at_text: v.occurred_at_text,
            deadline: v.deadline.map(|d| d.to_jiff()),
            amount: money(v.amount_text, v.currency)?,
            reason: v.reason,
            reason_code: v.reason_code,
            provider_status: v.provider_status,
            recorded_at: r.recorded_at.to_jiff(),
            recognized: effect != "none",
            source: r.source.0,
            duplicates: r.duplicates,
            queried_by: r.queried_by,
            query_answer: r.query_answer,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    kind: String,
    status: String,
    payment_reference: String,
    merchant_reference: Option<String>,
    operation_reference: Option<String>,
    amount_text: Option<String>,
    currency: Option<String>,
}

impl TryFrom<PaymentRow> for PaymentRecord {
    type Error = StoreError;

    fn try_from(r: PaymentRow) -> Result<Self, StoreError> {
        Ok(Self {
            kind: r.kind,
            status: r.status,
            payment_reference: r.payment_reference,
            merchant_reference: r.merchant_reference,
            operation_reference: r.operation_reference,
            amount: money(r.amount_text, r.currency)?,
        })
    }
}

/// Rows read back as records; a value this version cannot read is an error.
fn records<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

pub(super) static DISPUTE_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "d.id, c.slug as connection_slug, c.provider, d.dispute_ref, {}, d.assignee_id,
         u.display_name as assignee_name, d.last_queried_at, d.query_conflict",
        columns::projection_columns("d")
    )
});

/// Disputes with their connection and their assignee.
pub(super) const DISPUTE_FROM: &str = "disputes d join connections c on c.id = d.connection_id
     left join users u on u.id = d.assignee_id";

static TIMELINE_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "e.id, e.event_key, e.dispute_id, d.dispute_ref, e.notification_id, {}, e.recorded_at,
         e.source,
         (select count(*) from notifications n
          where e.notification_id is not null and n.duplicate_of = e.notification_id) as duplicates,
         (select display_name from users where id = e.queried_by) as queried_by, e.query_answer",
        columns::event_columns("e")
    )
});

impl Store {
    /// The dispute `dispute_ref` of the connection `slug`.
    pub async fn dispute(
        &self,
        slug: &str,
        dispute_ref: &str,
    ) -> Result<Option<DisputeRecord>, StoreError> {
        let row: Option<DisputeRow> = sqlx::query_as(&format!(
            "select {} from {DISPUTE_FROM}
             where c.slug = $1 and d.dispute_ref = $2",
            *DISPUTE_COLUMNS
        ))
        .bind(slug)
        .bind(dispute_ref)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    /// The dispute with this id.
    pub async fn dispute_by_id(&self, id: i64) -> Result<Option<DisputeRecord>, StoreError> {
        let row: Option<DisputeRow> = sqlx::query_as(&format!(
            "select {} from {DISPUTE_FROM} where d.id = $1",
            *DISPUTE_COLUMNS
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    /// A dispute's events in the order they happened (receipt order on ties).
    pub async fn timeline(&self, dispute_id: i64) -> Result<Vec<TimelineEntry>, StoreError> {
        Ok(self.folded_timeline(dispute_id).await?.1)
    }

    /// A dispute's state folded afresh from its events, with the fold's
    /// reasons (which event set the status, which the deadline), and the
    /// events as its timeline: one read.
    pub async fn folded_timeline(
        &self,
        dispute_id: i64,
    ) -> Result<(DisputeState, Vec<TimelineEntry>), StoreError> {
        let rows: Vec<TimelineRow> = sqlx::query_as(&format!(
            "select {}
             from dispute_events e join disputes d on d.id = e.dispute_id
             where e.dispute_id = $1
             order by e.occurred_at, e.id",
            *TIMELINE_COLUMNS
        ))
        .bind(dispute_id)
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .iter()
            .filter_map(|r| r.values.fold_event(r.id, &r.event_key).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        Ok((fold(&events), records(rows)?))
    }

    /// The event recorded from a notification, if any.
    pub async fn event_of_notification(
        &self,
        notification_id: i64,
    ) -> Result<Option<TimelineEntry>, StoreError> {
        let row: Option<TimelineRow> = sqlx::query_as(&format!(
            "select {}
             from dispute_events e join disputes d on d.id = e.dispute_id
             where e.notification_id = $1",
            *TIMELINE_COLUMNS
        ))
        .bind(notification_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    /// The payments of the dispute's connection that carry its payment or
    /// merchant reference, oldest first.
    pub async fn payments_of_dispute(
        &self,
        dispute_id: i64,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let rows: Vec<PaymentRow> = sqlx::query_as(
            "select p.kind, p.status, p.payment_reference, p.merchant_reference,
                    p.operation_reference, p.amount_text, p.currency
             from disputes d
             join payments p on p.connection_id = d.connection_id
                 and (p.payment_reference = d.payment_reference
                      or p.merchant_reference = d.merchant_reference)
             where d.id = $1
             order by p.occurred_at nulls last, p.id",
        )
        .bind(dispute_id)
        .fetch_all(&self.pool)
        .await?;
        records(rows)
    }
}
