//! Recording: a delivery with its judgement (the raw request, its verdict
//! and answer, and what it carried: an event or a payment), and events from
//! the other sources (a replay, a status query's answer), each with its
//! dispute refolded, in one transaction. A known key makes a duplicate;
//! unique keys settle the races reading cannot see, so concurrent copies
//! of one notification record exactly one event.
//!
//! An accepted notification costs four round trips: BEGIN; one statement
//! that locks its dispute and reads its events; one that stores the
//! request, writes the dispute as refolded with the new event and inserts
//! the event; COMMIT.

use std::{sync::LazyLock, time::Duration};

use dispute_core::{
    domain::{
        fold, text, DisputeState, Effect, EventOrigin, FoldEvent, Money, NormalizedEvent,
        PaymentEvent, Stage, Status, Verdict,
    },
    providers::{
        judge::{Judgement, Refused, Reply},
        Notification,
    },
};
use jiff_sqlx::ToSqlx;
use rust_decimal::Decimal;
use sqlx::types::Json;

use super::{
    columns::{self, EventColumns, Projection},
    NewNotification, Store, StoreError,
};

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
    /// The merchant's decision, sent or recorded (a submission's), made
    /// at `at`.
    Response { at: jiff::Timestamp },
}

/// Where the event being recorded comes from, as its row says it.
enum Origin<'a> {
    /// A notification, stored by the statement that records its event.
    Arriving(&'a Receipt<'a>),
    Other(&'a EventSource),
}

impl Origin<'_> {
    fn kind(&self) -> EventOrigin {
        match self {
            Origin::Arriving(..) => EventOrigin::Notification,
            Origin::Other(EventSource::Replay { .. }) => EventOrigin::Replay,
            Origin::Other(EventSource::StatusQuery { .. }) => EventOrigin::StatusQuery,
            Origin::Other(EventSource::Response { .. }) => EventOrigin::Response,
        }
    }

    /// When the event was heard of, for an event that gives no time of its
    /// own; `None`: now, when the arriving notification is received.
    fn heard_at(&self) -> Option<jiff::Timestamp> {
        match self {
            Origin::Arriving(..) => None,
            Origin::Other(EventSource::Replay { received_at, .. }) => Some(*received_at),
            Origin::Other(EventSource::StatusQuery { asked_at, .. }) => Some(*asked_at),
            Origin::Other(EventSource::Response { at }) => Some(*at),
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

/// What a delivery's row says of its outcome.
struct Settled {
    verdict: Verdict,
    reason: Option<String>,
    needs_attention: bool,
    duplicate_of: Option<i64>,
}

impl Settled {
    fn valid() -> Self {
        Self {
            verdict: Verdict::Valid,
            reason: None,
            needs_attention: false,
            duplicate_of: None,
        }
    }

    /// A new event is valid; one that changes nothing is flagged for ops.
    fn new_event(event: &NormalizedEvent) -> Self {
        match event.effect {
            Effect::None => Self {
                reason: Some(format!(
                    "unrecognized {:?}: recorded on the timeline without changing the dispute",
                    event.kind
                )),
                needs_attention: true,
                ..Self::valid()
            },
            Effect::Sets(..) | Effect::ExpiresCurrentStage => Self::valid(),
        }
    }

    fn duplicate(of_notification: Option<i64>) -> Self {
        Self {
            verdict: Verdict::Duplicate,
            reason: of_notification
                .map(|of| format!("the same event was recorded from notification {of}")),
            needs_attention: false,
            duplicate_of: of_notification,
        }
    }
}

/// An accepted delivery: its request and what answers it.
struct Receipt<'a> {
    raw: &'a NewNotification,
    key: &'a str,
    reply: &'a Reply,
    latency_us: i64,
}

impl<'a> Receipt<'a> {
    fn judged(&self, settled: Settled) -> Judged<'a> {
        Judged {
            settled,
            key: Some(self.key),
            reply: self.reply,
            latency_us: self.latency_us,
        }
    }
}

/// A delivery's judgement as its row records it.
struct Judged<'a> {
    settled: Settled,
    key: Option<&'a str>,
    reply: &'a Reply,
    latency_us: i64,
}

pub(super) fn money_columns(
    money: Option<&Money>,
) -> (Option<Decimal>, Option<&str>, Option<&str>) {
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
                    settled: Settled {
                        verdict: *verdict,
                        reason: Some(text::cut(reason, KEPT_REASON)),
                        needs_attention: false,
                        duplicate_of: None,
                    },
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
        let receipt = Receipt {
            raw: delivery,
            key: key.as_str(),
            reply: &reply,
            latency_us,
        };
        let mut tx = self.pool.begin().await?;
        let (stored, recorded) = match notification {
            Notification::Dispute(event) => {
                let origin = Origin::Arriving(&receipt);
                let (stored, recorded, _) =
                    record_event(&mut tx, connection_id, &origin, event).await?;
                let stored =
                    stored.ok_or_else(|| StoreError::corrupt("the notification was not stored"))?;
                (stored, recorded)
            }
            Notification::Payment(payment) => {
                let judged = receipt.judged(Settled::valid());
                let stored = insert_notification(&mut *tx, delivery, &judged).await?;
                let recorded = record_payment(&mut tx, connection_id, stored.id, payment).await?;
                if let Recorded::Duplicate { of_notification } = recorded {
                    settle(&mut tx, stored.id, &Settled::duplicate(of_notification)).await?;
                }
                (stored, recorded)
            }
        };
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
        let (_, recorded, _) =
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
              verdict, reason, needs_attention, duplicate_of, key_fingerprint, response_status,
              response_body, latency_us, judged_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now())
         returning id, received_at",
    )
    .bind(new.connection_id)
    .bind(&new.slug)
    .bind(&new.remote_addr)
    .bind(Json(&new.headers))
    .bind(&new.body)
    .bind(new.body_length)
    .bind(&new.body_sha256)
    .bind(judged.settled.verdict.as_str())
    .bind(&judged.settled.reason)
    .bind(judged.settled.needs_attention)
    .bind(judged.settled.duplicate_of)
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

/// Rewrites a stored delivery's outcome, on the rare paths where it turned
/// out otherwise than its row was written with.
async fn settle(
    tx: &mut sqlx::PgConnection,
    notification_id: i64,
    settled: &Settled,
) -> Result<(), StoreError> {
    sqlx::query(
        "update notifications set verdict = $2, reason = $3, needs_attention = $4,
             duplicate_of = $5
         where id = $1",
    )
    .bind(notification_id)
    .bind(settled.verdict.as_str())
    .bind(&settled.reason)
    .bind(settled.needs_attention)
    .bind(settled.duplicate_of)
    .execute(tx)
    .await?;
    Ok(())
}

/// A stored event, as the fold reads it; all `None` when a dispute has none.
/// An event as the fold reads it back: its receipt order, key and values.
#[derive(sqlx::FromRow)]
struct EventRow {
    id: Option<i64>,
    event_key: Option<String>,
    #[sqlx(flatten)]
    values: EventColumns,
}

impl EventRow {
    fn fold_event(self) -> Result<Option<FoldEvent>, StoreError> {
        match (self.id, &self.event_key) {
            (Some(id), Some(key)) => self.values.fold_event(id, key),
            _ => Ok(None),
        }
    }
}

/// A row of the locking read: whether the event's key is known, and one
/// event of the dispute, if it exists and has any.
#[derive(sqlx::FromRow)]
struct LockedRow {
    /// How many events the dispute was last folded from; `None`: no such
    /// dispute yet.
    folded: Option<i32>,
    /// The dispute's revision (moved on when a rebuild rewrites its events)
    /// and this row's event's.
    revision: Option<i32>,
    event_revision: Option<i32>,
    known: bool,
    known_from: Option<i64>,
    now: jiff_sqlx::Timestamp,
    #[sqlx(flatten)]
    event: EventRow,
}

/// A dispute as its lock found it.
struct Locked {
    /// How many events it was last folded from (0: no such dispute yet).
    folded: i32,
    /// `Some`: the event's key is recorded already (from this notification).
    known_from: Option<Option<i64>>,
    events: Vec<FoldEvent>,
    /// The transaction's time: an arriving notification's receipt time.
    now: jiff::Timestamp,
}

/// The locking read: the dispute locked (when it exists) with its events,
/// and whether the event's key is recorded already.
static READ_LOCKED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "with dispute as (
             select id, event_count, revision from disputes
             where connection_id = $1 and dispute_ref = $2
             for update
         )
         select d.event_count as folded, d.revision, e.revision as event_revision, k.known,
                k.known_from, now() as now, e.id, e.event_key, {}
         from (select exists (select from dispute_events
                              where connection_id = $1 and event_key = $3) as known,
                      (select notification_id from dispute_events
                       where connection_id = $1 and event_key = $3) as known_from) k
         left join dispute d on true
         left join dispute_events e on e.dispute_id = d.id",
        columns::event_columns("e")
    )
});

/// Locks the dispute (when it exists) and reads its events, and whether
/// the event's key is recorded already.
async fn read_locked(
    tx: &mut sqlx::PgConnection,
    connection_id: i64,
    event: &NormalizedEvent,
) -> Result<Locked, StoreError> {
    let read = || {
        sqlx::query_as::<_, LockedRow>(&READ_LOCKED)
            .bind(connection_id)
            .bind(event.dispute_ref.as_str())
            .bind(event.key.as_str())
    };
    let mut rows = read().fetch_all(&mut *tx).await?;
    // The events are read from the statement's snapshot, which predates
    // the lock when it had to wait for it: fewer than were last folded
    // means another transaction's events (perhaps this very key) are
    // missing, and none as new as the dispute's revision means a rebuild
    // rewrote them meanwhile; either way, read again, now that the lock is
    // held.
    let folded = rows.first().and_then(|r| r.folded).unwrap_or(0);
    let revision = rows.first().and_then(|r| r.revision).unwrap_or(0);
    let newest_read = rows
        .iter()
        .filter_map(|r| r.event_revision)
        .max()
        .unwrap_or(0);
    let read_events = rows.iter().filter(|r| r.event.id.is_some()).count();
    if read_events < usize::try_from(folded).unwrap_or(0) || newest_read < revision {
        rows = read().fetch_all(&mut *tx).await?;
    }
    let first = rows
        .first()
        .ok_or_else(|| StoreError::corrupt("the locking read returned nothing"))?;
    let (folded, known_from, now) = (
        first.folded.unwrap_or(0),
        first.known.then_some(first.known_from),
        first.now.to_jiff(),
    );
    let events = rows
        .into_iter()
        .filter_map(|row| row.event.fold_event().transpose())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Locked {
        folded,
        known_from,
        events,
        now,
    })
}

/// What the writing statement did.
#[derive(sqlx::FromRow)]
struct Written {
    notification_id: Option<i64>,
    received_at: Option<jiff_sqlx::Timestamp>,
    /// `None`: the dispute was created by another transaction since the
    /// locking read, so nothing was written to it.
    dispute_id: Option<i64>,
    /// `None`: the key was taken since the locking read.
    event_id: Option<i64>,
}

/// A dispute's stage and status as an event's recording wrote them.
pub(super) type Folded = (Option<Stage>, Option<Status>);

/// Records an event from `source` within the caller's transaction; with a
/// new event, the stage and status the dispute was written with (so the
/// caller need not read them back).
pub(super) async fn record_event_in(
    tx: &mut sqlx::PgConnection,
    connection_id: i64,
    source: &EventSource,
    event: &NormalizedEvent,
) -> Result<(Recorded, Option<Folded>), StoreError> {
    let (_, recorded, folded) =
        record_event(tx, connection_id, &Origin::Other(source), event).await?;
    Ok((recorded, folded))
}

/// Records an event for its dispute: one statement locks the dispute and
/// reads its events; the next stores the arriving notification, writes the
/// dispute as the fold derives it with the new event (creating it if new)
/// and inserts the event. The dispute row is written once, which keeps
/// intake near the database's ceiling (see `bench/RESULTS.md`). A dispute
/// created, or a key taken, by another transaction between the two
/// statements is handled by the rarer paths below.
async fn record_event(
    tx: &mut sqlx::PgConnection,
    connection_id: i64,
    origin: &Origin<'_>,
    event: &NormalizedEvent,
) -> Result<(Option<StoredDelivery>, Recorded, Option<Folded>), StoreError> {
    let mut stored: Option<StoredDelivery> = None;
    // A second pass happens only when another transaction created the
    // dispute between this one's read and write; it then finds it locked.
    for _ in 0..3 {
        let locked = read_locked(tx, connection_id, event).await?;
        if let Some(of_notification) = locked.known_from {
            let settled = Settled::duplicate(of_notification);
            match (origin, &stored) {
                (Origin::Arriving(receipt), None) => {
                    let judged = receipt.judged(settled);
                    stored = Some(insert_notification(&mut *tx, receipt.raw, &judged).await?);
                }
                (Origin::Arriving(_), Some(earlier)) => settle(tx, earlier.id, &settled).await?,
                (Origin::Other(_), _) => {}
            }
            return Ok((stored, Recorded::Duplicate { of_notification }, None));
        }
        let occurred_at = event
            .occurred_at
            .as_ref()
            .map(|t| t.at)
            .or_else(|| origin.heard_at())
            .unwrap_or(locked.now);
        let mut events = locked.events;
        // Under the lock every other event of the dispute was recorded
        // before this one, so this one's id will be the highest.
        events.push(FoldEvent::of(event, occurred_at, i64::MAX));
        // The event links to the notification it came from: stored by the
        // writing statement, by an earlier pass, or long ago (a replay).
        let (arriving, from_notification) = match (origin, &stored) {
            (Origin::Arriving(receipt), None) => (
                Some((receipt.raw, receipt.judged(Settled::new_event(event)))),
                None,
            ),
            (Origin::Arriving(_), Some(earlier)) => (None, Some(earlier.id)),
            (
                Origin::Other(EventSource::Replay {
                    notification_id, ..
                }),
                _,
            ) => (None, Some(*notification_id)),
            (Origin::Other(EventSource::StatusQuery { .. } | EventSource::Response { .. }), _) => {
                (None, None)
            }
        };
        let (written, folded) = write_event(
            tx,
            connection_id,
            origin,
            arriving.as_ref().map(|(raw, judged)| (*raw, judged)),
            from_notification,
            event,
            occurred_at,
            &events,
            locked.folded,
        )
        .await?;
        if let (Some(id), Some(received_at)) = (written.notification_id, written.received_at) {
            stored = Some(StoredDelivery {
                id,
                received_at: received_at.to_jiff(),
                connection_id: Some(connection_id),
            });
        }
        let Some(dispute_id) = written.dispute_id else {
            continue;
        };
        if let Some(id) = written.event_id {
            return Ok((stored, Recorded::New { id }, Some(folded)));
        }
        // Another dispute's event took the key since the read: this
        // dispute was written with an event it does not have.
        refold_stored(tx, dispute_id).await?;
        let of_notification = sqlx::query_scalar(
            "select notification_id from dispute_events
             where connection_id = $1 and event_key = $2",
        )
        .bind(connection_id)
        .bind(event.key.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if let Some(earlier) = &stored {
            settle(tx, earlier.id, &Settled::duplicate(of_notification)).await?;
        }
        return Ok((stored, Recorded::Duplicate { of_notification }, None));
    }
    Err(StoreError::corrupt(
        "the dispute kept changing while its event was recorded",
    ))
}

/// The writing statement (its values as `write_event` binds them): the
/// arriving notification ($25–$37, when $24), the dispute as folded
/// ($38–$50, unless it changed since it was folded from $51 events), and
/// the event ($3–$19, then $20–$23) unless its key is taken.
static WRITE_EVENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "with notification as (
             insert into notifications
                 (connection_id, slug, remote_addr, headers, body, body_length, body_sha256,
                  verdict, reason, needs_attention, key_fingerprint, response_status,
                  response_body, latency_us, judged_at)
             select $1, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, now()
             where $24
             returning id, received_at
         ), dispute as (
             insert into disputes as d (connection_id, dispute_ref, {projection})
             values ($1, $2, {projection_values})
             on conflict on constraint disputes_connection_ref_key
             do update set {projection_update}, updated_at = now()
             where d.event_count = $51
             returning id
         ), event as (
             insert into dispute_events
                 (dispute_id, connection_id, notification_id, event_key, {event},
                  source, queried_by, query_answer)
             select dispute.id, $1, coalesce((select id from notification), $20), $3,
                    {event_values}, $21, $22, $23
             from dispute
             on conflict on constraint dispute_events_key do nothing
             returning id
         )
         select (select id from notification) as notification_id,
                (select received_at from notification) as received_at,
                (select id from dispute) as dispute_id,
                (select id from event) as event_id",
        projection = columns::projection_names(),
        projection_values = columns::projection_placeholders(38),
        projection_update = columns::projection_from_excluded(),
        event = columns::event_names(),
        event_values = columns::event_placeholders(4),
    )
});

/// The writing statement: the arriving notification (if any; else the event
/// links to `from_notification`), the dispute
/// as folded from `events` unless it changed since `folded` was read, and
/// the event unless its key is taken.
#[allow(clippy::too_many_arguments)]
async fn write_event(
    tx: &mut sqlx::PgConnection,
    connection_id: i64,
    origin: &Origin<'_>,
    arriving: Option<(&NewNotification, &Judged<'_>)>,
    from_notification: Option<i64>,
    event: &NormalizedEvent,
    occurred_at: jiff::Timestamp,
    events: &[FoldEvent],
    folded: i32,
) -> Result<(Written, Folded), StoreError> {
    let projection =
        Projection::of(events).ok_or_else(|| StoreError::corrupt("a dispute without events"))?;
    let written_state = projection.stage_status();
    let (queried_by, query_answer) = match origin {
        Origin::Other(EventSource::StatusQuery { by, answer, .. }) => (*by, Some(answer.as_str())),
        Origin::Arriving(..)
        | Origin::Other(EventSource::Replay { .. } | EventSource::Response { .. }) => (None, None),
    };
    let query = sqlx::query_as::<_, Written>(&WRITE_EVENT)
        .bind(connection_id)
        .bind(event.dispute_ref.as_str())
        .bind(event.key.as_str());
    let query = columns::bind_event(query, event, occurred_at)
        .bind(from_notification)
        .bind(origin.kind().as_str())
        .bind(queried_by)
        .bind(query_answer)
        .bind(arriving.is_some())
        .bind(arriving.map(|(raw, _)| &raw.slug))
        .bind(arriving.map(|(raw, _)| &raw.remote_addr))
        .bind(arriving.map(|(raw, _)| Json(&raw.headers)))
        .bind(arriving.map(|(raw, _)| &raw.body))
        .bind(arriving.map(|(raw, _)| raw.body_length))
        .bind(arriving.map(|(raw, _)| &raw.body_sha256))
        .bind(arriving.map(|(_, judged)| judged.settled.verdict.as_str()))
        .bind(arriving.and_then(|(_, judged)| judged.settled.reason.as_deref()))
        .bind(arriving.map(|(_, judged)| judged.settled.needs_attention))
        .bind(arriving.and_then(|(_, judged)| judged.key))
        .bind(arriving.map(|(_, judged)| judged.reply.status.as_u16() as i16))
        .bind(arriving.map(|(_, judged)| &judged.reply.body))
        .bind(arriving.map(|(_, judged)| judged.latency_us));
    let written = columns::bind_projection(query, projection)
        .bind(folded)
        .fetch_one(&mut *tx)
        .await?;
    Ok((written, written_state))
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

/// Refolds a dispute from its stored events: after a rebuild rewrote them,
/// or on the rare path where it was written with an event whose key another
/// dispute took; a dispute left without events (this transaction created it
/// for that event) is removed.
pub(super) async fn refold_stored(
    tx: &mut sqlx::PgConnection,
    dispute_id: i64,
) -> Result<(), StoreError> {
    let events = stored_events(&mut *tx, dispute_id).await?;
    let Some(projection) = Projection::of(&events) else {
        sqlx::query("delete from disputes where id = $1")
            .bind(dispute_id)
            .execute(&mut *tx)
            .await?;
        return Ok(());
    };
    let statement = format!(
        "update disputes set {}, updated_at = now() where id = $1 returning id",
        columns::projection_assignments(2)
    );
    let update = sqlx::query_as::<_, (i64,)>(&statement).bind(dispute_id);
    columns::bind_projection(update, projection)
        .fetch_one(&mut *tx)
        .await?;
    Ok(())
}

/// A dispute's stored events, as the fold reads them.
async fn stored_events(
    conn: &mut sqlx::PgConnection,
    dispute_id: i64,
) -> Result<Vec<FoldEvent>, StoreError> {
    sqlx::query_as::<_, EventRow>(&format!(
        "select e.id, e.event_key, {} from dispute_events e where e.dispute_id = $1",
        columns::event_columns("e")
    ))
    .bind(dispute_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .filter_map(|row| row.fold_event().transpose())
    .collect()
}

impl Store {
    /// The dispute's state were `event` (heard at `heard_at`) recorded too:
    /// what a replay would make of it.
    pub async fn folded_with(
        &self,
        dispute_id: i64,
        event: &NormalizedEvent,
        heard_at: jiff::Timestamp,
    ) -> Result<DisputeState, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut events = stored_events(&mut conn, dispute_id).await?;
        events.push(FoldEvent::of(event, heard_at, i64::MAX));
        Ok(fold(&events))
    }
}
