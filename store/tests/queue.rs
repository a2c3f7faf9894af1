//! The work queue against a fresh database: 36 disputes over three
//! connections and two providers, at least two for every value of every
//! filter; each filter and each order is compared with the same question
//! answered in Rust over the disputes as made, and keyset pages (with equal
//! deadlines and amounts) must together be exactly the whole list.

use std::collections::BTreeMap;

use dispute_core::domain::{
    Assignee, ConnectionDraft, DisputeRef, Effect, EventKey, Money, NormalizedEvent, NoteText,
    ProviderKind, ProviderTime, QueueCursor, QueueFilter, Role, Sort, SortValue, Stage, Status,
    ViewName,
};
use dispute_store::{Actor, DisputeRecord, EventSource, NewUser, Saving, Store};
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use test_support::TestDatabase;

const NOW: i64 = 1_780_000_000;

fn at(hours: i64) -> Timestamp {
    Timestamp::from_second(NOW).unwrap() + SignedDuration::from_hours(hours)
}

/// One dispute as the test makes it.
#[derive(Clone, Debug)]
struct Made {
    connection: &'static str,
    provider: ProviderKind,
    dispute_ref: String,
    stage: Stage,
    status: Status,
    deadline: Option<Timestamp>,
    currency: &'static str,
    amount: Decimal,
    reason_code: &'static str,
    opened_at: Timestamp,
    last_event_at: Timestamp,
    merchant_reference: String,
    payment_reference: String,
    /// 0: no one, 1: the viewer, 2: someone else.
    owner: usize,
}

const CONNECTIONS: [(&str, ProviderKind); 3] = [
    ("pp-one", ProviderKind::PingPong),
    ("pp-two", ProviderKind::PingPong),
    ("pm-one", ProviderKind::PayerMax),
];

fn made() -> Vec<Made> {
    let stages = [Stage::Inquiry, Stage::Chargeback, Stage::PreArbitration];
    let statuses = [
        Status::NeedsResponse,
        Status::NeedsResponse,
        Status::UnderReview,
        Status::Won,
        Status::Lost,
        Status::NeedsResponse,
    ];
    (0..36i64)
        .map(|i| {
            let (connection, provider) = CONNECTIONS[(i % 3) as usize];
            let status = statuses[(i % 6) as usize];
            // Deadlines repeat (ties for the keyset) and straddle now; every
            // fifth dispute that needs a response has none (Botim-like).
            let deadline = (status == Status::NeedsResponse && i % 5 != 0)
                .then(|| at([-30, -2, 5, 20, 50, 100, 20][(i % 7) as usize]));
            Made {
                connection,
                provider,
                dispute_ref: format!("D{i:02}"),
                stage: stages[((i / 3) % 3) as usize],
                status,
                deadline,
                currency: ["USD", "PHP"][(i % 2) as usize],
                amount: Decimal::new([12990, 2_000_000, 500, 12990][(i % 4) as usize], 2),
                reason_code: ["13.1", "10.4", "4837"][((i / 2) % 3) as usize],
                opened_at: at(-24 * (40 - i)),
                last_event_at: at(-24 * (40 - i) + (i * 7) % 50),
                merchant_reference: format!("ORDER-{}", 100 + i),
                payment_reference: format!("PS{}", 9000 + i),
                owner: (i % 3) as usize,
            }
        })
        .collect()
}

fn event(m: &Made, key: &str, effect: Effect, occurred: Timestamp) -> NormalizedEvent {
    NormalizedEvent {
        dispute_ref: DisputeRef::parse(&m.dispute_ref).unwrap(),
        key: EventKey::from_parts(&[&m.dispute_ref, key]),
        kind: key.to_uppercase(),
        effect,
        occurred_at: Some(ProviderTime {
            at: occurred,
            text: occurred.to_string(),
        }),
        deadline: m.deadline.map(|at| ProviderTime {
            at,
            text: at.to_string(),
        }),
        amount: Some(Money::parse(&m.amount.to_string(), m.currency).unwrap()),
        reason: Some("Reason".into()),
        reason_code: Some(m.reason_code.into()),
        provider_status: None,
        payment_reference: Some(m.payment_reference.clone()),
        merchant_reference: Some(m.merchant_reference.clone()),
    }
}

struct Desk {
    store: Store,
    _db: TestDatabase,
    viewer: i64,
    disputes: Vec<Made>,
}

async fn person(store: &Store, name: &str) -> i64 {
    use dispute_core::domain::{DisplayName, Email};
    let user = NewUser {
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        display_name: DisplayName::parse(name).unwrap(),
        role: Role::Analyst,
        password_hash: "not a hash".into(),
        must_change_password: false,
    };
    store.create_user(&user, &Actor::default()).await.unwrap()
}

async fn desk() -> Desk {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool(2).await);
    store.migrate().await.unwrap();
    let mut ids = BTreeMap::new();
    for (slug, provider) in CONNECTIONS {
        let settings = ConnectionDraft {
            slug: slug.into(),
            provider: provider.as_str().into(),
            timezone: "UTC".into(),
            enabled: true,
            ..ConnectionDraft::default()
        }
        .validate(&[])
        .unwrap();
        let saved = store
            .save_connection(&settings, Saving::Create, |_| vec![], &Actor::default())
            .await
            .unwrap();
        ids.insert(slug, saved.id);
    }
    let viewer = person(&store, "viewer").await;
    let other = person(&store, "other").await;
    let by = Actor {
        user_id: Some(viewer),
        ..Actor::default()
    };
    let disputes = made();
    for m in &disputes {
        let source = EventSource::StatusQuery {
            by: None,
            asked_at: m.opened_at,
            answer: "{}".into(),
        };
        let opening = event(m, "open", Effect::Sets(m.stage, m.status), m.opened_at);
        let connection = ids[m.connection];
        store
            .record_event(connection, &source, &opening)
            .await
            .unwrap();
        if m.last_event_at != m.opened_at {
            let later = event(m, "later", Effect::None, m.last_event_at);
            store
                .record_event(connection, &source, &later)
                .await
                .unwrap();
        }
        let id = store
            .dispute(m.connection, &m.dispute_ref)
            .await
            .unwrap()
            .unwrap()
            .id;
        let owner = [None, Some(viewer), Some(other)][m.owner];
        if owner.is_some() {
            store.assign(id, owner, &by, "test").await.unwrap();
        }
    }
    Desk {
        store,
        _db: db,
        viewer,
        disputes,
    }
}

fn now() -> Timestamp {
    at(0)
}

impl Desk {
    /// Every page of the queue for `filter`, `page` at a time.
    async fn all_pages(&self, filter: &QueueFilter, page: i64) -> Vec<String> {
        let mut refs = Vec::new();
        let mut after: Option<QueueCursor> = None;
        loop {
            let rows: Vec<DisputeRecord> = self
                .store
                .work_queue(filter, self.viewer, now(), after.as_ref(), page)
                .await
                .unwrap()
                .unwrap();
            refs.extend(rows.iter().map(|d| d.dispute_ref.clone()));
            match rows.last() {
                Some(last) if rows.len() as i64 == page => {
                    after = Some(last.cursor(filter));
                }
                _ => return refs,
            }
        }
    }

    /// The same question answered over the disputes as made.
    fn expected(&self, filter: &QueueFilter) -> Vec<String> {
        let (due_from, due_until) = filter.deadline.map(|w| w.range(now())).unwrap_or_default();
        let (opened_from, opened_until) = filter.opened_range();
        let mut matching: Vec<&Made> = self
            .disputes
            .iter()
            .filter(|m| {
                let deadline_in = |d: Option<Timestamp>| match filter.deadline {
                    None => true,
                    Some(_) => d.is_some_and(|d| {
                        due_from.is_none_or(|f| d >= f) && due_until.is_none_or(|u| d < u)
                    }),
                };
                filter
                    .connection
                    .as_ref()
                    .is_none_or(|c| c.as_str() == m.connection)
                    && filter.provider.is_none_or(|p| p == m.provider)
                    && filter.stage.is_none_or(|s| s == m.stage)
                    && filter.status.is_none_or(|s| s == m.status)
                    && deadline_in(m.deadline)
                    && filter.currency.as_deref().is_none_or(|c| c == m.currency)
                    && filter.amount_min.is_none_or(|a| m.amount >= a)
                    && filter.amount_max.is_none_or(|a| m.amount <= a)
                    && match filter.assignee {
                        Assignee::Anyone => true,
                        Assignee::Me => m.owner == 1,
                        Assignee::Unassigned => m.owner == 0,
                    }
                    && filter
                        .reason_code
                        .as_deref()
                        .is_none_or(|c| c == m.reason_code)
                    && opened_from.is_none_or(|f| m.opened_at >= f)
                    && opened_until.is_none_or(|u| m.opened_at < u)
                    && filter.search.as_deref().is_none_or(|q| {
                        m.dispute_ref.starts_with(q)
                            || m.merchant_reference.starts_with(q)
                            || m.payment_reference.starts_with(q)
                    })
            })
            .collect();
        // The store breaks ties by id, which follows the order of making.
        let index = |m: &Made| {
            self.disputes
                .iter()
                .position(|x| x.dispute_ref == m.dispute_ref)
        };
        matching.sort_by(|a, b| {
            let by_id = index(a).cmp(&index(b));
            match filter.sort {
                // Over any status, what needs a response comes first.
                Sort::Deadline => {
                    let key = |m: &Made| {
                        let settled = filter.status.is_none() && m.status != Status::NeedsResponse;
                        (settled, m.deadline.is_none(), m.deadline)
                    };
                    key(a).cmp(&key(b)).then(by_id)
                }
                Sort::Opened => b.opened_at.cmp(&a.opened_at).then(by_id.reverse()),
                Sort::OpenedOldest => a.opened_at.cmp(&b.opened_at).then(by_id),
                Sort::LastEvent => b.last_event_at.cmp(&a.last_event_at).then(by_id.reverse()),
                Sort::Amount => b.amount.cmp(&a.amount).then(by_id.reverse()),
            }
        });
        matching.iter().map(|m| m.dispute_ref.clone()).collect()
    }

    async fn check(&self, pairs: &[(&str, &str)]) {
        let params: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let filter = QueueFilter::from_params(&params).unwrap();
        let expected = self.expected(&filter);
        assert!(
            expected.len() >= 2 || pairs.iter().any(|(k, _)| *k == "q"),
            "{pairs:?} should match at least two disputes: {expected:?}"
        );
        let whole = self.all_pages(&filter, 1000).await;
        assert_eq!(whole, expected, "{pairs:?}");
        let paged = self.all_pages(&filter, 4).await;
        assert_eq!(paged, expected, "{pairs:?} four at a time");

        let counts = self
            .store
            .status_counts(&filter, self.viewer, now())
            .await
            .unwrap();
        assert!(!counts.estimated());
        for status in Status::ALL {
            let of_status = QueueFilter {
                status: Some(*status),
                ..filter.clone()
            };
            assert_eq!(
                counts.of(*status),
                self.expected(&of_status).len() as i64,
                "{pairs:?} {status:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_filter_and_order_lists_exactly_what_it_asks_for_page_after_page() {
    let desk = desk().await;
    let cases: &[&[(&str, &str)]] = &[
        &[],
        &[("status", "any")],
        &[("status", "won")],
        &[("status", "under_review"), ("sort", "opened")],
        &[("connection", "pp-two"), ("status", "any")],
        &[("provider", "payermax"), ("status", "any")],
        &[("provider", "pingpong")],
        &[("stage", "pre_arbitration"), ("status", "any")],
        &[("stage", "inquiry")],
        &[("deadline", "overdue")],
        &[("deadline", "24h")],
        &[("deadline", "72h"), ("status", "any")],
        &[("deadline", "7d")],
        &[
            ("deadline", "custom"),
            ("due_from", "2026-05-28"),
            ("due_to", "2026-06-01"),
        ],
        &[("currency", "PHP"), ("status", "any")],
        &[
            ("amount_min", "100"),
            ("amount_max", "129.90"),
            ("status", "any"),
        ],
        &[("amount_min", "20000"), ("status", "any")],
        &[("assignee", "me"), ("status", "any")],
        &[("assignee", "unassigned")],
        &[("reason_code", "4837"), ("status", "any")],
        &[
            ("opened_from", "2026-05-01"),
            ("opened_to", "2026-05-20"),
            ("status", "any"),
        ],
        &[("q", "D1"), ("status", "any")],
        &[("q", "ORDER-12"), ("status", "any")],
        &[("q", "PS9003"), ("status", "any")],
        &[("q", "D_%"), ("status", "any")],
        &[("status", "any"), ("sort", "opened")],
        &[("status", "any"), ("sort", "opened_oldest")],
        &[("status", "any"), ("sort", "last_event")],
        &[("status", "any"), ("sort", "amount")],
        &[("sort", "amount"), ("currency", "USD")],
        &[
            ("provider", "pingpong"),
            ("stage", "chargeback"),
            ("status", "any"),
            ("sort", "amount"),
        ],
    ];
    for case in cases {
        desk.check(case).await;
    }
    // The wildcard search matched nothing: `_` and `%` are literal.
    let literal = QueueFilter::from_params(&BTreeMap::from([
        ("q".to_owned(), "D_%".to_owned()),
        ("status".to_owned(), "any".to_owned()),
    ]))
    .unwrap();
    assert!(desk.expected(&literal).is_empty());
}

#[tokio::test]
async fn a_cursor_from_another_order_is_refused_rather_than_misread() {
    let desk = desk().await;
    let by_amount = QueueFilter {
        sort: Sort::Amount,
        ..QueueFilter::default()
    };
    let cursor = QueueCursor {
        sort: Sort::Deadline,
        value: SortValue::Due {
            settled: false,
            at: None,
        },
        id: 1,
    };
    let refused = desk
        .store
        .work_queue(&by_amount, desk.viewer, now(), Some(&cursor), 10)
        .await
        .unwrap();
    assert!(refused.is_err());
    let mismatched = QueueCursor {
        sort: Sort::Opened,
        value: SortValue::Time(None),
        id: 1,
    };
    let opened = QueueFilter {
        sort: Sort::Opened,
        ..QueueFilter::default()
    };
    let refused = desk
        .store
        .work_queue(&opened, desk.viewer, now(), Some(&mismatched), 10)
        .await
        .unwrap();
    assert!(refused.is_err());
}

#[tokio::test]
async fn past_five_thousand_matches_the_counts_are_marked_as_estimates() {
    let desk = desk().await;
    sqlx::query(
        "insert into disputes (connection_id, dispute_ref, stage, status, opened_at, last_event_at)
         select (select min(id) from connections), 'bulk-' || n, 'chargeback',
                case when n % 4 = 0 then 'won' else 'needs_response' end, now(), now()
         from generate_series(1, 8000) n",
    )
    .execute(desk.store.pool())
    .await
    .unwrap();

    let counts = desk
        .store
        .status_counts(&QueueFilter::default(), desk.viewer, now())
        .await
        .unwrap();

    assert!(counts.estimated());
    let exact_won = 2000
        + desk
            .disputes
            .iter()
            .filter(|m| m.status == Status::Won)
            .count() as i64;
    let (won, estimated) = counts.count(Some(Status::Won));
    assert!(estimated, "every figure is an estimate past the bound");
    assert!(
        (won - exact_won).abs() * 10 <= exact_won,
        "within 10 %: {won} against {exact_won}"
    );
    let (needs, estimated) = counts.count(Some(Status::NeedsResponse));
    let exact_needs = 6000
        + desk
            .disputes
            .iter()
            .filter(|m| m.status == Status::NeedsResponse)
            .count() as i64;
    assert!(estimated);
    assert!(
        (needs - exact_needs).abs() * 10 <= exact_needs,
        "within 10 %: {needs} against {exact_needs}"
    );
    let small = QueueFilter {
        connection: Some(dispute_core::domain::ConnectionSlug::parse("pm-one").unwrap()),
        ..QueueFilter::default()
    };
    let counted = desk
        .store
        .status_counts(&small, desk.viewer, now())
        .await
        .unwrap();
    assert!(
        !counted.estimated(),
        "a narrow filter is still counted exactly"
    );
}

#[tokio::test]
async fn a_dispute_without_a_status_is_listed_once_among_any_status_by_deadline() {
    let desk = desk().await;
    let connection: i64 = sqlx::query_scalar("select id from connections where slug = 'pp-one'")
        .fetch_one(desk.store.pool())
        .await
        .unwrap();
    let made = &desk.disputes[0];
    let mut unknown = event(made, "odd", Effect::None, at(-5));
    unknown.dispute_ref = DisputeRef::parse("NO-STATUS").unwrap();
    unknown.key = EventKey::from_parts(&["NO-STATUS", "odd"]);
    let source = EventSource::StatusQuery {
        by: None,
        asked_at: at(-5),
        answer: "{}".into(),
    };
    desk.store
        .record_event(connection, &source, &unknown)
        .await
        .unwrap();
    let any = QueueFilter {
        status: None,
        ..QueueFilter::default()
    };

    let listed = desk.all_pages(&any, 4).await;

    assert_eq!(listed.len(), desk.disputes.len() + 1);
    assert_eq!(listed.iter().filter(|r| *r == "NO-STATUS").count(), 1);
    assert_eq!(
        listed.last().map(String::as_str),
        Some("NO-STATUS"),
        "settled-like, last"
    );
    let counts = desk
        .store
        .status_counts(&any, desk.viewer, now())
        .await
        .unwrap();
    assert_eq!(counts.without_status(), 1);
}

#[tokio::test]
async fn notes_and_assignments_are_kept_in_order_with_their_audit_entries() {
    let desk = desk().await;
    let store = &desk.store;
    let d = store.dispute("pp-one", "D00").await.unwrap().unwrap();
    assert_eq!(d.assignee, None);
    let me = Actor {
        user_id: Some(desk.viewer),
        email: Some("viewer@example.com".into()),
        address: None,
    };

    let note = NoteText::parse("Asked the merchant for the delivery proof.").unwrap();
    assert!(store
        .add_note(d.id, &note, &me, "dispute pp-one/D00")
        .await
        .unwrap()
        .is_some());
    assert!(store
        .assign(d.id, Some(desk.viewer), &me, "dispute pp-one/D00")
        .await
        .unwrap());
    assert!(
        !store
            .assign(d.id, Some(desk.viewer), &me, "dispute pp-one/D00")
            .await
            .unwrap(),
        "the same owner again changes nothing"
    );
    assert!(store
        .assign(d.id, None, &me, "dispute pp-one/D00")
        .await
        .unwrap());
    assert!(matches!(
        store.assign(d.id, Some(i64::MAX), &me, "x").await,
        Err(dispute_store::AssignError::NotAssignable)
    ));
    assert!(matches!(
        store.assign(i64::MAX, None, &me, "x").await,
        Err(dispute_store::AssignError::NoDispute)
    ));
    assert_eq!(
        store.add_note(i64::MAX, &note, &me, "x").await.unwrap(),
        None
    );

    let work = store.casework(d.id).await.unwrap();
    let kinds: Vec<String> = work
        .iter()
        .map(|w| match w {
            dispute_store::Casework::Note { text, author, .. } => {
                format!("note by {}: {text}", author.display_name)
            }
            dispute_store::Casework::Assignment { to, .. } => format!(
                "assigned to {}",
                to.as_ref().map_or("no one", |p| p.display_name.as_str())
            ),
            dispute_store::Casework::Response { action, detail, .. } => action.words(detail),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "note by viewer: Asked the merchant for the delivery proof.",
            "assigned to viewer",
            "assigned to no one"
        ]
    );
    let other = store.dispute("pp-two", "D01").await.unwrap().unwrap();
    assert!(
        store.casework(other.id).await.unwrap().len() == 1,
        "another dispute's casework is its own: its one assignment"
    );
    let audited: Vec<(String, String)> = sqlx::query_as(
        "select action, subject from audit_log where subject = 'dispute pp-one/D00' order by id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        audited,
        [
            ("dispute.note".into(), "dispute pp-one/D00".into()),
            ("dispute.assign".into(), "dispute pp-one/D00".into()),
            ("dispute.assign".into(), "dispute pp-one/D00".into()),
        ]
    );
    let edit = sqlx::query("update dispute_notes set body = 'changed'")
        .execute(store.pool())
        .await;
    assert!(edit.is_err(), "notes are never edited");
}

#[tokio::test]
async fn saved_views_belong_to_their_person_and_a_name_is_saved_once() {
    let desk = desk().await;
    let store = &desk.store;
    let other = person(store, "third").await;
    let name = ViewName::parse("Mine").unwrap();

    let first = store
        .save_view(desk.viewer, &name, "assignee=me")
        .await
        .unwrap();
    let again = store
        .save_view(desk.viewer, &name, "assignee=me&sort=amount")
        .await
        .unwrap();
    store
        .save_view(
            desk.viewer,
            &ViewName::parse("all won").unwrap(),
            "status=won",
        )
        .await
        .unwrap();
    store.save_view(other, &name, "status=any").await.unwrap();

    assert_eq!(first, again);
    let mine: Vec<(String, String)> = store
        .saved_views(desk.viewer)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.name, v.query))
        .collect();
    assert_eq!(
        mine,
        [
            ("all won".into(), "status=won".into()),
            ("Mine".into(), "assignee=me&sort=amount".into())
        ]
    );
    let first = first.unwrap();
    assert!(
        !store.delete_view(other, first).await.unwrap(),
        "not theirs"
    );
    assert!(store.delete_view(desk.viewer, first).await.unwrap());
    assert_eq!(store.saved_views(desk.viewer).await.unwrap().len(), 1);
    assert_eq!(store.saved_views(other).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_person_keeps_at_most_a_hundred_views_and_may_still_replace_one() {
    let desk = desk().await;
    let store = &desk.store;
    let cap = dispute_core::domain::casework::MAX_SAVED_VIEWS;
    for n in 0..cap {
        let name = ViewName::parse(&format!("view {n}")).unwrap();
        let saved = store.save_view(desk.viewer, &name, "status=any").await;
        assert!(saved.unwrap().is_some(), "view {n}");
    }

    let one_more = ViewName::parse("one more").unwrap();
    let refused = store.save_view(desk.viewer, &one_more, "status=any").await;
    let replaced = store
        .save_view(
            desk.viewer,
            &ViewName::parse("view 7").unwrap(),
            "status=won",
        )
        .await;
    let other = person(store, "third").await;
    let theirs = store.save_view(other, &one_more, "status=any").await;

    assert_eq!(refused.unwrap(), None);
    assert!(
        replaced.unwrap().is_some(),
        "a view of that name is replaced"
    );
    assert!(theirs.unwrap().is_some(), "the cap is per person");
    assert_eq!(
        store.saved_views(desk.viewer).await.unwrap().len() as i64,
        cap
    );
}
