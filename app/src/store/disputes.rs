//! Reading disputes, their timelines and their payments.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// A dispute's projected state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeRecord {
    pub id: i64,
    pub connection_slug: String,
    pub dispute_ref: String,
    pub stage: Option<String>,
    pub status: Option<String>,
    pub deadline: Option<jiff::Timestamp>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub reason: Option<String>,
    pub payment_reference: Option<String>,
    pub merchant_reference: Option<String>,
    pub last_event_at: jiff::Timestamp,
}

/// One event on a dispute's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub id: i64,
    pub dispute_ref: String,
    pub notification_id: Option<i64>,
    pub kind: String,
    pub stage: Option<String>,
    pub status: Option<String>,
    pub occurred_at: jiff::Timestamp,
    /// The provider's text; `None` when the receipt time stands in.
    pub occurred_at_text: Option<String>,
    pub deadline: Option<jiff::Timestamp>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub amount_text: Option<String>,
    pub reason: Option<String>,
}

/// A payment event linked to a dispute by its references.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PaymentRecord {
    pub kind: String,
    pub status: String,
    pub payment_reference: String,
    pub merchant_reference: Option<String>,
    pub operation_reference: Option<String>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DisputeRow {
    id: i64,
    connection_slug: String,
    dispute_ref: String,
    stage: Option<String>,
    status: Option<String>,
    deadline: Option<jiff_sqlx::Timestamp>,
    amount: Option<Decimal>,
    currency: Option<String>,
    reason: Option<String>,
    payment_reference: Option<String>,
    merchant_reference: Option<String>,
    last_event_at: jiff_sqlx::Timestamp,
}

impl From<DisputeRow> for DisputeRecord {
    fn from(r: DisputeRow) -> Self {
        Self {
            id: r.id,
            connection_slug: r.connection_slug,
            dispute_ref: r.dispute_ref,
            stage: r.stage,
            status: r.status,
            deadline: r.deadline.map(|d| d.to_jiff()),
            amount: r.amount,
            currency: r.currency,
            reason: r.reason,
            payment_reference: r.payment_reference,
            merchant_reference: r.merchant_reference,
            last_event_at: r.last_event_at.to_jiff(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct TimelineRow {
    id: i64,
    dispute_ref: String,
    notification_id: Option<i64>,
    kind: String,
    stage: Option<String>,
    status: Option<String>,
    occurred_at: jiff_sqlx::Timestamp,
    occurred_at_text: Option<String>,
    deadline: Option<jiff_sqlx::Timestamp>,
    amount: Option<Decimal>,
    currency: Option<String>,
    amount_text: Option<String>,
    reason: Option<String>,
}

impl From<TimelineRow> for TimelineEntry {
    fn from(r: TimelineRow) -> Self {
        Self {
            id: r.id,
            dispute_ref: r.dispute_ref,
            notification_id: r.notification_id,
            kind: r.kind,
            stage: r.stage,
            status: r.status,
            occurred_at: r.occurred_at.to_jiff(),
            occurred_at_text: r.occurred_at_text,
            deadline: r.deadline.map(|d| d.to_jiff()),
            amount: r.amount,
            currency: r.currency,
            amount_text: r.amount_text,
            reason: r.reason,
        }
    }
}

const DISPUTE_COLUMNS: &str = "d.id, c.slug as connection_slug, d.dispute_ref, d.stage, d.status,
     d.deadline, d.amount, d.currency, d.reason, d.payment_reference, d.merchant_reference,
     d.last_event_at";

const TIMELINE_COLUMNS: &str = "e.id, d.dispute_ref, e.notification_id, e.kind, e.stage, e.status,
     e.occurred_at, e.occurred_at_text, e.deadline, e.amount, e.currency, e.amount_text, e.reason";

impl Store {
    /// The dispute `dispute_ref` of the connection `slug`.
    pub async fn dispute(
        &self,
        slug: &str,
        dispute_ref: &str,
    ) -> Result<Option<DisputeRecord>, StoreError> {
        let row: Option<DisputeRow> = sqlx::query_as(&format!(
            "select {DISPUTE_COLUMNS}
             from disputes d join connections c on c.id = d.connection_id
             where c.slug = $1 and d.dispute_ref = $2"
        ))
        .bind(slug)
        .bind(dispute_ref)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Into::into))
    }

    /// The disputes with the most recent events, newest first.
    pub async fn recent_disputes(&self, limit: i64) -> Result<Vec<DisputeRecord>, StoreError> {
        let rows: Vec<DisputeRow> = sqlx::query_as(&format!(
            "select {DISPUTE_COLUMNS}
             from disputes d join connections c on c.id = d.connection_id
             order by d.last_event_at desc, d.id desc
             limit $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Disputes waiting on a response that have a deadline, soonest first.
    pub async fn due_disputes(&self, limit: i64) -> Result<Vec<DisputeRecord>, StoreError> {
        let rows: Vec<DisputeRow> = sqlx::query_as(&format!(
            "select {DISPUTE_COLUMNS}
             from disputes d join connections c on c.id = d.connection_id
             where d.status = 'needs_response' and d.deadline is not null
             order by d.deadline, d.id
             limit $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// A dispute's events in the order they happened (receipt order on ties).
    pub async fn timeline(&self, dispute_id: i64) -> Result<Vec<TimelineEntry>, StoreError> {
        let rows: Vec<TimelineRow> = sqlx::query_as(&format!(
            "select {TIMELINE_COLUMNS}
             from dispute_events e join disputes d on d.id = e.dispute_id
             where e.dispute_id = $1
             order by e.occurred_at, e.id"
        ))
        .bind(dispute_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The event recorded from a notification, if any.
    pub async fn event_of_notification(
        &self,
        notification_id: i64,
    ) -> Result<Option<TimelineEntry>, StoreError> {
        let row: Option<TimelineRow> = sqlx::query_as(&format!(
            "select {TIMELINE_COLUMNS}
             from dispute_events e join disputes d on d.id = e.dispute_id
             where e.notification_id = $1"
        ))
        .bind(notification_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Into::into))
    }

    /// The payments of the dispute's connection that carry its payment or
    /// merchant reference, oldest first.
    pub async fn payments_of_dispute(
        &self,
        dispute_id: i64,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        Ok(sqlx::query_as(
            "select p.kind, p.status, p.payment_reference, p.merchant_reference,
                    p.operation_reference, p.amount, p.currency
             from disputes d
             join payments p on p.connection_id = d.connection_id
                 and (p.payment_reference = d.payment_reference
                      or p.merchant_reference = d.merchant_reference)
             where d.id = $1
             order by p.occurred_at nulls last, p.id",
        )
        .bind(dispute_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
