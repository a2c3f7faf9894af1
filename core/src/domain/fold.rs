//! Folding a dispute's events into its current state: every projected value
//! of a dispute is decided here and nowhere else. The state depends only on
//! which events exist, never on the order they arrived in: each event is
//! ranked by (stage, status rank, occurred_at, receipt order) and the
//! highest-ranked one decides stage and status.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Effect, EventKey, Money, Stage, Status};

/// What the fold needs of a stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldEvent {
    pub key: EventKey,
    pub effect: Effect,
    /// The provider's time, or the receipt time when it gives none.
    pub occurred_at: Timestamp,
    /// Receipt order: breaks ties between events of the same instant.
    pub received_seq: i64,
    pub deadline: Option<Timestamp>,
    pub amount: Option<Money>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    pub payment_reference: Option<String>,
    pub merchant_reference: Option<String>,
}

impl FoldEvent {
    /// `event` as the fold takes it, heard at `heard_at` (its time when it
    /// gives none) in receipt order `received_seq`.
    pub fn of(event: &super::NormalizedEvent, heard_at: Timestamp, received_seq: i64) -> Self {
        Self {
            key: event.key.clone(),
            effect: event.effect,
            occurred_at: event.occurred_at.as_ref().map_or(heard_at, |t| t.at),
            received_seq,
            deadline: event.deadline.as_ref().map(|t| t.at),
            amount: event.amount.clone(),
            reason: event.reason.clone(),
            reason_code: event.reason_code.clone(),
            payment_reference: event.payment_reference.clone(),
            merchant_reference: event.merchant_reference.clone(),
        }
    }
}

/// A dispute's current state, derived from all its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeState {
    pub stage: Option<Stage>,
    pub status: Option<Status>,
    /// Set only while the status is `needs_response`.
    pub deadline: Option<Timestamp>,
    pub amount: Option<Money>,
    pub reason: Option<String>,
    /// The network's code for the reason, decided like the reason.
    pub reason_code: Option<String>,
    /// The disputed payment's references, from the latest event naming them.
    pub payment_reference: Option<String>,
    pub merchant_reference: Option<String>,
    /// When the earliest and the latest event happened.
    pub opened_at: Option<Timestamp>,
    pub last_event_at: Option<Timestamp>,
    /// Why: the event that set the stage and status, and the one whose
    /// deadline stands.
    pub status_from: Option<EventKey>,
    pub deadline_from: Option<EventKey>,
}

type Rank = (Stage, u8, Timestamp, i64);

fn rank(stage: Stage, status: Status, event: &FoldEvent) -> Rank {
    (stage, status.rank(), event.occurred_at, event.received_seq)
}

/// Folds events (in any order, duplicates allowed: the first receipt of a
/// key counts) into the dispute's state.
pub fn fold(events: &[FoldEvent]) -> DisputeState {
    let mut first_receipt: HashMap<&EventKey, &FoldEvent> = HashMap::new();
    for event in events {
        first_receipt
            .entry(&event.key)
            .and_modify(|kept| {
                if event.received_seq < kept.received_seq {
                    *kept = event;
                }
            })
            .or_insert(event);
    }
    let mut chronological: Vec<&FoldEvent> = first_receipt.into_values().collect();
    chronological.sort_by_key(|e| (e.occurred_at, e.received_seq));
    let latest = |pick: fn(&FoldEvent) -> Option<&String>| {
        chronological.iter().rev().find_map(|e| pick(e)).cloned()
    };
    let whole_story = DisputeState {
        payment_reference: latest(|e| e.payment_reference.as_ref()),
        merchant_reference: latest(|e| e.merchant_reference.as_ref()),
        opened_at: chronological.first().map(|e| e.occurred_at),
        last_event_at: chronological.last().map(|e| e.occurred_at),
        ..DisputeState::default()
    };

    // Resolve each event's stage; an expiry takes the stage the dispute had
    // reached when it happened.
    let mut resolved: Vec<(Stage, Status, Rank, &FoldEvent)> = Vec::new();
    let mut leading: Option<(Rank, Stage)> = None;
    for event in &chronological {
        let (stage, status) = match event.effect {
            Effect::Sets(stage, status) => (stage, status),
            Effect::ExpiresCurrentStage => match leading {
                Some((_, stage)) => (stage, Status::Expired),
                None => continue,
            },
            Effect::None => continue,
        };
        let r = rank(stage, status, event);
        if leading.is_none_or(|(best, _)| r > best) {
            leading = Some((r, stage));
        }
        resolved.push((stage, status, r, event));
    }

    let Some(&(stage, status, _, decider)) = resolved.iter().max_by_key(|(_, _, r, _)| *r) else {
        // Nothing known of its stage: the latest amount and reason stand.
        return DisputeState {
            amount: chronological.iter().rev().find_map(|e| e.amount.clone()),
            reason: latest(|e| e.reason.as_ref()),
            reason_code: latest(|e| e.reason_code.as_ref()),
            ..whole_story
        };
    };

    let of_stage: Vec<&(Stage, Status, Rank, &FoldEvent)> =
        resolved.iter().filter(|(s, ..)| *s == stage).collect();
    let deadline_event = of_stage
        .iter()
        .filter(|(.., e)| e.deadline.is_some())
        .max_by_key(|(_, _, r, _)| *r)
        .map(|(.., e)| *e)
        .filter(|_| status == Status::NeedsResponse);
    // `of_stage` is chronological, so the last match is the latest.
    let amount = of_stage.iter().rev().find_map(|(.., e)| e.amount.clone());
    let reason = of_stage.iter().rev().find_map(|(.., e)| e.reason.clone());
    let reason_code = of_stage
        .iter()
        .rev()
        .find_map(|(.., e)| e.reason_code.clone());

    DisputeState {
        stage: Some(stage),
        status: Some(status),
        deadline: deadline_event.and_then(|e| e.deadline),
        status_from: Some(decider.key.clone()),
        deadline_from: deadline_event.map(|e| e.key.clone()),
        amount,
        reason,
        reason_code,
        ..whole_story
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(day: i64) -> Timestamp {
        Timestamp::from_second(1_678_000_000 + day * 86_400).unwrap()
    }

    fn event(key: &str, effect: Effect, day: i64, seq: i64) -> FoldEvent {
        FoldEvent {
            key: EventKey::from_parts(&[key]),
            effect,
            occurred_at: at(day),
            received_seq: seq,
            deadline: None,
            amount: None,
            reason: None,
            reason_code: None,
            payment_reference: None,
            merchant_reference: None,
        }
    }

    fn with_deadline(mut e: FoldEvent, day: i64) -> FoldEvent {
        e.deadline = Some(at(day));
        e
    }

    fn with_amount(mut e: FoldEvent, amount: &str) -> FoldEvent {
        e.amount = Some(Money::parse(amount, "USD").unwrap());
        e
    }

    use Effect::Sets;
    use Stage::*;
    use Status::*;

    #[test]
    fn no_events_no_state() {
        assert_eq!(fold(&[]), DisputeState::default());
    }

    #[test]
    fn the_dispute_opens_with_its_earliest_event_and_is_last_heard_of_at_its_latest() {
        let state = fold(&[
            event("late", Effect::None, 9, 1),
            event("cb", Sets(Chargeback, NeedsResponse), 3, 2),
            event("rfi", Sets(Inquiry, NeedsResponse), 1, 3),
        ]);
        assert_eq!(
            (state.opened_at, state.last_event_at),
            (Some(at(1)), Some(at(9)))
        );
    }

    #[test]
    fn references_come_from_the_latest_event_that_names_them_whatever_its_stage() {
        let mut rfi = event("rfi", Sets(Inquiry, NeedsResponse), 1, 1);
        rfi.payment_reference = Some("PS-old".into());
        rfi.merchant_reference = Some("M-1".into());
        let mut cb = event("cb", Sets(Chargeback, NeedsResponse), 2, 2);
        cb.payment_reference = Some("PS-new".into());
        let mut comment = event("comment", Effect::None, 3, 3);
        comment.merchant_reference = Some("M-2".into());
        let state = fold(&[comment, cb, rfi]);
        assert_eq!(state.payment_reference.as_deref(), Some("PS-new"));
        assert_eq!(state.merchant_reference.as_deref(), Some("M-2"));

        let alone = fold(&[event("x", Effect::None, 1, 1)]);
        assert_eq!(
            (alone.payment_reference, alone.merchant_reference),
            (None, None)
        );
    }

    #[test]
    fn a_later_stage_outranks_an_earlier_final_status() {
        let state = fold(&[
            with_deadline(event("cb", Sets(Chargeback, NeedsResponse), 1, 1), 10),
            event("rev", Sets(Chargeback, Won), 5, 2),
            with_deadline(event("pre", Sets(PreArbitration, NeedsResponse), 8, 3), 20),
        ]);
        assert_eq!(state.stage, Some(PreArbitration));
        assert_eq!(state.status, Some(NeedsResponse));
        assert_eq!(state.deadline, Some(at(20)));
    }

    #[test]
    fn a_late_retry_of_an_opening_event_does_not_reopen_a_decided_stage() {
        let state = fold(&[
            event("closed", Sets(Chargeback, Won), 1, 1),
            with_deadline(event("inquiry", Sets(Chargeback, NeedsResponse), 2, 2), 9),
        ]);
        assert_eq!((state.stage, state.status), (Some(Chargeback), Some(Won)));
        assert_eq!(state.deadline, None, "no deadline once decided");
    }

    #[test]
    fn under_review_outranks_needs_response_of_the_same_stage() {
        let state = fold(&[
            event("received", Sets(Chargeback, UnderReview), 1, 2),
            with_deadline(event("inquiry", Sets(Chargeback, NeedsResponse), 3, 1), 9),
        ]);
        assert_eq!(state.status, Some(UnderReview));
        assert_eq!(state.deadline, None);
    }

    #[test]
    fn a_response_outranks_the_providers_review_and_a_decision_outranks_the_response() {
        let chargeback = with_deadline(event("cb", Sets(Chargeback, NeedsResponse), 1, 1), 9);
        let responded = event("response", Sets(Chargeback, Responded), 2, 2);
        let reviewing = event("review", Sets(Chargeback, UnderReview), 3, 3);
        let state = fold(&[chargeback.clone(), responded.clone(), reviewing.clone()]);
        assert_eq!(
            state.status,
            Some(Responded),
            "the provider reviewing it later hides nothing"
        );
        assert_eq!(state.deadline, None, "no deadline counts once responded");
        let won = event("won", Sets(Chargeback, Won), 4, 4);
        assert_eq!(
            fold(&[chargeback.clone(), responded.clone(), won]).status,
            Some(Won)
        );
        let pre = with_deadline(event("pre", Sets(PreArbitration, NeedsResponse), 5, 5), 20);
        let state = fold(&[chargeback, responded, pre]);
        assert_eq!(
            (state.stage, state.status, state.deadline),
            (Some(PreArbitration), Some(NeedsResponse), Some(at(20)))
        );
    }

    #[test]
    fn the_deadline_comes_from_the_highest_ranked_event_of_the_stage_that_has_one() {
        let state = fold(&[
            with_deadline(event("rfi-1", Sets(Inquiry, NeedsResponse), 1, 1), 10),
            with_deadline(event("rfi-2", Sets(Inquiry, NeedsResponse), 2, 2), 12),
            event("rfi-3", Sets(Inquiry, NeedsResponse), 3, 3),
        ]);
        assert_eq!(state.deadline, Some(at(12)));
    }

    #[test]
    fn the_state_names_the_event_that_set_its_status_and_the_one_whose_deadline_stands() {
        let chargeback = with_deadline(event("cb", Sets(Chargeback, NeedsResponse), 1, 1), 9);
        let reminder = event("cb-again", Sets(Chargeback, NeedsResponse), 2, 2);
        let state = fold(&[reminder.clone(), chargeback.clone()]);
        assert_eq!(state.status_from, Some(reminder.key.clone()));
        assert_eq!(state.deadline_from, Some(chargeback.key.clone()));
        let won = event("won", Sets(Chargeback, Won), 3, 3);
        let decided = fold(&[chargeback, won.clone(), reminder]);
        assert_eq!(decided.status_from, Some(won.key));
        assert_eq!(decided.deadline_from, None, "no deadline once decided");
        assert_eq!(fold(&[event("x", Effect::None, 1, 1)]).status_from, None);
    }

    #[test]
    fn the_end_of_the_defence_period_expires_the_stage_reached_at_that_time() {
        let state = fold(&[
            with_deadline(event("rfi", Sets(Inquiry, NeedsResponse), 1, 1), 5),
            event("ended", Effect::ExpiresCurrentStage, 6, 2),
        ]);
        assert_eq!((state.stage, state.status), (Some(Inquiry), Some(Expired)));
        assert_eq!(state.deadline, None);

        let reopened = fold(&[
            with_deadline(event("rfi", Sets(Inquiry, NeedsResponse), 1, 3), 5),
            event("ended", Effect::ExpiresCurrentStage, 6, 1),
            with_deadline(event("cb", Sets(Chargeback, NeedsResponse), 9, 2), 20),
        ]);
        assert_eq!(
            (reopened.stage, reopened.status, reopened.deadline),
            (Some(Chargeback), Some(NeedsResponse), Some(at(20)))
        );
    }

    #[test]
    fn an_expiry_before_anything_is_known_changes_nothing() {
        assert_eq!(
            fold(&[event("ended", Effect::ExpiresCurrentStage, 1, 1)]),
            DisputeState {
                opened_at: Some(at(1)),
                last_event_at: Some(at(1)),
                ..DisputeState::default()
            },
            "nothing but when it was heard of"
        );
    }

    #[test]
    fn events_without_an_effect_change_nothing_but_keep_the_amount_when_alone() {
        let known = [
            with_amount(
                event("fraud", Sets(FraudAlert, NeedsResponse), 1, 1),
                "45.00",
            ),
            with_amount(event("comments", Effect::None, 5, 2), "46.00"),
        ];
        let state = fold(&known);
        assert_eq!(
            (state.stage, state.status),
            (Some(FraudAlert), Some(NeedsResponse))
        );
        assert_eq!(state.amount.unwrap().text(), "45.00");

        let alone = fold(&[with_amount(event("comments", Effect::None, 5, 2), "46.00")]);
        assert_eq!(alone.stage, None);
        assert_eq!(alone.amount.unwrap().text(), "46.00");
    }

    #[test]
    fn amount_and_reason_come_from_the_latest_event_of_the_current_stage() {
        let mut first = with_amount(event("cb", Sets(Chargeback, NeedsResponse), 1, 1), "100");
        first.reason = Some("Fraud".into());
        first.reason_code = Some("10.4".into());
        let mut later = with_amount(event("cb-2", Sets(Chargeback, UnderReview), 4, 3), "80");
        later.reason_code = Some("13.1".into());
        let mut older_stage = with_amount(event("rfi", Sets(Inquiry, NeedsResponse), 0, 2), "999");
        older_stage.reason = Some("Retrieval".into());
        older_stage.reason_code = Some("33".into());
        let state = fold(&[later, older_stage, first]);
        assert_eq!(state.amount.unwrap().text(), "80");
        assert_eq!(state.reason.as_deref(), Some("Fraud"));
        assert_eq!(state.reason_code.as_deref(), Some("13.1"));
    }

    #[test]
    fn a_duplicate_key_counts_once_as_first_received() {
        let original = with_amount(event("cb", Sets(Chargeback, NeedsResponse), 1, 1), "10");
        let mut redelivered = with_amount(original.clone(), "99");
        redelivered.received_seq = 7;
        let state = fold(&[redelivered, original.clone()]);
        assert_eq!(state, fold(&[original]));
        assert_eq!(
            state.amount.unwrap().text(),
            "10",
            "the first receipt's content"
        );
    }

    #[test]
    fn an_expiry_takes_the_highest_stage_reached_before_it_not_the_first() {
        let state = fold(&[
            event("rfi", Sets(Inquiry, NeedsResponse), 1, 1),
            event("cb", Sets(Chargeback, NeedsResponse), 3, 2),
            event("rfi-2", Sets(Inquiry, UnderReview), 4, 3),
            event("ended", Effect::ExpiresCurrentStage, 5, 4),
        ]);
        assert_eq!(
            (state.stage, state.status),
            (Some(Chargeback), Some(Expired))
        );
    }

    #[test]
    fn a_dispute_with_only_unrecognized_events_keeps_their_latest_reason() {
        let mut older = event("a", Effect::None, 1, 1);
        older.reason = Some("first".into());
        older.reason_code = Some("1".into());
        let mut newer = event("b", Effect::None, 2, 2);
        newer.reason = Some("second".into());
        let state = fold(&[newer, older]);
        assert_eq!(
            (
                state.stage,
                state.reason.as_deref(),
                state.reason_code.as_deref()
            ),
            (None, Some("second"), Some("1"))
        );
    }

    #[test]
    fn same_instant_ties_fall_to_receipt_order() {
        let state = fold(&[
            event("a", Sets(Chargeback, Won), 1, 2),
            event("b", Sets(Chargeback, Lost), 1, 1),
        ]);
        assert_eq!(state.status, Some(Won));
    }

    fn any_effect() -> impl Strategy<Value = Effect> {
        let stage = prop::sample::select(Stage::ALL.to_vec());
        let status = prop::sample::select(Status::ALL.to_vec());
        prop_oneof![
            6 => (stage, status).prop_map(|(s, st)| Effect::Sets(s, st)),
            1 => Just(Effect::ExpiresCurrentStage),
            1 => Just(Effect::None),
        ]
    }

    /// A dispute's distinct events: unique keys, distinct provider times.
    fn any_history() -> impl Strategy<Value = Vec<FoldEvent>> {
        prop::collection::vec(
            (
                any_effect(),
                prop::option::of(0i64..60),
                prop::option::of(1u32..100_000),
                (any::<bool>(), any::<bool>()),
                (any::<bool>(), any::<bool>()),
            ),
            1..12,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(
                    |(i, (effect, deadline, cents, (reason, code), (payment, merchant)))| {
                        FoldEvent {
                            key: EventKey::from_parts(&[&i.to_string()]),
                            effect,
                            occurred_at: at(i as i64 * 3),
                            received_seq: 0,
                            deadline: deadline.map(at),
                            amount: cents.map(|c| {
                                Money::parse(&format!("{}.{:02}", c / 100, c % 100), "USD").unwrap()
                            }),
                            reason: reason.then(|| format!("reason {i}")),
                            reason_code: code.then(|| format!("{i}.1")),
                            payment_reference: payment.then(|| format!("PS{i}")),
                            merchant_reference: merchant.then(|| format!("M{i}")),
                        }
                    },
                )
                .collect()
        })
    }

    /// The same history delivered in some order, some events more than once,
    /// each delivery numbered in arrival order.
    fn deliveries(history: &[FoldEvent], order: &[usize]) -> Vec<FoldEvent> {
        order
            .iter()
            .enumerate()
            .map(|(seq, &i)| FoldEvent {
                received_seq: seq as i64,
                ..history[i % history.len()].clone()
            })
            .collect()
    }

    proptest! {
        #[test]
        fn any_delivery_order_with_duplicates_folds_to_the_same_state(
            history in any_history(),
            order in prop::collection::vec(any::<usize>(), 0..30),
            shuffle_seed in any::<u64>(),
        ) {
            let in_order = deliveries(&history, &(0..history.len()).collect::<Vec<_>>());
            // Every event at least once, then extra copies, in a shuffled order.
            let mut shuffled: Vec<usize> = (0..history.len()).chain(order).collect();
            let mut seed = shuffle_seed | 1;
            for i in (1..shuffled.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                shuffled.swap(i, (seed % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(fold(&deliveries(&history, &shuffled)), fold(&in_order));
        }
    }
}
