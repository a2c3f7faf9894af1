//! What an event did to a dispute, as the title analysts read first
//! ("Chargeback opened"); the provider's own codes come second.

use super::{Stage, Status};

/// Where an event came from, as far as its title is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Told {
    /// A provider's notification (or its replay).
    ByNotification,
    /// A provider's answer to a status query.
    ByQuery,
    /// The merchant's own decision (a response sent, an acceptance).
    ByMerchant,
}

/// The title of an event: what it made of the dispute (`effect`: the stage
/// and status it set), or, for one that set nothing, why not.
pub fn event_title(effect: Option<(Stage, Status)>, recognized: bool, told: Told) -> String {
    match (effect, recognized, told) {
        (Some((stage, status)), _, _) => headline(stage, status),
        (None, _, Told::ByQuery) => "The provider's answer: nothing new".to_owned(),
        (None, _, Told::ByMerchant) => "The merchant's decision".to_owned(),
        (None, false, Told::ByNotification) => {
            "An update Dispute Desk does not understand".to_owned()
        }
        (None, true, Told::ByNotification) => "An update that changed nothing".to_owned(),
    }
}

/// A dispute put at `stage` and `status`, as a title.
pub fn headline(stage: Stage, status: Status) -> String {
    let stage_name = stage.label();
    match (stage, status) {
        (Stage::FraudAlert, Status::NeedsResponse) => "Fraud alert received".to_owned(),
        (_, Status::NeedsResponse) => format!("{stage_name} opened"),
        (_, Status::UnderReview) => format!("{stage_name} under review"),
        (_, Status::Responded) => format!("{stage_name} responded to"),
        (_, Status::Won) => format!("{stage_name} won"),
        (_, Status::Lost) => format!("{stage_name} lost"),
        (_, Status::Accepted) => format!("{stage_name} accepted"),
        (_, Status::Expired) => format!("{stage_name}: the time to respond ran out"),
        (_, Status::Cancelled) => format!("{stage_name} cancelled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_that_opens_a_stage_reads_as_opened() {
        assert_eq!(
            headline(Stage::Chargeback, Status::NeedsResponse),
            "Chargeback opened"
        );
        assert_eq!(
            headline(Stage::Inquiry, Status::NeedsResponse),
            "Retrieval request opened"
        );
        assert_eq!(
            headline(Stage::PreArbitration, Status::NeedsResponse),
            "Pre-arbitration opened"
        );
        assert_eq!(
            headline(Stage::FraudAlert, Status::NeedsResponse),
            "Fraud alert received"
        );
    }

    #[test]
    fn every_stage_and_status_has_a_title_that_names_the_stage_in_words() {
        for stage in Stage::ALL {
            for status in Status::ALL {
                let title = headline(*stage, *status);
                assert!(title.starts_with(stage.label()), "{title}");
                assert!(!title.contains('_'), "no code: {title}");
            }
        }
        assert_eq!(headline(Stage::Chargeback, Status::Won), "Chargeback won");
        assert_eq!(
            headline(Stage::Arbitration, Status::UnderReview),
            "Arbitration under review"
        );
        assert_eq!(
            headline(Stage::Chargeback, Status::Expired),
            "Chargeback: the time to respond ran out"
        );
        assert_eq!(
            headline(Stage::Chargeback, Status::Responded),
            "Chargeback responded to"
        );
    }

    #[test]
    fn an_event_that_set_nothing_says_why() {
        let won = Some((Stage::Chargeback, Status::Won));
        assert_eq!(event_title(won, true, Told::ByQuery), "Chargeback won");
        assert_eq!(
            event_title(None, false, Told::ByQuery),
            "The provider's answer: nothing new"
        );
        assert_eq!(
            event_title(None, false, Told::ByNotification),
            "An update Dispute Desk does not understand"
        );
        assert_eq!(
            event_title(None, true, Told::ByNotification),
            "An update that changed nothing"
        );
        assert_eq!(
            event_title(None, true, Told::ByMerchant),
            "The merchant's decision"
        );
    }
}
