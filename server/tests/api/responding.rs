//! Responding from the desk against the provider simulator over real HTTP:
//! a PingPong defence sent step by step by the job system and the later
//! "won" notification closing it, a sender killed mid-way resuming after its
//! last completed step, a provider answering 500 twice, a tampered answer,
//! one-time confirmations, Defend racing Accept on two replicas, a deadline
//! passed, PingPong's acceptance, and what has no call (Botim Money's
//! response sent outside the desk, PayerMax's acceptance) recorded.

use std::time::{Duration, Instant};

use dispute_core::domain::{
    submission::{StepOutcome, SubmissionState},
    EventOrigin, Role, Status,
};
use dispute_store::{Store, SubmissionRecord};
use dispute_workflows::{
    executor::{CallSettings, Executor},
    submissions::{Attempt, LinkSettings, Submissions},
};
use server::config::Settings;
use test_support::evidence_file;

use crate::{
    helpers::{browser_client, captured_logs, evidence_form, TestApp},
    simulated::{rig_with, settings, Rig, LOCAL},
};

const STORY: &str = r#"{
 "name": "responding",
 "accounts": {"pingpong-main": "2022102018024210348882", "botim-main": "200000003232",
              "payermax-main": "SDP01010114524460"},
 "app_ids": {"payermax-main": "6666c8b036a24579974497c2f9a33333"},
 "disputes": [
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPDEF", "amount": "80.00",
   "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 180, "deadline_days": 7}],
   "after_defence": {"kind": "CHARGEBACK_REVERSED", "after_seconds": 1},
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPRESUME", "amount": "81.00",
   "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 180, "deadline_days": 7}],
   "respond_misbehave": ["hang_third_supply"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPFLAKY", "amount": "82.00",
   "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 180, "deadline_days": 7}],
   "respond_misbehave": ["fail_twice"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPLOSTANSWER",
   "amount": "86.00", "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 180, "deadline_days": 7}],
   "respond_misbehave": ["lose_defend_answer"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPHUNG",
   "amount": "87.00", "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 180, "deadline_days": 7}],
   "respond_misbehave": ["hang_defend_answer"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPFORGED", "amount": "83.00",
   "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 180, "deadline_days": 7}],
   "respond_misbehave": ["corrupt_signature"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPACCEPT", "amount": "84.00",
   "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 180, "deadline_days": 7}],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pingpong-main", "reference": "PPLATE", "amount": "85.00",
   "currency": "USD", "reason_code": "13.1", "events": [
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 0, "deadline_hours": 1}],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "botim_money", "connection": "botim-main", "reference": "OBOUT", "amount": "200.00",
   "currency": "AED", "events": [{"kind": "CHARGEBACK", "happened_minutes": 180}],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "payermax", "connection": "payermax-main", "reference": "PMDEF",
   "amount": "75.50", "currency": "AED", "reason_code": "13.3", "events": [
    {"kind": "DISPUTE_INQUIRY", "happened_minutes": 180, "deadline_days": 12}],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "payermax", "connection": "payermax-main", "reference": "PMACCEPT",
   "amount": "20000.00", "currency": "PHP", "reason_code": "13.3", "events": [
    {"kind": "DISPUTE_INQUIRY", "happened_minutes": 180, "deadline_days": 12}],
   "expect": {"stage": "chargeback", "status": "needs_response"}}
 ]
}"#;

/// The rig with the job system running (`workers`) or not (the test sends
/// submissions itself, attempt by attempt).
async fn responding_rig(workers: usize) -> Rig {
    let settings = Settings {
        job_workers: workers,
        ..settings()
    };
    let rig = rig_with(serde_json::from_str(STORY).unwrap(), LOCAL, settings).await;
    rig.app.sign_in_as(Role::Analyst).await;
    rig
}

/// A sender like the job's, with a short timeout.
fn sender(app: &TestApp) -> Submissions {
    Submissions::new(
        app.store.clone(),
        app.vault.clone(),
        Executor::new(
            app.store.clone(),
            CallSettings {
                policy: LOCAL,
                timeout: Duration::from_secs(2),
                retries: 0,
            },
        ),
        LinkSettings {
            public_url: app.address.clone(),
            lifetime: jiff::SignedDuration::from_hours(24 * 30),
        },
    )
}

/// PingPong's `reference`'s response made ready with `files`.
async fn ready_response(app: &TestApp, reference: &str, files: &[(&str, &str, &str)]) -> i64 {
    ready_response_at(app, "pingpong-main", reference, files, None).await
}

/// `reference`'s response (at connection `slug`) prepared from its dispute
/// page, `files` (document, name, fixture) uploaded, its `summary` saved
/// (with the letter as prepared), and marked ready; the dispute's id.
async fn ready_response_at(
    app: &TestApp,
    slug: &str,
    reference: &str,
    files: &[(&str, &str, &str)],
    summary: Option<&str>,
) -> i64 {
    let (page, _) = app.prepare_response(&app.client, slug, reference).await;
    let rows: Vec<(&str, &str, Vec<u8>)> = files
        .iter()
        .map(|(document, name, fixture)| (*document, *name, evidence_file(fixture)))
        .collect();
    for row in rows.chunks(3) {
        let answer = app
            .upload_evidence(&app.client, &page, evidence_form(row))
            .await;
        assert_eq!(answer.status(), 303);
    }
    let response = page.trim_start_matches("/responses/");
    if let Some(summary) = summary {
        let letter: String =
            sqlx::query_scalar("select letter from responses where id = $1::bigint")
                .bind(response)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        let answer = app
            .post_form(
                &app.client,
                "/api/responses/text",
                &[
                    ("response", response),
                    ("letter", &letter),
                    ("summary", summary),
                ],
            )
            .await;
        let (_, html) = app.follow(&app.client, answer).await;
        assert!(html.contains("Letter and summary saved"), "{html}");
    }
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/ready",
            &[("response", response)],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(html.contains("The response is ready to send"), "{html}");
    app.dispute_id(slug, reference).await.parse().unwrap()
}

/// The confirmation page of `choice` for `dispute`, and its one-time token
/// (none when the page refuses).
async fn confirmation(app: &TestApp, dispute: i64, choice: &str) -> (String, Option<String>) {
    let (status, html) = app
        .get_page(&format!("/disputes/{dispute}/decide/{choice}"))
        .await;
    assert_eq!(status, 200, "{html}");
    let token = html.split("name=\"token\" value=\"").nth(1).map(|rest| {
        rest.chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect::<String>()
    });
    (html, token)
}

/// Posts the confirmation form; where it sends the browser and what is
/// shown there.
async fn confirm(
    app: &TestApp,
    dispute: i64,
    choice: &str,
    token: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let dispute = dispute.to_string();
    let mut form = vec![
        ("dispute", dispute.as_str()),
        ("choice", choice),
        ("token", token),
    ];
    form.extend_from_slice(extra);
    let answer = app
        .post_form(&app.client, "/api/disputes/decide", &form)
        .await;
    app.follow(&app.client, answer).await
}

async fn submissions(app: &TestApp, dispute: i64) -> Vec<SubmissionRecord> {
    app.store.submissions_of_dispute(dispute).await.unwrap()
}

/// The steps recorded for `dispute`: (step, outcome).
async fn steps(app: &TestApp, dispute: i64) -> Vec<(String, StepOutcome)> {
    app.store
        .submission_steps_of_dispute(dispute)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.step.as_text(), s.outcome))
        .collect()
}

async fn status(app: &TestApp, dispute: i64) -> Option<Status> {
    app.store
        .dispute_by_id(dispute)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// The simulator's answers to `reference`'s calls at paths ending in
/// `op`: their codes.
fn answered(rig: &Rig, reference: &str, op: &str) -> Vec<String> {
    rig.world
        .log()
        .into_iter()
        .filter(|a| a.reference.as_deref() == Some(reference) && a.path.ends_with(op))
        .map(|a| a.code)
        .collect()
}

const TWO_FILES: &[(&str, &str, &str)] = &[
    ("invoice", "invoice.pdf", "invoice-two-pages.pdf"),
    ("shipping", "tracking.jpg", "delivery-photo-sideways.jpg"),
];

#[tokio::test]
async fn a_pingpong_defence_is_sent_step_by_step_and_the_later_won_notification_closes_it() {
    let rig = responding_rig(2).await;
    let app = &rig.app;
    let dispute = ready_response(app, "PPDEF", TWO_FILES).await;

    let (page, token) = confirmation(app, dispute, "defend").await;
    for said in [
        "Defend the chargeback",
        "cannot be undone",
        "PingPong Checkout",
        "2022102018024210348882",
        "invoice.pdf",
        "tracking.jpg",
        "Upload: invoice or transaction record",
        "Check that the provider holds every document it needs",
        "Defend the dispute",
    ] {
        assert!(page.contains(said), "{said}: {page}");
    }
    let started = Instant::now();
    let (target, html) = confirm(app, dispute, "defend", &token.unwrap(), &[]).await;
    assert_eq!(target, format!("/disputes/{dispute}"));
    assert!(
        html.contains("Sending the defence to PingPong Checkout"),
        "{html}"
    );

    let mut sent = None;
    for _ in 0..100 {
        let now = submissions(app, dispute).await;
        if now[0].state != SubmissionState::Sending {
            sent = Some((now, started.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (sent, took) = sent.expect("the job sent the defence");
    println!("defend to recorded answer: {} ms", took.as_millis());
    assert_eq!(sent[0].state, SubmissionState::Done, "{:?}", sent[0].words);
    assert_eq!(
        steps(app, dispute).await,
        [
            ("supply:invoice".to_owned(), StepOutcome::Done),
            ("supply:shipping".to_owned(), StepOutcome::Done),
            ("check".to_owned(), StepOutcome::Done),
            ("defend".to_owned(), StepOutcome::Done),
        ]
    );
    assert_eq!(status(app, dispute).await, Some(Status::Responded));
    assert_eq!(
        answered(&rig, "PPDEF", "supplyDefenseDocument"),
        ["success", "success"]
    );
    let defended: Vec<String> = rig
        .world
        .log()
        .into_iter()
        .filter(|a| a.reference.as_deref() == Some("PPDEF") && a.path.contains("defendDispute"))
        .map(|a| a.path)
        .collect();
    assert_eq!(
        defended,
        ["/pingpong/v4/dispute/defendDispute"],
        "an address other than the sandbox's takes production's paths"
    );
    let kept: Vec<String> = app
        .store
        .submission_steps_of_dispute(dispute)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|s| s.call.map(|c| c.address + " " + &c.request))
        .collect();
    assert!(
        kept[0].contains("/dispute/supplyDefenseDocument"),
        "{kept:?}"
    );
    assert!(kept[0].contains("characters, not kept here"), "{kept:?}");
    assert!(kept[3].contains("/v4/dispute/defendDispute"), "{kept:?}");
    let (_, html) = app.get_page(&format!("/disputes/{dispute}")).await;
    assert!(html.contains("Defence sent to PingPong Checkout"), "{html}");
    assert!(html.contains("Upload: shipping and tracking"), "{html}");
    assert!(html.contains("Chargeback responded to"), "{html}");
    assert!(html.contains("the merchant&#x27;s") || html.contains("the merchant's"));
    let response_state: String =
        sqlx::query_scalar("select state from responses where dispute_id = $1")
            .bind(dispute)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(response_state, "answered");

    // The simulator decides a second later and tells the desk.
    for _ in 0..100 {
        if status(app, dispute).await == Some(Status::Won) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status(app, dispute).await, Some(Status::Won));
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where action like 'dispute.%' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        actions.contains(&"dispute.defend".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_sender_killed_between_the_second_and_third_upload_resumes_and_uploads_each_once() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let files = [
        TWO_FILES[0],
        TWO_FILES[1],
        ("delivery_photo", "photo.jpg", "cmyk.jpg"),
    ];
    let dispute = ready_response(app, "PPRESUME", &files).await;
    let (_, token) = confirmation(app, dispute, "defend").await;
    confirm(app, dispute, "defend", &token.unwrap(), &[]).await;
    let id = submissions(app, dispute).await[0].id;

    let first = tokio::spawn({
        let sender = sender(app);
        async move { sender.run(id, 1, false).await }
    });
    for _ in 0..100 {
        if answered(&rig, "PPRESUME", "supplyDefenseDocument").len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The third upload is in flight, unanswered: the replica dies.
    tokio::time::sleep(Duration::from_millis(200)).await;
    first.abort();
    let recorded = steps(app, dispute).await;
    assert_eq!(
        recorded,
        [
            ("supply:invoice".to_owned(), StepOutcome::Done),
            ("supply:shipping".to_owned(), StepOutcome::Done),
            ("supply:delivery_photo".to_owned(), StepOutcome::Sending),
        ],
        "the third upload went out and was never answered"
    );

    let resumed = sender(app).run(id, 2, false).await.unwrap();
    assert_eq!(resumed, Attempt::Finished);
    assert_eq!(
        answered(&rig, "PPRESUME", "supplyDefenseDocument"),
        ["success", "success", "success"],
        "three uploads in all: none of the first two again"
    );
    let recorded: Vec<String> = steps(app, dispute).await.into_iter().map(|s| s.0).collect();
    assert_eq!(
        recorded,
        [
            "supply:invoice",
            "supply:shipping",
            "supply:delivery_photo",
            "check",
            "defend"
        ]
    );
    assert_eq!(status(app, dispute).await, Some(Status::Responded));
}

#[tokio::test]
async fn a_provider_answering_500_twice_is_tried_again_then_the_defence_is_sent_once() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let dispute = ready_response(app, "PPFLAKY", TWO_FILES).await;
    let (_, token) = confirmation(app, dispute, "defend").await;
    confirm(app, dispute, "defend", &token.unwrap(), &[]).await;
    let id = submissions(app, dispute).await[0].id;
    let sender = sender(app);

    for attempt in 1..=2 {
        match sender.run(id, attempt, false).await.unwrap() {
            Attempt::TryAgain(words) => assert!(words.contains("HTTP 500"), "{words}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sender.run(id, 3, false).await.unwrap(), Attempt::Finished);
    let recorded = steps(app, dispute).await;
    assert_eq!(
        recorded
            .iter()
            .filter(|s| s.1 == StepOutcome::Failed)
            .count(),
        2
    );
    assert_eq!(
        recorded.iter().filter(|s| s.1 == StepOutcome::Done).count(),
        4
    );
    assert_eq!(status(app, dispute).await, Some(Status::Responded));
    assert_eq!(answered(&rig, "PPFLAKY", "defendDispute"), ["success"]);
}

#[tokio::test]
async fn a_defence_whose_answer_was_lost_counts_as_sent_when_pingpong_says_it_holds_it() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let dispute = ready_response(app, "PPLOSTANSWER", TWO_FILES).await;
    let (_, token) = confirmation(app, dispute, "defend").await;
    confirm(app, dispute, "defend", &token.unwrap(), &[]).await;
    let id = submissions(app, dispute).await[0].id;
    let sender = sender(app);
    assert!(matches!(
        sender.run(id, 1, false).await.unwrap(),
        Attempt::TryAgain(_)
    ));
    assert_eq!(sender.run(id, 2, false).await.unwrap(), Attempt::Finished);
    assert_eq!(
        answered(&rig, "PPLOSTANSWER", "defendDispute"),
        ["HTTP 500", "DefendExist"]
    );
    let done = app.store.submission(id).await.unwrap().unwrap();
    assert_eq!(done.state, SubmissionState::Done, "{:?}", done.words);
    assert_eq!(status(app, dispute).await, Some(Status::Responded));
    assert_eq!(
        answered(&rig, "PPLOSTANSWER", "supplyDefenseDocument").len(),
        2,
        "the documents went once"
    );
}

#[tokio::test]
async fn a_sender_killed_waiting_for_the_defences_answer_counts_it_sent_on_resuming() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let dispute = ready_response(app, "PPHUNG", TWO_FILES).await;
    let (_, token) = confirmation(app, dispute, "defend").await;
    confirm(app, dispute, "defend", &token.unwrap(), &[]).await;
    let id = submissions(app, dispute).await[0].id;
    let first = tokio::spawn({
        let sender = sender(app);
        async move { sender.run(id, 1, false).await }
    });
    for _ in 0..200 {
        let sending = steps(app, dispute).await;
        if sending.last() == Some(&("defend".to_owned(), StepOutcome::Sending)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    first.abort();
    assert_eq!(status(app, dispute).await, Some(Status::NeedsResponse));

    assert_eq!(
        sender(app).run(id, 2, false).await.unwrap(),
        Attempt::Finished
    );
    assert_eq!(answered(&rig, "PPHUNG", "defendDispute"), ["DefendExist"]);
    let done = app.store.submission(id).await.unwrap().unwrap();
    assert_eq!(done.state, SubmissionState::Done, "{:?}", done.words);
    assert_eq!(status(app, dispute).await, Some(Status::Responded));
}

#[tokio::test]
async fn a_tampered_answer_is_refused_and_not_folded() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let dispute = ready_response(app, "PPFORGED", TWO_FILES).await;
    let (_, token) = confirmation(app, dispute, "defend").await;
    confirm(app, dispute, "defend", &token.unwrap(), &[]).await;
    let id = submissions(app, dispute).await[0].id;

    assert_eq!(
        sender(app).run(id, 1, false).await.unwrap(),
        Attempt::Finished
    );
    let submission = app.store.submission(id).await.unwrap().unwrap();
    assert_eq!(submission.state, SubmissionState::Refused);
    let words = submission.words.unwrap();
    assert!(words.contains("was not accepted"), "{words}");
    assert_eq!(status(app, dispute).await, Some(Status::NeedsResponse));
    assert_eq!(
        steps(app, dispute).await.len(),
        1,
        "nothing after the refusal"
    );
    let (_, html) = app.get_page(&format!("/disputes/{dispute}")).await;
    assert!(
        html.contains("Defence not sent to PingPong Checkout"),
        "{html}"
    );
    assert!(
        html.contains("Defend…"),
        "a refused defence can be sent again: {html}"
    );
    let state: String = sqlx::query_scalar("select state from responses where dispute_id = $1")
        .bind(dispute)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "ready");
}

#[tokio::test]
async fn a_confirmation_is_used_once_for_its_own_dispute_and_decision_by_a_signed_in_analyst() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let accept = app
        .dispute_id("pingpong-main", "PPACCEPT")
        .await
        .parse()
        .unwrap();
    let other = app
        .dispute_id("pingpong-main", "PPDEF")
        .await
        .parse()
        .unwrap();

    let (_, token) = confirmation(app, accept, "accept").await;
    let token = token.unwrap();
    let (target, html) = confirm(app, other, "accept", &token, &[]).await;
    assert_eq!(target, format!("/disputes/{other}/decide/accept"));
    assert!(html.contains("expired or was used already"), "{html}");
    let (_, html) = confirm(app, accept, "defend", &token, &[]).await;
    assert!(html.contains("expired or was used already"), "{html}");
    assert!(submissions(app, other).await.is_empty());

    // A confirmation holds the response as its page showed it, and what
    // the page was for.
    let defended = ready_response(app, "PPDEF", TWO_FILES).await;
    let (_, shown) = confirmation(app, defended, "defend").await;
    let response: String =
        sqlx::query_scalar("select id::text from responses where dispute_id = $1")
            .bind(defended)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    for path in ["/api/responses/draft", "/api/responses/ready"] {
        app.post_form(&app.client, path, &[("response", &response)])
            .await;
    }
    let (_, html) = confirm(app, defended, "defend", &shown.unwrap(), &[]).await;
    assert!(
        html.contains("The response changed since the page was opened"),
        "{html}"
    );
    let (_, for_defend) = confirmation(app, defended, "defend").await;
    let outside = [
        ("when", "2026-01-02T10:30"),
        ("method", "email"),
        ("sent", "the packet"),
    ];
    let (_, html) = confirm(app, defended, "outside", &for_defend.unwrap(), &outside).await;
    assert!(html.contains("expired or was used already"), "{html}");
    assert!(submissions(app, defended).await.is_empty());

    let stranger = browser_client();
    for path in [
        format!("/disputes/{accept}/decide/accept"),
        "/api/disputes/decide".to_owned(),
    ] {
        let answer = stranger
            .post(format!("{}{path}", app.address))
            .header("origin", &app.address)
            .form(&[
                ("dispute", accept.to_string()),
                ("choice", "accept".into()),
                ("token", token.clone()),
            ])
            .send()
            .await
            .unwrap();
        assert!(
            [303, 401, 403, 405].contains(&answer.status().as_u16()),
            "{path}: {}",
            answer.status()
        );
    }
    assert!(submissions(app, accept).await.is_empty());

    let (target, html) = confirm(app, accept, "accept", &token, &[]).await;
    assert_eq!(target, format!("/disputes/{accept}"));
    assert!(
        html.contains("Accepting the dispute through PingPong Checkout"),
        "{html}"
    );
    let (_, html) = confirm(app, accept, "accept", &token, &[]).await;
    assert!(
        html.contains("expired or was used already"),
        "a token once: {html}"
    );
    assert_eq!(submissions(app, accept).await.len(), 1);

    let id = submissions(app, accept).await[0].id;
    assert_eq!(
        sender(app).run(id, 1, false).await.unwrap(),
        Attempt::Finished
    );
    assert_eq!(status(app, accept).await, Some(Status::Accepted));
    assert_eq!(answered(&rig, "PPACCEPT", "acceptDispute"), ["success"]);
}

#[tokio::test]
async fn defend_racing_accept_on_two_replicas_makes_one_decision() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let dispute = ready_response(app, "PPDEF", TWO_FILES).await;
    let (_, defend) = confirmation(app, dispute, "defend").await;
    let (_, accept) = confirmation(app, dispute, "accept").await;
    let (_, again) = confirmation(app, dispute, "defend").await;

    // The same database through a second pool: another replica.
    let replica = Store::new(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&app.db.url())
            .await
            .unwrap(),
    );
    let actor = dispute_store::Actor {
        user_id: Some(
            sqlx::query_scalar("select id from users limit 1")
                .fetch_one(&app.pool)
                .await
                .unwrap(),
        ),
        email: None,
        address: None,
    };
    let ask = |store: Store, decision, token: String| {
        let actor = actor.clone();
        async move {
            store
                .submit(&dispute_store::SubmitRequest {
                    dispute_id: dispute,
                    decision,
                    token: &token,
                    outside: None,
                    actor: &actor,
                    subject: "dispute",
                })
                .await
        }
    };
    use dispute_core::domain::submission::Decision;
    let (a, b, c) = tokio::join!(
        ask(app.store.clone(), Decision::Defend, defend.unwrap()),
        ask(replica.clone(), Decision::Accept, accept.unwrap()),
        ask(replica, Decision::Defend, again.unwrap()),
    );
    let taken = [a.is_ok(), b.is_ok(), c.is_ok()];
    assert_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");
    assert_eq!(submissions(app, dispute).await.len(), 1);
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs where kind = 'submission'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(jobs <= 1, "{jobs}");
    let refused = [a, b, c]
        .into_iter()
        .find_map(Result::err)
        .unwrap()
        .to_string();
    assert!(refused.contains("was asked for already"), "{refused}");
}

#[tokio::test]
async fn a_defence_after_the_deadline_is_refused_before_anything_is_sent() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let dispute = ready_response(app, "PPLATE", TWO_FILES).await;
    let (html, token) = confirmation(app, dispute, "defend").await;
    assert!(html.contains("The time to respond is over"), "{html}");
    assert_eq!(token, None, "no form to confirm");
    let (_, accept) = confirmation(app, dispute, "accept").await;
    let (_, html) = confirm(app, dispute, "defend", &accept.unwrap(), &[]).await;
    assert!(html.contains("expired or was used already"), "{html}");
    assert!(submissions(app, dispute).await.is_empty());
    assert!(answered(&rig, "PPLATE", "supplyDefenseDocument").is_empty());
    let (_, recorded) = confirmation(app, dispute, "outside").await;
    assert!(
        recorded.is_some(),
        "a response sent in time through another channel can still be recorded"
    );
}

#[tokio::test]
async fn what_has_no_call_is_recorded_as_the_merchants_and_markup_stays_text() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let botim: i64 = app.dispute_id("botim-main", "OBOUT").await.parse().unwrap();
    let (html, token) = confirmation(app, botim, "defend").await;
    assert!(
        html.contains("does not send defences to Botim Money"),
        "{html}"
    );
    assert_eq!(token, None);

    let (_, token) = confirmation(app, botim, "outside").await;
    let token = token.unwrap();
    let markup = "<script>alert(1)</script> packet";
    let (target, html) = confirm(
        app,
        botim,
        "outside",
        &token,
        &[
            ("when", "2026-01-02T10:30"),
            ("method", "email"),
            ("sent", "the\u{7} packet"),
            ("note", ""),
        ],
    )
    .await;
    assert_eq!(target, format!("/disputes/{botim}/decide/outside"));
    assert!(html.contains("without control characters"), "{html}");
    assert!(submissions(app, botim).await.is_empty());
    let (_, token) = confirmation(app, botim, "outside").await;
    let (target, html) = confirm(
        app,
        botim,
        "outside",
        &token.unwrap(),
        &[
            ("when", "2026-01-02T10:30"),
            ("method", "email"),
            ("sent", markup),
            ("note", "<b>to support</b>\nticket 42"),
        ],
    )
    .await;
    assert_eq!(target, format!("/disputes/{botim}"));
    assert!(html.contains("sent outside the desk"), "{html}");
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; packet"),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;to support&lt;/b&gt;"), "{html}");
    assert_eq!(status(app, botim).await, Some(Status::Responded));
    let event: (String, String) = sqlx::query_as(
        "select source, kind from dispute_events where dispute_id = $1 order by id desc limit 1",
    )
    .bind(botim)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        event,
        (
            EventOrigin::Response.as_str().to_owned(),
            "responded outside the desk".to_owned()
        )
    );

    let payermax: i64 = app
        .dispute_id("payermax-main", "PMACCEPT")
        .await
        .parse()
        .unwrap();
    let (html, token) = confirmation(app, payermax, "accept").await;
    assert!(html.contains("PayerMax has no call to accept"), "{html}");
    let (_, html) = confirm(app, payermax, "accept", &token.unwrap(), &[]).await;
    assert!(html.contains("Recorded: the dispute is accepted"), "{html}");
    assert!(html.contains("closes the case as lost"), "{html}");
    assert_eq!(status(app, payermax).await, Some(Status::Accepted));
    assert!(rig
        .world
        .log()
        .iter()
        .all(|a| a.reference.as_deref() != Some("PMACCEPT")));
}

/// The addresses a PayerMax reply sent, read from its kept request.
async fn sent_links(app: &TestApp, dispute: i64) -> Vec<String> {
    let steps = app
        .store
        .submission_steps_of_dispute(dispute)
        .await
        .unwrap();
    let request = steps
        .iter()
        .find_map(|s| s.call.as_ref().map(|c| c.request.clone()))
        .unwrap();
    let sent: serde_json::Value = serde_json::from_str(&request).unwrap();
    sent["data"]["representmentFile"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_payermax_reply_sends_the_summary_and_links_payermax_downloads_each_logged() {
    let rig = responding_rig(0).await;
    let app = &rig.app;
    let summary = "<i>Delivered</i> & \"signed\" \u{202e}for";
    let files = [
        ("invoice", "<b>invoice</b>.pdf", "invoice-two-pages.pdf"),
        (
            "product_description",
            "photo.jpg",
            "delivery-photo-sideways.jpg",
        ),
    ];
    let dispute = ready_response_at(app, "payermax-main", "PMDEF", &files, Some(summary)).await;
    let (page, token) = confirmation(app, dispute, "defend").await;
    assert!(page.contains("downloads itself"), "{page}");
    assert!(page.contains("&lt;i&gt;Delivered&lt;/i&gt;"), "{page}");
    assert!(!page.contains("<b>invoice</b>"), "{page}");
    confirm(app, dispute, "defend", &token.unwrap(), &[]).await;
    let id = submissions(app, dispute).await[0].id;
    assert_eq!(
        sender(app).run(id, 1, false).await.unwrap(),
        Attempt::Finished
    );
    let done = app.store.submission(id).await.unwrap().unwrap();
    assert_eq!(done.state, SubmissionState::Done, "{:?}", done.words);
    assert_eq!(status(app, dispute).await, Some(Status::Responded));

    let reply = rig.world.reply("PMDEF").expect("PayerMax took the reply");
    let kept: String = sqlx::query_scalar("select summary from responses where dispute_id = $1")
        .bind(dispute)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(reply.summary, kept, "the summary reaches PayerMax as typed");
    assert!(reply.summary.contains("<i>Delivered</i>"));
    let sizes: Vec<Result<usize, String>> = reply.fetched.iter().map(|f| f.1.clone()).collect();
    let stored: Vec<i64> = sqlx::query_scalar("select size from evidence_files order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        sizes,
        stored.iter().map(|n| Ok(*n as usize)).collect::<Vec<_>>()
    );
    let links = app.store.links_of_dispute(dispute).await.unwrap();
    assert_eq!(links.len(), 2);
    for link in &links {
        assert_eq!(link.fetches, 1);
        let fetch = link.last_fetch.as_ref().unwrap();
        assert_eq!((fetch.status, fetch.address.as_str()), (200, "127.0.0.1"));
        assert_eq!(fetch.bytes as u64, link.size);
    }
    let (_, html) = app.get_page(&format!("/disputes/{dispute}")).await;
    assert!(html.contains("Defence sent to PayerMax"), "{html}");
    assert!(html.contains("1 time"), "{html}");
    assert!(html.contains("from 127.0.0.1 · HTTP 200"), "{html}");

    let urls = sent_links(app, dispute).await;
    assert!(
        urls[0].ends_with(".pdf") && urls[0].starts_with(&app.address),
        "{urls:?}"
    );
    let stranger = browser_client();
    let fetched = stranger.get(&urls[0]).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-type"], "application/pdf");
    assert!(fetched.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert!(fetched.headers().get("set-cookie").is_none());
    assert_eq!(
        fetched.bytes().await.unwrap().to_vec(),
        evidence_file("invoice-two-pages.pdf")
    );
    let status_of = |url: String| {
        let stranger = stranger.clone();
        async move { stranger.get(url).send().await.unwrap().status().as_u16() }
    };
    let mut tampered = urls[0].clone().into_bytes();
    let at = urls[0].rfind('/').unwrap() - 1;
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    assert_eq!(status_of(String::from_utf8(tampered).unwrap()).await, 404);
    let renamed = format!("{}/other.pdf", urls[0].rsplit_once('/').unwrap().0);
    assert_eq!(status_of(renamed).await, 404);
    let key = app.vault.link_key();
    let expired = dispute_core::domain::links::Link {
        id: links[0].id,
        expires: jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1),
    };
    assert_eq!(
        status_of(format!(
            "{}{}",
            app.address,
            expired.path(&key, &links[0].safe_name)
        ))
        .await,
        410
    );

    // Fetched a thousand times a minute, a link stops answering.
    let mut answered = std::collections::BTreeMap::new();
    for _ in 0..60 {
        *answered
            .entry(status_of(urls[1].clone()).await)
            .or_insert(0) += 1;
    }
    assert!(answered.get(&429).is_some_and(|n| *n >= 29), "{answered:?}");
    assert!(answered.get(&200).is_some_and(|n| *n <= 30), "{answered:?}");

    // Revoked from the dispute's page, it is gone.
    let answer = app
        .post_form(
            &app.client,
            "/api/disputes/revoke-link",
            &[
                ("dispute", &dispute.to_string()),
                ("link", &links[0].id.to_string()),
            ],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(html.contains("The link is revoked"), "{html}");
    assert_eq!(status_of(urls[0].clone()).await, 410);
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'evidence_link.revoke'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);

    // A file whose response was not sent is not served.
    sqlx::query("update submissions set state = 'refused' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let fresh = dispute_core::domain::links::Link {
        id: links[1].id,
        expires: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
    };
    let unsent = format!("{}{}", app.address, fresh.path(&key, &links[1].safe_name));
    // The allowance spent above gives a fetch back every two seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status_of(unsent).await, 404);
    let mac = urls[1]
        .rsplit('/')
        .nth(1)
        .unwrap()
        .rsplit('-')
        .next()
        .unwrap();
    assert!(
        !captured_logs().contains(mac),
        "a link's token stays out of the logs"
    );

    // Back to a draft, a file with links can still be removed.
    sqlx::query("update responses set state = 'draft' where dispute_id = $1")
        .bind(dispute)
        .execute(&app.pool)
        .await
        .unwrap();
    let (response, file): (String, String) = sqlx::query_as(
        "select r.id::text, f.id::text from responses r join evidence_files f
         on f.response_id = r.id where r.dispute_id = $1 order by f.id limit 1",
    )
    .bind(dispute)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/remove-file",
            &[("response", &response), ("file", &file)],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(html.contains("Removed"), "{html}");
}
