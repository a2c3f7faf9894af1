//! The verdict on one inbound request.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// What became of a request to `/webhooks/{slug}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Stored, not yet judged (what remains when the judging transaction fails).
    Received,
    Valid,
    Duplicate,
    BadSignature,
    MissingSignature,
    Malformed,
    UnknownConnection,
    ForbiddenSource,
    TooLarge,
    /// The connection exists but is switched off.
    Disabled,
    /// Judged valid, but the database refused its event for a reason other
    /// than an outage; kept for ops.
    Failed,
}

impl Verdict {
    pub const ALL: [Verdict; 11] = [
        Verdict::Received,
        Verdict::Valid,
        Verdict::Duplicate,
        Verdict::BadSignature,
        Verdict::MissingSignature,
        Verdict::Malformed,
        Verdict::UnknownConnection,
        Verdict::ForbiddenSource,
        Verdict::TooLarge,
        Verdict::Disabled,
        Verdict::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Received => "received",
            Verdict::Valid => "valid",
            Verdict::Duplicate => "duplicate",
            Verdict::BadSignature => "bad_signature",
            Verdict::MissingSignature => "missing_signature",
            Verdict::Malformed => "malformed",
            Verdict::UnknownConnection => "unknown_connection",
            Verdict::ForbiddenSource => "forbidden_source",
            Verdict::TooLarge => "too_large",
            Verdict::Disabled => "disabled",
            Verdict::Failed => "failed",
        }
    }

    /// The verdict in the words ops read.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Received => "received, not yet judged",
            Verdict::Valid => "valid",
            Verdict::Duplicate => "duplicate",
            Verdict::BadSignature => "bad signature",
            Verdict::MissingSignature => "no signature",
            Verdict::Malformed => "malformed",
            Verdict::UnknownConnection => "unknown connection",
            Verdict::ForbiddenSource => "sender not allowed",
            Verdict::TooLarge => "too large",
            Verdict::Disabled => "connection switched off",
            Verdict::Failed => "could not be recorded",
        }
    }

    /// Whether the provider gets its acknowledgement (and stops retrying).
    pub fn is_accepted(self) -> bool {
        matches!(self, Verdict::Valid | Verdict::Duplicate)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = super::dispute::UnknownName;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| super::dispute::UnknownName {
                what: "verdict",
                text: text.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_round_trip_and_only_valid_and_duplicate_are_accepted() {
        for v in Verdict::ALL {
            assert_eq!(v.as_str().parse::<Verdict>().unwrap(), v);
            assert_eq!(v.to_string(), v.as_str());
            assert_eq!(
                v.is_accepted(),
                matches!(v, Verdict::Valid | Verdict::Duplicate)
            );
        }
    }
}
