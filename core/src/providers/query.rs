//! Status queries as data, the fallback for lost notifications: each
//! provider's module writes the signed requests for one dispute and reads
//! (verifies first, then parses) the answers. Sending them is the caller's.

use jiff::{tz::TimeZone, Timestamp};

use super::keys::SigningKey;
use crate::domain::{DisputeRef, Effect, EventKey, Money, NormalizedEvent, ProviderTime, Stage};

/// What the connection holds for asking: the ids the provider knows the
/// merchant by and, where the provider wants queries signed with it, the
/// merchant's private key.
#[derive(Debug, Clone, Copy)]
pub struct QueryContext<'a> {
    pub account_id: &'a str,
    pub app_id: Option<&'a str>,
    pub merchant_key: Option<&'a SigningKey>,
    /// Provider times without a zone are written and read in this one.
    pub zone: &'a TimeZone,
}

/// The dispute being asked about, as Dispute Desk knows it.
#[derive(Debug, Clone, Copy)]
pub struct QueryTarget<'a> {
    pub reference: &'a DisputeRef,
    /// Its stage now, where an answer names none of its own.
    pub stage: Option<Stage>,
    pub opened_at: Timestamp,
}

/// One request to send: a path under the connection's query base address,
/// the headers and the exact body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What a verified answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The provider knows the dispute and says where it stands.
    Found(Finding),
    /// The provider does not know it (at this address): another request of
    /// the same query may.
    NotFound(String),
    /// The provider refused or failed, in words for an analyst.
    Failed(String),
}

/// The dispute's state in a provider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The provider's own word for the state (`chargebackStatus`, `status`).
    pub kind: String,
    /// `Effect::None` when the answer names no dispute state (Botim Money
    /// answers with its order only).
    pub effect: Effect,
    pub deadline: Option<ProviderTime>,
    pub amount: Option<Money>,
    pub provider_status: Option<String>,
    /// The answer in one sentence, for the timeline.
    pub summary: String,
}

impl Finding {
    /// The timeline event of this finding, heard at `asked_at` (a status
    /// query gives no time of its own).
    pub fn into_event(self, reference: &DisputeRef, asked_at: Timestamp) -> NormalizedEvent {
        NormalizedEvent {
            dispute_ref: reference.clone(),
            key: EventKey::from_parts(&["status_query", &asked_at.to_string()]),
            kind: self.kind,
            effect: self.effect,
            occurred_at: None,
            deadline: self.deadline,
            amount: self.amount,
            // The summary is the query's record, not the dispute's reason,
            // which the fold would otherwise take from the latest event.
            reason: None,
            reason_code: None,
            provider_status: self.provider_status,
            payment_reference: None,
            merchant_reference: None,
        }
    }
}

/// Why no request could be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryUnavailable {
    #[error("the connection has no {0}, which {1} needs to be asked")]
    Missing(&'static str, &'static str),
}

/// The provider's answer code and message as one sentence part, with the
/// provider's text bounded and stripped of control characters.
pub(crate) fn provider_words(code: Option<&str>, message: Option<&str>) -> String {
    let clean = |t: &str| -> String {
        t.chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect::<String>()
    };
    match (code, message) {
        (Some(c), Some(m)) => format!("{} ({})", clean(m), clean(c)),
        (Some(c), None) => clean(c),
        (None, Some(m)) => clean(m),
        (None, None) => "no reason given".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;

    #[test]
    fn a_finding_becomes_an_event_keyed_by_when_it_was_asked() {
        let reference = DisputeRef::parse("D1").unwrap();
        let at: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let finding = Finding {
            kind: "WON".into(),
            effect: Effect::Sets(Stage::Chargeback, Status::Won),
            deadline: None,
            amount: None,
            provider_status: Some("WON".into()),
            summary: "PingPong says the chargeback was won".into(),
        };
        let event = finding.clone().into_event(&reference, at);
        assert_eq!(event.effect, finding.effect);
        assert_eq!(event.occurred_at, None);
        assert_eq!(event.reason, None);
        let later = finding.into_event(&reference, at + jiff::SignedDuration::from_secs(60));
        assert_ne!(event.key, later.key);
    }

    #[test]
    fn provider_words_are_bounded_and_lose_control_characters() {
        assert_eq!(
            provider_words(Some("E1"), Some("bad\r\nthing")),
            "badthing (E1)"
        );
        assert_eq!(provider_words(None, None), "no reason given");
        assert_eq!(provider_words(None, Some(&"x".repeat(500))).len(), 200);
        assert_eq!(provider_words(Some("E2"), None), "E2");
    }
}
