//! Sending a dispute's response, pure: the decision (defend or accept), how
//! it reaches the provider (its API, or a channel outside the desk), the
//! steps a submission takes in order and the one that comes next after
//! those recorded, whether it is still worth trying again before the
//! deadline, when it may be asked for at all, and the words for each.

use std::{fmt, str::FromStr};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{
    dispute::{text_enum, UnknownName},
    evidence::DocumentKind,
    Effect, Stage, Status,
};

/// What the merchant decided to do about a dispute's stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// Contest it, with the response's evidence.
    Defend,
    /// Accept the loss.
    Accept,
}

text_enum!(Decision, "decision", {
    Decision::Defend => "defend",
    Decision::Accept => "accept",
});

impl Decision {
    /// The button's word.
    pub fn label(self) -> &'static str {
        match self {
            Decision::Defend => "Defend",
            Decision::Accept => "Accept",
        }
    }

    /// What it does to the dispute's stage once it is done.
    pub fn effect(self, stage: Stage) -> Effect {
        match self {
            Decision::Defend => Effect::Sets(stage, Status::Responded),
            Decision::Accept => Effect::Sets(stage, Status::Accepted),
        }
    }

    /// The event's kind as the timeline names it.
    pub fn event_kind(self, channel: Channel) -> &'static str {
        match (self, channel) {
            (Decision::Defend, Channel::Provider) => "defended",
            (Decision::Defend, Channel::Outside) => "responded outside the desk",
            (Decision::Accept, Channel::Provider) => "accepted",
            (Decision::Accept, Channel::Outside) => "accepted (recorded)",
        }
    }
}

/// How a submission reaches the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    /// The desk calls the provider's API, from a job.
    Provider,
    /// The provider has no call for it: the merchant's decision is
    /// recorded, and the provider learns of it its own way (Botim Money's
    /// support; PayerMax closes an unanswered case at its expiry).
    Outside,
}

text_enum!(Channel, "channel", {
    Channel::Provider => "provider",
    Channel::Outside => "outside",
});

/// One call of a submission, in the order they are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Step {
    /// Upload the response's files of one kind of document.
    Supply(DocumentKind),
    /// Ask the provider whether what it holds is complete.
    Check,
    Defend,
    Accept,
    /// Send the summary and the files' links in one call (PayerMax's
    /// `caseReplay`).
    Replay,
}

impl Step {
    /// How it is stored: `supply:invoice`, `check`, `defend`, …
    pub fn as_text(self) -> String {
        match self {
            Step::Supply(document) => format!("supply:{}", document.as_str()),
            Step::Check => "check".into(),
            Step::Defend => "defend".into(),
            Step::Accept => "accept".into(),
            Step::Replay => "replay".into(),
        }
    }

    /// The step as its text says, or `None` for one this version does not
    /// know.
    pub fn from_text(text: &str) -> Option<Step> {
        Some(match text {
            "check" => Step::Check,
            "defend" => Step::Defend,
            "accept" => Step::Accept,
            "replay" => Step::Replay,
            _ => Step::Supply(text.strip_prefix("supply:")?.parse().ok()?),
        })
    }

    /// In words, for the timeline.
    pub fn label(self) -> String {
        match self {
            Step::Supply(document) => format!("Upload: {}", document.label().to_lowercase()),
            Step::Check => "Check that the provider holds every document it needs".into(),
            Step::Defend => "Defend the dispute".into(),
            Step::Accept => "Accept the dispute".into(),
            Step::Replay => "Send the summary and the evidence's links".into(),
        }
    }
}

/// The steps not yet done, in order: a submission resumed after a restart
/// starts at the first, so nothing done is done twice.
pub fn remaining(plan: &[Step], done: &[Step]) -> Vec<Step> {
    plan.iter().copied().filter(|s| !done.contains(s)).collect()
}

/// How one attempt at a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StepOutcome {
    /// Its call is going out; no answer is recorded yet (none ever, if
    /// the sender died).
    Sending,
    Done,
    /// The provider refused it; the submission ends.
    Refused,
    /// No answer, or the provider's own failure: tried again later.
    Failed,
}

text_enum!(StepOutcome, "step outcome", {
    StepOutcome::Sending => "sending",
    StepOutcome::Done => "done",
    StepOutcome::Refused => "refused",
    StepOutcome::Failed => "failed",
});

/// Where a submission is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SubmissionState {
    /// Its job is sending it (or waiting to try again).
    Sending,
    /// Every step is done: the provider has the response.
    Done,
    /// The provider refused it; trying again would not help.
    Refused,
    /// It could not get through before the deadline was too near.
    GaveUp,
}

text_enum!(SubmissionState, "submission state", {
    SubmissionState::Sending => "sending",
    SubmissionState::Done => "done",
    SubmissionState::Refused => "refused",
    SubmissionState::GaveUp => "gave_up",
});

impl SubmissionState {
    pub fn label(self) -> &'static str {
        match self {
            SubmissionState::Sending => "Sending",
            SubmissionState::Done => "Sent",
            SubmissionState::Refused => "Refused by the provider",
            SubmissionState::GaveUp => "Not sent: the deadline came too near",
        }
    }

    /// Whether it still counts as the stage's one submission: a refused or
    /// abandoned one may be followed by another.
    pub fn holds_the_stage(self) -> bool {
        matches!(self, SubmissionState::Sending | SubmissionState::Done)
    }
}

/// How long before the deadline a failing submission stops trying: a
/// provider that has been down until then will not take it in time, and
/// the analyst must hear so while they can still act.
pub const STOP_BEFORE_DEADLINE: SignedDuration = SignedDuration::from_mins(15);

/// Whether a submission that failed for now is tried again at `next`.
pub fn try_again_at(next: Timestamp, deadline: Option<Timestamp>) -> bool {
    deadline.is_none_or(|deadline| next < deadline - STOP_BEFORE_DEADLINE)
}

/// Why a decision cannot be asked for now, in an analyst's words; `None`
/// when it can. `ready` is whether the stage's response is marked ready
/// (a defence sends it).
pub fn blocked_because(
    decision: Decision,
    dispute: (Option<Stage>, Option<Status>),
    deadline: Option<Timestamp>,
    ready: bool,
    now: Timestamp,
) -> Option<String> {
    match dispute {
        (_, Some(status)) if status.is_final() => Some(format!(
            "The dispute is decided ({}).",
            status.label().to_lowercase()
        )),
        (_, Some(Status::Responded)) => {
            Some("The dispute has been responded to already.".to_owned())
        }
        (None, _) | (_, None) => Some("Nothing is known yet of the dispute's stage.".to_owned()),
        _ if decision == Decision::Defend && deadline.is_some_and(|d| d <= now) => {
            Some("The time to respond is over: the deadline has passed.".to_owned())
        }
        _ if decision == Decision::Defend && !ready => {
            Some("The response is not marked ready: prepare it and mark it ready first.".to_owned())
        }
        _ => None,
    }
}

/// How a response sent outside the desk was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OutsideMethod {
    Email,
    Portal,
    Phone,
    Other,
}

text_enum!(OutsideMethod, "way of sending", {
    OutsideMethod::Email => "email",
    OutsideMethod::Portal => "portal",
    OutsideMethod::Phone => "phone",
    OutsideMethod::Other => "other",
});

impl OutsideMethod {
    pub fn label(self) -> &'static str {
        match self {
            OutsideMethod::Email => "By email to the provider's support",
            OutsideMethod::Portal => "Through the provider's merchant portal",
            OutsideMethod::Phone => "By phone",
            OutsideMethod::Other => "Another way",
        }
    }
}

/// The longest note kept with a response recorded as sent outside the desk.
pub const MAX_OUTSIDE_NOTE: usize = 2000;
/// The longest account of what was sent outside the desk.
pub const MAX_OUTSIDE_SENT: usize = 500;

/// What a response sent outside the desk carried, and a note: checked as
/// the analyst typed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideWords {
    /// One line: the packet, which files.
    pub sent: String,
    pub note: String,
}

impl OutsideWords {
    pub fn parse(sent: &str, note: &str) -> Result<Self, String> {
        let (sent, note) = (sent.trim(), note.trim());
        if sent.is_empty() {
            return Err("Say what was sent (the packet, which files)".into());
        }
        if sent.chars().count() > MAX_OUTSIDE_SENT {
            return Err(format!(
                "What was sent is longer than {MAX_OUTSIDE_SENT} characters"
            ));
        }
        if sent.chars().any(char::is_control) {
            return Err("What was sent is one line without control characters".into());
        }
        if note.chars().count() > MAX_OUTSIDE_NOTE {
            return Err(format!(
                "The note is longer than {MAX_OUTSIDE_NOTE} characters"
            ));
        }
        if note
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err("The note cannot hold control characters".into());
        }
        Ok(Self {
            sent: sent.to_owned(),
            note: note.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + hour * 3600).unwrap()
    }

    #[test]
    fn steps_round_trip_through_their_text() {
        let steps = [
            Step::Supply(DocumentKind::Invoice),
            Step::Supply(DocumentKind::CustomerCommunication),
            Step::Check,
            Step::Defend,
            Step::Accept,
            Step::Replay,
        ];
        for step in steps {
            assert_eq!(Step::from_text(&step.as_text()), Some(step));
        }
        assert_eq!(
            Step::Supply(DocumentKind::Shipping).as_text(),
            "supply:shipping"
        );
        assert_eq!(Step::from_text("supply:"), None);
        assert_eq!(Step::from_text("supply:passport"), None);
        assert_eq!(Step::from_text("withdraw"), None);
        assert_eq!(
            Step::Supply(DocumentKind::Invoice).label(),
            "Upload: invoice or transaction record"
        );
    }

    #[test]
    fn what_remains_keeps_the_plans_order_without_what_is_done() {
        let plan = [
            Step::Supply(DocumentKind::Invoice),
            Step::Supply(DocumentKind::Shipping),
            Step::Supply(DocumentKind::Other),
            Step::Check,
            Step::Defend,
        ];
        assert_eq!(remaining(&plan, &[]), plan);
        assert_eq!(
            remaining(
                &plan,
                &[
                    Step::Supply(DocumentKind::Shipping),
                    Step::Supply(DocumentKind::Invoice)
                ]
            ),
            [Step::Supply(DocumentKind::Other), Step::Check, Step::Defend]
        );
        assert!(remaining(&plan, &plan).is_empty());
    }

    #[test]
    fn a_defence_leaves_the_stage_responded_and_an_accept_accepted() {
        assert_eq!(
            Decision::Defend.effect(Stage::Chargeback),
            Effect::Sets(Stage::Chargeback, Status::Responded)
        );
        assert_eq!(
            Decision::Accept.effect(Stage::PreArbitration),
            Effect::Sets(Stage::PreArbitration, Status::Accepted)
        );
        assert_eq!(Decision::Defend.event_kind(Channel::Provider), "defended");
        assert_eq!(
            Decision::Defend.event_kind(Channel::Outside),
            "responded outside the desk"
        );
        for decision in Decision::ALL {
            assert_eq!(decision.as_str().parse::<Decision>(), Ok(*decision));
        }
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(*channel));
        }
        for outcome in StepOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<StepOutcome>(), Ok(*outcome));
        }
    }

    #[test]
    fn only_a_sending_or_sent_submission_holds_its_stage() {
        let holding: Vec<_> = SubmissionState::ALL
            .iter()
            .filter(|s| s.holds_the_stage())
            .collect();
        assert_eq!(holding, [&SubmissionState::Sending, &SubmissionState::Done]);
        for state in SubmissionState::ALL {
            assert_eq!(state.as_str().parse::<SubmissionState>(), Ok(*state));
        }
    }

    #[test]
    fn trying_again_stops_a_quarter_of_an_hour_before_the_deadline() {
        let deadline = at(10);
        assert!(try_again_at(at(9), Some(deadline)));
        assert!(try_again_at(
            deadline - SignedDuration::from_mins(16),
            Some(deadline)
        ));
        assert!(!try_again_at(
            deadline - SignedDuration::from_mins(15),
            Some(deadline)
        ));
        assert!(!try_again_at(at(11), Some(deadline)));
        assert!(try_again_at(at(1000), None));
    }

    #[test]
    fn a_decision_is_blocked_for_a_decided_or_responded_or_late_dispute() {
        use Decision::*;
        let open = (Some(Stage::Chargeback), Some(Status::NeedsResponse));
        let now = at(5);
        assert_eq!(blocked_because(Defend, open, Some(at(6)), true, now), None);
        assert_eq!(blocked_because(Accept, open, Some(at(6)), false, now), None);
        let late = blocked_because(Defend, open, Some(at(4)), true, now).unwrap();
        assert!(late.contains("deadline has passed"), "{late}");
        // Accepting late is still the merchant's to record.
        assert_eq!(blocked_because(Accept, open, Some(at(4)), false, now), None);
        let unready = blocked_because(Defend, open, None, false, now).unwrap();
        assert!(unready.contains("not marked ready"), "{unready}");
        let decided = (Some(Stage::Chargeback), Some(Status::Won));
        assert_eq!(
            blocked_because(Accept, decided, None, true, now).as_deref(),
            Some("The dispute is decided (won).")
        );
        let responded = (Some(Stage::Chargeback), Some(Status::Responded));
        assert!(blocked_because(Accept, responded, None, true, now)
            .unwrap()
            .contains("responded to already"));
        assert!(blocked_because(Accept, (None, None), None, true, now).is_some());
        // Under the provider's review without a response from the desk, a
        // defence may still be sent.
        let reviewing = (Some(Stage::Chargeback), Some(Status::UnderReview));
        assert_eq!(blocked_because(Defend, reviewing, None, true, now), None);
    }

    #[test]
    fn what_was_sent_outside_is_one_clean_line_and_the_note_has_no_controls() {
        let ok = OutsideWords::parse("  the packet, 3 pages ", "sent to\nsupport").unwrap();
        assert_eq!(ok.sent, "the packet, 3 pages");
        assert_eq!(ok.note, "sent to\nsupport");
        assert!(OutsideWords::parse(" ", "")
            .unwrap_err()
            .contains("Say what"));
        assert!(OutsideWords::parse("a\u{7}b", "").is_err());
        assert!(OutsideWords::parse("a\nb", "").is_err());
        assert!(OutsideWords::parse("a", "x\u{0}y").is_err());
        assert!(OutsideWords::parse(&"é".repeat(500), &"n".repeat(2000)).is_ok());
        assert!(OutsideWords::parse(&"é".repeat(501), "").is_err());
        assert!(OutsideWords::parse("a", &"n".repeat(2001)).is_err());
    }

    #[test]
    fn ways_of_sending_outside_read_as_words() {
        for method in OutsideMethod::ALL {
            assert_eq!(method.as_str().parse::<OutsideMethod>(), Ok(*method));
            assert!(!method.label().is_empty());
        }
    }
}
