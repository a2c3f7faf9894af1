//! Every attempt at a call to a provider, as the executor made it.

use jiff_sqlx::ToSqlx;

use super::{Store, StoreError};

/// The most of an answer kept with its attempt.
const ANSWER_KEPT: usize = 64 * 1024;

/// One attempt at a call, to record.
#[derive(Clone, Debug)]
pub struct ProviderCall<'a> {
    pub connection_id: i64,
    pub address: &'a str,
    pub attempt: i32,
    pub started_at: jiff::Timestamp,
    pub took_ms: i32,
    /// The HTTP status, when there was an answer.
    pub status: Option<i16>,
    pub answer: Option<&'a [u8]>,
    /// Why there was no answer.
    pub failure: Option<&'a str>,
}

impl Store {
    pub async fn record_call(&self, call: &ProviderCall<'_>) -> Result<(), StoreError> {
        // Kept as text without the NUL characters PostgreSQL's text refuses.
        let answer = call.answer.map(|body| {
            String::from_utf8_lossy(&body[..body.len().min(ANSWER_KEPT)]).replace('\0', "\u{fffd}")
        });
        sqlx::query(
            "insert into provider_calls
                 (connection_id, address, attempt, started_at, took_ms, status, answer, failure)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(call.connection_id)
        .bind(call.address)
        .bind(call.attempt)
        .bind(call.started_at.to_sqlx())
        .bind(call.took_ms)
        .bind(call.status)
        .bind(answer)
        .bind(call.failure)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
