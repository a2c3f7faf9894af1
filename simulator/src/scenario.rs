//! Scenarios are data: disputes, each with the events its provider sends
//! and when, and how the provider misbehaves while sending them. The file
//! format is JSON (`SCENARIOS.md` documents it; `scenarios/*.json` are
//! built in); times are minutes from the scenario's start, scaled down when
//! it is played.

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
    /// PayerMax's `appId` per connection, which its query API checks (any
    /// is accepted for a connection not named).
    #[serde(default)]
    pub app_ids: std::collections::BTreeMap<String, String>,
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
    /// How the provider's query API misbehaves when asked about it.
    #[serde(default)]
    pub query_misbehave: Vec<QueryMisbehaviour>,
    /// How the provider's response calls misbehave for it.
    #[serde(default)]
    pub respond_misbehave: Vec<RespondMisbehaviour>,
    /// The notification the provider sends once the dispute is defended
    /// (PingPong's `CHARGEBACK_REVERSED` or `CHARGEBACK_RETURN`), and how
    /// many real seconds later.
    #[serde(default)]
    pub after_defence: Option<AfterDefence>,
    /// Where Dispute Desk should have the dispute once every notification
    /// that is sent has arrived.
    pub expect: Expected,
    /// Where a status query should bring it, when notifications were
    /// dropped and the provider's answer knows more.
    #[serde(default)]
    pub recovered: Option<Expected>,
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
#[serde(try_from = "StepText")]
pub struct Step {
    /// The provider's own word for the event: a PingPong `eventCode`, a
    /// PayerMax `status`, or `CHARGEBACK` for Botim Money's one kind.
    pub kind: String,
    /// PayerMax's `caseResult` (`WIN`, `FAIL`), when the case is decided.
    pub result: Option<String>,
    /// When the event happened.
    pub happened_minutes: u32,
    /// When the provider first sends it (default: when it happened), so a
    /// script can send out of order or late.
    pub sent_minutes: Option<u32>,
    /// Days from the event to the deadline it sets, if it sets one.
    pub deadline_days: Option<u32>,
    /// Hours from the event to the deadline it sets, for a deadline within
    /// the scenario's day (so a story can hold one due in hours and one
    /// already overdue). PingPong's notifications carry the time; a query
    /// answer and the other providers carry only its date.
    pub deadline_hours: Option<u32>,
    /// PayerMax only: send it in the old, flat format (the case's fields at
    /// the top level, no wrapper) instead of the current one.
    pub flat: bool,
    pub misbehave: Vec<Misbehaviour>,
}

/// A step as a scenario file writes it, before its fields are checked
/// against each other.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepText {
    kind: String,
    #[serde(default)]
    result: Option<String>,
    happened_minutes: u32,
    #[serde(default)]
    sent_minutes: Option<u32>,
    #[serde(default)]
    deadline_days: Option<u32>,
    #[serde(default)]
    deadline_hours: Option<u32>,
    #[serde(default)]
    flat: bool,
    #[serde(default)]
    misbehave: Vec<Misbehaviour>,
}

impl TryFrom<StepText> for Step {
    type Error = &'static str;

    fn try_from(t: StepText) -> Result<Self, Self::Error> {
        if t.deadline_days.is_some() && t.deadline_hours.is_some() {
            return Err("a step sets its deadline in days or in hours, not both");
        }
        Ok(Step {
            kind: t.kind,
            result: t.result,
            happened_minutes: t.happened_minutes,
            sent_minutes: t.sent_minutes,
            deadline_days: t.deadline_days,
            deadline_hours: t.deadline_hours,
            flat: t.flat,
            misbehave: t.misbehave,
        })
    }
}

/// PingPong's payment notifications for the disputed payment, sent with
/// the dispute's script (`kind`): the transaction and a refund of it.
pub const PAYMENT_KINDS: [&str; 2] = ["TRANSACTION", "REFUND"];

impl Step {
    pub fn sent_at(&self) -> u32 {
        self.sent_minutes.unwrap_or(self.happened_minutes)
    }

    /// How long after the event its deadline is, if it sets one.
    pub fn deadline_after(&self) -> Option<jiff::SignedDuration> {
        let hours = match (self.deadline_days, self.deadline_hours) {
            (Some(days), _) => 24 * i64::from(days),
            (_, Some(hours)) => i64::from(hours),
            (None, None) => return None,
        };
        Some(jiff::SignedDuration::from_hours(hours))
    }

    /// Whether this is a payment notification rather than a dispute event.
    pub fn is_payment(&self) -> bool {
        PAYMENT_KINDS.contains(&self.kind.as_str())
    }
}

/// How the provider's query API gets an answer wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryMisbehaviour {
    /// Answers only after the simulator's slow-answer delay, past a
    /// client's timeout.
    SlowAnswer,
    /// Signs the answer so that it does not verify.
    CorruptSignature,
    /// PingPong: `chargebackStatus` stays `PENDING` whatever happened, as
    /// PingPong's notifications carry it on won and lost disputes.
    PendingStatus,
}

/// How the provider's response calls get an answer wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RespondMisbehaviour {
    /// The first two response calls answer HTTP 500 without doing
    /// anything; the rest are answered.
    FailTwice,
    /// The third document supplied is never answered and never kept, as
    /// if the provider stopped reading it (the caller gives up or is
    /// killed); later ones are answered.
    HangThirdSupply,
    /// Signs its answers so that they do not verify.
    CorruptSignature,
    /// The first `defendDispute` is done but answered HTTP 500, as if its
    /// answer were lost on the way.
    LoseDefendAnswer,
    /// The first `defendDispute` is done and never answered, as if the
    /// caller died waiting.
    HangDefendAnswer,
}

/// The outcome the provider decides once the dispute is defended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AfterDefence {
    /// The provider's word for it (`CHARGEBACK_REVERSED`: won).
    pub kind: String,
    /// Real seconds after the defence, whatever the time scale.
    pub after_seconds: u32,
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

impl Scenario {
    /// A start for the scenario such that its last event happens now, so
    /// that nothing happens in the future.
    pub fn start_ending_now(&self) -> jiff::Timestamp {
        let span = self
            .disputes
            .iter()
            .flat_map(|d| &d.events)
            .map(|e| e.happened_minutes)
            .max()
            .unwrap_or(0);
        jiff::Timestamp::now() - jiff::SignedDuration::from_mins(i64::from(span))
    }
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
        let events = || day.disputes.iter().flat_map(|d| &d.events);
        assert!(events().any(|e| e.flat));
        assert!(events().any(|e| e.is_payment()));
        assert_eq!(
            day.disputes
                .iter()
                .filter(|d| d.recovered.is_some())
                .count(),
            2
        );
        let lost = builtin("lost-notification").unwrap();
        assert!(lost
            .disputes
            .iter()
            .flat_map(|d| &d.events)
            .any(|e| e.misbehave.contains(&Misbehaviour::Drop)));
        assert_eq!(builtin("no-such"), None);
    }

    #[test]
    fn the_mixed_day_ends_with_one_dispute_overdue_one_due_in_hours_and_one_within_three_days() {
        let day = builtin("mixed-day").unwrap();
        let end = day
            .disputes
            .iter()
            .flat_map(|d| &d.events)
            .map(|e| e.happened_minutes)
            .max()
            .unwrap();
        // Each dispute that ends needing a response is due when the last
        // event sent about it says, counted from the day's end (the demo's
        // "now").
        let due_in_hours: Vec<i64> = day
            .disputes
            .iter()
            .filter(|d| d.expect.status == Status::NeedsResponse && d.recovered.is_none())
            .filter_map(|d| {
                let sent = |e: &&Step| !e.misbehave.contains(&Misbehaviour::Drop);
                let last = d.events.iter().rev().find(sent)?;
                let after = last.deadline_after()?;
                let happened = jiff::SignedDuration::from_mins(i64::from(last.happened_minutes));
                let end = jiff::SignedDuration::from_mins(i64::from(end));
                Some((happened + after - end).as_hours())
            })
            .collect();
        assert!(due_in_hours.iter().any(|h| *h < 0), "{due_in_hours:?}");
        assert!(
            due_in_hours.iter().any(|h| (0..24).contains(h)),
            "{due_in_hours:?}"
        );
        assert!(
            due_in_hours.iter().any(|h| (24..72).contains(h)),
            "{due_in_hours:?}"
        );
        assert!(due_in_hours.iter().any(|h| *h > 7 * 24), "{due_in_hours:?}");
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
        assert_eq!(step.deadline_after(), None);
        let due = |json: &str| {
            serde_json::from_str::<Step>(json)
                .unwrap()
                .deadline_after()
                .map(|d| d.as_hours())
        };
        assert_eq!(
            due(r#"{"kind": "X", "happened_minutes": 5, "deadline_days": 2}"#),
            Some(48)
        );
        assert_eq!(
            due(r#"{"kind": "X", "happened_minutes": 5, "deadline_hours": 3}"#),
            Some(3)
        );
        let both =
            r#"{"kind": "X", "happened_minutes": 5, "deadline_days": 2, "deadline_hours": 3}"#;
        let refused = serde_json::from_str::<Step>(both).unwrap_err().to_string();
        assert!(refused.contains("not both"), "{refused}");
    }
}
