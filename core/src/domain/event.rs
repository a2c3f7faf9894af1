//! What a provider's notification says, once normalized: an event in a
//! dispute's life, or a payment event (transaction, refund, capture, void).

use std::{fmt, str::FromStr};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{
    dispute::{text_enum, UnknownName},
    DisputeRef, Money, Stage, Status,
};

/// Identifies an event within a connection so that a second delivery of it
/// is recognized as a duplicate (PingPong: reference + code + date; Botim
/// Money: `notify_id`; PayerMax: case + status + result).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventKey(String);

impl EventKey {
    /// Joins the parts with a separator that cannot occur in them.
    pub fn from_parts(parts: &[&str]) -> Self {
        Self(parts.join("\u{1f}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key read back from storage.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }
}

/// How Dispute Desk learned of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOrigin {
    /// The provider pushed it: a notification as it arrived.
    Notification,
    /// Ops judged a stored notification again.
    Replay,
    /// Dispute Desk pulled it: the answer to a status query.
    StatusQuery,
    /// The merchant's own decision: a response sent (through the desk, or
    /// recorded as sent outside it) or an acceptance.
    Response,
}

text_enum!(EventOrigin, "event origin", {
    EventOrigin::Notification => "notification",
    EventOrigin::Replay => "replay",
    EventOrigin::StatusQuery => "status_query",
    EventOrigin::Response => "response",
});

/// A time as the provider wrote it and as understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderTime {
    pub at: Timestamp,
    pub text: String,
}

/// What an event does to its dispute's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// The dispute is at this stage with this status.
    Sets(Stage, Status),
    /// The defence period ran out: the stage the dispute was at then expired.
    ExpiresCurrentStage,
    /// Recorded on the timeline, changes nothing (an unrecognized code, or a
    /// status query that agrees with what is known).
    None,
}

impl Effect {
    pub fn stage(self) -> Option<Stage> {
        match self {
            Effect::Sets(stage, _) => Some(stage),
            Effect::ExpiresCurrentStage | Effect::None => None,
        }
    }

    pub fn status(self) -> Option<Status> {
        match self {
            Effect::Sets(_, status) => Some(status),
            Effect::ExpiresCurrentStage => Some(Status::Expired),
            Effect::None => None,
        }
    }
}

/// One event in a dispute's life, normalized from any provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedEvent {
    pub dispute_ref: DisputeRef,
    pub key: EventKey,
    /// The provider's own name for the event (`eventCode`, `status`, …).
    pub kind: String,
    pub effect: Effect,
    /// `None` when the provider gives no time: the receipt time is used.
    pub occurred_at: Option<ProviderTime>,
    pub deadline: Option<ProviderTime>,
    pub amount: Option<Money>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    /// The provider's own status text (kept and shown, never decisive).
    pub provider_status: Option<String>,
    /// The disputed payment: the provider's and the merchant's references.
    pub payment_reference: Option<String>,
    pub merchant_reference: Option<String>,
}

/// What a payment notification records: a transaction, refund,
/// pre-authorization capture or void, linked to disputes through its
/// references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    pub key: EventKey,
    /// `RECHARGE`, `REFUND`, `CAPTURE`, `VOID`, … as the provider names it.
    pub kind: String,
    pub status: String,
    pub payment_reference: String,
    pub merchant_reference: Option<String>,
    /// The refund, capture or void's own reference, if any.
    pub operation_reference: Option<String>,
    pub amount: Option<Money>,
    pub occurred_at: Option<ProviderTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_round_trip_through_their_stored_names() {
        for origin in EventOrigin::ALL {
            assert_eq!(origin.as_str().parse::<EventOrigin>(), Ok(*origin));
        }
        assert_eq!(EventOrigin::StatusQuery.as_str(), "status_query");
        assert!("pushed".parse::<EventOrigin>().is_err());
    }

    #[test]
    fn a_key_reads_back_as_stored() {
        assert_eq!(EventKey::from_parts(&["a", "b"]).as_str(), "a\u{1f}b");
        assert_eq!(EventKey::from_stored("k".into()).as_str(), "k");
    }

    #[test]
    fn keys_from_different_parts_never_collide() {
        assert_ne!(
            EventKey::from_parts(&["a b", "c"]),
            EventKey::from_parts(&["a", "b c"])
        );
        assert_ne!(
            EventKey::from_parts(&["ab", ""]),
            EventKey::from_parts(&["a", "b"])
        );
    }

    #[test]
    fn effects_name_their_stage_and_status() {
        let sets = Effect::Sets(Stage::Chargeback, Status::Won);
        assert_eq!(sets.stage(), Some(Stage::Chargeback));
        assert_eq!(sets.status(), Some(Status::Won));
        assert_eq!(Effect::ExpiresCurrentStage.stage(), None);
        assert_eq!(Effect::ExpiresCurrentStage.status(), Some(Status::Expired));
        assert_eq!(Effect::None.status(), None);
    }
}
