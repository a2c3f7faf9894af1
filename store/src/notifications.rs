//! Inbound requests to `/webhooks/{slug}` as ops read them, and the counts
//! of those refused for rate. (They are stored with their judgement by
//! `Store::record_delivery`.)

use jiff_sqlx::ToSqlx;
use sqlx::types::Json;

use dispute_core::domain::Verdict;

use super::{Named, Store, StoreError};

/// A request as received, to be stored with its judgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotification {
    pub connection_id: Option<i64>,
    pub slug: String,
    pub remote_addr: String,
    /// In the order received, repeated names kept.
    pub headers: Vec<(String, String)>,
    /// The body, or its first 4 KiB for an unknown connection or a body too
    /// large.
    pub body: Vec<u8>,
    /// The true length of the body.
    pub body_length: i64,
    pub body_sha256: Vec<u8>,
}

/// Strangers' requests from one sender in one minute, refused with 429
/// past their allowance and not stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ThrottledCount {
    pub sender: String,
    pub minute: jiff::Timestamp,
    pub requests: i64,
    pub last_slug: String,
}

/// A stored request, as ops and the tests read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredNotification {
    pub id: i64,
    pub received_at: jiff::Timestamp,
    pub connection_id: Option<i64>,
    pub slug: String,
    pub remote_addr: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub body_length: i64,
    pub body_sha256: Vec<u8>,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub key_fingerprint: Option<String>,
    pub needs_attention: bool,
    pub duplicate_of: Option<i64>,
    pub response_status: Option<i16>,
    pub response_body: Option<String>,
    pub latency_us: Option<i64>,
}

const NOTIFICATION_COLUMNS: &str =
    "id, received_at, connection_id, slug, remote_addr, headers, body, body_length, body_sha256,
     verdict, reason, key_fingerprint, needs_attention, duplicate_of, response_status,
     response_body, latency_us";

#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: i64,
    received_at: jiff_sqlx::Timestamp,
    connection_id: Option<i64>,
    slug: String,
    remote_addr: String,
    headers: Json<Vec<(String, String)>>,
    body: Vec<u8>,
    body_length: i64,
    body_sha256: Vec<u8>,
    verdict: Named<Verdict>,
    reason: Option<String>,
    key_fingerprint: Option<String>,
    needs_attention: bool,
    duplicate_of: Option<i64>,
    response_status: Option<i16>,
    response_body: Option<String>,
    latency_us: Option<i64>,
}

impl From<NotificationRow> for StoredNotification {
    fn from(r: NotificationRow) -> Self {
        Self {
            id: r.id,
            received_at: r.received_at.to_jiff(),
            connection_id: r.connection_id,
            slug: r.slug,
            remote_addr: r.remote_addr,
            headers: r.headers.0,
            body: r.body,
            body_length: r.body_length,
            body_sha256: r.body_sha256,
            verdict: r.verdict.0,
            reason: r.reason,
            key_fingerprint: r.key_fingerprint,
            needs_attention: r.needs_attention,
            duplicate_of: r.duplicate_of,
            response_status: r.response_status,
            response_body: r.response_body,
            latency_us: r.latency_us,
        }
    }
}

impl Store {
    /// Charges one refused request to `sender` (a sender group) for
    /// `minute`, across every replica; whether it was within `per_minute`.
    pub async fn charge_sender(
        &self,
        sender: &str,
        minute: jiff::Timestamp,
        per_minute: u32,
    ) -> Result<bool, StoreError> {
        let used: i32 = sqlx::query_scalar(
            "insert into sender_allowances as a (sender, minute, used) values ($1, $2, 1)
             on conflict on constraint sender_allowances_key do update set used = a.used + 1
             returning used",
        )
        .bind(sender)
        .bind(minute.to_sqlx())
        .fetch_one(&self.pool)
        .await?;
        Ok(used as u32 <= per_minute)
    }

    /// Adds refused requests to their sender's count for the minute.
    pub async fn count_throttled(&self, counts: &[ThrottledCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let senders: Vec<&str> = counts.iter().map(|c| c.sender.as_str()).collect();
        let minutes: Vec<jiff_sqlx::Timestamp> =
            counts.iter().map(|c| c.minute.to_sqlx()).collect();
        let requests: Vec<i64> = counts.iter().map(|c| c.requests).collect();
        let slugs: Vec<&str> = counts.iter().map(|c| c.last_slug.as_str()).collect();
        sqlx::query(
            "insert into throttled_requests as t (sender, minute, requests, last_slug)
             select * from unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::text[])
             on conflict on constraint throttled_requests_key do update set
                 requests = t.requests + excluded.requests,
                 last_slug = excluded.last_slug",
        )
        .bind(&senders)
        .bind(&minutes)
        .bind(&requests)
        .bind(&slugs)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Refused strangers' requests since `since`, per sender, the most first.
    pub async fn throttled_since(
        &self,
        since: jiff::Timestamp,
        limit: i64,
    ) -> Result<Vec<ThrottledCount>, StoreError> {
        let rows: Vec<(String, jiff_sqlx::Timestamp, i64, String)> = sqlx::query_as(
            "select sender, max(minute), sum(requests)::bigint,
                    (array_agg(last_slug order by minute desc))[1]
             from throttled_requests where minute >= $1
             group by sender order by sum(requests) desc, sender limit $2",
        )
        .bind(since.to_sqlx())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(sender, minute, requests, last_slug)| ThrottledCount {
                sender,
                minute: minute.to_jiff(),
                requests,
                last_slug,
            })
            .collect())
    }

    /// One stored request.
    pub async fn notification(&self, id: i64) -> Result<Option<StoredNotification>, StoreError> {
        let row: Option<NotificationRow> = sqlx::query_as(&format!(
            "select {NOTIFICATION_COLUMNS} from notifications where id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Into::into))
    }

    /// Every stored request, oldest first.
    pub async fn notifications(&self) -> Result<Vec<StoredNotification>, StoreError> {
        let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
            "select {NOTIFICATION_COLUMNS} from notifications order by id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
