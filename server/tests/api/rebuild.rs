//! Rebuilding disputes after a mapping change: a check finds exactly the
//! disputes whose events read differently today (or whose stored state is
//! not what their events fold into), says how each would change and writes
//! nothing; applying it writes that, keeps what arrived in between, and a
//! second check finds nothing. The same through the admin page, by job.
//!
//! The tests cannot change the mapping in the binary, so they make the
//! stored rows what an older mapping would have written.

use std::time::Duration;

use dispute_core::domain::Role;
use serde_json::json;

use crate::helpers::{post_pingpong, spawn_app, when_finished as finished, TestApp};

async fn chargeback(app: &TestApp, reference: &str) {
    post_pingpong(
        app,
        json!({
            "disputePspReference": reference,
            "eventCode": "NOTIFICATION_OF_CHARGEBACK",
            "defensePeriodEndsAt": "2026-12-20 00:00:00",
        }),
    )
    .await;
}

/// Three chargebacks, all needing a response.
async fn seeded() -> TestApp {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    for reference in ["PP-1", "PP-2", "PP-3"] {
        chargeback(&app, reference).await;
    }
    app
}

/// PP-1 as an older mapping would have recorded it: its chargeback read as
/// under review, so its dispute is under review with no deadline.
async fn as_an_older_mapping_read_it(app: &TestApp) {
    sqlx::query(
        "update dispute_events set status = 'under_review'
         where dispute_id = (select id from disputes where dispute_ref = 'PP-1')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "update disputes set status = 'under_review', deadline = null
         where dispute_ref = 'PP-1'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn state(app: &TestApp, reference: &str) -> (String, Option<jiff_sqlx::Timestamp>) {
    sqlx::query_as("select status, deadline from disputes where dispute_ref = $1")
        .bind(reference)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn event_statuses(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as(
        "select d.dispute_ref, e.status from dispute_events e
         join disputes d on d.id = e.dispute_id order by e.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn rebuild(app: &TestApp, apply: bool) -> String {
    let mut out = Vec::new();
    server::disputes_rebuild::run(&app.store, apply, &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn a_check_says_which_disputes_would_change_and_how_and_writes_nothing() {
    let app = seeded().await;
    as_an_older_mapping_read_it(&app).await;
    // PP-2's row is not what its events fold into (an older fold wrote it).
    sqlx::query("update disputes set reason = 'stale' where dispute_ref = 'PP-2'")
        .execute(&app.pool)
        .await
        .unwrap();
    let events_before = event_statuses(&app).await;

    let out = rebuild(&app, false).await;
    assert!(
        out.starts_with("checked 3 disputes: 2 would change (rebuild 1)\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "pingpong-main/PP-1: status Under review → Needs response; \
             deadline none → 2026-12-20 00:00 UTC; 1 events read anew"
        ),
        "{out}"
    );
    assert!(out.contains("pingpong-main/PP-2: reason stale → "), "{out}");
    assert!(!out.contains("PP-3"), "{out}");
    assert!(out.contains("nothing was written: run again with --apply"));

    assert_eq!(event_statuses(&app).await, events_before);
    assert_eq!(state(&app, "PP-1").await, ("under_review".into(), None));
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'disputes.rebuild_check'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn applying_writes_what_the_check_found_and_a_second_check_finds_nothing() {
    let app = seeded().await;
    as_an_older_mapping_read_it(&app).await;

    let out = rebuild(&app, true).await;
    assert!(
        out.contains("applied: 1 disputes rewritten (rebuild 2); 0 differ from the check"),
        "{out}"
    );
    let (status, deadline) = state(&app, "PP-1").await;
    assert_eq!(status, "needs_response");
    assert_eq!(
        deadline.map(|d| d.to_jiff().to_string()),
        Some("2026-12-20T00:00:00Z".into())
    );
    assert!(event_statuses(&app)
        .await
        .iter()
        .all(|(_, status)| status == "needs_response"));

    // The old values are kept with the apply, and it was audited.
    let kept: serde_json::Value =
        sqlx::query_scalar("select events from rebuild_changes where rebuild_id = 2")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(kept[0][1]["effect"]["Sets"][1], "under_review", "{kept}");
    assert_eq!(kept[0][2]["effect"]["Sets"][1], "needs_response", "{kept}");
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'disputes.rebuild_apply'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    let again = rebuild(&app, true).await;
    assert_eq!(again, "checked 3 disputes: 0 would change (rebuild 3)\n");
}

#[tokio::test]
async fn an_event_whose_body_no_longer_reads_is_kept_and_said_so() {
    let app = seeded().await;
    sqlx::query(
        "update notifications set body = convert_to('{\"broken', 'UTF8')
         where id = (select e.notification_id from dispute_events e
                     join disputes d on d.id = e.dispute_id where d.dispute_ref = 'PP-3')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let out = rebuild(&app, true).await;
    assert!(out.contains("1 would change"), "{out}");
    assert!(
        out.contains("pingpong-main/PP-3: event 3 kept as recorded: no longer reads: "),
        "{out}"
    );
    assert_eq!(state(&app, "PP-3").await.0, "needs_response");
}

#[tokio::test]
async fn what_arrives_between_the_check_and_the_apply_is_kept() {
    let app = seeded().await;
    as_an_older_mapping_read_it(&app).await;
    let by = dispute_store::Actor::default();
    let claim = dispute_store::new_claim();
    let check = app
        .store
        .request_rebuild(dispute_store::RebuildKind::Check, &by, Some(claim))
        .await
        .unwrap();
    let job = app.store.rebuild(check).await.unwrap().unwrap();
    dispute_workflows::rebuild::run(&app.store, &job, claim)
        .await
        .unwrap();

    // PP-1 is won before the check is applied.
    post_pingpong(
        &app,
        json!({"disputePspReference": "PP-1", "eventCode": "CHARGEBACK_REVERSED"}),
    )
    .await;
    let apply = app
        .store
        .request_rebuild(dispute_store::RebuildKind::Apply(check), &by, Some(claim))
        .await
        .unwrap();
    let job = app.store.rebuild(apply).await.unwrap().unwrap();
    dispute_workflows::rebuild::run(&app.store, &job, claim)
        .await
        .unwrap();

    assert_eq!(state(&app, "PP-1").await.0, "won");
    let changes = app.store.rebuild_changes(apply, 0, 10).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].unlike_check, Some(true));

    // A check is applied once.
    assert!(matches!(
        app.store
            .request_rebuild(dispute_store::RebuildKind::Apply(check), &by, None)
            .await,
        Err(dispute_store::StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn an_admin_checks_on_the_page_sees_the_changes_then_applies_them() {
    let app = seeded().await;
    as_an_older_mapping_read_it(&app).await;
    app.sign_in_as(Role::Admin).await;

    let (_, html) = app.get_page("/rebuilds").await;
    assert!(html.contains("No rebuild has been run."), "{html}");
    let answer = app.post_form(&app.client, "/api/rebuilds/check", &[]).await;
    let (target, html) = app.follow(&app.client, answer).await;
    assert_eq!(target, "/rebuilds/1");
    assert!(
        html.contains("nothing changes until you apply it"),
        "{html}"
    );

    let html = finished(&app, &target).await;
    assert!(
        html.contains("Checked 3 disputes: 1 would change. Nothing has been written."),
        "{html}"
    );
    assert!(
        html.contains("<strong>status</strong>: Under review → Needs response"),
        "{html}"
    );
    let dispute = app.dispute_page("pingpong-main", "PP-1").await;
    assert!(html.contains(&format!("href=\"{dispute}\"")), "{html}");
    assert!(
        html.contains("NOTIFICATION_OF_CHARGEBACK</code>: Chargeback Under review → Chargeback Needs response"),
        "{html}"
    );
    assert_eq!(state(&app, "PP-1").await.0, "under_review");

    let answer = app
        .post_form(&app.client, "/api/rebuilds/apply", &[("check", "1")])
        .await;
    let (target, _) = app.follow(&app.client, answer).await;
    assert_eq!(target, "/rebuilds/2");
    let html = finished(&app, &target).await;
    assert!(
        html.contains("Applied: 1 of 1 disputes rewritten."),
        "{html}"
    );
    assert!(html.contains("as the check found"), "{html}");
    assert_eq!(state(&app, "PP-1").await.0, "needs_response");

    // The check now links to its apply and cannot be applied twice.
    let (_, html) = app.get_page("/rebuilds/1").await;
    assert!(html.contains("Applied as rebuild 2"), "{html}");
    let answer = app
        .post_form(&app.client, "/api/rebuilds/apply", &[("check", "1")])
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(
        html.contains("This check has been applied already"),
        "{html}"
    );

    let (_, html) = app.get_page("/rebuilds").await;
    assert!(html.contains("2 · apply of check 1"), "{html}");
    let (status, _) = app.get_page("/rebuilds/nope").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn provider_text_in_a_rebuild_is_shown_as_text() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let hostile = "<script>alert(1)</script>\u{7}";
    post_pingpong(
        &app,
        json!({
            "disputePspReference": "PP-X",
            "eventCode": "NOTIFICATION_OF_CHARGEBACK",
            "reason": hostile,
        }),
    )
    .await;
    sqlx::query("update disputes set reason = 'old'")
        .execute(&app.pool)
        .await
        .unwrap();
    let out = rebuild(&app, false).await;
    assert!(
        out.contains("reason old → <script>alert(1)</script>\\u{7}"),
        "{out}"
    );

    app.sign_in_as(Role::Admin).await;
    let html = finished(&app, "/rebuilds/1").await;
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("old → &lt;script&gt;alert(1)&lt;/script&gt;\\u{7}"),
        "{html}"
    );
}

#[tokio::test]
async fn a_notification_waiting_on_a_rebuilds_lock_folds_the_rewritten_events() {
    let app = seeded().await;
    as_an_older_mapping_read_it(&app).await;
    // A rebuild holds PP-1's lock and rewrites its event as the mapping
    // reads it today, as `apply_rebuild` does…
    let mut rebuilding = app.pool.begin().await.unwrap();
    sqlx::query("select id from disputes where dispute_ref = 'PP-1' for update")
        .execute(&mut *rebuilding)
        .await
        .unwrap();
    // …while a second notice of the chargeback arrives and waits for it,
    // having read the events as they were.
    let arriving = {
        let app_address = app.address.clone();
        let mut fields: serde_json::Value =
            serde_json::from_slice(&test_support::fixture_body("pp-chargeback.json")).unwrap();
        let object = fields.as_object_mut().unwrap();
        object.remove("sign");
        object.insert("disputePspReference".into(), json!("PP-1"));
        object.insert("eventDate".into(), json!("2023-03-22 10:00:00"));
        let body = test_support::pingpong_signed(&fields);
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{app_address}/webhooks/pingpong-main"))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query(
        "update dispute_events set status = 'needs_response', revision = 1
         where dispute_id = (select id from disputes where dispute_ref = 'PP-1')",
    )
    .execute(&mut *rebuilding)
    .await
    .unwrap();
    sqlx::query(
        "update disputes set status = 'needs_response', revision = 1 where dispute_ref = 'PP-1'",
    )
    .execute(&mut *rebuilding)
    .await
    .unwrap();
    rebuilding.commit().await.unwrap();

    assert_eq!(arriving.await.unwrap(), 200);
    // Folded from the stale read, the old "under review" would outrank both
    // notices.
    assert_eq!(state(&app, "PP-1").await.0, "needs_response");
}
