//! The status-query fallback against the provider simulator over real HTTP:
//! each provider's client (found, provider error, a forged answer, a
//! timeout), the lost-notification story through reconciliation, two
//! reconciliation workers at once, the outbound guard, and "Query status
//! now" from the dispute page.

use std::{collections::BTreeMap, time::Duration};

use dispute_workflows::{outbound::OutboundPolicy, status_queries::StatusQueries};

use dispute_core::domain::{EventOrigin, Role, Stage, Status};
use dispute_store::{DisputeRecord, QueryOutcome, ReconcileRules};
use jiff::SignedDuration;
use simulator::scenario::{self, Scenario};

use crate::{
    helpers::{captured_logs, TestApp},
    simulated::{point, rig, Rig, LOCAL},
};

/// Rules that name every open dispute.
const EVERY_OPEN: ReconcileRules = ReconcileRules {
    deadline_within: SignedDuration::from_hours(24 * 365),
    quiet_for: SignedDuration::ZERO,
    review_overdue: SignedDuration::ZERO,
    requery_after: SignedDuration::from_hours(1),
    silence_after: SignedDuration::from_hours(24),
};

async fn dispute(app: &TestApp, slug: &str, reference: &str) -> DisputeRecord {
    app.store
        .dispute(slug, reference)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{reference} was recorded"))
}

async fn dispute_id(app: &TestApp, slug: &str, reference: &str) -> i64 {
    dispute(app, slug, reference).await.id
}

const STORY: &str = r#"{
 "name": "clients",
 "accounts": {"pingpong-main": "2022102018024210348882", "botim-main": "200000003232",
              "payermax-main": "SDP01010114524460"},
 "app_ids": {"payermax-main": "6666c8b036a24579974497c2f9a33333"},
 "disputes": [
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPWON", "amount": "10.00",
   "currency": "USD", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 0, "deadline_days": 7},
    {"kind": "CHARGEBACK_REVERSED", "happened_minutes": 30, "misbehave": ["drop"]}],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPFORGED", "amount": "10.00",
   "currency": "USD", "events": [{"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 0,
   "deadline_days": 7}], "query_misbehave": ["corrupt_signature"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPDECIDED", "amount": "10.00",
   "currency": "USD", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 0, "deadline_days": 7},
    {"kind": "CHARGEBACK_REVERSED", "happened_minutes": 30}], "query_misbehave": ["pending_status"],
   "expect": {"stage": "chargeback", "status": "won"}},
  {"provider": "botim_money", "connection": "botim-main", "reference": "BMONE", "amount": "200.00",
   "currency": "AED", "events": [{"kind": "CHARGEBACK", "happened_minutes": 5}],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPSLOW", "amount": "10.00",
   "currency": "USD", "events": [{"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 0,
   "deadline_days": 7}], "query_misbehave": ["slow_answer"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "botim_money", "connection": "botim-main", "reference": "BMSLOW", "amount": "1.00",
   "currency": "AED", "events": [{"kind": "CHARGEBACK", "happened_minutes": 5}],
   "query_misbehave": ["slow_answer"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "botim_money", "connection": "botim-main", "reference": "BMFORGED", "amount": "1.00",
   "currency": "AED", "events": [{"kind": "CHARGEBACK", "happened_minutes": 5}],
   "query_misbehave": ["corrupt_signature"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "payermax", "connection": "payermax-main", "reference": "PMSAME", "amount": "75.5",
   "currency": "AED", "events": [{"kind": "DISPUTE_INQUIRY", "happened_minutes": 10,
   "deadline_days": 7}], "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "payermax", "connection": "payermax-main", "reference": "PMSLOW", "amount": "5.00",
   "currency": "AED", "events": [{"kind": "DISPUTE_INQUIRY", "happened_minutes": 10,
   "deadline_days": 7}], "query_misbehave": ["slow_answer"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "payermax", "connection": "payermax-main", "reference": "PMFORGED", "amount": "5.00",
   "currency": "AED", "events": [{"kind": "DISPUTE_INQUIRY", "happened_minutes": 10,
   "deadline_days": 7}], "query_misbehave": ["corrupt_signature"],
   "expect": {"stage": "chargeback", "status": "needs_response"}}
 ]
}"#;

fn story() -> Scenario {
    serde_json::from_str(STORY).unwrap()
}

async fn ask(rig: &Rig, slug: &str, reference: &str) -> (QueryOutcome, String) {
    let id = dispute_id(&rig.app, slug, reference).await;
    let asked = rig
        .queries
        .ask(id, None, "test")
        .await
        .unwrap()
        .expect("the dispute exists");
    (asked.outcome, asked.detail)
}

#[tokio::test]
async fn pingpongs_pending_alone_does_not_overrule_a_decided_dispute_but_stays_on_its_timeline() {
    let rig = rig(story(), LOCAL).await;
    let app = &rig.app;

    let (outcome, detail) = ask(&rig, "pingpong-main", "PPDECIDED").await;

    assert_eq!(outcome, QueryOutcome::Found, "{detail}");
    assert!(detail.contains("chargebackStatus PENDING"), "{detail}");
    let decided = dispute(app, "pingpong-main", "PPDECIDED").await;
    assert_eq!(
        (decided.stage, decided.status),
        (Some(Stage::Chargeback), Some(Status::Won))
    );
    assert_eq!(decided.query_conflict, None, "not flagged");
    let timeline = app.store.timeline(decided.id).await.unwrap();
    let pulled: Vec<_> = timeline
        .iter()
        .filter(|e| e.source == EventOrigin::StatusQuery)
        .collect();
    assert_eq!(pulled.len(), 1, "the answer is on the timeline");
    assert_eq!(pulled[0].provider_status.as_deref(), Some("PENDING"));
}

#[tokio::test]
async fn a_recovered_outcome_is_news_a_disagreement_an_alarm_and_either_can_be_marked_reviewed() {
    let rig = rig(story(), LOCAL).await;
    let app = &rig.app;
    // The reversal was never notified: the provider's answer tells of it.
    let (outcome, detail) = ask(&rig, "pingpong-main", "PPWON").await;
    assert_eq!(outcome, QueryOutcome::Found, "{detail}");
    let won = dispute(app, "pingpong-main", "PPWON").await;
    assert_eq!(won.status, Some(Status::Won));
    let conflict = won.query_conflict.clone().expect("the answer disagreed");
    assert!(conflict.is_recovered_outcome(won.status));
    assert!(!conflict.is_recovered_outcome(Some(Status::NeedsResponse)));

    app.sign_in_as(Role::Analyst).await;
    let page = app.dispute_page("pingpong-main", "PPWON").await;
    let (_, html) = app.get_page(&page).await;
    assert!(html.contains("learned from the provider"), "{html}");
    assert!(
        !html.contains("provider disagrees"),
        "news, not an alarm: {html}"
    );
    assert!(!html.contains("role=\"alert\""), "{html}");
    let (_, flagged) = app.get_page("/disputes?status=any&flag=disagrees").await;
    assert!(
        !flagged.contains("PPWON"),
        "a decided dispute is not flagged: {flagged}"
    );

    let review = |client: reqwest::Client, asked_at: jiff::Timestamp| {
        let id = won.id.to_string();
        async move {
            app.post_form(
                &client,
                "/api/disputes/review-conflict",
                &[("dispute", &id), ("asked_at", &asked_at.to_string())],
            )
            .await
        }
    };
    // A disagreement other than the one the page showed is not cleared.
    let stale = review(
        app.client.clone(),
        conflict.asked_at - jiff::SignedDuration::from_mins(5),
    )
    .await;
    let (_, html) = app.follow(&app.client, stale).await;
    assert!(html.contains("Nothing was cleared"), "{html}");
    assert!(html.contains("learned from the provider"), "{html}");
    let answer = review(app.client.clone(), conflict.asked_at).await;
    let (target, html) = app.follow(&app.client, answer).await;
    assert_eq!(target, page);
    assert!(
        html.contains("Marked reviewed: the flag is cleared."),
        "{html}"
    );
    assert!(!html.contains("learned from the provider"), "{html}");
    assert!(
        html.contains("pulled: a status query"),
        "the answer stays on the timeline: {html}"
    );
    let again = review(app.client.clone(), conflict.asked_at).await;
    let (_, html) = app.follow(&app.client, again).await;
    assert!(html.contains("Nothing was cleared"), "{html}");
    let audit: Vec<(Option<String>, serde_json::Value)> = sqlx::query_as(
        "select actor_email, details from audit_log where action = 'dispute.conflict_reviewed'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(
        audit[0].1["notifications_said"],
        serde_json::json!(["chargeback", "needs_response"])
    );
    assert_eq!(
        audit[0].1["provider_said"],
        serde_json::json!(["chargeback", "won"])
    );

    // Someone signed out may not clear a flag.
    sqlx::query("update disputes set query_conflict = $2 where id = $1")
        .bind(won.id)
        .bind(sqlx::types::Json(&conflict))
        .execute(&app.pool)
        .await
        .unwrap();
    let refused = review(crate::helpers::browser_client(), conflict.asked_at).await;
    assert_eq!(refused.status(), 401);
    let still: Option<serde_json::Value> =
        sqlx::query_scalar("select query_conflict from disputes where id = $1")
            .bind(won.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(still.is_some());
}

#[tokio::test]
async fn each_providers_client_reads_success_errors_forged_answers_and_timeouts() {
    let rig = rig(story(), LOCAL).await;
    let app = &rig.app;

    // Success: PingPong's answer knows of the dropped reversal.
    let (outcome, detail) = ask(&rig, "pingpong-main", "PPWON").await;
    assert_eq!(outcome, QueryOutcome::Found, "{detail}");
    let won = dispute(app, "pingpong-main", "PPWON").await;
    assert_eq!(
        (won.stage, won.status),
        (Some(Stage::Chargeback), Some(Status::Won))
    );
    let conflict = won
        .query_conflict
        .expect("flagged: notifications said otherwise");
    assert_eq!(conflict.known_status, Some(Status::NeedsResponse));
    assert_eq!(conflict.provider_status, Status::Won);

    // Botim Money has no chargeback query: the order, and nothing changes.
    let (outcome, detail) = ask(&rig, "botim-main", "BMONE").await;
    assert_eq!(outcome, QueryOutcome::Found);
    assert!(detail.contains("no chargeback query"), "{detail}");
    let order = dispute(app, "botim-main", "BMONE").await;
    assert_eq!(order.status, Some(Status::NeedsResponse));
    assert!(order.query_conflict.is_none());

    // PayerMax agrees with what is known: recorded, changes nothing.
    let (outcome, _) = ask(&rig, "payermax-main", "PMSAME").await;
    assert_eq!(outcome, QueryOutcome::Found);
    let same = dispute(app, "payermax-main", "PMSAME").await;
    assert!(same.query_conflict.is_none());
    let timeline = app.store.timeline(same.id).await.unwrap();
    let pulled: Vec<_> = timeline
        .iter()
        .filter(|e| e.source == EventOrigin::StatusQuery)
        .collect();
    assert_eq!(pulled.len(), 1);
    assert!(!pulled[0].recognized, "an agreeing answer changes nothing");
    assert!(pulled[0]
        .query_answer
        .as_deref()
        .unwrap()
        .contains("APPLY_SUCCESS"));

    // Forged answers fail closed, for every provider.
    for (slug, reference) in [
        ("pingpong-main", "PPFORGED"),
        ("botim-main", "BMFORGED"),
        ("payermax-main", "PMFORGED"),
    ] {
        let (outcome, detail) = ask(&rig, slug, reference).await;
        assert_eq!(outcome, QueryOutcome::Refused, "{reference}: {detail}");
        assert!(detail.contains("changed nothing"), "{detail}");
        let id = dispute_id(app, slug, reference).await;
        let timeline = app.store.timeline(id).await.unwrap();
        assert!(timeline
            .iter()
            .all(|e| e.source != EventOrigin::StatusQuery));
    }

    // A slow provider: no answer within the timeout, for every provider.
    for (slug, reference) in [
        ("pingpong-main", "PPSLOW"),
        ("botim-main", "BMSLOW"),
        ("payermax-main", "PMSLOW"),
    ] {
        let began = std::time::Instant::now();
        let (outcome, detail) = ask(&rig, slug, reference).await;
        assert_eq!(outcome, QueryOutcome::Unreachable, "{reference}");
        assert!(detail.contains("no answer"), "{detail}");
        assert!(
            began.elapsed() < Duration::from_millis(2900),
            "gave up at the timeout"
        );
    }

    // A provider error: the connection names an account the provider does
    // not know.
    for slug in ["pingpong-main", "payermax-main"] {
        sqlx::query("update connections set account_id = 'NOT-OURS' where slug = $1")
            .bind(slug)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let (outcome, detail) = ask(&rig, "pingpong-main", "PPFORGED").await;
    assert_eq!(outcome, QueryOutcome::Failed);
    assert!(detail.contains("account id"), "{detail}");
    let (outcome, detail) = ask(&rig, "payermax-main", "PMSAME").await;
    assert_eq!(outcome, QueryOutcome::Failed);
    assert!(detail.contains("merchant number or app id"), "{detail}");
    // Botim Money: an order it does not know.
    sqlx::query("update disputes set dispute_ref = 'BMNOBODY' where dispute_ref = 'BMONE'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (outcome, detail) = ask(&rig, "botim-main", "BMNOBODY").await;
    assert_eq!(outcome, QueryOutcome::Failed);
    assert!(detail.contains("order not exist"), "{detail}");

    // Nothing listening: a network error, retried once, then given up.
    point(app, "botim-main", "http://127.0.0.1:1/botim-money").await;
    let (outcome, detail) = ask(&rig, "botim-main", "BMNOBODY").await;
    assert_eq!(outcome, QueryOutcome::Unreachable);
    assert!(
        detail.contains("could not be reached after 2 attempts"),
        "{detail}"
    );

    let kept: Vec<(String, i64)> = sqlx::query_as(
        "select outcome, count(*) from status_queries group by outcome order by outcome",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        kept,
        [
            ("failed".to_owned(), 3),
            ("found".to_owned(), 3),
            ("refused".to_owned(), 3),
            ("unreachable".to_owned(), 4),
        ]
    );
}

#[tokio::test]
async fn a_dropped_notification_is_recovered_by_reconciliation_and_the_timeline_says_it_was_pulled()
{
    let rig = rig(scenario::builtin("lost-notification").unwrap(), LOCAL).await;
    let app = &rig.app;
    let before = dispute(app, "pingpong-main", "PPLOST001").await;
    assert_eq!(
        before.stage,
        Some(Stage::Inquiry),
        "the chargeback never arrived"
    );

    // Its deadline is within ten days and nothing was heard for two hours.
    let rules = ReconcileRules {
        deadline_within: SignedDuration::from_hours(24 * 11),
        quiet_for: SignedDuration::from_mins(90),
        ..EVERY_OPEN
    };
    let run = rig.queries.reconcile(&rules, 10).await.unwrap();
    assert_eq!((run.asked, run.changed), (1, 1));

    let after = dispute(app, "pingpong-main", "PPLOST001").await;
    let recovered = scenario::builtin("lost-notification").unwrap().disputes[0]
        .recovered
        .unwrap();
    assert_eq!(
        (after.stage, after.status),
        (Some(recovered.stage), Some(recovered.status))
    );
    assert!(
        after.deadline.is_some(),
        "the chargeback's deadline came with it"
    );
    let timeline = app.store.timeline(after.id).await.unwrap();
    let pulled = timeline
        .iter()
        .find(|e| e.source == EventOrigin::StatusQuery)
        .expect("the pulled event is on the timeline");
    assert_eq!(pulled.stage, Some(Stage::Chargeback));
    assert_eq!(pulled.queried_by, None, "asked by reconciliation");
    let queries = app
        .store
        .status_queries(Some(after.id), None, 10)
        .await
        .unwrap();
    assert_eq!(queries.len(), 1);
    assert_eq!(
        queries[0].why,
        "deadline near and nothing heard for a while"
    );
    assert_eq!(
        queries[0].before,
        (Some(Stage::Inquiry), Some(Status::NeedsResponse))
    );
    assert_eq!(
        queries[0].after,
        (Some(Stage::Chargeback), Some(Status::NeedsResponse))
    );
    // getDisputeInfo found it; the retrieval list was not needed.
    assert_eq!(rig.world.log().len(), 1);

    // The page says where the latest information came from.
    app.sign_in_as(Role::Analyst).await;
    let page = app.dispute_page("pingpong-main", "PPLOST001").await;
    let (status, html) = app.get_page(&page).await;
    assert_eq!(status, 200);
    assert!(html.contains("pulled: a status query"), "{html}");
    assert!(html.contains("provider disagrees"));
    assert!(html.contains("asked by reconciliation"));
    let (_, flagged) = app.get_page("/disputes?status=any&flag=disagrees").await;
    assert!(flagged.contains("PPLOST001"));
    assert!(html.contains("Mark reviewed"), "{html}");
    // Ops reads what was queried, when, why and what changed.
    let (_, ops) = app.create_user(Role::Ops).await;
    let ops_client = crate::helpers::browser_client();
    app.sign_in_with(&ops_client, &ops, crate::helpers::PASSWORD)
        .await;
    let html = app
        .get_with(&ops_client, "/queries")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("PPLOST001"), "{html}");
    assert!(html.contains("deadline near and nothing heard for a while"));
    assert!(
        html.contains("Retrieval request · Needs response → Chargeback · Needs response"),
        "{html}"
    );
    let (status, _) = app.get_page("/queries").await;
    assert_eq!(status, 403, "analysts do not read ops' pages");

    // Asked again at once, nothing is claimed: it was asked a moment ago.
    let again = rig.queries.reconcile(&rules, 10).await.unwrap();
    assert_eq!(again.asked, 0);
}

#[tokio::test]
async fn two_reconciliation_workers_at_once_never_ask_about_the_same_dispute() {
    let rig = rig(scenario::builtin("mixed-day").unwrap(), LOCAL).await;
    // Every open dispute the rules name: all but those awaiting a response
    // with no deadline given (Botim Money's, a fraud alert).
    let open: i64 = sqlx::query_scalar(
        "select count(*) from disputes
         where status = 'under_review' or (status = 'needs_response' and deadline is not null)",
    )
    .fetch_one(&rig.app.pool)
    .await
    .unwrap();
    assert!(open >= 12, "{open}");

    // Small batches, so that both workers claim several times while the
    // other holds rows.
    let worker = |queries: StatusQueries| async move {
        let mut asked = 0;
        loop {
            let run = queries.reconcile(&EVERY_OPEN, 3).await.unwrap();
            if run.asked == 0 {
                return asked;
            }
            asked += run.asked;
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(worker(rig.queries.clone())),
        tokio::spawn(worker(rig.queries.clone())),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a + b) as i64, open, "every open dispute once: {a} + {b}");

    let mut asked: BTreeMap<String, usize> = BTreeMap::new();
    for entry in rig.world.log() {
        if let Some(reference) = entry.reference {
            *asked.entry(reference).or_default() += 1;
        }
    }
    for (reference, times) in &asked {
        // A request for information PingPong has nothing after takes two
        // requests: its chargeback list, then its retrieval list.
        let expected = if reference == "PPDAY001" { 2 } else { 1 };
        assert_eq!(*times, expected, "{reference} was asked {times} times");
    }
    let per_dispute: Vec<i64> = sqlx::query_scalar(
        "select count(*) from status_queries group by dispute_id having count(*) > 1",
    )
    .fetch_all(&rig.app.pool)
    .await
    .unwrap();
    assert!(per_dispute.is_empty(), "{per_dispute:?}");
}

#[tokio::test]
async fn the_outbound_guard_refuses_plain_http_loopback_and_private_addresses() {
    let strict = OutboundPolicy { allow_local: false };
    let rig = rig(story(), strict).await;
    let app = &rig.app;
    let not_public = "does not lead to a public internet address";
    for (base, words) in [
        ("http://127.0.0.1:9/pingpong", "must use https"),
        ("https://127.0.0.1:9/pingpong", not_public),
        ("https://10.1.2.3/pingpong", not_public),
        ("https://[::1]:9/pingpong", not_public),
        ("https://169.254.169.254/pingpong", not_public),
        ("https://[::ffff:0:7f00:1]:9/pingpong", not_public),
        ("https://localhost:9/pingpong", not_public),
        ("https://no-such-host.invalid/pingpong", not_public),
    ] {
        point(app, "pingpong-main", base).await;
        let (outcome, detail) = ask(&rig, "pingpong-main", "PPWON").await;
        assert_eq!(outcome, QueryOutcome::Unreachable, "{base}");
        assert!(detail.contains(words), "{base}: {detail}");
    }
    // What a name resolved to, or that it resolved at all, is not told.
    let details: Vec<String> = sqlx::query_scalar(
        "select detail from status_queries where detail like '%localhost%' or detail like '%.invalid%'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(details.len(), 2);
    for detail in &details {
        assert!(
            !detail.contains("127.0.0.1") && !detail.contains("::1"),
            "{detail}"
        );
        assert!(!detail.contains("resolve"), "{detail}");
    }
    assert!(
        captured_logs().contains("NotPublic"),
        "the detail is in the log"
    );
    assert!(rig.world.log().is_empty(), "nothing reached the simulator");
}

/// The dispute's page once it no longer says it is asking (its job ran).
async fn answered(app: &TestApp, page: &str) -> String {
    for _ in 0..100 {
        let (status, html) = app.get_page(page).await;
        assert_eq!(status, 200);
        if !html.contains("where the dispute stands…") {
            return html;
        }
        assert!(
            html.contains("http-equiv=\"refresh\""),
            "asking refreshes itself"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the question about {page} was never answered");
}

#[tokio::test]
async fn a_status_query_is_answered_and_recorded_though_the_browser_hangs_up_at_once() {
    let rig = rig(story(), LOCAL).await;
    let app = &rig.app;
    let (_, email) = app.create_user(Role::Analyst).await;
    let cookie = app.session_cookie(&email, crate::helpers::PASSWORD).await;
    let id = app.dispute_id("pingpong-main", "PPSLOW").await;
    let body = format!("dispute={id}");
    let request = format!(
        "POST /api/disputes/query HTTP/1.1\r\nHost: x\r\nOrigin: {}\r\nAccept: text/html\r\nCookie: dispute_desk_session={cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        app.address,
        body.len()
    );

    {
        use tokio::io::AsyncWriteExt;
        let mut browser = tokio::net::TcpStream::connect(app.socket()).await.unwrap();
        browser.write_all(request.as_bytes()).await.unwrap();
        // The browser goes away a moment after the button was pressed,
        // long before PingPong's slow answer (which, asked inside the
        // request, would then never have been recorded).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut recorded = Vec::new();
    for _ in 0..100 {
        recorded = sqlx::query_as::<_, (String, Option<i64>)>(
            "select outcome, asked_by from status_queries where dispute_id = $1",
        )
        .bind(id.parse::<i64>().unwrap())
        .fetch_all(&app.pool)
        .await
        .unwrap();
        if !recorded.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(recorded.len(), 1, "asked once, and recorded");
    assert_eq!(
        recorded[0].0, "unreachable",
        "the slow answer came after the 1 s limit"
    );
    assert!(recorded[0].1.is_some(), "asked by the analyst");
    assert_eq!(rig.world.log().len(), 1, "the provider was asked");
}

#[tokio::test]
async fn query_status_now_puts_the_answer_on_the_timeline_once_a_minute_and_audits_it() {
    let rig = rig(story(), LOCAL).await;
    let app = &rig.app;
    let page = app.dispute_page("pingpong-main", "PPWON").await;
    let id = app.dispute_id("pingpong-main", "PPWON").await;
    let form = [("dispute", id.as_str())];

    // Not signed in, nothing is asked.
    let stranger = crate::helpers::browser_client();
    let refused = app.post_form(&stranger, "/api/disputes/query", &form).await;
    assert!(!refused.status().is_success());
    assert!(rig.world.log().is_empty());

    let email = app.sign_in_as(Role::Analyst).await;
    let answer = app
        .post_form(&app.client, "/api/disputes/query", &form)
        .await;
    let (target, html) = app.follow(&app.client, answer).await;
    assert_eq!(target, page);
    assert!(
        html.contains("Asking PingPong Checkout where the dispute stands"),
        "{html}"
    );
    let html = answered(app, &page).await;
    assert!(
        html.contains("No notification told of this outcome; the provider"),
        "{html}"
    );
    assert!(html.contains("from a status query"));
    assert!(html.contains("asked by Test analyst"), "{html}");
    assert_eq!(rig.world.log().len(), 1);

    let again = app
        .post_form(&app.client, "/api/disputes/query", &form)
        .await;
    let (_, html) = app.follow(&app.client, again).await;
    assert!(html.contains("less than a minute ago"), "{html}");
    assert_eq!(rig.world.log().len(), 1, "not asked twice within a minute");

    let audit: Vec<(String, String)> = sqlx::query_as(
        "select actor_email, subject from audit_log where action = 'dispute.status_query'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audit, [(email, "pingpong-main/PPWON".to_owned())]);
}

#[tokio::test]
async fn a_silent_connection_is_warned_of_and_reconciliation_widens_to_its_open_disputes() {
    let rig = rig(story(), LOCAL).await;
    let app = &rig.app;
    app.sign_in_as(Role::Analyst).await;
    let (_, html) = app.get_page("/disputes").await;
    assert!(!html.contains("No notification has arrived lately"));

    // Botim Money last spoke three hours ago; the connection allows two.
    sqlx::query(
        "update notifications set received_at = received_at - interval '3 hours'
         where connection_id = (select id from connections where slug = 'botim-main')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("update connections set silence_after_minutes = 120 where slug = 'botim-main'")
        .execute(&app.pool)
        .await
        .unwrap();
    let silent = app
        .store
        .silent_connections(SignedDuration::from_hours(24))
        .await
        .unwrap();
    assert_eq!(silent.len(), 1);
    assert_eq!(silent[0].0, "botim-main");
    let (_, html) = app.get_page("/disputes").await;
    assert!(
        html.contains("No notification has arrived lately"),
        "{html}"
    );
    assert!(html.contains("<code>botim-main</code>"));

    // Nothing else is due: only the silent connection's open disputes,
    // which have no deadline, are asked about.
    let rules = ReconcileRules {
        deadline_within: SignedDuration::ZERO,
        review_overdue: SignedDuration::from_hours(24 * 365),
        silence_after: SignedDuration::from_hours(24),
        ..EVERY_OPEN
    };
    let run = rig.queries.reconcile(&rules, 10).await.unwrap();
    assert_eq!(run.asked, 3, "BMONE, BMSLOW and BMFORGED");
    let whys: Vec<String> = sqlx::query_scalar("select distinct why from status_queries")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(whys, ["its connection has gone silent"]);
    let asked: Vec<Option<String>> = rig.world.log().into_iter().map(|a| a.reference).collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(rig
        .world
        .log()
        .iter()
        .all(|a| a.provider == dispute_core::domain::ProviderKind::BotimMoney));
}

#[tokio::test]
async fn every_attempt_at_a_call_is_recorded_with_what_came_back() {
    let rig = rig(story(), LOCAL).await;
    let app = &rig.app;
    let calls = || async {
        sqlx::query_as::<_, (String, i32, Option<i16>, Option<String>, Option<String>)>(
            "select address, attempt, status, answer, failure from provider_calls order by id",
        )
        .fetch_all(&app.pool)
        .await
        .unwrap()
    };

    let (outcome, _) = ask(&rig, "pingpong-main", "PPWON").await;
    assert_eq!(outcome, QueryOutcome::Found);
    let answered = calls().await;
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert!(
        answered[0].0.ends_with("/pingpong/dispute/getDisputeInfo"),
        "{answered:?}"
    );
    assert_eq!((answered[0].1, answered[0].2), (1, Some(200)));
    assert!(answered[0]
        .3
        .as_deref()
        .is_some_and(|a| a.contains("PPWON")));

    // Nobody listens: each attempt (the rig retries once) is kept.
    point(app, "pingpong-main", "http://127.0.0.1:1/pingpong").await;
    let (outcome, detail) = ask(&rig, "pingpong-main", "PPFORGED").await;
    assert_eq!(outcome, QueryOutcome::Unreachable, "{detail}");
    let unreachable: Vec<_> = calls().await.into_iter().skip(1).collect();
    assert_eq!(
        unreachable.iter().map(|c| c.1).collect::<Vec<_>>(),
        [1, 2],
        "{unreachable:?}"
    );
    assert!(unreachable.iter().all(|c| c.2.is_none()
        && c.4
            .as_deref()
            .is_some_and(|f| f.contains("could not be reached"))));
}

/// A PingPong chargeback for goods not received (13.1), and one whose
/// answers come with a corrupted signature.
const NEEDS: &str = r#"{
 "name": "needs",
 "accounts": {"pingpong-main": "2022102018024210348882"},
 "disputes": [
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPNR", "amount": "80.00",
   "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 0, "deadline_days": 7}],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPBAD", "amount": "80.00",
   "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 0, "deadline_days": 7}],
   "query_misbehave": ["corrupt_signature"],
   "expect": {"stage": "chargeback", "status": "needs_response"}}
 ]
}"#;

/// Prepares `reference`'s response and asks PingPong what it needs from
/// its page; the page once the answer is in.
async fn ask_what_it_needs(app: &TestApp, reference: &str) -> String {
    let (page, html) = app
        .prepare_response(&app.client, "pingpong-main", reference)
        .await;
    assert!(
        html.contains("Ask PingPong Checkout what it needs"),
        "{html}"
    );
    let response = page.trim_start_matches("/responses/").to_owned();
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/checklist",
            &[("response", &response)],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(
        html.contains("Asking PingPong Checkout what the response needs"),
        "{html}"
    );
    for _ in 0..100 {
        let (_, html) = app.get_page(&page).await;
        if !html.contains("what the response needs…") {
            return html;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("PingPong was never asked about {reference}");
}

#[tokio::test]
async fn pingpong_says_what_a_response_needs_and_a_forged_answer_changes_nothing() {
    let rig = rig(serde_json::from_str(NEEDS).unwrap(), LOCAL).await;
    let app = &rig.app;
    app.sign_in_as(Role::Analyst).await;

    let html = ask_what_it_needs(app, "PPNR").await;
    assert!(
        html.contains("What PingPong Checkout said this dispute needs"),
        "{html}"
    );
    let kept: serde_json::Value = sqlx::query_scalar(
        "select r.provider_checklist from responses r join disputes d on d.id = r.dispute_id
         where d.dispute_ref = 'PPNR'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let documents: Vec<(&str, &str)> = kept
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["document"].as_str().unwrap(),
                n["requirement"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        documents,
        [
            ("invoice", "mandatory"),
            ("shipping", "mandatory"),
            ("delivery_photo", "optional"),
            ("customer_communication", "optional"),
        ]
    );
    let (_, dispute_page) = app
        .get_page(&app.dispute_page("pingpong-main", "PPNR").await)
        .await;
    assert!(
        dispute_page.contains(
            "Asked the provider what the response needs: PingPong Checkout lists 4 documents"
        ),
        "{dispute_page}"
    );

    let html = ask_what_it_needs(app, "PPBAD").await;
    assert!(
        html.contains("the desk&#x27;s list") || html.contains("the desk's list"),
        "{html}"
    );
    assert!(
        html.contains("answer was not accepted"),
        "the response page says what came of asking: {html}"
    );
    let kept: Option<serde_json::Value> = sqlx::query_scalar(
        "select r.provider_checklist from responses r join disputes d on d.id = r.dispute_id
         where d.dispute_ref = 'PPBAD'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(kept, None, "a forged answer is not kept");
    let (_, dispute_page) = app
        .get_page(&app.dispute_page("pingpong-main", "PPBAD").await)
        .await;
    assert!(
        dispute_page.contains("PingPong Checkout&#x27;s answer was not accepted")
            || dispute_page.contains("PingPong Checkout's answer was not accepted"),
        "{dispute_page}"
    );
    let asked: Vec<String> = rig
        .world
        .log()
        .into_iter()
        .filter(|a| a.path.ends_with("getDefenseReasons"))
        .map(|a| a.reference.unwrap_or_default())
        .collect();
    assert_eq!(asked, ["PPNR", "PPBAD"]);
}
