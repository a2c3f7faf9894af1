//! Recording: a delivery with its judgement (the raw request, its verdict
//! and answer, and what it carried: an event or a payment), and events from
//! the other sources (a replay, a status query's answer), each with its
//! dispute refolded, in one transaction. Duplicates are caught by unique
//! keys, not by reading first, so concurrent copies of one notification
//! record exactly one event.
//!
//! An accepted notification costs four round trips: BEGIN; one statement
//! that stores the request, upserts the dispute, inserts the event and
//! returns the dispute's events; the refolded projection; COMMIT.

use std::time::Duration;

use dispute_core::{
    domain::{
        fold, text, Effect, EventKey, FoldEvent, Money, NormalizedEvent, PaymentEvent, Stage,
        Status, Verdict,
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

/// Where an event comes from, besides a notification as it arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventSource {
    /// A stored notification judged again by ops.
    Replay {
        notification_id: i64,
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

/// Where the event being recorded comes from, as its row says it.
enum Origin<'a> {
    /// A notification stored in the same statement.
    Arriving(&'a NewNotification, &'a Judged<'a>),
    Other(&'a EventSource),
}

impl Origin<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Origin::Arriving(..) => "notification",
            Origin::Other(EventSource::Replay { .. }) => "replay",
            Origin::Other(EventSource::StatusQuery { .. }) => "status_query",
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

/// A delivery's judgement as its row records it.
struct Judged<'a> {
    verdict: Verdict,
    reason: Option<String>,
    key: Option<&'a str>,
    reply: &'a Reply,
    latency_us: i64,
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
        // Valid is what almost every accepted delivery turns out to be; the
        // rare duplicate or unrecognized event is written over it below.
        let judged = Judged {
            verdict: Verdict::Valid,
            reason: None,
            key: Some(key.as_str()),
            reply: &reply,
            latency_us,
        };
        let mut tx = self.pool.begin().await?;
        let (stored, recorded, unrecognized) = match notification {
            Notification::Dispute(event) => {
                let origin = Origin::Arriving(delivery, &judged);
                let (stored, recorded) =
                    record_event(&mut tx, connection_id, &origin, event).await?;
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
                let stored =
                    stored.ok_or_else(|| StoreError::corrupt("the notification was not stored"))?;
                (stored, recorded, unrecognized)
            }
            Notification::Payment(payment) => {
                let stored = insert_notification(&mut *tx, delivery, &judged).await?;
                let recorded = record_payment(&mut tx, connection_id, stored.id, payment).await?;
                (stored, recorded, None)
            }
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
        let (_, recorded) =
            record_event(&mut tx, connection_id, &Origin::Other(source), event).await?;
        tx.commit().await?;
        Ok(recorded)
    }
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

/// A row of the recording statement: the notification it stored (if any),
/// and one event of the dispute — the new one first — or none.
#[derive(sqlx::FromRow)]
struct RecordedRow {
    notification_id: Option<i64>,
    received_at: Option<jiff_sqlx::Timestamp>,
    dispute_id: i64,
    /// How many events the dispute was last folded from, as of the lock.
    folded: i32,
    new: Option<bool>,
    id: Option<i64>,
    event_key: Option<String>,
    effect: Option<String>,
    stage: Option<Named<Stage>>,
    status: Option<Named<Status>>,
    occurred_at: Option<jiff_sqlx::Timestamp>,
    deadline: Option<jiff_sqlx::Timestamp>,
    currency: Option<String>,
    amount_text: Option<String>,
    reason: Option<String>,
    payment_reference: Option<String>,
    merchant_reference: Option<String>,
}

impl RecordedRow {
    /// The event this row carries, as the fold reads it.
    fn fold_event(self) -> Result<Option<FoldEvent>, StoreError> {
        let (Some(id), Some(key), Some(effect), Some(occurred_at)) =
            (self.id, self.event_key, self.effect, self.occurred_at)
        else {
            return Ok(None);
        };
        let effect = match (effect.as_str(), self.stage, self.status) {
            ("sets", Some(stage), Some(status)) => Effect::Sets(stage.0, status.0),
            ("expires", _, _) => Effect::ExpiresCurrentStage,
            ("none", _, _) => Effect::None,
            (other, ..) => return Err(StoreError::corrupt(format!("event effect {other:?}"))),
        };
        Ok(Some(FoldEvent {
            key: EventKey::from_stored(key),
            effect,
            occurred_at: occurred_at.to_jiff(),
            received_seq: id,
            deadline: self.deadline.map(|d| d.to_jiff()),
            amount: super::money(self.amount_text, self.currency)?,
            reason: self.reason,
            payment_reference: self.payment_reference,
            merchant_reference: self.merchant_reference,
        }))
    }
}

/// Stores the arriving notification (if the origin is one), upserts the
/// dispute (locking it, so one dispute's events fold one transaction at a
/// time), inserts the event unless its key is known, and reads back all
/// the dispute's events — one statement; then refolds the dispute.
async fn record_event(
    tx: &mut sqlx::PgConnection,
    connection_id: i64,
    origin: &Origin<'_>,
    event: &NormalizedEvent,
) -> Result<(Option<StoredDelivery>, Recorded), StoreError> {
    let (effect, stage, status) = effect_columns(event.effect);
    let (amount, currency, amount_text) = money_columns(event.amount.as_ref());
    let (arriving, earlier_notification, heard_at, queried_by, query_answer) = match origin {
        Origin::Arriving(raw, judged) => (Some((raw, judged)), None, None, None, None),
        Origin::Other(EventSource::Replay {
            notification_id,
            received_at,
        }) => (None, Some(*notification_id), Some(*received_at), None, None),
        Origin::Other(EventSource::StatusQuery {
            by,
            asked_at,
            answer,
        }) => (None, None, Some(*asked_at), *by, Some(answer.as_str())),
    };
    let rows: Vec<RecordedRow> = sqlx::query_as(
        "with dispute as (
             insert into disputes as d (connection_id, dispute_ref, opened_at, last_event_at)
             values ($1, $2, now(), now())
             on conflict on constraint disputes_connection_ref_key
             do update set event_count = d.event_count
             returning id, event_count
         ), notification as (
             insert into notifications
                 (connection_id, slug, remote_addr, headers, body, body_length, body_sha256,
                  verdict, key_fingerprint, response_status, response_body, latency_us,
                  judged_at)
             select $1, $24, $25, $26, $27, $28, $29, 'valid', $30, $31, $32, $33, now()
             where $23
             returning id, received_at
         ), event as (
             insert into dispute_events
                 (dispute_id, connection_id, notification_id, event_key, kind, effect, stage,
                  status, occurred_at, occurred_at_text, deadline, deadline_text, amount,
                  currency, amount_text, reason, reason_code, provider_status,
                  payment_reference, merchant_reference, source, queried_by, query_answer)
             select dispute.id, $1, coalesce((select id from notification), $20), $3, $4, $5,
                    $6, $7, coalesce($8, $21, now()), $9, $10, $11, $12, $13, $14, $15, $16,
                    $17, $18, $19, $22, $34, $35
             from dispute
             on conflict on constraint dispute_events_key do nothing
             returning id, event_key, effect, stage, status, occurred_at, deadline, currency,
                       amount_text, reason, payment_reference, merchant_reference
         )
         select (select id from notification) as notification_id,
                (select received_at from notification) as received_at,
                d.id as dispute_id, d.event_count as folded, e.new, e.id, e.event_key, e.effect, e.stage, e.status,
                e.occurred_at, e.deadline, e.currency, e.amount_text, e.reason,
                e.payment_reference, e.merchant_reference
         from dispute d
         left join lateral (
             select true as new, * from event
             union all
             select false, id, event_key, effect, stage, status, occurred_at, deadline,
                    currency, amount_text, reason, payment_reference, merchant_reference
             from dispute_events where dispute_id = d.id
         ) e on true",
    )
    .bind(connection_id)
    .bind(event.dispute_ref.as_str())
    .bind(event.key.as_str())
    .bind(&event.kind)
    .bind(effect)
    .bind(stage)
    .bind(status)
    .bind(event.occurred_at.as_ref().map(|t| t.at.to_sqlx()))
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
    .bind(earlier_notification)
    .bind(heard_at.map(|t| t.to_sqlx()))
    .bind(origin.kind())
    .bind(arriving.is_some())
    .bind(arriving.map(|(raw, _)| &raw.slug))
    .bind(arriving.map(|(raw, _)| &raw.remote_addr))
    .bind(arriving.map(|(raw, _)| Json(&raw.headers)))
    .bind(arriving.map(|(raw, _)| &raw.body))
    .bind(arriving.map(|(raw, _)| raw.body_length))
    .bind(arriving.map(|(raw, _)| &raw.body_sha256))
    .bind(arriving.and_then(|(_, judged)| judged.key))
    .bind(arriving.map(|(_, judged)| judged.reply.status.as_u16() as i16))
    .bind(arriving.map(|(_, judged)| &judged.reply.body))
    .bind(arriving.map(|(_, judged)| judged.latency_us))
    .bind(queried_by)
    .bind(query_answer)
    .fetch_all(&mut *tx)
    .await?;

    let first = rows
        .first()
        .ok_or_else(|| StoreError::corrupt("recording an event returned nothing"))?;
    let dispute_id = first.dispute_id;
    let stored = match (first.notification_id, &first.received_at) {
        (Some(id), Some(received_at)) => Some(StoredDelivery {
            id,
            received_at: received_at.to_jiff(),
            connection_id: Some(connection_id),
        }),
        _ => None,
    };
    let new_id = rows.iter().find(|r| r.new == Some(true)).and_then(|r| r.id);
    let Some(id) = new_id else {
        let of_notification = sqlx::query_scalar(
            "select notification_id from dispute_events
             where connection_id = $1 and event_key = $2",
        )
        .bind(connection_id)
        .bind(event.key.as_str())
        .fetch_one(&mut *tx)
        .await?;
        return Ok((stored, Recorded::Duplicate { of_notification }));
    };
    // The events were read from the statement's snapshot, which predates
    // the lock if it had to wait for it: fewer than were last folded means
    // another transaction's events are missing, so read them again, now.
    let known = rows.iter().filter(|r| r.new == Some(false)).count();
    let folded = usize::try_from(first.folded).unwrap_or(0);
    let rows = if known < folded {
        sqlx::query_as(
            "select null::bigint as notification_id, null::timestamptz as received_at,
                    dispute_id, 0 as folded, false as new, id, event_key, effect, stage, status,
                    occurred_at, deadline, currency, amount_text, reason, payment_reference,
                    merchant_reference
             from dispute_events where dispute_id = $1",
        )
        .bind(dispute_id)
        .fetch_all(&mut *tx)
        .await?
    } else {
        rows
    };
    let events = rows
        .into_iter()
        .filter_map(|row| row.fold_event().transpose())
        .collect::<Result<Vec<_>, _>>()?;
    refold(tx, dispute_id, &events).await?;
    Ok((stored, Recorded::New { id }))
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

/// Writes the dispute's whole state as the fold derives it from `events`
/// (the fold decides every projected column).
async fn refold(
    tx: &mut sqlx::PgConnection,
    dispute_id: i64,
    events: &[FoldEvent],
) -> Result<(), StoreError> {
    let state = fold(events);
    let (amount, currency, amount_text) = money_columns(state.amount.as_ref());
    let (Some(opened_at), Some(last_event_at)) = (state.opened_at, state.last_event_at) else {
        return Err(StoreError::corrupt("a dispute without events"));
    };
    sqlx::query(
        "update disputes set
             stage = $2, status = $3, deadline = $4, amount = $5, currency = $6, amount_text = $7,
             reason = $8, payment_reference = $9, merchant_reference = $10, opened_at = $11,
             last_event_at = $12, event_count = $13, updated_at = now()
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
    .bind(i32::try_from(events.len()).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await?;
    Ok(())
}
