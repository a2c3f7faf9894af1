//! Inbound requests to `/webhooks/{slug}`: stored first, judged after.

use sqlx::types::Json;

use super::{Store, StoreError};
use crate::domain::Verdict;

/// A request as received, before it is judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotification {
    pub connection_id: Option<i64>,
    pub slug: String,
    pub remote_addr: String,
    /// In the order received, repeated names kept.
    pub headers: Vec<(String, String)>,
    /// The body, or its first 64 KiB when it was too large.
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
