//! Retention: strangers' deliveries (for unknown connections, with oversized
//! bodies) and the counts of rate-limited requests are removed once older
//! than one age, refused deliveries for a known connection that no provider
//! signed once older than another (long enough to replay them after a key
//! is fixed); every delivery a provider signed is kept. Finished jobs, the
//! allowances' minute counts and the record of calls to providers (with
//! the first age) go too. It runs as a periodic job, so one
//! replica at a time.

use jiff_sqlx::ToSqlx;

use super::{Store, StoreError};

/// What one retention run removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub deliveries: u64,
    pub refused: u64,
    pub throttled_counts: u64,
    pub jobs: u64,
}

/// How long a finished job is kept for ops to read (periodic jobs keep
/// their one row).
const JOBS_KEPT: &str = "7 days";

/// Refused deliveries kept until `refused_before`, unless replayed.
const UNSIGNED_REFUSALS: &str =
    "verdict in ('bad_signature', 'missing_signature', 'malformed', 'forbidden_source', 'disabled')
     and key_fingerprint is null";

impl Store {
    /// Removes strangers' deliveries and throttled counts from before
    /// `before`, refused deliveries no provider signed from before
    /// `refused_before`, jobs finished a week ago, past minutes' allowances
    /// and calls to providers from before `before`.
    pub async fn purge_expired(
        &self,
        before: jiff::Timestamp,
        refused_before: jiff::Timestamp,
    ) -> Result<Purged, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deliveries = sqlx::query(
            "delete from notifications n
             where verdict in ('unknown_connection', 'too_large') and received_at < $1
               -- a replayed one has a history of its own to keep, and one for
               -- a slug that is a connection now may yet be replayed
               and not exists (select from delivery_replays r where r.notification_id = n.id)
               and not exists (select from replay_run_items i where i.notification_id = n.id)
               and not (verdict = 'unknown_connection'
                        and exists (select from connections c where c.slug = n.slug))",
        )
        .bind(before.to_sqlx())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let refused = sqlx::query(&format!(
            "delete from notifications n
             where {UNSIGNED_REFUSALS} and received_at < $1
               and not exists (select from delivery_replays r where r.notification_id = n.id)
               and not exists (select from replay_run_items i where i.notification_id = n.id)"
        ))
        .bind(refused_before.to_sqlx())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let throttled_counts = sqlx::query("delete from throttled_requests where minute < $1")
            .bind(before.to_sqlx())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let jobs = sqlx::query(&format!(
            "delete from jobs where state in ('done', 'failed') and key <> 'periodic'
                 and finished_at < now() - interval '{JOBS_KEPT}'"
        ))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("delete from sender_allowances where minute < now() - interval '1 hour'")
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from provider_calls where started_at < $1")
            .bind(before.to_sqlx())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Purged {
            deliveries,
            refused,
            throttled_counts,
            jobs,
        })
    }
}
