//! Rebuilding a dispute after a provider's mapping (or the fold) changed:
//! each recorded event read again from the bytes it came from, the dispute
//! folded afresh, and what would change said field by field, so that an
//! admin sees it before anything is written.

use jiff::Timestamp;

use super::{fold, DisputeRef, DisputeState, EventKey, EventOrigin, FoldEvent, NormalizedEvent};

/// An event as recorded, and how it was heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub id: i64,
    pub origin: EventOrigin,
    pub event: NormalizedEvent,
    /// When it was heard: its time when the provider gives none.
    pub heard_at: Timestamp,
}

/// What reading a recorded event's body again with today's mapping gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Not read again: a status query's answer was checked against keys of
    /// its moment and the question asked then, and a merchant's decision
    /// has no provider's body, so each stands as recorded.
    NotReread,
    Read(Box<NormalizedEvent>),
    /// The body no longer reads as an event of a dispute: why.
    Unreadable(String),
}

/// Why an event whose reading differs is kept as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    Unreadable(String),
    /// It would now belong to another dispute: moving events between
    /// disputes is not a rebuild's to decide.
    NamesAnotherDispute(DisputeRef),
    /// Its key would change, and with it which later deliveries count as
    /// its duplicates.
    AnotherKey(EventKey),
}

impl Kept {
    pub fn describe(&self) -> String {
        match self {
            Kept::Unreadable(why) => format!("no longer reads: {why}"),
            Kept::NamesAnotherDispute(other) => {
                format!("would now name dispute {other}; kept where it is")
            }
            Kept::AnotherKey(key) => format!(
                "its key would become {:?}; kept, so duplicates are still recognized",
                key.as_str()
            ),
        }
    }
}

/// An event read differently today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventChange {
    pub id: i64,
    pub before: NormalizedEvent,
    pub after: NormalizedEvent,
}

/// A dispute's events as they read today, and the state they fold into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub changed: Vec<EventChange>,
    pub kept: Vec<(i64, Kept)>,
    pub state: DisputeState,
}

/// Folds a dispute's recorded events as they read today.
pub fn rebuild(recorded: &[(RecordedEvent, Reading)]) -> Rebuilt {
    let mut changed = Vec::new();
    let mut kept = Vec::new();
    let mut events = Vec::with_capacity(recorded.len());
    for (stored, reading) in recorded {
        let now = match reading {
            Reading::NotReread => &stored.event,
            Reading::Unreadable(why) => {
                kept.push((stored.id, Kept::Unreadable(why.clone())));
                &stored.event
            }
            Reading::Read(read) if read.dispute_ref != stored.event.dispute_ref => {
                kept.push((
                    stored.id,
                    Kept::NamesAnotherDispute(read.dispute_ref.clone()),
                ));
                &stored.event
            }
            Reading::Read(read) if read.key != stored.event.key => {
                kept.push((stored.id, Kept::AnotherKey(read.key.clone())));
                &stored.event
            }
            Reading::Read(read) => {
                if **read != stored.event {
                    changed.push(EventChange {
                        id: stored.id,
                        before: stored.event.clone(),
                        after: (**read).clone(),
                    });
                }
                read
            }
        };
        events.push(FoldEvent::of(now, stored.heard_at, stored.id));
    }
    Rebuilt {
        changed,
        kept,
        state: fold(&events),
    }
}

/// A value of a dispute's state a rebuild can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Stage,
    Status,
    Deadline,
    Amount,
    Reason,
    ReasonCode,
    PaymentReference,
    MerchantReference,
    OpenedAt,
    LastEventAt,
}

impl Field {
    pub fn label(self) -> &'static str {
        match self {
            Field::Stage => "stage",
            Field::Status => "status",
            Field::Deadline => "deadline",
            Field::Amount => "amount",
            Field::Reason => "reason",
            Field::ReasonCode => "reason code",
            Field::PaymentReference => "payment reference",
            Field::MerchantReference => "merchant reference",
            Field::OpenedAt => "opened",
            Field::LastEventAt => "last event",
        }
    }
}

/// A value as shown: times stay times, so each reader sees them in their
/// own zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Time(Timestamp),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub field: Field,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Every value of the state that differs between `before` and `after`, in
/// the order a reader weighs them. Which events decided the state is the
/// fold's reasoning, not a value, and is not compared.
pub fn differences(before: &DisputeState, after: &DisputeState) -> Vec<Difference> {
    let text = |v: Option<&str>| v.map(|s| Value::Text(s.to_owned()));
    let time = |v: Option<Timestamp>| v.map(Value::Time);
    let pairs = [
        (
            Field::Stage,
            text(before.stage.map(|s| s.label())),
            text(after.stage.map(|s| s.label())),
        ),
        (
            Field::Status,
            text(before.status.map(|s| s.label())),
            text(after.status.map(|s| s.label())),
        ),
        (Field::Deadline, time(before.deadline), time(after.deadline)),
        (
            Field::Amount,
            before.amount.as_ref().map(|m| Value::Text(m.to_string())),
            after.amount.as_ref().map(|m| Value::Text(m.to_string())),
        ),
        (
            Field::Reason,
            text(before.reason.as_deref()),
            text(after.reason.as_deref()),
        ),
        (
            Field::ReasonCode,
            text(before.reason_code.as_deref()),
            text(after.reason_code.as_deref()),
        ),
        (
            Field::PaymentReference,
            text(before.payment_reference.as_deref()),
            text(after.payment_reference.as_deref()),
        ),
        (
            Field::MerchantReference,
            text(before.merchant_reference.as_deref()),
            text(after.merchant_reference.as_deref()),
        ),
        (
            Field::OpenedAt,
            time(before.opened_at),
            time(after.opened_at),
        ),
        (
            Field::LastEventAt,
            time(before.last_event_at),
            time(after.last_event_at),
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, b, a)| b != a)
        .map(|(field, before, after)| Difference {
            field,
            before,
            after,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Effect, Money, ProviderTime, Stage, Status};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn event(key: &str, effect: Effect, time: &str) -> NormalizedEvent {
        NormalizedEvent {
            dispute_ref: DisputeRef::parse("D-1").unwrap(),
            key: EventKey::from_stored(key.into()),
            kind: "CODE".into(),
            effect,
            occurred_at: Some(ProviderTime {
                at: at(time),
                text: time.into(),
            }),
            deadline: None,
            amount: None,
            reason: None,
            reason_code: None,
            provider_status: None,
            payment_reference: None,
            merchant_reference: None,
        }
    }

    fn recorded(id: i64, event: NormalizedEvent) -> RecordedEvent {
        RecordedEvent {
            id,
            origin: EventOrigin::Notification,
            heard_at: at("2026-11-30T00:00:00Z"),
            event,
        }
    }

    const OPENED: Effect = Effect::Sets(Stage::Chargeback, Status::NeedsResponse);
    const REVIEW: Effect = Effect::Sets(Stage::Chargeback, Status::UnderReview);

    #[test]
    fn events_that_read_the_same_change_nothing() {
        let a = event("a", OPENED, "2026-11-01T00:00:00Z");
        let b = event("b", REVIEW, "2026-11-02T00:00:00Z");
        let recorded = [
            (recorded(1, a.clone()), Reading::Read(Box::new(a.clone()))),
            (recorded(2, b.clone()), Reading::Read(Box::new(b.clone()))),
        ];
        let rebuilt = rebuild(&recorded);
        assert!(rebuilt.changed.is_empty());
        assert!(rebuilt.kept.is_empty());
        let as_recorded = fold(&[
            FoldEvent::of(&a, at("2026-11-30T00:00:00Z"), 1),
            FoldEvent::of(&b, at("2026-11-30T00:00:00Z"), 2),
        ]);
        assert_eq!(rebuilt.state, as_recorded);
        assert!(differences(&as_recorded, &rebuilt.state).is_empty());
    }

    #[test]
    fn a_code_mapped_anew_changes_its_event_and_the_state() {
        let opened = event("a", OPENED, "2026-11-01T00:00:00Z");
        let unmapped = event("b", Effect::None, "2026-11-02T00:00:00Z");
        let mapped = NormalizedEvent {
            effect: Effect::Sets(Stage::Chargeback, Status::Won),
            ..unmapped.clone()
        };
        let rebuilt = rebuild(&[
            (
                recorded(1, opened.clone()),
                Reading::Read(Box::new(opened.clone())),
            ),
            (
                recorded(2, unmapped.clone()),
                Reading::Read(Box::new(mapped.clone())),
            ),
        ]);
        assert_eq!(
            rebuilt.changed,
            vec![EventChange {
                id: 2,
                before: unmapped,
                after: mapped
            }]
        );
        assert_eq!(rebuilt.state.status, Some(Status::Won));
    }

    #[test]
    fn a_status_query_answer_stands_as_recorded() {
        let answer = event(
            "q",
            Effect::Sets(Stage::Chargeback, Status::Lost),
            "2026-11-03T00:00:00Z",
        );
        let rebuilt = rebuild(&[(
            RecordedEvent {
                origin: EventOrigin::StatusQuery,
                ..recorded(7, answer)
            },
            Reading::NotReread,
        )]);
        assert!(rebuilt.changed.is_empty() && rebuilt.kept.is_empty());
        assert_eq!(rebuilt.state.status, Some(Status::Lost));
    }

    #[test]
    fn an_event_that_would_move_or_lose_its_key_or_no_longer_reads_is_kept() {
        let a = event("a", OPENED, "2026-11-01T00:00:00Z");
        let elsewhere = NormalizedEvent {
            dispute_ref: DisputeRef::parse("D-2").unwrap(),
            effect: REVIEW,
            ..a.clone()
        };
        let rekeyed = NormalizedEvent {
            key: EventKey::from_stored("a2".into()),
            effect: REVIEW,
            ..a.clone()
        };
        for (reading, why) in [
            (
                Reading::Read(Box::new(elsewhere)),
                Kept::NamesAnotherDispute(DisputeRef::parse("D-2").unwrap()),
            ),
            (
                Reading::Read(Box::new(rekeyed)),
                Kept::AnotherKey(EventKey::from_stored("a2".into())),
            ),
            (
                Reading::Unreadable("field x missing".into()),
                Kept::Unreadable("field x missing".into()),
            ),
        ] {
            let rebuilt = rebuild(&[(recorded(1, a.clone()), reading)]);
            assert!(rebuilt.changed.is_empty());
            assert_eq!(rebuilt.kept, vec![(1, why)]);
            assert_eq!(rebuilt.state.status, Some(Status::NeedsResponse));
        }
    }

    #[test]
    fn kept_events_say_why_in_words() {
        assert_eq!(
            Kept::Unreadable("no code".into()).describe(),
            "no longer reads: no code"
        );
        assert!(Kept::NamesAnotherDispute(DisputeRef::parse("D-9").unwrap())
            .describe()
            .contains("D-9"));
        assert!(Kept::AnotherKey(EventKey::from_stored("k".into()))
            .describe()
            .contains("\"k\""));
    }

    #[test]
    fn a_time_without_the_providers_own_takes_when_it_was_heard() {
        let untimed = NormalizedEvent {
            occurred_at: None,
            ..event("a", OPENED, "2026-11-01T00:00:00Z")
        };
        let rebuilt = rebuild(&[(
            recorded(1, untimed.clone()),
            Reading::Read(Box::new(untimed)),
        )]);
        assert_eq!(rebuilt.state.opened_at, Some(at("2026-11-30T00:00:00Z")));
    }

    #[test]
    fn differences_name_every_changed_value_and_nothing_else() {
        let before = DisputeState {
            stage: Some(Stage::Chargeback),
            status: Some(Status::NeedsResponse),
            deadline: Some(at("2026-12-10T00:00:00Z")),
            amount: Some(Money::parse("10.00", "USD").unwrap()),
            reason: Some("fraud".into()),
            opened_at: Some(at("2026-11-01T00:00:00Z")),
            last_event_at: Some(at("2026-11-01T00:00:00Z")),
            status_from: Some(EventKey::from_stored("a".into())),
            ..DisputeState::default()
        };
        let after = DisputeState {
            status: Some(Status::Won),
            deadline: None,
            amount: Some(Money::parse("12.00", "USD").unwrap()),
            reason_code: Some("10.4".into()),
            last_event_at: Some(at("2026-11-02T00:00:00Z")),
            status_from: Some(EventKey::from_stored("b".into())),
            ..before.clone()
        };
        let found = differences(&before, &after);
        let fields: Vec<Field> = found.iter().map(|d| d.field).collect();
        assert_eq!(
            fields,
            [
                Field::Status,
                Field::Deadline,
                Field::Amount,
                Field::ReasonCode,
                Field::LastEventAt
            ]
        );
        assert_eq!(
            found[0],
            Difference {
                field: Field::Status,
                before: Some(Value::Text(Status::NeedsResponse.label().into())),
                after: Some(Value::Text(Status::Won.label().into())),
            }
        );
        assert_eq!(found[1].after, None);
        assert_eq!(found[3].before, None);
        assert!(differences(&after, &after).is_empty());
    }

    #[test]
    fn every_field_has_a_label() {
        for field in [
            Field::Stage,
            Field::Status,
            Field::Deadline,
            Field::Amount,
            Field::Reason,
            Field::ReasonCode,
            Field::PaymentReference,
            Field::MerchantReference,
            Field::OpenedAt,
            Field::LastEventAt,
        ] {
            assert!(!field.label().is_empty());
        }
    }
}
