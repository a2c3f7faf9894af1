//! Status queries as data, the fallback for lost notifications: each
//! provider's module writes the signed requests for one dispute and reads
//! (verifies first, then parses) the answers. Sending them is the caller's.

use jiff::{tz::TimeZone, Timestamp};

use super::keys::SigningKey;
use crate::domain::{
    DisputeRef, Effect, EventKey, Money, NormalizedEvent, ProviderTime, Stage, Status,
};

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

/// What a provider said a dispute's response needs (PingPong's
/// `getDefenseReasons`; the others cannot say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecklistAnswer {
    /// Each document with how much it is needed, in the provider's order,
    /// and whether the provider counts the documents it holds complete.
    Needs {
        needs: Vec<(
            crate::domain::evidence::DocumentKind,
            crate::domain::evidence::Requirement,
        )>,
        satisfied: bool,
    },
    /// The provider refused or failed, in words for an analyst.
    Failed(String),
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
    /// Whether the status it names can overrule what the notifications
    /// said. PingPong's `PENDING` cannot: its own notifications carry it on
    /// won and lost disputes.
    pub decisive: bool,
}

/// A status query's answer as a timeline event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub event: NormalizedEvent,
    /// See `Finding::decisive`.
    pub decisive: bool,
}

/// What a pulled answer does to a dispute the notifications left at
/// `known`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weighed {
    /// The effect the answer's event keeps: `None` when it only repeats
    /// what was known, or cannot overrule it.
    pub effect: Effect,
    /// The provider says otherwise: the dispute is flagged.
    pub disagrees: bool,
    /// It says something of the dispute's state, so an earlier flag is
    /// replaced by what it says; an answer naming no state, or one that
    /// cannot decide, leaves the flag as it was.
    pub speaks: bool,
}

/// Weighs an answer's effect against the known stage and status: one that
/// agrees changes nothing and clears a flag; one that disagrees is folded
/// like any event and flags the dispute — unless it cannot decide and
/// names the stage already known, when it stays on the timeline and
/// changes nothing.
pub fn weigh(known: (Option<Stage>, Option<Status>), pulled: &Pulled) -> Weighed {
    let kept = |effect: Effect, disagrees: bool, speaks: bool| Weighed {
        effect,
        disagrees,
        speaks,
    };
    match pulled.event.effect {
        Effect::Sets(stage, status) if (Some(stage), Some(status)) == known => {
            kept(Effect::None, false, true)
        }
        // The provider reviewing what the merchant responded with says the
        // same as "responded", in its words.
        Effect::Sets(stage, Status::UnderReview)
            if known == (Some(stage), Some(Status::Responded)) =>
        {
            kept(Effect::None, false, true)
        }
        Effect::Sets(stage, _) if !pulled.decisive && Some(stage) == known.0 => {
            kept(Effect::None, false, false)
        }
        sets @ Effect::Sets(..) => kept(sets, true, true),
        other => kept(other, false, false),
    }
}

impl Finding {
    /// The timeline event of this finding, heard at `asked_at` (a status
    /// query gives no time of its own).
    pub fn into_pulled(self, reference: &DisputeRef, asked_at: Timestamp) -> Pulled {
        let event = NormalizedEvent {
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
        };
        Pulled {
            event,
            decisive: self.decisive,
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
            decisive: true,
        };
        let pulled = finding.clone().into_pulled(&reference, at);
        assert!(pulled.decisive);
        let event = pulled.event;
        assert_eq!(event.effect, finding.effect);
        assert_eq!(event.occurred_at, None);
        assert_eq!(event.reason, None);
        let later = finding.into_pulled(&reference, at + jiff::SignedDuration::from_secs(60));
        assert_ne!(event.key, later.event.key);
    }

    fn pulled(effect: Effect, decisive: bool) -> Pulled {
        Pulled {
            event: NormalizedEvent {
                dispute_ref: DisputeRef::parse("D1").unwrap(),
                key: EventKey::from_parts(&["status_query", "1"]),
                kind: "X".into(),
                effect,
                occurred_at: None,
                deadline: None,
                amount: None,
                reason: None,
                reason_code: None,
                provider_status: None,
                payment_reference: None,
                merchant_reference: None,
            },
            decisive,
        }
    }

    #[test]
    fn an_answer_that_agrees_changes_nothing_and_clears_the_flag() {
        let said = Effect::Sets(Stage::Chargeback, Status::Won);
        for decisive in [true, false] {
            let weighed = weigh(
                (Some(Stage::Chargeback), Some(Status::Won)),
                &pulled(said, decisive),
            );
            assert_eq!(
                weighed,
                Weighed {
                    effect: Effect::None,
                    disagrees: false,
                    speaks: true
                }
            );
        }
    }

    #[test]
    fn the_provider_reviewing_what_the_merchant_responded_with_agrees() {
        let reviewing = Effect::Sets(Stage::Chargeback, Status::UnderReview);
        let weighed = weigh(
            (Some(Stage::Chargeback), Some(Status::Responded)),
            &pulled(reviewing, true),
        );
        assert_eq!(
            weighed,
            Weighed {
                effect: Effect::None,
                disagrees: false,
                speaks: true
            }
        );
        let won = Effect::Sets(Stage::Chargeback, Status::Won);
        let weighed = weigh(
            (Some(Stage::Chargeback), Some(Status::Responded)),
            &pulled(won, true),
        );
        assert!(weighed.disagrees, "an outcome is news");
        let later = Effect::Sets(Stage::PreArbitration, Status::UnderReview);
        let weighed = weigh(
            (Some(Stage::Chargeback), Some(Status::Responded)),
            &pulled(later, true),
        );
        assert!(weighed.disagrees, "another stage's review is news");
    }

    #[test]
    fn a_decisive_answer_that_disagrees_is_folded_and_flags() {
        let said = Effect::Sets(Stage::Chargeback, Status::Lost);
        let weighed = weigh(
            (Some(Stage::Chargeback), Some(Status::Won)),
            &pulled(said, true),
        );
        assert_eq!(
            weighed,
            Weighed {
                effect: said,
                disagrees: true,
                speaks: true
            }
        );
    }

    #[test]
    fn an_undecisive_answer_at_the_known_stage_changes_nothing_and_flags_nothing() {
        let pending = Effect::Sets(Stage::Chargeback, Status::NeedsResponse);
        for known in [Status::Won, Status::Lost, Status::UnderReview] {
            let weighed = weigh(
                (Some(Stage::Chargeback), Some(known)),
                &pulled(pending, false),
            );
            assert_eq!(
                weighed,
                Weighed {
                    effect: Effect::None,
                    disagrees: false,
                    speaks: false
                },
                "{known:?}"
            );
        }
    }

    #[test]
    fn an_undecisive_answer_at_another_stage_still_tells_of_a_lost_notification() {
        let pending = Effect::Sets(Stage::Chargeback, Status::NeedsResponse);
        let weighed = weigh(
            (Some(Stage::Inquiry), Some(Status::NeedsResponse)),
            &pulled(pending, false),
        );
        assert_eq!(
            weighed,
            Weighed {
                effect: pending,
                disagrees: true,
                speaks: true
            }
        );
        let unknown = weigh((None, None), &pulled(pending, false));
        assert!(unknown.disagrees);
    }

    #[test]
    fn an_answer_naming_no_state_says_nothing_of_the_flag() {
        for effect in [Effect::None, Effect::ExpiresCurrentStage] {
            let weighed = weigh(
                (Some(Stage::Chargeback), Some(Status::Won)),
                &pulled(effect, true),
            );
            assert_eq!(
                weighed,
                Weighed {
                    effect,
                    disagrees: false,
                    speaks: false
                }
            );
        }
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
