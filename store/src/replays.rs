//! Replays of stored deliveries: each its own judgement, linked to the
//! original (whose verdict is never changed), recording an event only when
//! its key is not recorded already, with the audit line, in one transaction.

use dispute_core::providers::{judge::Judgement, Notification};
use serde_json::json;

use super::{
    people::append_audit,
    record::{record_event_in, EventSource, Recorded},
    Actor, AuditEntry, Named, Store, StoreError, StoredNotification,
};
use dispute_core::domain::Verdict;

/// What a replay did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayOutcome {
    /// Valid now, and its event was not recorded before: it is now.
    NewEvent,
    /// Valid, and its event was recorded already: nothing changed.
    AlreadyRecorded,
    /// Still refused.
    Refused,
    /// A payment notification: valid, but replaying payments is not done.
    PaymentNotReplayed,
}

impl ReplayOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayOutcome::NewEvent => "new_event",
            ReplayOutcome::AlreadyRecorded => "already_recorded",
            ReplayOutcome::Refused => "refused",
            ReplayOutcome::PaymentNotReplayed => "payment_not_replayed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ReplayOutcome::NewEvent => "valid: its event was recorded",
            ReplayOutcome::AlreadyRecorded => {
                "valid: its event was recorded before, nothing changed"
            }
            ReplayOutcome::Refused => "still refused",
            ReplayOutcome::PaymentNotReplayed => {
                "valid payment notification: payments are not replayed"
            }
        }
    }
}

/// A stored outcome this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown replay outcome {0:?}")]
pub struct UnknownReplayOutcome(String);

impl std::str::FromStr for ReplayOutcome {
    type Err = UnknownReplayOutcome;

    fn from_str(text: &str) -> Result<Self, UnknownReplayOutcome> {
        [
            ReplayOutcome::NewEvent,
            ReplayOutcome::AlreadyRecorded,
            ReplayOutcome::Refused,
            ReplayOutcome::PaymentNotReplayed,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
        .ok_or_else(|| UnknownReplayOutcome(text.to_owned()))
    }
}

/// One replay as the delivery's page lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplayRecord {
    pub id: i64,
    pub replayed_by: Option<String>,
    pub replayed_at: jiff::Timestamp,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub key_fingerprint: Option<String>,
    pub outcome: ReplayOutcome,
    pub event_id: Option<i64>,
    /// The bulk replay it was part of.
    pub run: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ReplayRow {
    id: i64,
    replayed_by: Option<String>,
    replayed_at: jiff_sqlx::Timestamp,
    verdict: Named<Verdict>,
    reason: Option<String>,
    key_fingerprint: Option<String>,
    outcome: Named<ReplayOutcome>,
    event_id: Option<i64>,
    run_id: Option<i64>,
}

impl Store {
    /// Records the replay of `original` judged as `judgement` against the
    /// connection `connection_id` (its current keys), as part of bulk
    /// replay `run` if it is one.
    pub async fn record_replay(
        &self,
        original: &StoredNotification,
        connection_id: Option<i64>,
        judgement: &Judgement,
        by: &Actor,
        run: Option<i64>,
    ) -> Result<ReplayRecord, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (verdict, reason, key, outcome, event_id) = match (judgement, connection_id) {
            (Judgement::Refused(refused), _) => (
                refused.verdict,
                Some(refused.reason.clone()),
                refused.key.clone(),
                ReplayOutcome::Refused,
                None,
            ),
            (
                Judgement::Accepted {
                    key, notification, ..
                },
                Some(connection_id),
            ) => match notification {
                Notification::Dispute(event) => {
                    let source = EventSource::Replay {
                        notification_id: original.id,
                        received_at: original.received_at,
                    };
                    match record_event_in(&mut tx, connection_id, &source, event)
                        .await?
                        .0
                    {
                        Recorded::New { id } => (
                            Verdict::Valid,
                            None,
                            Some(key.clone()),
                            ReplayOutcome::NewEvent,
                            Some(id),
                        ),
                        Recorded::Refused => {
                            return Err(StoreError::Corrupt(
                                "an accepted event was refused when recorded".into(),
                            ))
                        }
                        Recorded::Duplicate { .. } => (
                            Verdict::Duplicate,
                            None,
                            Some(key.clone()),
                            ReplayOutcome::AlreadyRecorded,
                            None,
                        ),
                    }
                }
                Notification::Payment(_) => (
                    Verdict::Valid,
                    None,
                    Some(key.clone()),
                    ReplayOutcome::PaymentNotReplayed,
                    None,
                ),
            },
            (Judgement::Accepted { .. }, None) => {
                return Err(StoreError::Corrupt(
                    "a delivery accepted without a connection".into(),
                ))
            }
        };
        let id: i64 = sqlx::query_scalar(
            "insert into delivery_replays
                 (notification_id, replayed_by, verdict, reason, key_fingerprint, outcome, event_id,
                  run_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             returning id",
        )
        .bind(original.id)
        .bind(by.user_id)
        .bind(verdict.as_str())
        .bind(&reason)
        .bind(key.as_ref().map(|k| k.as_str()))
        .bind(outcome.as_str())
        .bind(event_id)
        .bind(run)
        .fetch_one(&mut *tx)
        .await?;
        let subject = format!("delivery {}", original.id);
        append_audit(
            &mut tx,
            by,
            &AuditEntry {
                action: "delivery.replay",
                subject: &subject,
                details: json!({
                    "replay": id,
                    "verdict": verdict.as_str(),
                    "outcome": outcome.as_str(),
                    "run": run,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(self
            .replays(original.id)
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .expect("the replay just written"))
    }

    /// Whether the connection holds an event with this key.
    pub async fn event_key_recorded(
        &self,
        connection_id: i64,
        key: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "select exists (select from dispute_events where connection_id = $1 and event_key = $2)",
        )
        .bind(connection_id)
        .bind(key)
        .fetch_one(&self.pool)
        .await?)
    }

    /// A delivery's replays, oldest first.
    pub async fn replays(&self, notification_id: i64) -> Result<Vec<ReplayRecord>, StoreError> {
        let rows: Vec<ReplayRow> = sqlx::query_as(
            "select r.id, u.display_name as replayed_by, r.replayed_at, r.verdict, r.reason,
                    r.key_fingerprint, r.outcome, r.event_id, r.run_id
             from delivery_replays r left join users u on u.id = r.replayed_by
             where r.notification_id = $1 order by r.id",
        )
        .bind(notification_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ReplayRecord {
                id: r.id,
                replayed_by: r.replayed_by,
                replayed_at: r.replayed_at.to_jiff(),
                verdict: r.verdict.0,
                reason: r.reason,
                key_fingerprint: r.key_fingerprint,
                outcome: r.outcome.0,
                event_id: r.event_id,
                run: r.run_id,
            })
            .collect())
    }
}
