//! Inbound requests to `/webhooks/{slug}`: stored first, judged after.

use jiff_sqlx::ToSqlx;
use sqlx::types::Json;

use super::{Store, StoreError};
use dispute_core::domain::Verdict;

/// A request as received, before it is judged.
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

/// A stored request's identity and the time the database received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub id: i64,
    pub received_at: jiff::Timestamp,
}

/// The answer given, and how long deciding it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub latency_us: i64,
}

/// The judgement on a request that carries no event: a rejection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub verdict: Verdict,
    pub reason: String,
    pub key_fingerprint: Option<String>,
    pub answer: Answer,
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
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredNotification {
    pub id: i64,
    pub received_at: jiff_sqlx::Timestamp,
    pub connection_id: Option<i64>,
    pub slug: String,
    pub remote_addr: String,
    pub headers: Json<Vec<(String, String)>>,
    pub body: Vec<u8>,
    pub body_length: i64,
    pub body_sha256: Vec<u8>,
    pub verdict: String,
    pub reason: Option<String>,
    pub key_fingerprint: Option<String>,
    pub needs_attention: bool,
    pub duplicate_of: Option<i64>,
    pub response_status: Option<i16>,
    pub response_body: Option<String>,
    pub latency_us: Option<i64>,
}

/// A delivery as the delivery history lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeliverySummary {
    pub id: i64,
    pub received_at: jiff::Timestamp,
    pub slug: String,
    pub remote_addr: String,
    pub verdict: String,
    pub reason: Option<String>,
    pub needs_attention: bool,
    pub response_status: Option<i16>,
    pub latency_us: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    received_at: jiff_sqlx::Timestamp,
    slug: String,
    remote_addr: String,
    verdict: String,
    reason: Option<String>,
    needs_attention: bool,
    response_status: Option<i16>,
    latency_us: Option<i64>,
}

impl Store {
    /// The latest requests, newest first.
    pub async fn recent_deliveries(&self, limit: i64) -> Result<Vec<DeliverySummary>, StoreError> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "select id, received_at, slug, remote_addr, verdict, reason, needs_attention,
                    response_status, latency_us
             from notifications order by received_at desc, id desc limit $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| DeliverySummary {
                id: r.id,
                received_at: r.received_at.to_jiff(),
                slug: r.slug,
                remote_addr: r.remote_addr,
                verdict: r.verdict,
                reason: r.reason,
                needs_attention: r.needs_attention,
                response_status: r.response_status,
                latency_us: r.latency_us,
            })
            .collect())
    }

    /// Stores a request before anything else happens to it.
    pub async fn insert_notification(&self, new: &NewNotification) -> Result<Received, StoreError> {
        let (id, received_at): (i64, jiff_sqlx::Timestamp) = sqlx::query_as(
            "insert into notifications
                 (connection_id, slug, remote_addr, headers, body, body_length, body_sha256)
             values ($1, $2, $3, $4, $5, $6, $7)
             returning id, received_at",
        )
        .bind(new.connection_id)
        .bind(&new.slug)
        .bind(&new.remote_addr)
        .bind(Json(&new.headers))
        .bind(&new.body)
        .bind(new.body_length)
        .bind(&new.body_sha256)
        .fetch_one(&self.pool)
        .await?;
        Ok(Received {
            id,
            received_at: received_at.to_jiff(),
        })
    }

    /// Records why a request was refused and what was answered.
    pub async fn reject_notification(
        &self,
        id: i64,
        rejected: &Rejected,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update notifications set verdict = $2, reason = $3, key_fingerprint = $4,
                 response_status = $5, response_body = $6, latency_us = $7, judged_at = now()
             where id = $1",
        )
        .bind(id)
        .bind(rejected.verdict.as_str())
        .bind(&rejected.reason)
        .bind(&rejected.key_fingerprint)
        .bind(rejected.answer.status as i16)
        .bind(&rejected.answer.body)
        .bind(rejected.answer.latency_us)
        .execute(&self.pool)
        .await?;
        Ok(())
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

    /// Every stored request, oldest first.
    pub async fn notifications(&self) -> Result<Vec<StoredNotification>, StoreError> {
        Ok(sqlx::query_as(
            "select id, received_at, connection_id, slug, remote_addr, headers, body, body_length, body_sha256,
                    verdict, reason, key_fingerprint, needs_attention, duplicate_of,
                    response_status, response_body, latency_us
             from notifications order by id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
