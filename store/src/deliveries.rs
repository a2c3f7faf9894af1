//! The delivery history: requests to the webhook URLs matching a
//! `DeliveryFilter`, newest first, a keyset page at a time, each with the
//! answer it was given and the dispute it touched.

use dispute_core::domain::{DeliveryCursor, DeliveryFilter, ProviderKind, Verdict};
use jiff_sqlx::ToSqlx;
use sqlx::{postgres::PgRow, Postgres, QueryBuilder};

use super::{Named, Store, StoreError};

/// One request as the history lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeliveryRecord {
    pub id: i64,
    pub received_at: jiff::Timestamp,
    pub slug: String,
    /// `None`: no connection has the slug.
    pub provider: Option<ProviderKind>,
    pub remote_addr: String,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub needs_attention: bool,
    pub response_status: Option<i16>,
    pub response_body: Option<String>,
    pub latency_us: Option<i64>,
    /// The dispute its event (or, for a duplicate, the original's) is on:
    /// its id and reference.
    pub dispute: Option<(i64, String)>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    received_at: jiff_sqlx::Timestamp,
    slug: String,
    provider: Option<Named<ProviderKind>>,
    remote_addr: String,
    verdict: Named<Verdict>,
    reason: Option<String>,
    needs_attention: bool,
    response_status: Option<i16>,
    response_body: Option<String>,
    latency_us: Option<i64>,
    dispute_id: Option<i64>,
    dispute_ref: Option<String>,
}

/// How long a statement that searches bodies may run before it is stopped
/// (`StoreError::TooSlow`): a year of bodies takes seconds to read.
pub const SEARCH_TIMEOUT_SECS: u32 = 5;

impl Store {
    /// The rows `sql` selects for `filter`; a search through bodies runs in
    /// a transaction of its own that stops it after `SEARCH_TIMEOUT_SECS`.
    async fn rows_for<T>(
        &self,
        filter: &DeliveryFilter,
        sql: &mut QueryBuilder<'_, Postgres>,
    ) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        if filter.text.is_none() {
            return Ok(sql.build_query_as().fetch_all(&self.pool).await?);
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "set local statement_timeout = '{SEARCH_TIMEOUT_SECS}s'"
        ))
        .execute(&mut *tx)
        .await?;
        let rows = sql.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// The refused deliveries `filter` matches that no replay has made
    /// valid (or found recorded already), oldest first, as replays take
    /// them; at most `limit`.
    pub async fn replayable(
        &self,
        filter: &DeliveryFilter,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut sql = QueryBuilder::<Postgres>::new(
            "select n.id from notifications n
             left join connections c on c.id = n.connection_id
             where n.verdict not in ('valid', 'duplicate')
               and not exists (select from delivery_replays r
                               where r.notification_id = n.id
                                 and r.outcome in ('new_event', 'already_recorded'))",
        );
        push_filter(&mut sql, filter);
        sql.push(" order by n.received_at, n.id limit ")
            .push_bind(limit);
        let ids: Vec<(i64,)> = self.rows_for(filter, &mut sql).await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Up to `limit` deliveries matching `filter`, older than `before`.
    pub async fn delivery_history(
        &self,
        filter: &DeliveryFilter,
        before: Option<DeliveryCursor>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut sql = QueryBuilder::<Postgres>::new(
            "select n.id, n.received_at, n.slug, c.provider, n.remote_addr, n.verdict, n.reason,
                    n.needs_attention, n.response_status, n.response_body, n.latency_us,
                    touched.dispute_id, touched.dispute_ref
             from notifications n
             left join connections c on c.id = n.connection_id
             left join lateral (
                 select d.id as dispute_id, d.dispute_ref from dispute_events e join disputes d on d.id = e.dispute_id
                 where e.notification_id = coalesce(n.duplicate_of, n.id)
                 limit 1
             ) touched on true
             where true",
        );
        push_filter(&mut sql, filter);
        if let Some(cursor) = before {
            sql.push(" and (n.received_at, n.id) < (")
                .push_bind(cursor.received_at.to_sqlx())
                .push(", ")
                .push_bind(cursor.id)
                .push(")");
        }
        sql.push(" order by n.received_at desc, n.id desc limit ")
            .push_bind(limit);
        let rows: Vec<Row> = self.rows_for(filter, &mut sql).await?;
        Ok(rows
            .into_iter()
            .map(|r| DeliveryRecord {
                id: r.id,
                received_at: r.received_at.to_jiff(),
                slug: r.slug,
                provider: r.provider.map(|p| p.0),
                remote_addr: r.remote_addr,
                verdict: r.verdict.0,
                reason: r.reason,
                needs_attention: r.needs_attention,
                response_status: r.response_status,
                response_body: r.response_body,
                latency_us: r.latency_us,
                dispute: r.dispute_id.zip(r.dispute_ref),
            })
            .collect())
    }
}

/// `filter`'s conditions on `n` (notifications) and `c` (their connection),
/// after a `where`.
fn push_filter(sql: &mut QueryBuilder<'_, Postgres>, filter: &DeliveryFilter) {
    if let Some(slug) = &filter.slug {
        sql.push(" and n.slug = ").push_bind(slug.clone());
    }
    if let Some(provider) = filter.provider {
        sql.push(" and c.provider = ").push_bind(provider.as_str());
    }
    if filter.refused_only {
        sql.push(" and n.verdict not in ('valid', 'duplicate')");
    }
    if let Some(verdict) = filter.verdict {
        sql.push(" and n.verdict = ").push_bind(verdict.as_str());
    }
    if let Some(status) = filter.status {
        sql.push(" and n.response_status = ")
            .push_bind(status as i16);
    }
    let (from, until) = filter.received_range();
    if let Some(from) = from {
        sql.push(" and n.received_at >= ").push_bind(from.to_sqlx());
    }
    if let Some(until) = until {
        sql.push(" and n.received_at < ").push_bind(until.to_sqlx());
    }
    if let Some(text) = &filter.text {
        sql.push(" and position(")
            .push_bind(text.as_bytes().to_vec())
            .push("::bytea in n.body) > 0");
    }
}
