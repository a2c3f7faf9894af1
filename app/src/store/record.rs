//! Recording: a stored delivery's judgement (its verdict and answer, and
//! what it carried: an event or a payment), and events from any source (a
//! notification, a replay, a status query's answer), each with its dispute
//! refolded, in one transaction. Duplicates are caught by unique keys, not
//! by reading first, so concurrent copies of one notification record exactly
//! one event.

use std::time::Duration;

use dispute_core::{
    domain::{
        fold, text, Effect, FoldEvent, Money, NormalizedEvent, PaymentEvent, Stage, Status, Verdict,
    },
    providers::{
        judge::{Judgement, Refused, Reply},
        Notification,
    },
};
use jiff_sqlx::ToSqlx;
use rust_decimal::Decimal;
use sqlx::types::Json;

use super::{Named, NewNotification, Store, StoreError};

/// The longest reason kept for a verdict; a longer one is cut.
const KEPT_REASON: usize = 1000;

/// A delivery as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredDelivery {
    pub id: i64,
    pub received_at: jiff::Timestamp,
    pub connection_id: Option<i64>,
}

/// Where an event comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventSource {
    /// A notification the provider pushed.
    Notification {
        id: i64,
        received_at: jiff::Timestamp,
    },
    /// A stored notification judged again by ops.
    Replay {
        id: i64,
        received_at: jiff::Timestamp,
    },
    /// An answer to a status query: who asked (`None`: the scheduler), and
    /// the answer as received.
    StatusQuery {
        by: Option<i64>,
        asked_at: jiff::Timestamp,
        answer: String,
    },
}

impl EventSource {
    fn kind(&self) -> &'static str {
        match self {
            EventSource::Notification { .. } => "notification",
            EventSource::Replay { .. } => "replay",
            EventSource::StatusQuery { .. } => "status_query",
        }
    }

    fn notification_id(&self) -> Option<i64> {
        match self {
            EventSource::Notification { id, .. } | EventSource::Replay { id, .. } => Some(*id),
            EventSource::StatusQuery { .. } => None,
        }
    }

    /// Stands in for the provider's time when it gives none.
    fn heard_at(&self) -> jiff::Timestamp {
        match self {
            EventSource::Notification { received_at, .. }
            | EventSource::Replay { received_at, .. } => *received_at,
            EventSource::StatusQuery { asked_at, .. } => *asked_at,
        }
    }
}

/// What recording did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A new event (or payment) was recorded.
    New { id: i64 },
    /// The same event was recorded before, from this notification.
    Duplicate { of_notification: Option<i64> },
    /// The delivery was refused; only its verdict was recorded.
    Refused,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    event_key: String,
    effect: String,
    stage: Option<Named<Stage>>,
    status: Option<Named<Status>>,
    occurred_at: jiff_sqlx::Timestamp,
    deadline: Option<jiff_sqlx::Timestamp>,
    currency: Option<String>,
    amount_text: Option<String>,
    reason: Option<String>,
    payment_reference: Option<String>,
    merchant_reference: Option<String>,
}

impl EventRow {
    fn into_fold_event(self) -> Result<FoldEvent, StoreError> {
        let effect = match (self.effect.as_str(), self.stage, self.status) {
            ("sets", Some(stage), Some(status)) => Effect::Sets(stage.0, status.0),
            ("expires", _, _) => Effect::ExpiresCurrentStage,
            ("none", _, _) => Effect::None,
            (other, ..) => return Err(StoreError::corrupt(format!("event effect {other:?}"))),
        };
        Ok(FoldEvent {
            key: dispute_core::domain::EventKey::from_stored(self.event_key),
            effect,
            occurred_at: self.occurred_at.to_jiff(),
            received_seq: self.id,
            deadline: self.deadline.map(|d| d.to_jiff()),
            amount: super::money(self.amount_text, self.currency)?,
            reason: self.reason,
            payment_reference: self.payment_reference,
            merchant_reference: self.merchant_reference,
        })
    }
}

fn effect_columns(effect: Effect) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    match effect {
        Effect::Sets(stage, status) => ("sets", Some(stage.as_str()), Some(status.as_str())),
        Effect::ExpiresCurrentStage => ("expires", None, Some(Status::Expired.as_str())),
        Effect::None => ("none", None, None),
    }
}

fn money_columns(money: Option<&Money>) -> (Option<Decimal>, Option<&str>, Option<&str>) {
    match money {
        Some(m) => (Some(m.amount()), Some(m.currency()), Some(m.text())),
        None => (None, None, None),
    }
}

impl Store {
    /// Stores a delivery with its judgement: the raw request, its verdict
    /// and answer, and what it carried (when accepted) with its dispute
    /// refolded, in one transaction, so nothing is acknowledged that is not
    /// all there. `judged_in` is how long receiving and judging took.
    pub async fn record_delivery(
        &self,
        delivery: &NewNotification,
        judgement: &Judgement,
        judged_in: Duration,
    ) -> Result<(StoredDelivery, Recorded), StoreError> {
        let reply = judgement.reply();
        let latency_us = i64::try_from(judged_in.as_micros()).unwrap_or(i64::MAX);
        let (key, notification) = match judgement {
            Judgement::Refused(Refused {
                verdict,
                reason,
                key,
                ..
            }) => {
                // A refusal is one row: a statement of its own commits it.
                let judged = Judged {
                    verdict: *verdict,
                    reason: Some(text::cut(reason, KEPT_REASON)),
                    key: key.as_ref().map(|k| k.as_str()),
                    reply: &reply,
                    latency_us,
                };
                let stored = insert_notification(&self.pool, delivery, &judged).await?;
                return Ok((stored, Recorded::Refused));
            }
            Judgement::Accepted {
                key, notification, ..
            } => (key, notification),
        };
        let connection_id = delivery
            .connection_id
            .ok_or_else(|| StoreError::corrupt("an accepted delivery without a connection"))?;
        let mut tx = self.pool.begin().await?;
        // Valid is what almost every accepted delivery turns out to be; the
        // rare duplicate or unrecognized event is written over it below.
        let judged = Judged {
            verdict: Verdict::Valid,
            reason: None,
            key: Some(key.as_str()),
            reply: &reply,
            latency_us,
        };
        let stored = insert_notification(&mut *tx, delivery, &judged).await?;
        let source = EventSource::Notification {
            id: stored.id,
            received_at: stored.received_at,
        };
        let (recorded, unrecognized) = match notification {
            Notification::Dispute(event) => {
                let recorded = record_event(&mut tx, connection_id, &source, event).await?;
                let unrecognized = matches!(
                    (recorded, event.effect),
                    (Recorded::New { .. }, Effect::None)
                )
                .then(|| {
                    format!(
                        "unrecognized {:?}: recorded on the timeline without changing the dispute",
                        event.kind
                    )
                });
                (recorded, unrecognized)
            }
            Notification::Payment(payment) => (
                record_payment(&mut tx, connection_id, stored.id, payment).await?,
                None,
            ),
        };
        let rewrite = match (recorded, unrecognized) {
            (Recorded::Duplicate { of_notification }, _) => Some((
                Verdict::Duplicate,
                of_notification
                    .map(|of| format!("the same event was recorded from notification {of}")),
                false,
                of_notification,
            )),
            (_, Some(note)) => Some((Verdict::Valid, Some(note), true, None)),
            _ => None,
        };
        if let Some((verdict, reason, needs_attention, duplicate_of)) = rewrite {
            sqlx::query(
                "update notifications set verdict = $2, reason = $3, needs_attention = $4,
                     duplicate_of = $5
                 where id = $1",
            )
            .bind(stored.id)
            .bind(verdict.as_str())
            .bind(reason)
            .bind(needs_attention)
            .bind(duplicate_of)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((stored, recorded))
    }

    /// Records an event from `source` for a connection's dispute and
    /// refolds the dispute, or recognizes a duplicate.
    pub async fn record_event(
        &self,
        connection_id: i64,
        source: &EventSource,
        event: &NormalizedEvent,
    ) -> Result<Recorded, StoreError> {
        let mut tx = self.pool.begin().await?;
        let recorded = record_event(&mut tx, connection_id, source, event).await?;
        tx.commit().await?;
        Ok(recorded)
    }
}

/// A delivery's judgement as its row records it.
struct Judged<'a> {
    verdict: Verdict,
    reason: Option<String>,
    key: Option<&'a str>,
    reply: &'a Reply,
    latency_us: i64,
}

async fn insert_notification(
    db: impl sqlx::PgExecutor<'_>,
    new: &NewNotification,
    judged: &Judged<'_>,
) -> Result<StoredDelivery, StoreError> {
    let (id, received_at): (i64, jiff_sqlx::Timestamp) = sqlx::query_as(
        "insert into notifications
             (connection_id, slug, remote_addr, headers, body, body_length, body_sha256,
              verdict, reason, key_fingerprint, response_status, response_body, latency_us,
              judged_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
         returning id, received_at",
    )
    .bind(new.connection_id)
    .bind(&new.slug)
    .bind(&new.remote_addr)
    .bind(Json(&new.headers))
    .bind(&new.body)
    .bind(new.body_length)
    .bind(&new.body_sha256)
    .bind(judged.verdict.as_str())
    .bind(&judged.reason)
    .bind(judged.key)
    .bind(judged.reply.status.as_u16() as i16)
    .bind(&judged.reply.body)
    .bind(judged.latency_us)
    .fetch_one(db)
    .await?;
    Ok(StoredDelivery {
        id,
        received_at: received_at.to_jiff(),
        connection_id: new.connection_id,
    })
}

async fn record_event(
    tx: &mut sqlx::PgConnection,
    connection_id: i64,
    source: &EventSource,
    event: &NormalizedEvent,
) -> Result<Recorded, StoreError> {
    let occurred_at = event
        .occurred_at
        .as_ref()
        .map_or(source.heard_at(), |t| t.at)
        .to_sqlx();

    // Creating or touching the dispute row locks it: events of one dispute
    // are folded one transaction at a time.
    let dispute_id: i64 = sqlx::query_scalar(
        "insert into disputes (connection_id, dispute_ref, opened_at, last_event_at)
         values ($1, $2, $3, $3)
         on conflict on constraint disputes_connection_ref_key
         do update set dispute_ref = excluded.dispute_ref
         returning id",
    )
    .bind(connection_id)
    .bind(event.dispute_ref.as_str())
    .bind(occurred_at)
    .fetch_one(&mut *tx)
    .await?;

    let (effect, stage, status) = effect_columns(event.effect);
    let (amount, currency, amount_text) = money_columns(event.amount.as_ref());
    let (queried_by, query_answer) = match source {
        EventSource::StatusQuery { by, answer, .. } => (*by, Some(answer.as_str())),
        _ => (None, None),
    };
    let event_id: Option<i64> = sqlx::query_scalar(
        "insert into dispute_events
             (dispute_id, connection_id, notification_id, event_key, kind, effect, stage, status,
              occurred_at, occurred_at_text, deadline, deadline_text, amount, currency,
              amount_text, reason, reason_code, provider_status, payment_reference,
              merchant_reference, source, queried_by, query_answer)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $21, $22, $23)
         on conflict on constraint dispute_events_key do nothing
         returning id",
    )
    .bind(dispute_id)
    .bind(connection_id)
    .bind(source.notification_id())
    .bind(event.key.as_str())
    .bind(&event.kind)
    .bind(effect)
    .bind(stage)
    .bind(status)
    .bind(occurred_at)
    .bind(event.occurred_at.as_ref().map(|t| &t.text))
    .bind(event.deadline.as_ref().map(|t| t.at.to_sqlx()))
    .bind(event.deadline.as_ref().map(|t| &t.text))
    .bind(amount)
    .bind(currency)
    .bind(amount_text)
    .bind(&event.reason)
    .bind(&event.reason_code)
    .bind(&event.provider_status)
    .bind(&event.payment_reference)
    .bind(&event.merchant_reference)
    .bind(source.kind())
    .bind(queried_by)
    .bind(query_answer)
    .fetch_optional(&mut *tx)
    .await?;

    match event_id {
        Some(id) => {
            refold(tx, dispute_id).await?;
            Ok(Recorded::New { id })
        }
        None => Ok(Recorded::Duplicate {
            of_notification: sqlx::query_scalar(
                "select notification_id from dispute_events
                 where connection_id = $1 and event_key = $2",
            )
            .bind(connection_id)
            .bind(event.key.as_str())
            .fetch_one(&mut *tx)
            .await?,
        }),
    }
}

async fn record_payment(
    tx: &mut sqlx::PgConnection,
    connection_id: i64,
    notification_id: i64,
    payment: &PaymentEvent,
) -> Result<Recorded, StoreError> {
    let (amount, currency, amount_text) = money_columns(payment.amount.as_ref());
    let payment_id: Option<i64> = sqlx::query_scalar(
        "insert into payments
             (connection_id, notification_id, event_key, kind, status, payment_reference,
              merchant_reference, operation_reference, amount, currency, amount_text,
              occurred_at, occurred_at_text)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict on constraint payments_key do nothing
         returning id",
    )
    .bind(connection_id)
    .bind(notification_id)
    .bind(payment.key.as_str())
    .bind(&payment.kind)
    .bind(&payment.status)
    .bind(&payment.payment_reference)
    .bind(&payment.merchant_reference)
    .bind(&payment.operation_reference)
    .bind(amount)
    .bind(currency)
    .bind(amount_text)
    .bind(payment.occurred_at.as_ref().map(|t| t.at.to_sqlx()))
    .bind(payment.occurred_at.as_ref().map(|t| &t.text))
    .fetch_optional(&mut *tx)
    .await?;
    match payment_id {
        Some(id) => Ok(Recorded::New { id }),
        None => Ok(Recorded::Duplicate {
            of_notification: sqlx::query_scalar(
                "select notification_id from payments where connection_id = $1 and event_key = $2",
            )
            .bind(connection_id)
            .bind(payment.key.as_str())
            .fetch_one(&mut *tx)
            .await?,
        }),
    }
}

/// Derives the dispute's whole state from its events (the fold decides
/// every projected column) and writes it.
async fn refold(tx: &mut sqlx::PgConnection, dispute_id: i64) -> Result<(), StoreError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "select id, event_key, effect, stage, status, occurred_at, deadline, currency, amount_text,
                reason, payment_reference, merchant_reference
         from dispute_events where dispute_id = $1",
    )
    .bind(dispute_id)
    .fetch_all(&mut *tx)
    .await?;
    let events = rows
        .into_iter()
        .map(EventRow::into_fold_event)
        .collect::<Result<Vec<_>, _>>()?;
    let state = fold(&events);
    let (amount, currency, amount_text) = money_columns(state.amount.as_ref());
    let (Some(opened_at), Some(last_event_at)) = (state.opened_at, state.last_event_at) else {
        return Err(StoreError::corrupt("a dispute without events"));
    };
    sqlx::query(
        "update disputes set
             stage = $2, status = $3, deadline = $4, amount = $5, currency = $6, amount_text = $7,
             reason = $8, payment_reference = $9, merchant_reference = $10, opened_at = $11,
             last_event_at = $12, updated_at = now()
         where id = $1",
    )
    .bind(dispute_id)
    .bind(state.stage.map(Stage::as_str))
    .bind(state.status.map(Status::as_str))
    .bind(state.deadline.map(|d| d.to_sqlx()))
    .bind(amount)
    .bind(currency)
    .bind(amount_text)
    .bind(&state.reason)
    .bind(&state.payment_reference)
    .bind(&state.merchant_reference)
    .bind(opened_at.to_sqlx())
    .bind(last_event_at.to_sqlx())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
