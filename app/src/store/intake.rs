//! Recording a verified notification: its event (or payment), the dispute's
//! refolded state and the notification's verdict, in one transaction.
//! Duplicates are caught by unique keys, not by reading first, so concurrent
//! copies of one notification record exactly one event.

use jiff_sqlx::ToSqlx;
use rust_decimal::Decimal;

use super::{notifications::Answer, Store, StoreError};
use dispute_core::domain::{
    fold, Effect, EventKey, FoldEvent, Money, NormalizedEvent, PaymentEvent, Stage, Status, Verdict,
};

/// A verified notification about to be recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acceptance {
    pub notification_id: i64,
    pub received_at: jiff::Timestamp,
    pub connection_id: i64,
    /// The key whose signature matched.
    pub key_fingerprint: String,
    /// The acknowledgement (given to duplicates too).
    pub answer: Answer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new event (or payment) was recorded.
    Recorded { event_id: i64 },
    /// The same event was recorded before, from this notification.
    Duplicate { of_notification: Option<i64> },
}

impl Outcome {
    pub fn verdict(self) -> Verdict {
        match self {
            Outcome::Recorded { .. } => Verdict::Valid,
            Outcome::Duplicate { .. } => Verdict::Duplicate,
        }
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    event_key: String,
    effect: String,
    stage: Option<String>,
    status: Option<String>,
    occurred_at: jiff_sqlx::Timestamp,
    deadline: Option<jiff_sqlx::Timestamp>,
    currency: Option<String>,
    amount_text: Option<String>,
    reason: Option<String>,
}

impl EventRow {
    fn into_fold_event(self) -> Result<FoldEvent, StoreError> {
        let stage = self
            .stage
            .map(|s| s.parse::<Stage>())
            .transpose()
            .map_err(StoreError::corrupt)?;
        let status = self
            .status
            .map(|s| s.parse::<Status>())
            .transpose()
            .map_err(StoreError::corrupt)?;
        let effect = match (self.effect.as_str(), stage, status) {
            ("sets", Some(stage), Some(status)) => Effect::Sets(stage, status),
            ("expires", _, _) => Effect::ExpiresCurrentStage,
            ("none", _, _) => Effect::None,
            (other, ..) => return Err(StoreError::corrupt(format!("event effect {other:?}"))),
        };
        let amount = match (self.amount_text, self.currency) {
            (Some(text), Some(currency)) => {
                Some(Money::parse(&text, &currency).map_err(StoreError::corrupt)?)
            }
            _ => None,
        };
        Ok(FoldEvent {
            key: EventKey::from_stored(self.event_key),
            effect,
            occurred_at: self.occurred_at.to_jiff(),
            received_seq: self.id,
            deadline: self.deadline.map(|d| d.to_jiff()),
            amount,
            reason: self.reason,
        })
    }
}

fn effect_columns(effect: Effect) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    match effect {
        Effect::Sets(stage, status) => ("sets", Some(stage.as_str()), Some(status.as_str())),
        Effect::ExpiresCurrentStage => ("expires", None, Some(Status::Expired.as_str())),
        Effect::None => ("none", None, None),
    }
}

fn money_columns(money: Option<&Money>) -> (Option<Decimal>, Option<&str>, Option<&str>) {
    match money {
        Some(m) => (Some(m.amount()), Some(m.currency()), Some(m.text())),
        None => (None, None, None),
    }
}

impl Store {
    /// Records a dispute event and refolds its dispute, or recognizes a
    /// duplicate; either way the notification's verdict commits with it.
    pub async fn accept_dispute_event(
        &self,
        acceptance: &Acceptance,
        event: &NormalizedEvent,
    ) -> Result<Outcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let occurred_at = event
            .occurred_at
            .as_ref()
            .map_or(acceptance.received_at, |t| t.at)
            .to_sqlx();

        // Creating or touching the dispute row locks it: events of one
        // dispute are folded one transaction at a time.
        let dispute_id: i64 = sqlx::query_scalar(
            "insert into disputes (connection_id, dispute_ref, opened_at, last_event_at)
             values ($1, $2, $3, $3)
             on conflict on constraint disputes_connection_ref_key
             do update set dispute_ref = excluded.dispute_ref
             returning id",
        )
        .bind(acceptance.connection_id)
        .bind(event.dispute_ref.as_str())
        .bind(occurred_at)
        .fetch_one(&mut *tx)
        .await?;

        let (effect, stage, status) = effect_columns(event.effect);
        let (amount, currency, amount_text) = money_columns(event.amount.as_ref());
        let event_id: Option<i64> = sqlx::query_scalar(
            "insert into dispute_events
                 (dispute_id, connection_id, notification_id, event_key, kind, effect, stage, status,
                  occurred_at, occurred_at_text, deadline, deadline_text, amount, currency,
                  amount_text, reason, reason_code, provider_status, payment_reference,
                  merchant_reference)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19, $20)
             on conflict on constraint dispute_events_key do nothing
             returning id",
        )
        .bind(dispute_id)
        .bind(acceptance.connection_id)
        .bind(acceptance.notification_id)
        .bind(event.key.as_str())
        .bind(&event.kind)
        .bind(effect)
        .bind(stage)
        .bind(status)
        .bind(occurred_at)
        .bind(event.occurred_at.as_ref().map(|t| &t.text))
        .bind(event.deadline.as_ref().map(|t| t.at.to_sqlx()))
        .bind(event.deadline.as_ref().map(|t| &t.text))
        .bind(amount)
        .bind(currency)
        .bind(amount_text)
        .bind(&event.reason)
        .bind(&event.reason_code)
        .bind(&event.provider_status)
        .bind(&event.payment_reference)
        .bind(&event.merchant_reference)
        .fetch_optional(&mut *tx)
        .await?;

        let outcome = match event_id {
            Some(event_id) => {
                refold(&mut tx, dispute_id).await?;
                Outcome::Recorded { event_id }
            }
            None => Outcome::Duplicate {
                of_notification: sqlx::query_scalar(
                    "select notification_id from dispute_events
                     where connection_id = $1 and event_key = $2",
                )
                .bind(acceptance.connection_id)
                .bind(event.key.as_str())
                .fetch_one(&mut *tx)
                .await?,
            },
        };
        let note = match (outcome, event.effect) {
            (Outcome::Recorded { .. }, Effect::None) => Some(format!(
                "unrecognized {:?}: recorded on the timeline without changing the dispute",
                event.kind
            )),
            _ => None,
        };
        record_verdict(&mut tx, acceptance, outcome, note).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Records a payment event (transaction, refund, capture, void), or
    /// recognizes a duplicate.
    pub async fn accept_payment(
        &self,
        acceptance: &Acceptance,
        payment: &PaymentEvent,
    ) -> Result<Outcome, StoreError> {
        let mut tx = self.pool.begin().await?;
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
        .bind(acceptance.connection_id)
        .bind(acceptance.notification_id)
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
        let outcome = match payment_id {
            Some(event_id) => Outcome::Recorded { event_id },
            None => Outcome::Duplicate {
                of_notification: sqlx::query_scalar(
                    "select notification_id from payments where connection_id = $1 and event_key = $2",
                )
                .bind(acceptance.connection_id)
                .bind(payment.key.as_str())
                .fetch_one(&mut *tx)
                .await?,
            },
        };
        record_verdict(&mut tx, acceptance, outcome, None).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Derives the dispute's state from all its events and stores it.
async fn refold(tx: &mut sqlx::PgConnection, dispute_id: i64) -> Result<(), StoreError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "select id, event_key, effect, stage, status, occurred_at, deadline, currency, amount_text,
                reason
         from dispute_events where dispute_id = $1",
    )
    .bind(dispute_id)
    .fetch_all(&mut *tx)
    .await?;
    let events = rows
        .into_iter()
        .map(EventRow::into_fold_event)
        .collect::<Result<Vec<_>, _>>()?;
    let state = fold(&events);
    let (amount, currency, amount_text) = money_columns(state.amount.as_ref());
    sqlx::query(
        "update disputes set
             stage = $2, status = $3, deadline = $4, amount = $5, currency = $6, amount_text = $7,
             reason = $8,
             payment_reference = (select payment_reference from dispute_events
                                  where dispute_id = $1 and payment_reference is not null
                                  order by occurred_at desc, id desc limit 1),
             merchant_reference = (select merchant_reference from dispute_events
                                   where dispute_id = $1 and merchant_reference is not null
                                   order by occurred_at desc, id desc limit 1),
             opened_at = (select min(occurred_at) from dispute_events where dispute_id = $1),
             last_event_at = (select max(occurred_at) from dispute_events where dispute_id = $1),
             updated_at = now()
         where id = $1",
    )
    .bind(dispute_id)
    .bind(state.stage.map(Stage::as_str))
    .bind(state.status.map(Status::as_str))
    .bind(state.deadline.map(|d| d.to_sqlx()))
    .bind(amount)
    .bind(currency)
    .bind(amount_text)
    .bind(&state.reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The notification's verdict, committed with what it recorded.
async fn record_verdict(
    tx: &mut sqlx::PgConnection,
    acceptance: &Acceptance,
    outcome: Outcome,
    note: Option<String>,
) -> Result<(), StoreError> {
    let duplicate_of = match outcome {
        Outcome::Duplicate { of_notification } => of_notification,
        Outcome::Recorded { .. } => None,
    };
    let reason = note.clone().or_else(|| {
        duplicate_of.map(|of| format!("the same event was recorded from notification {of}"))
    });
    sqlx::query(
        "update notifications set verdict = $2, reason = $3, key_fingerprint = $4,
             needs_attention = $5, duplicate_of = $6, response_status = $7, response_body = $8,
             latency_us = $9, judged_at = now()
         where id = $1",
    )
    .bind(acceptance.notification_id)
    .bind(outcome.verdict().as_str())
    .bind(reason)
    .bind(&acceptance.key_fingerprint)
    .bind(note.is_some())
    .bind(duplicate_of)
    .bind(acceptance.answer.status as i16)
    .bind(&acceptance.answer.body)
    .bind(acceptance.answer.latency_us)
    .execute(tx)
    .await?;
    Ok(())
}
