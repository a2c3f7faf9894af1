//! A dispute's way through the stages, as the page draws it: retrieval
//! request → chargeback → pre-arbitration → arbitration → outcome, with
//! where it has been, where it is, and what may still come.

use super::{Stage, Status};

/// One step of the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub label: String,
    pub state: StepState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepState {
    /// The dispute went through it.
    Passed,
    /// It did not go through it (it began later, or skipped it).
    Skipped,
    /// Where it is now.
    Current,
    /// Still ahead, if the dispute goes on.
    Ahead,
}

/// The stages every dispute can pass, in order; a fraud alert is shown
/// only for a dispute that had one.
const WAY: [Stage; 4] = [
    Stage::Inquiry,
    Stage::Chargeback,
    Stage::PreArbitration,
    Stage::Arbitration,
];

/// The steps for a dispute at `now` (its stage and status) that has been
/// through `visited` stages.
pub fn lifecycle(visited: &[Stage], now: Option<(Stage, Status)>) -> Vec<Step> {
    let step = |label: &str, state| Step {
        label: label.to_owned(),
        state,
    };
    let Some((stage, status)) = now else {
        return WAY
            .iter()
            .map(|s| step(s.label(), StepState::Ahead))
            .chain([step("Outcome", StepState::Ahead)])
            .collect();
    };
    let mut steps: Vec<Step> = Vec::with_capacity(6);
    if visited.contains(&Stage::FraudAlert) || stage == Stage::FraudAlert {
        let state = match stage == Stage::FraudAlert && !status.is_final() {
            true => StepState::Current,
            false => StepState::Passed,
        };
        steps.push(step(Stage::FraudAlert.label(), state));
    }
    for s in WAY {
        let state = if s == stage && !status.is_final() {
            StepState::Current
        } else if s == stage || (s < stage && visited.contains(&s)) {
            StepState::Passed
        } else if s < stage {
            StepState::Skipped
        } else {
            StepState::Ahead
        };
        steps.push(step(s.label(), state));
    }
    let outcome = match status.is_final() {
        true => step(status.label(), StepState::Current),
        false => step("Outcome", StepState::Ahead),
    };
    steps.push(outcome);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use StepState::*;

    fn states(steps: &[Step]) -> Vec<(&str, StepState)> {
        steps.iter().map(|s| (s.label.as_str(), s.state)).collect()
    }

    #[test]
    fn a_chargeback_that_began_as_a_retrieval_request_has_passed_it() {
        let steps = lifecycle(
            &[Stage::Inquiry, Stage::Chargeback],
            Some((Stage::Chargeback, Status::NeedsResponse)),
        );
        assert_eq!(
            states(&steps),
            [
                ("Retrieval request", Passed),
                ("Chargeback", Current),
                ("Pre-arbitration", Ahead),
                ("Arbitration", Ahead),
                ("Outcome", Ahead),
            ]
        );
    }

    #[test]
    fn a_stage_never_visited_before_the_current_one_is_skipped() {
        let steps = lifecycle(
            &[Stage::Chargeback, Stage::PreArbitration],
            Some((Stage::PreArbitration, Status::UnderReview)),
        );
        assert_eq!(
            states(&steps),
            [
                ("Retrieval request", Skipped),
                ("Chargeback", Passed),
                ("Pre-arbitration", Current),
                ("Arbitration", Ahead),
                ("Outcome", Ahead),
            ]
        );
    }

    #[test]
    fn a_decided_dispute_ends_at_its_outcome() {
        let steps = lifecycle(&[Stage::Chargeback], Some((Stage::Chargeback, Status::Won)));
        assert_eq!(
            states(&steps),
            [
                ("Retrieval request", Skipped),
                ("Chargeback", Passed),
                ("Pre-arbitration", Ahead),
                ("Arbitration", Ahead),
                ("Won", Current),
            ]
        );
    }

    #[test]
    fn a_fraud_alert_shows_only_where_there_was_one() {
        let alert = lifecycle(
            &[Stage::FraudAlert],
            Some((Stage::FraudAlert, Status::NeedsResponse)),
        );
        assert_eq!(
            alert[0],
            Step {
                label: "Fraud alert".into(),
                state: Current
            }
        );
        assert_eq!(alert.len(), 6);
        let later = lifecycle(
            &[Stage::FraudAlert, Stage::Chargeback],
            Some((Stage::Chargeback, Status::NeedsResponse)),
        );
        assert_eq!(later[0].state, Passed);
        let none = lifecycle(&[], None);
        assert_eq!(none.len(), 5);
        assert!(none.iter().all(|s| s.state == Ahead));
    }
}
