//! The store's own tests, against a fresh database each: recording (a
//! judgement, an event from each source, duplicates), saving connections,
//! and every list query with at least two of everything it lists.

use std::time::Duration;

use dispute_core::domain::{QueueFilter, Sort};
use dispute_core::{
    domain::{
        ConnectionDraft, DisputeRef, Effect, EventKey, Money, NormalizedEvent, PaymentEvent,
        ProviderKind, ProviderTime, Stage, Status, Verdict,
    },
    providers::{
        judge::{Judgement, Refused},
        keys::Fingerprint,
        pingpong, Notification,
    },
};
use dispute_store::{
    Actor, AuditEntry, AuditFilter, BoardBounds, Column, EventSource, KeyPurpose, KeySlot, NewKey,
    NewNotification, Recorded, SaveError, Saved, Saving, Store, StoredKey, StoredKeyMaterial,
    ThrottledCount,
};
use jiff::{SignedDuration, Timestamp};
use test_support::TestDatabase;

/// A migrated store on a database of its own (kept alive with it).
async fn store() -> (Store, TestDatabase) {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool(2).await);
    store.migrate().await.unwrap();
    (store, db)
}

fn day(n: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap() + SignedDuration::from_hours(24 * n)
}

fn draft(slug: &str, provider: ProviderKind) -> ConnectionDraft {
    ConnectionDraft {
        slug: slug.into(),
        provider: provider.as_str().into(),
        timezone: "UTC".into(),
        enabled: true,
        ..ConnectionDraft::default()
    }
}

async fn connection(store: &Store, slug: &str) -> i64 {
    let settings = draft(slug, ProviderKind::PingPong).validate(&[]).unwrap();
    store
        .save_connection(&settings, Saving::Create, |_| vec![], &Actor::default())
        .await
        .unwrap()
        .id
}

fn event(dispute: &str, key: &str, effect: Effect, on: i64) -> NormalizedEvent {
    NormalizedEvent {
        dispute_ref: DisputeRef::parse(dispute).unwrap(),
        key: EventKey::from_parts(&[dispute, key]),
        kind: key.to_uppercase(),
        effect,
        occurred_at: Some(ProviderTime {
            at: day(on),
            text: format!("day {on}"),
        }),
        deadline: None,
        amount: Some(Money::parse("129.90", "USD").unwrap()),
        reason: Some("Merchandise not received".into()),
        reason_code: Some("13.1".into()),
        provider_status: None,
        payment_reference: Some(format!("PS-{dispute}")),
        merchant_reference: Some(format!("M-{dispute}")),
    }
}

fn with_deadline(mut e: NormalizedEvent, on: i64) -> NormalizedEvent {
    e.deadline = Some(ProviderTime {
        at: day(on),
        text: format!("day {on}"),
    });
    e
}

fn queried(asked_on: i64) -> EventSource {
    EventSource::StatusQuery {
        by: None,
        asked_at: day(asked_on),
        answer: "{}".into(),
    }
}

fn delivery(connection_id: Option<i64>, slug: &str) -> NewNotification {
    NewNotification {
        connection_id,
        slug: slug.into(),
        remote_addr: "192.0.2.1".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"{}".to_vec(),
        body_length: 2,
        body_sha256: vec![0; 32],
    }
}

fn refused(verdict: Verdict) -> Judgement {
    Judgement::Refused(Refused::new(verdict, "no", None))
}

fn accepted(event: NormalizedEvent) -> Judgement {
    Judgement::Accepted {
        key: Fingerprint::from_stored("hmac:0123456789abcdef".into()),
        notification: Notification::Dispute(event),
        ack: pingpong::ACK,
    }
}

#[tokio::test]
async fn recording_an_accepted_notification_adds_its_event_refolds_the_dispute_and_answers() {
    let (store, _db) = store().await;
    let id = connection(&store, "pingpong-main").await;
    let raw = delivery(Some(id), "pingpong-main");
    let rfi = with_deadline(
        event(
            "D1",
            "rfi",
            Effect::Sets(Stage::Inquiry, Status::NeedsResponse),
            1,
        ),
        9,
    );

    let (first, recorded) = store
        .record_delivery(&raw, &accepted(rfi.clone()), Duration::from_micros(1500))
        .await
        .unwrap();
    let (_, again) = store
        .record_delivery(&raw, &accepted(rfi), Duration::from_micros(700))
        .await
        .unwrap();

    assert!(matches!(recorded, Recorded::New { .. }));
    assert_eq!(
        again,
        Recorded::Duplicate {
            of_notification: Some(first.id)
        }
    );
    let rows = store.notifications().await.unwrap();
    assert_eq!(
        (rows[0].verdict, rows[1].verdict),
        (Verdict::Valid, Verdict::Duplicate)
    );
    assert_eq!(rows[0].response_status, Some(200));
    assert_eq!(rows[0].latency_us, Some(1500));
    assert_eq!(
        rows[0].key_fingerprint.as_deref(),
        Some("hmac:0123456789abcdef")
    );
    assert_eq!(rows[1].duplicate_of, Some(first.id));
    let dispute = store.dispute("pingpong-main", "D1").await.unwrap().unwrap();
    assert_eq!(
        (dispute.stage, dispute.status, dispute.deadline),
        (
            Some(Stage::Inquiry),
            Some(Status::NeedsResponse),
            Some(day(9))
        )
    );
    assert_eq!(dispute.amount.unwrap().to_string(), "129.90 USD");
    assert_eq!(dispute.payment_reference.as_deref(), Some("PS-D1"));
    assert_eq!((dispute.opened_at, dispute.last_event_at), (day(1), day(1)));
    assert_eq!(store.timeline(dispute.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn recording_a_refusal_keeps_only_its_verdict_and_a_bounded_reason() {
    let (store, _db) = store().await;
    let long = "why ".repeat(1000);

    let (_, recorded) = store
        .record_delivery(
            &delivery(None, "nobody"),
            &Judgement::Refused(Refused::new(Verdict::UnknownConnection, long, None)),
            Duration::ZERO,
        )
        .await
        .unwrap();

    assert_eq!(recorded, Recorded::Refused);
    let row = &store.notifications().await.unwrap()[0];
    assert_eq!(row.verdict, Verdict::UnknownConnection);
    assert_eq!(row.response_status, Some(404));
    assert_eq!(
        row.reason.as_ref().unwrap().chars().count(),
        1001,
        "1,000 and the ellipsis"
    );
    assert_eq!(row.key_fingerprint, None);
}

#[tokio::test]
async fn an_accepted_payment_is_recorded_once() {
    let (store, _db) = store().await;
    let id = connection(&store, "pingpong-main").await;
    let refund = PaymentEvent {
        key: EventKey::from_parts(&["REFUND", "PS1", "R1", "SUCCESS"]),
        kind: "REFUND".into(),
        status: "SUCCESS".into(),
        payment_reference: "PS1".into(),
        merchant_reference: Some("M1".into()),
        operation_reference: Some("R1".into()),
        amount: Some(Money::parse("10.00", "USD").unwrap()),
        occurred_at: None,
    };
    let judgement = Judgement::Accepted {
        key: Fingerprint::from_stored("hmac:x".into()),
        notification: Notification::Payment(refund),
        ack: pingpong::ACK,
    };
    let raw = delivery(Some(id), "pingpong-main");

    let (first, recorded) = store
        .record_delivery(&raw, &judgement, Duration::ZERO)
        .await
        .unwrap();
    let (_, again) = store
        .record_delivery(&raw, &judgement, Duration::ZERO)
        .await
        .unwrap();

    assert!(matches!(recorded, Recorded::New { .. }));
    assert_eq!(
        again,
        Recorded::Duplicate {
            of_notification: Some(first.id)
        }
    );
}

#[tokio::test]
async fn a_status_query_answer_is_an_event_with_who_asked_and_the_answer() {
    let (store, _db) = store().await;
    let id = connection(&store, "pingpong-main").await;
    let mut answer = event(
        "D1",
        "query",
        Effect::Sets(Stage::Chargeback, Status::Won),
        0,
    );
    answer.occurred_at = None;

    let recorded = store
        .record_event(
            id,
            &EventSource::StatusQuery {
                by: None,
                asked_at: day(5),
                answer: r#"{"chargebackStatus":"WON"}"#.into(),
            },
            &answer,
        )
        .await
        .unwrap();

    assert!(matches!(recorded, Recorded::New { .. }));
    let (source, notification, query_answer): (String, Option<i64>, Option<String>) =
        sqlx::query_as("select source, notification_id, query_answer from dispute_events")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(source, "status_query");
    assert_eq!(notification, None);
    assert_eq!(
        query_answer.as_deref(),
        Some(r#"{"chargebackStatus":"WON"}"#)
    );
    let dispute = store.dispute("pingpong-main", "D1").await.unwrap().unwrap();
    assert_eq!(dispute.status, Some(Status::Won));
    assert_eq!(
        dispute.last_event_at,
        day(5),
        "asked then, as no time was given"
    );
}

fn salt_key(fingerprint: &str) -> NewKey {
    NewKey {
        purpose: KeyPurpose::Verify,
        slot: KeySlot::Current,
        key: StoredKey {
            material: StoredKeyMaterial::Sealed(vec![1, 2, 3]),
            fingerprint: fingerprint.into(),
        },
    }
}

async fn audit_actions(store: &Store) -> Vec<String> {
    sqlx::query_scalar("select action from audit_log order by id")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_connection_is_created_with_its_keys_and_their_audit_entries_at_once() {
    let (store, _db) = store().await;
    let settings = draft("pingpong-main", ProviderKind::PingPong)
        .validate(&[])
        .unwrap();

    let saved = store
        .save_connection(
            &settings,
            Saving::Create,
            |_| vec![salt_key("hmac:a")],
            &Actor::default(),
        )
        .await
        .unwrap();
    let taken = store
        .save_connection(
            &settings,
            Saving::Create,
            |_| vec![salt_key("hmac:b")],
            &Actor::default(),
        )
        .await;

    assert_eq!(saved.settings, Saved::Created);
    assert_eq!(
        saved.keys,
        [(
            KeyPurpose::Verify,
            KeySlot::Current,
            "hmac:a".into(),
            Saved::Created
        )]
    );
    assert!(matches!(taken, Err(SaveError::SlugTaken(slug)) if slug == "pingpong-main"));
    assert_eq!(
        audit_actions(&store).await,
        ["connection.created", "connection.key_set"]
    );
    let keys = store.keys(saved.id, KeyPurpose::Verify).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].fingerprint, "hmac:a",
        "the refused save changed nothing"
    );
}

#[tokio::test]
async fn updating_changes_only_what_differs_and_never_the_provider() {
    let (store, _db) = store().await;
    let mut draft = draft("pingpong-main", ProviderKind::PingPong);
    let settings = draft.validate(&[]).unwrap();
    let actor = Actor::default();
    store
        .save_connection(&settings, Saving::Create, |_| vec![], &actor)
        .await
        .unwrap();

    let same = store
        .save_connection(&settings, Saving::Update, |_| vec![], &actor)
        .await
        .unwrap();
    draft.display_name = "PingPong EU".into();
    let renamed = store
        .save_connection(
            &draft.validate(&[]).unwrap(),
            Saving::CreateOrUpdate,
            |_| vec![],
            &actor,
        )
        .await
        .unwrap();
    draft.provider = "botim_money".into();
    let other_provider = store
        .save_connection(
            &draft.validate(&[]).unwrap(),
            Saving::Update,
            |_| vec![],
            &actor,
        )
        .await;
    let missing = store
        .save_connection(
            &self::draft("nope", ProviderKind::PingPong)
                .validate(&[])
                .unwrap(),
            Saving::Update,
            |_| vec![],
            &actor,
        )
        .await;

    assert_eq!(
        (same.settings, renamed.settings),
        (Saved::Unchanged, Saved::Updated)
    );
    assert!(matches!(other_provider, Err(SaveError::ProviderDiffers)));
    assert!(matches!(missing, Err(SaveError::NoSuchConnection(_))));
    assert_eq!(
        audit_actions(&store).await,
        ["connection.created", "connection.updated"]
    );
    let detail = store
        .connection_detail(&settings.slug)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (detail.provider, detail.settings.display_name.as_str()),
        (ProviderKind::PingPong, "PingPong EU")
    );
}

/// Two connections with disputes at every stage of interest, recorded from
/// status queries (no notification needed).
async fn disputes(store: &Store) -> (i64, i64) {
    let a = connection(store, "conn-a").await;
    let b = connection(store, "conn-b").await;
    let needs = Effect::Sets(Stage::Chargeback, Status::NeedsResponse);
    for (conn, e) in [
        (a, with_deadline(event("A1", "cb", needs, 1), 12)),
        (a, with_deadline(event("A2", "cb", needs, 2), 10)),
        (b, event("B1", "cb", needs, 3)),
        (
            b,
            event("B2", "won", Effect::Sets(Stage::Chargeback, Status::Won), 4),
        ),
        (a, event("A1", "later", Effect::None, 5)),
    ] {
        store.record_event(conn, &queried(0), &e).await.unwrap();
    }
    (a, b)
}

#[tokio::test]
async fn the_queue_for_any_status_by_last_event_lists_the_most_recently_active_first() {
    let (store, _db) = store().await;
    disputes(&store).await;
    let filter = QueueFilter {
        status: None,
        sort: Sort::LastEvent,
        ..QueueFilter::default()
    };

    let refs: Vec<String> = store
        .work_queue(&filter, 0, day(0), None, 10)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|d| format!("{}/{}", d.connection_slug, d.dispute_ref))
        .collect();

    assert_eq!(refs, ["conn-a/A1", "conn-b/B2", "conn-b/B1", "conn-a/A2"]);
    let two = store.work_queue(&filter, 0, day(0), None, 2).await.unwrap();
    assert_eq!(two.unwrap().len(), 2);
}

#[tokio::test]
async fn the_board_puts_what_needs_a_response_in_columns_by_due_date_with_the_amounts_at_risk() {
    let (store, _db) = store().await;
    let (a, b) = disputes(&store).await;
    let needs = Effect::Sets(Stage::Chargeback, Status::NeedsResponse);
    let mut euro = with_deadline(event("B3", "cb", needs, 3), 20);
    euro.amount = Some(Money::parse("1000", "EUR").unwrap());
    for (conn, e) in [
        (b, euro),
        (a, with_deadline(event("A3", "cb", needs, 1), 1)),
        (b, with_deadline(event("B4", "cb", needs, 1), 10)),
    ] {
        store.record_event(conn, &queried(0), &e).await.unwrap();
    }
    // Day 10 is "today": A3 (day 1) is overdue; A2 and B4 are due at
    // day 10 exactly, which is not yet past; A1 (day 12) is within three
    // days; B3 (day 20) is later; B1 has no deadline.
    let bounds = BoardBounds {
        now: day(10) - SignedDuration::from_secs(1),
        end_of_today: day(11),
        end_of_3_days: day(14),
        end_of_7_days: day(18),
    };

    let board = store.deadline_board(bounds, 1).await.unwrap();

    let shown: Vec<(Column, i64, Vec<String>, Vec<String>)> = board
        .into_iter()
        .map(|c| {
            (
                c.column,
                c.count,
                c.disputes.into_iter().map(|d| d.dispute_ref).collect(),
                c.at_risk.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (
                Column::Overdue,
                1,
                vec!["A3".into()],
                vec!["129.90 USD".into()]
            ),
            (
                Column::DueToday,
                2,
                vec!["A2".into()],
                vec!["259.80 USD".into()]
            ),
            (
                Column::Next3Days,
                1,
                vec!["A1".into()],
                vec!["129.90 USD".into()]
            ),
            (Column::Next7Days, 0, vec![], vec![]),
            (
                Column::Later,
                1,
                vec!["B3".into()],
                vec!["1,000.00 EUR".into()]
            ),
            (
                Column::NoDeadline,
                1,
                vec!["B1".into()],
                vec!["129.90 USD".into()]
            ),
        ]
    );
}

#[tokio::test]
async fn a_timeline_holds_its_own_disputes_events_in_the_order_they_happened() {
    let (store, _db) = store().await;
    disputes(&store).await;
    let a1 = store.dispute("conn-a", "A1").await.unwrap().unwrap();
    let a2 = store.dispute("conn-a", "A2").await.unwrap().unwrap();

    let kinds =
        |t: Vec<dispute_store::TimelineEntry>| t.into_iter().map(|e| e.kind).collect::<Vec<_>>();
    let timeline = store.timeline(a1.id).await.unwrap();
    assert_eq!(
        timeline
            .iter()
            .map(|e| (e.recognized, e.source.as_str()))
            .collect::<Vec<_>>(),
        [(true, "status_query"), (false, "status_query")]
    );
    assert_eq!(a1.provider, ProviderKind::PingPong);
    assert_eq!(kinds(timeline), ["CB", "LATER"]);
    assert_eq!(kinds(store.timeline(a2.id).await.unwrap()), ["CB"]);
    assert_eq!(store.dispute("conn-b", "A1").await.unwrap(), None);
}

#[tokio::test]
async fn a_disputes_payments_are_those_of_its_connection_carrying_its_references() {
    let (store, _db) = store().await;
    let (a, b) = disputes(&store).await;
    let payment = |reference: &str, merchant: Option<&str>, op: &str| PaymentEvent {
        key: EventKey::from_parts(&[reference, op]),
        kind: "REFUND".into(),
        status: "SUCCESS".into(),
        payment_reference: reference.into(),
        merchant_reference: merchant.map(str::to_owned),
        operation_reference: Some(op.into()),
        amount: None,
        occurred_at: None,
    };
    for (conn, p) in [
        (a, payment("PS-A1", None, "R1")),
        (a, payment("PS-other", Some("M-A1"), "R2")),
        (a, payment("PS-A2", None, "R3")),
        (b, payment("PS-A1", None, "R4")),
    ] {
        let judgement = Judgement::Accepted {
            key: Fingerprint::from_stored("hmac:x".into()),
            notification: Notification::Payment(p),
            ack: pingpong::ACK,
        };
        store
            .record_delivery(&delivery(Some(conn), "x"), &judgement, Duration::ZERO)
            .await
            .unwrap();
    }
    let a1 = store.dispute("conn-a", "A1").await.unwrap().unwrap();

    let operations: Vec<Option<String>> = store
        .payments_of_dispute(a1.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.operation_reference)
        .collect();

    assert_eq!(operations, [Some("R1".into()), Some("R2".into())]);
}

#[tokio::test]
async fn deliveries_come_newest_first_and_throttled_counts_sum_per_sender() {
    let (store, _db) = store().await;
    let (first, _) = store
        .record_delivery(
            &delivery(None, "one"),
            &refused(Verdict::TooLarge),
            Duration::ZERO,
        )
        .await
        .unwrap();
    let (second, _) = store
        .record_delivery(
            &delivery(None, "two"),
            &refused(Verdict::UnknownConnection),
            Duration::ZERO,
        )
        .await
        .unwrap();
    let count = |sender: &str, minute: i64, requests, slug: &str| ThrottledCount {
        sender: sender.into(),
        minute: day(0) + SignedDuration::from_mins(minute),
        requests,
        last_slug: slug.into(),
    };
    store
        .count_throttled(&[count("192.0.2.1", 0, 3, "a"), count("192.0.2.2", 0, 1, "b")])
        .await
        .unwrap();
    store
        .count_throttled(&[count("192.0.2.1", 0, 2, "c"), count("192.0.2.1", 1, 4, "d")])
        .await
        .unwrap();

    let deliveries = store
        .delivery_history(&Default::default(), None, 10)
        .await
        .unwrap();
    let throttled = store.throttled_since(day(0), 10).await.unwrap();

    assert_eq!(
        deliveries
            .iter()
            .map(|d| (d.id, d.verdict))
            .collect::<Vec<_>>(),
        [
            (second.id, Verdict::UnknownConnection),
            (first.id, Verdict::TooLarge)
        ]
    );
    assert_eq!(
        throttled
            .iter()
            .map(|t| (t.sender.as_str(), t.requests, t.last_slug.as_str()))
            .collect::<Vec<_>>(),
        [("192.0.2.1", 9, "d"), ("192.0.2.2", 1, "b")]
    );
    assert!(store.throttled_since(day(1), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_connections_overview_shows_each_ones_last_delivery() {
    let (store, _db) = store().await;
    let a = connection(&store, "conn-a").await;
    connection(&store, "conn-b").await;
    for verdict in [Verdict::Malformed, Verdict::BadSignature] {
        store
            .record_delivery(
                &delivery(Some(a), "conn-a"),
                &refused(verdict),
                Duration::ZERO,
            )
            .await
            .unwrap();
    }

    let overview = store.connections_overview().await.unwrap();

    assert_eq!(overview.len(), 2);
    assert_eq!(overview[0].summary.slug, "conn-a");
    assert_eq!(overview[0].last_verdict, Some(Verdict::BadSignature));
    assert_eq!(
        (overview[1].last_received_at, overview[1].last_verdict),
        (None, None)
    );
}

#[tokio::test]
async fn the_audit_log_filters_and_pages_and_failed_sign_ins_are_summarized() {
    let (store, _db) = store().await;
    let by = |email: &str| Actor {
        email: Some(email.into()),
        ..Actor::default()
    };
    for (who, action, subject) in [
        ("ana@example.com", "user.created", "1"),
        ("bo@example.com", "connection.updated", "2"),
        ("ana@example.com", "connection.key_set", "3"),
        ("ana@example.com", "connection.updated", "4"),
    ] {
        let entry = AuditEntry {
            action,
            subject,
            details: serde_json::json!({}),
        };
        store.audit(&by(who), &entry).await.unwrap();
    }
    let filter = AuditFilter {
        actor: Some("ana@example.com".into()),
        action: Some("connection".into()),
        ..AuditFilter::default()
    };

    let first = store.audit_log(&filter, None, 1).await.unwrap();
    let rest = store
        .audit_log(&filter, Some(first[0].key()), 10)
        .await
        .unwrap();
    for _ in 0..2 {
        store
            .record_sign_in_failure(
                "ana@example.com",
                "192.0.2.1",
                SignedDuration::from_hours(1),
            )
            .await
            .unwrap();
    }
    store
        .record_sign_in_failure("bo@example.com", "192.0.2.2", SignedDuration::from_hours(1))
        .await
        .unwrap();

    let subjects = |entries: Vec<dispute_store::AuditRecord>| {
        entries.into_iter().map(|e| e.subject).collect::<Vec<_>>()
    };
    assert_eq!(subjects(first), ["4"]);
    assert_eq!(subjects(rest), ["3"]);
    let failures = store
        .recent_sign_in_failures(Timestamp::now() - SignedDuration::from_hours(1), 10)
        .await
        .unwrap();
    let mut failures: Vec<(String, i64)> = failures
        .into_iter()
        .map(|f| (f.email, f.failures))
        .collect();
    failures.sort();
    assert_eq!(
        failures,
        [("ana@example.com".into(), 2), ("bo@example.com".into(), 1)]
    );
}

#[tokio::test]
async fn events_of_one_dispute_recorded_at_once_are_all_folded() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool(8).await);
    store.migrate().await.unwrap();
    let id = connection(&store, "conn-a").await;
    let needs = Effect::Sets(Stage::Inquiry, Status::NeedsResponse);

    futures::future::join_all((0..40).map(|n| {
        let store = store.clone();
        async move {
            let e = with_deadline(event("D1", &format!("rfi-{n}"), needs, n), 100 + n);
            store.record_event(id, &queried(0), &e).await.unwrap();
        }
    }))
    .await;

    let dispute = store.dispute("conn-a", "D1").await.unwrap().unwrap();
    assert_eq!(
        dispute.deadline,
        Some(day(139)),
        "the latest event's deadline"
    );
    assert_eq!(
        (dispute.opened_at, dispute.last_event_at),
        (day(0), day(39))
    );

    // Deliveries racing to create their dispute: each event names the
    // notification it came from.
    let stored = futures::future::join_all((0..40).map(|n| {
        let store = store.clone();
        async move {
            let e = event("D2", &format!("rfi-{n}"), needs, n);
            let raw = delivery(Some(id), "conn-a");
            let (stored, recorded) = store
                .record_delivery(&raw, &accepted(e), Duration::ZERO)
                .await
                .unwrap();
            let Recorded::New { id: event_id } = recorded else {
                panic!("{recorded:?}")
            };
            (event_id, Some(stored.id))
        }
    }))
    .await;
    let dispute = store.dispute("conn-a", "D2").await.unwrap().unwrap();
    let mut linked: Vec<_> = store
        .timeline(dispute.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.notification_id))
        .collect();
    linked.sort();
    let mut expected = stored;
    expected.sort();
    assert_eq!(linked, expected);
}

/// An event whose key names no dispute (Botim Money's keys are its
/// notification ids), as another dispute's.
fn keyed(dispute: &str, key: &str, on: i64) -> NormalizedEvent {
    NormalizedEvent {
        key: EventKey::from_parts(&[key]),
        ..event(
            dispute,
            key,
            Effect::Sets(Stage::Chargeback, Status::NeedsResponse),
            on,
        )
    }
}

#[tokio::test]
async fn a_key_another_dispute_holds_is_a_duplicate_that_creates_no_dispute() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool(8).await);
    store.migrate().await.unwrap();
    let id = connection(&store, "conn-a").await;

    let first = store
        .record_event(id, &queried(0), &keyed("D1", "K", 1))
        .await
        .unwrap();
    assert!(matches!(first, Recorded::New { .. }));
    let again = store
        .record_event(id, &queried(0), &keyed("D2", "K", 2))
        .await
        .unwrap();
    assert_eq!(
        again,
        Recorded::Duplicate {
            of_notification: None
        }
    );
    assert!(store.dispute("conn-a", "D2").await.unwrap().is_none());

    // Concurrent pairs race for each key: one dispute of each pair holds
    // its event, folded from it alone, and the other does not exist.
    let outcomes = futures::future::join_all((0..30).flat_map(|n| {
        ["A", "B"].map(|side| {
            let store = store.clone();
            async move {
                let e = keyed(&format!("{side}{n}"), &format!("S{n}"), n);
                store.record_event(id, &queried(0), &e).await.unwrap()
            }
        })
    }))
    .await;
    let new = outcomes
        .iter()
        .filter(|o| matches!(o, Recorded::New { .. }))
        .count();
    assert_eq!(new, 30, "one event per key");
    for n in 0..30 {
        let a = store.dispute("conn-a", &format!("A{n}")).await.unwrap();
        let b = store.dispute("conn-a", &format!("B{n}")).await.unwrap();
        let held = match (a, b) {
            (Some(d), None) | (None, Some(d)) => d,
            other => panic!("pair {n}: {other:?}"),
        };
        assert_eq!(store.timeline(held.id).await.unwrap().len(), 1);
        assert_eq!(
            (held.status, held.opened_at, held.last_event_at),
            (Some(Status::NeedsResponse), day(n), day(n))
        );
    }
}

#[tokio::test]
async fn the_dashboard_counts_open_disputes_money_at_risk_outcomes_and_weeks() {
    let (store, _db) = store().await;
    let (_, b) = disputes(&store).await;
    let mut lost = event(
        "C1",
        "lost",
        Effect::Sets(Stage::Chargeback, Status::Lost),
        9,
    );
    lost.reason_code = Some("10.4".into());
    let expired = event(
        "C2",
        "over",
        Effect::Sets(Stage::PreArbitration, Status::Expired),
        10,
    );
    let old = event(
        "C3",
        "won",
        Effect::Sets(Stage::Chargeback, Status::Won),
        -200,
    );
    for e in [lost, expired, old] {
        store.record_event(b, &queried(0), &e).await.unwrap();
    }

    let d = store.dashboard(day(8)).await.unwrap();

    assert_eq!(
        d.open,
        [(Some(Stage::Chargeback), Status::NeedsResponse, 3)]
    );
    assert_eq!(
        d.at_risk
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["389.70 USD"]
    );
    assert_eq!(d.due_within_7_days, 2, "A2 (day 10) and A1 (day 12)");
    let pingpong = &d.by_provider[0];
    assert_eq!(pingpong.0, ProviderKind::PingPong);
    assert_eq!(
        (pingpong.1.won, pingpong.1.lost, pingpong.1.expired),
        (1, 1, 1),
        "the win of 200 days ago is outside the 90 days"
    );
    let codes: Vec<(Option<String>, i64, i64, i64)> = d
        .by_reason_code
        .iter()
        .map(|(c, o)| (c.clone(), o.won, o.lost, o.expired))
        .collect();
    assert_eq!(
        codes,
        [
            (Some("10.4".into()), 0, 1, 0),
            (Some("13.1".into()), 1, 0, 1)
        ]
    );
    let weeks: Vec<(String, i64)> = d
        .opened_per_week
        .iter()
        .map(|(w, n)| (w.to_string(), *n))
        .collect();
    assert_eq!(weeks.len(), 12, "twelve whole weeks");
    assert_eq!(
        weeks[0],
        ("2023-09-04".into(), 0),
        "a week without disputes is none"
    );
    assert_eq!(
        weeks[10..],
        [("2023-11-13".into(), 4), ("2023-11-20".into(), 2)],
        "the current week last; C3 opened before the 12 weeks"
    );
    assert_eq!(d.last_event_id, store.last_event_id().await.unwrap());
}
