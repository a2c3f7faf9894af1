//! Retention: strangers' deliveries (for unknown connections, with oversized
//! bodies) and the counts of rate-limited requests are removed once older
//! than one age, refused deliveries for a known connection that no provider
//! signed once older than another (long enough to replay them after a key
//! is fixed); every delivery a provider signed is kept. One replica at a
//! time, by a transaction-scoped advisory lock.

use jiff_sqlx::ToSqlx;

use super::{Store, StoreError};

/// The advisory lock retention holds while it runs ("retain" in ASCII).
const RETENTION_LOCK: i64 = 0x7265_7461_696e;

/// What one retention run removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub deliveries: u64,
    pub refused: u64,
    pub throttled_counts: u64,
}

/// Refused deliveries kept until `refused_before`, unless replayed.
const UNSIGNED_REFUSALS: &str =
    "verdict in ('bad_signature', 'missing_signature', 'malformed', 'forbidden_source', 'disabled')
     and key_fingerprint is null";

impl Store {
    /// Removes strangers' deliveries and throttled counts from before
    /// `before`, and refused deliveries no provider signed from before
    /// `refused_before`; `None` when another replica is running it.
    pub async fn purge_expired(
        &self,
        before: jiff::Timestamp,
        refused_before: jiff::Timestamp,
    ) -> Result<Option<Purged>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ours: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
            .bind(RETENTION_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        if !ours {
            return Ok(None);
        }
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
        tx.commit().await?;
        Ok(Some(Purged {
            deliveries,
            refused,
            throttled_counts,
        }))
    }
}
