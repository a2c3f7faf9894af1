//! Reason guidance: what a card network's reason code means, its category
//! and the network's usual response window, from `core/data/reason-codes.csv`
//! (kept with its sources and date). Context for analysts: the provider's
//! deadline is the one that counts.

use std::{collections::HashMap, sync::LazyLock};

use serde::Deserialize;

/// One reason code of one network.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReasonGuide {
    pub network: String,
    pub code: String,
    pub category: String,
    pub title: String,
    /// Days the network usually gives the merchant's side to answer.
    pub response_days: u16,
    /// The evidence checklist a response starts from (`evidence::Defence`).
    pub defence: String,
}

const TABLE: &str = include_str!("../../data/reason-codes.csv");

/// The table's rows by code; codes do not repeat across networks (Visa
/// `13.1`, Mastercard `4853`, American Express `C08`).
static GUIDES: LazyLock<HashMap<String, ReasonGuide>> = LazyLock::new(|| {
    rows()
        .into_iter()
        .map(|guide| (guide.code.to_ascii_uppercase(), guide))
        .collect()
});

fn rows() -> Vec<ReasonGuide> {
    csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(TABLE.as_bytes())
        .deserialize()
        .filter_map(Result::ok)
        .collect()
}

/// Every code the table knows.
pub fn all() -> impl Iterator<Item = &'static ReasonGuide> {
    GUIDES.values()
}

/// The guidance for a provider's reason code (`13.1`, ` c08 `), if the
/// table knows it.
pub fn guide(code: &str) -> Option<&'static ReasonGuide> {
    GUIDES.get(&code.trim().to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_table_is_read_and_no_code_repeats() {
        let lines = TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        let rows = rows();
        assert_eq!(rows.len(), lines - 1, "every row but the header parses");
        assert_eq!(GUIDES.len(), rows.len(), "no code twice");
        for row in &rows {
            assert!(
                ["Visa", "Mastercard", "American Express"].contains(&row.network.as_str()),
                "{row:?}"
            );
            assert!(
                [
                    "Fraud",
                    "Authorization",
                    "Processing error",
                    "Consumer dispute"
                ]
                .contains(&row.category.as_str()),
                "{row:?}"
            );
            assert!((1..=120).contains(&row.response_days), "{row:?}");
        }
    }

    #[test]
    fn the_fixtures_codes_and_each_network_are_known() {
        let visa = guide("13.1").unwrap();
        assert_eq!(
            (
                visa.network.as_str(),
                visa.category.as_str(),
                visa.title.as_str(),
                visa.response_days
            ),
            (
                "Visa",
                "Consumer dispute",
                "Merchandise or services not received",
                30
            )
        );
        assert_eq!(guide(" 13.3 ").unwrap().category, "Consumer dispute");
        assert_eq!(guide("4837").unwrap().network, "Mastercard");
        assert_eq!(
            guide("4859").unwrap().title,
            "Addendum, no-show or ATM dispute"
        );
        assert_eq!(guide("c08").unwrap().network, "American Express");
        assert_eq!(guide("fraud"), None);
        assert_eq!(guide(""), None);
    }
}
