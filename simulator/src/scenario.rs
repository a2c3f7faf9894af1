//! Scenarios are data: disputes, each with the events its provider sends
//! and when, and how the provider misbehaves while sending them. The file
//! format is JSON (see `scenarios/*.json`); times are minutes from the
//! scenario's start, scaled down when it is played.

use dispute_core::domain::{ProviderKind, Stage, Status};
use serde::{Deserialize, Serialize};

/// A scripted day (or story) of disputes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// Each connection's account at its provider (PingPong `accId`, Botim
    /// Money `partnerId`, PayerMax `merchantNo`), as the notifications name it.
    pub accounts: std::collections::BTreeMap<String, String>,
    pub disputes: Vec<DisputeScript>,
}

/// One dispute's life at one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeScript {
    /// `pingpong`, `botim_money` or `payermax`, as Dispute Desk names them.
    #[serde(deserialize_with = "provider_name", serialize_with = "provider_text")]
    pub provider: ProviderKind,
    /// The connection's slug at Dispute Desk (`/webhooks/{connection}`).
    pub connection: String,
    /// PingPong's `disputePspReference`, Botim Money's `orderNo`,
    /// PayerMax's `caseId`.
    pub reference: String,
    /// The amount as the provider writes it, and its currency.
    pub amount: String,
    pub currency: String,
    #[serde(default)]
    pub reason_code: Option<String>,
    pub events: Vec<Step>,
    /// Where Dispute Desk should have the dispute once every notification
    /// that is sent has arrived.
    pub expect: Expected,
}

/// A dispute's expected stage and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub stage: Stage,
    pub status: Status,
}

/// One notification the provider sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The provider's own word for the event: a PingPong `eventCode`, a
    /// PayerMax `status`, or `CHARGEBACK` for Botim Money's one kind.
    pub kind: String,
    /// PayerMax's `caseResult` (`WIN`, `FAIL`), when the case is decided.
    #[serde(default)]
    pub result: Option<String>,
    /// When the event happened.
    pub happened_minutes: u32,
    /// When the provider first sends it (default: when it happened), so a
    /// script can send out of order or late.
    #[serde(default)]
    pub sent_minutes: Option<u32>,
    /// Days from the event to the deadline it sets, if it sets one.
    #[serde(default)]
    pub deadline_days: Option<u32>,
    #[serde(default)]
    pub misbehave: Vec<Misbehaviour>,
}

impl Step {
    pub fn sent_at(&self) -> u32 {
        self.sent_minutes.unwrap_or(self.happened_minutes)
    }
}

/// How the provider gets a notification wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misbehaviour {
    /// Never sent: only the query API knows of it.
    Drop,
    /// Sent a second time at once, as an eager retry would.
    Duplicate,
    /// Sent with a signature that does not verify.
    CorruptSignature,
}

fn provider_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ProviderKind, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn provider_text<S: serde::Serializer>(p: &ProviderKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

/// A scenario built into the simulator (its test proves each one reads).
pub fn builtin(name: &str) -> Option<Scenario> {
    let text = match name {
        "mixed-day" => include_str!("../scenarios/mixed-day.json"),
        "lost-notification" => include_str!("../scenarios/lost-notification.json"),
        _ => return None,
    };
    Some(serde_json::from_str(text).expect("a built-in scenario reads"))
}

/// The names of the built-in scenarios.
pub const BUILTIN: [&str; 2] = ["mixed-day", "lost-notification"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_scenario_reads_and_names_known_providers() {
        for name in BUILTIN {
            let scenario = builtin(name).unwrap_or_else(|| panic!("{name} reads"));
            assert_eq!(scenario.name, name);
            assert!(!scenario.disputes.is_empty());
        }
        let day = builtin("mixed-day").unwrap();
        for provider in ProviderKind::ALL {
            assert!(
                day.disputes
                    .iter()
                    .filter(|d| d.provider == provider)
                    .count()
                    >= 5,
                "{provider:?}"
            );
        }
        let lost = builtin("lost-notification").unwrap();
        assert!(lost
            .disputes
            .iter()
            .flat_map(|d| &d.events)
            .any(|e| e.misbehave.contains(&Misbehaviour::Drop)));
        assert_eq!(builtin("no-such"), None);
    }

    #[test]
    fn an_unknown_field_or_misbehaviour_is_refused() {
        let good = r#"{"name": "x", "accounts": {}, "disputes": []}"#;
        assert!(serde_json::from_str::<Scenario>(good).is_ok());
        let bad = r#"{"name": "x", "accounts": {}, "disputes": [], "colour": 1}"#;
        assert!(serde_json::from_str::<Scenario>(bad).is_err());
        let step = r#"{"kind": "X", "happened_minutes": 0, "misbehave": ["explode"]}"#;
        assert!(serde_json::from_str::<Step>(step).is_err());
        let step: Step = serde_json::from_str(r#"{"kind": "X", "happened_minutes": 5}"#).unwrap();
        assert_eq!(step.sent_at(), 5);
    }
}
