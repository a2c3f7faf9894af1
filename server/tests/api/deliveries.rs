//! The delivery history with at least two deliveries of every verdict a
//! request can get: each filter finds exactly its own, keyset pages cover
//! the list once in order, and the page shows the answer and the dispute.

use std::collections::BTreeMap;

use dispute_core::domain::{DeliveryCursor, DeliveryFilter, ProviderKind, Role, Verdict};

use crate::{
    helpers::{spawn_app, TestApp},
    provider_fixtures::{case_by_id, deliver, load},
};

fn filter(pairs: &[(&str, &str)]) -> DeliveryFilter {
    let params: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    DeliveryFilter::from_params(&params).unwrap()
}

async fn verdicts(app: &TestApp, f: &DeliveryFilter) -> Vec<Verdict> {
    app.store
        .delivery_history(f, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.verdict)
        .collect()
}

/// Two deliveries of each verdict intake gives.
async fn two_of_each(app: &TestApp) {
    let cases = load("cases.json");
    for id in [
        "pp-rfi",
        "pp-chargeback",
        "pp-rfi",
        "pp-chargeback",
        "pp-tampered",
        "pp-wrong-salt",
        "pp-missing-sign",
        "botim-missing-sign",
        "pp-broken-json",
        "pp-broken-json",
        "unknown-connection",
        "unknown-connection",
        "botim-chargeback",
    ] {
        deliver(app, case_by_id(&cases, id)).await;
    }
    for _ in 0..2 {
        let huge = vec![b'x'; 2 * 1024 * 1024];
        assert_eq!(
            app.post_webhook("botim-main", &[], huge).await.status(),
            413
        );
    }
    // Senders off the allowlist, then a disabled connection.
    sqlx::query(
        "update connections set source_allowlist = '{203.0.113.9/32}' where slug = 'payermax-main'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.store.note_connections_changed();
    for id in ["pm-inquiry-flat", "pm-inquiry-wrapped"] {
        deliver(app, case_by_id(&cases, id)).await;
    }
    sqlx::query("update connections set source_allowlist = '{}', enabled = false where slug = 'payermax-main'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.store.note_connections_changed();
    for id in ["pm-inquiry-flat", "pm-inquiry-wrapped"] {
        deliver(app, case_by_id(&cases, id)).await;
    }
}

#[tokio::test]
async fn every_filter_finds_its_own_and_keyset_pages_cover_the_history_once() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    two_of_each(&app).await;

    let all = app
        .store
        .delivery_history(&DeliveryFilter::default(), None, 1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 19);
    for verdict in [
        Verdict::Valid,
        Verdict::Duplicate,
        Verdict::BadSignature,
        Verdict::MissingSignature,
        Verdict::Malformed,
        Verdict::UnknownConnection,
        Verdict::TooLarge,
        Verdict::ForbiddenSource,
        Verdict::Disabled,
    ] {
        let found = verdicts(&app, &filter(&[("verdict", verdict.as_str())])).await;
        let expected = if verdict == Verdict::Valid { 3 } else { 2 };
        assert_eq!(found, vec![verdict; expected], "{verdict:?}");
    }
    // The dispute each accepted one touched, the duplicate's through its
    // original.
    let duplicates = app
        .store
        .delivery_history(&filter(&[("verdict", "duplicate")]), None, 10)
        .await
        .unwrap();
    assert!(
        duplicates.iter().all(|d| d.dispute.is_some()),
        "{duplicates:?}"
    );
    assert!(duplicates.iter().all(|d| d.response_status == Some(200)));

    let botim = verdicts(&app, &filter(&[("provider", "botim_money")])).await;
    assert_eq!(
        botim,
        [
            Verdict::TooLarge,
            Verdict::TooLarge,
            Verdict::Valid,
            Verdict::MissingSignature
        ]
    );
    let unauthorized = verdicts(&app, &filter(&[("status", "401")])).await;
    assert_eq!(unauthorized.len(), 4);
    assert!(unauthorized
        .iter()
        .all(|v| matches!(v, Verdict::BadSignature | Verdict::MissingSignature)));
    let strangers = verdicts(&app, &filter(&[("connection", "no-such-connection")])).await;
    assert_eq!(strangers, [Verdict::UnknownConnection; 2]);
    let text = app
        .store
        .delivery_history(&filter(&[("q", "REQUEST_FOR_INFORMATION")]), None, 100)
        .await
        .unwrap();
    assert_eq!(text.len(), 2, "both pp-rfi deliveries");
    assert!(text
        .iter()
        .all(|d| d.provider == Some(ProviderKind::PingPong)));
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    assert_eq!(
        verdicts(&app, &filter(&[("from", &today), ("to", &today)]))
            .await
            .len(),
        19
    );
    assert!(verdicts(&app, &filter(&[("to", "2020-01-01")]))
        .await
        .is_empty());
    let combined = verdicts(
        &app,
        &filter(&[
            ("connection", "pingpong-main"),
            ("verdict", "valid"),
            ("q", "CHARGEBACK"),
        ]),
    )
    .await;
    assert_eq!(combined, [Verdict::Valid]);

    // Pages of three, newest first, each delivery once.
    let mut walked = Vec::new();
    let mut before: Option<DeliveryCursor> = None;
    loop {
        let page = app
            .store
            .delivery_history(&DeliveryFilter::default(), before, 3)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(DeliveryCursor {
            received_at: last.received_at,
            id: last.id,
        });
        walked.extend(page.iter().map(|d| d.id));
    }
    assert_eq!(walked, all.iter().map(|d| d.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_history_page_filters_by_its_address_and_escapes_what_senders_sent() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    two_of_each(&app).await;
    let odd = app
        .post_webhook("%3Cscript%3Ealert(1)", &[], b"{}".to_vec())
        .await;
    assert_eq!(odd.status(), 404);
    app.sign_in_as(Role::Ops).await;

    let (status, html) = app.get_page("/deliveries?verdict=bad_signature").await;
    assert_eq!(status, 200);
    assert_eq!(
        html.matches("<span class=\"badge warn\">bad signature</span>")
            .count(),
        2
    );
    assert!(!html.contains(">valid</span>"));
    let (_, html) = app
        .get_page("/deliveries?verdict=valid&connection=pingpong-main")
        .await;
    assert!(
        html.contains("<a href=\"/disputes/"),
        "links to the dispute touched"
    );
    let (_, html) = app.get_page("/deliveries").await;
    assert!(html.contains("alert(1)"), "the odd slug is listed");
    // Markup a sender put in a body is shown as text on the delivery's page.
    let markup = b"{\"x\": \"<script>alert(2)</script>\"}".to_vec();
    assert_eq!(
        app.post_webhook("pingpong-main", &[], markup)
            .await
            .status(),
        401
    );
    let newest = app.store.notifications().await.unwrap().pop().unwrap();
    let (_, page) = app.get_page(&format!("/deliveries/{}", newest.id)).await;
    assert!(page.contains("&lt;script&gt;alert(2)"), "{page}");
    assert!(!page.contains("<script>alert(2)"));
    let (status, html) = app.get_page("/deliveries?verdict=fine").await;
    assert_eq!(status, 200);
    assert!(html.contains("verdict \"fine\" is not a verdict"), "{html}");
    let (_, html) = app.get_page("/deliveries?before=nonsense").await;
    assert!(html.contains("that page of the history does not exist"));
}

#[tokio::test]
async fn a_deliverys_raw_download_is_byte_identical_to_what_was_posted() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let unicode = test_support::fixture_body("botim-unicode.json");
    let (status, _) = deliver(&app, case_by_id(&load("cases.json"), "botim-unicode")).await;
    assert_eq!(status, 200);
    // Tabs, CR LF, a no-break space and a trailing blank line, kept as sent.
    let odd = "{ \t\r\n  \"caf\u{e9}\" :\u{a0} 1 }\r\n\r\n"
        .as_bytes()
        .to_vec();
    assert_eq!(
        app.post_webhook("pingpong-main", &[], odd.clone())
            .await
            .status(),
        400
    );
    let stored = app.store.notifications().await.unwrap();

    app.sign_in_as(Role::Analyst).await;
    let forbidden = app.get(&format!("/deliveries/{}/raw", stored[0].id)).await;
    assert_eq!(forbidden.status(), 403);

    let ops = crate::helpers::browser_client();
    let (_, email) = app.create_user(Role::Ops).await;
    app.sign_in_with(&ops, &email, crate::helpers::PASSWORD)
        .await;
    for (row, sent) in stored.iter().zip([unicode, odd]) {
        let answer = app
            .get_with(&ops, &format!("/deliveries/{}/raw", row.id))
            .await;
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-type"], "application/octet-stream");
        assert!(answer.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"));
        assert_eq!(answer.bytes().await.unwrap().to_vec(), sent);
    }
    // The page lays the JSON out, shortens the signature and names the event.
    let page = app
        .get_with(&ops, &format!("/deliveries/{}", stored[0].id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Body, laid out"), "{page}");
    assert!(page.contains(" characters)"), "the signature is shortened");
    let dispute = app.dispute_page("botim-main", "O1001").await;
    assert!(
        page.contains(&format!("href=\"{dispute}\"")),
        "the event's dispute"
    );
    let odd_page = app
        .get_with(&ops, &format!("/deliveries/{}", stored[1].id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !odd_page.contains("Body, laid out"),
        "not JSON: only as received"
    );
    let missing = app.get_with(&ops, "/deliveries/999999/raw").await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_body_search_without_a_start_reads_the_last_week_and_says_so() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let cases = load("cases.json");
    deliver(&app, case_by_id(&cases, "pp-rfi")).await;
    deliver(&app, case_by_id(&cases, "pp-chargeback")).await;
    // The chargeback arrived a month ago.
    sqlx::query(
        "update notifications set received_at = now() - interval '30 days'
         where position('NOTIFICATION_OF_CHARGEBACK'::bytea in body) > 0",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.sign_in_as(Role::Ops).await;

    let (_, html) = app.get_page("/deliveries?q=2022102018024210348882").await;
    let week_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 6))
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    assert!(
        html.contains(&format!("Bodies are searched from {week_ago} on")),
        "{html}"
    );
    assert_eq!(html.matches("<tr").count() - 1, 1, "the RFI only: {html}");

    let (_, html) = app
        .get_page("/deliveries?q=2022102018024210348882&from=2000-01-01")
        .await;
    assert!(!html.contains("Bodies are searched from"), "{html}");
    assert_eq!(html.matches("<tr").count() - 1, 2, "{html}");
}

#[tokio::test]
async fn a_body_search_that_runs_too_long_is_stopped_and_said_so() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    deliver(&app, case_by_id(&load("cases.json"), "pp-rfi")).await;
    app.sign_in_as(Role::Ops).await;
    // Someone else holds the table: the search waits, as it would reading
    // a year of bodies, until its time limit stops it.
    let mut other = app.pool.begin().await.unwrap();
    sqlx::query("lock table notifications in access exclusive mode")
        .execute(&mut *other)
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let (status, html) = app.get_page("/deliveries?q=2022102018024210348882").await;
    let took = started.elapsed();
    other.rollback().await.unwrap();

    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("took longer than 5 seconds and was stopped"),
        "{html}"
    );
    assert!(took < std::time::Duration::from_secs(8), "{took:?}");
    let (_, replays) = app.get_page("/replays?q=2022102018024210348882").await;
    assert!(
        !replays.contains("was stopped"),
        "the lock is gone: {replays}"
    );
}

#[tokio::test]
async fn a_cursor_from_before_time_is_read_as_the_start_of_the_history() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    deliver(&app, case_by_id(&load("cases.json"), "pp-rfi")).await;
    app.sign_in_as(Role::Ops).await;

    for cursor in ["-377705000000000000.1", "-62135596800000000.1"] {
        let (status, html) = app.get_page(&format!("/deliveries?before={cursor}")).await;
        assert_eq!(status, 200, "{cursor}: {html}");
    }
    let (status, html) = app
        .get_page("/deliveries?before=99999999999999999999.1")
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("that page of the history does not exist"),
        "{html}"
    );
}

#[tokio::test]
async fn a_deeply_nested_body_is_not_laid_out_into_a_page_many_times_its_size() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    // 64 KiB nested 126 deep: PingPong refuses it (no signature), and it is
    // kept whole.
    let depth = 126;
    let inner = 64 * 1024 - 2 * depth;
    let items = vec!["1"; inner / 2].join(",");
    let mut nested = format!("{}{items}{}", "[".repeat(depth), "]".repeat(depth));
    nested.truncate(64 * 1024);
    assert!(serde_json::from_str::<serde_json::Value>(&nested).is_ok());
    let answer = app
        .post_webhook("pingpong-main", &[], nested.clone().into_bytes())
        .await;
    assert_eq!(answer.status(), 400);
    let id = app.store.notifications().await.unwrap()[0].id;
    assert_eq!(
        app.store
            .notification(id)
            .await
            .unwrap()
            .unwrap()
            .body
            .len(),
        nested.len()
    );
    app.sign_in_as(Role::Ops).await;

    let started = std::time::Instant::now();
    let (status, html) = app.get_page(&format!("/deliveries/{id}")).await;
    let took = started.elapsed();

    assert_eq!(status, 200);
    assert!(!html.contains("Body, laid out"), "not laid out");
    assert!(html.contains("Body as received"));
    assert!(html.len() < 200 * 1024, "{} bytes", html.len());
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
}
