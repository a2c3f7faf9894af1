//! A dispute's identity, stages and statuses.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The provider's reference for a dispute, unique within a connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DisputeRef(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisputeRefError {
    #[error("the dispute reference is empty")]
    Empty,
    #[error("the dispute reference is longer than 128 characters")]
    TooLong,
}

impl DisputeRef {
    pub fn parse(text: &str) -> Result<Self, DisputeRefError> {
        let text = text.trim();
        if text.is_empty() {
            Err(DisputeRefError::Empty)
        } else if text.chars().count() > 128 {
            Err(DisputeRefError::TooLong)
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisputeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How far a dispute has gone, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    FraudAlert,
    Inquiry,
    Chargeback,
    PreArbitration,
    Arbitration,
}

/// Where the dispute stands within its stage. `NeedsResponse`,
/// `UnderReview` and `Responded` are open; the rest end their stage (a
/// later stage can still follow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NeedsResponse,
    UnderReview,
    /// The merchant's response was sent (through the desk, or recorded as
    /// sent outside it): the provider is reviewing it, no deadline counts.
    Responded,
    Won,
    Lost,
    Accepted,
    Expired,
    Cancelled,
}

impl Stage {
    /// The name analysts read.
    pub fn label(self) -> &'static str {
        match self {
            Stage::FraudAlert => "Fraud alert",
            Stage::Inquiry => "Retrieval request",
            Stage::Chargeback => "Chargeback",
            Stage::PreArbitration => "Pre-arbitration",
            Stage::Arbitration => "Arbitration",
        }
    }
}

impl Status {
    /// The name analysts read.
    pub fn label(self) -> &'static str {
        match self {
            Status::NeedsResponse => "Needs response",
            Status::UnderReview => "Under review",
            Status::Responded => "Under review — responded",
            Status::Won => "Won",
            Status::Lost => "Lost",
            Status::Accepted => "Accepted",
            Status::Expired => "Expired",
            Status::Cancelled => "Cancelled",
        }
    }

    /// Rank within a stage: waiting on us < waiting on them < waiting on
    /// them with our response < decided. A provider's "under review" after
    /// the merchant responded does not hide that it did.
    pub fn rank(self) -> u8 {
        match self {
            Status::NeedsResponse => 0,
            Status::UnderReview => 1,
            Status::Responded => 2,
            Status::Won | Status::Lost | Status::Accepted | Status::Expired | Status::Cancelled => {
                3
            }
        }
    }

    pub fn is_final(self) -> bool {
        self.rank() == 3
    }
}

macro_rules! text_enum {
    ($type:ty, $what:literal, { $($variant:path => $text:literal),+ $(,)? }) => {
        impl $type {
            pub const ALL: &'static [$type] = &[$($variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($variant => $text),+ }
            }
        }

        impl FromStr for $type {
            type Err = UnknownName;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($variant),)+
                    _ => Err(UnknownName { what: $what, text: text.to_owned() }),
                }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;

/// A name read back from storage that this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub text: String,
}

text_enum!(Stage, "stage", {
    Stage::FraudAlert => "fraud_alert",
    Stage::Inquiry => "inquiry",
    Stage::Chargeback => "chargeback",
    Stage::PreArbitration => "pre_arbitration",
    Stage::Arbitration => "arbitration",
});

text_enum!(Status, "status", {
    Status::NeedsResponse => "needs_response",
    Status::UnderReview => "under_review",
    Status::Responded => "responded",
    Status::Won => "won",
    Status::Lost => "lost",
    Status::Accepted => "accepted",
    Status::Expired => "expired",
    Status::Cancelled => "cancelled",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_ordered_as_a_dispute_escalates() {
        let mut shuffled = vec![
            Stage::Arbitration,
            Stage::Inquiry,
            Stage::PreArbitration,
            Stage::FraudAlert,
            Stage::Chargeback,
        ];
        shuffled.sort();
        assert_eq!(shuffled, Stage::ALL);
    }

    #[test]
    fn open_statuses_rank_below_final_ones() {
        assert_eq!(Status::NeedsResponse.rank(), 0);
        assert_eq!(Status::UnderReview.rank(), 1);
        assert_eq!(Status::Responded.rank(), 2);
        for status in [
            Status::Won,
            Status::Lost,
            Status::Accepted,
            Status::Expired,
            Status::Cancelled,
        ] {
            assert_eq!(status.rank(), 3);
            assert!(status.is_final());
        }
        assert!(!Status::UnderReview.is_final());
        assert!(!Status::Responded.is_final());
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>().unwrap(), *stage);
        }
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), *status);
        }
        assert_eq!(
            "settled".parse::<Status>().unwrap_err().to_string(),
            "unknown status \"settled\""
        );
    }

    #[test]
    fn stages_and_statuses_have_the_names_analysts_read() {
        let stages: Vec<&str> = Stage::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(
            stages,
            [
                "Fraud alert",
                "Retrieval request",
                "Chargeback",
                "Pre-arbitration",
                "Arbitration"
            ]
        );
        let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(
            statuses,
            [
                "Needs response",
                "Under review",
                "Under review — responded",
                "Won",
                "Lost",
                "Accepted",
                "Expired",
                "Cancelled"
            ]
        );
    }

    #[test]
    fn dispute_references_are_trimmed_and_bounded() {
        assert_eq!(DisputeRef::parse("O1000").unwrap().to_string(), "O1000");
        assert_eq!(DisputeRef::parse(" O1000 ").unwrap().as_str(), "O1000");
        assert_eq!(DisputeRef::parse("  "), Err(DisputeRefError::Empty));
        assert_eq!(
            DisputeRef::parse(&"x".repeat(129)),
            Err(DisputeRefError::TooLong)
        );
        assert!(DisputeRef::parse(&"x".repeat(128)).is_ok());
    }
}
