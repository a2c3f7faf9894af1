//! The analyst's desk over HTTP: the work queue's filters in the address,
//! the CSV export of the same list, saved views, notes and assignments on a
//! dispute's page — with disputes made by signed notifications.

use dispute_core::domain::Role;

use server::config::Settings;

use crate::helpers::{post_pingpong, spawn_app, spawn_app_with, TestApp};

/// A PingPong notification for dispute `reference`, signed with the
/// fixtures' salt.
async fn pingpong(app: &TestApp, reference: &str, code: &str, amount: &str, order: &str) {
    pingpong_due(app, reference, code, amount, order, "2099-01-01 23:59:59").await;
}

/// The same, due at `deadline` (UTC, PingPong's format).
async fn pingpong_due(
    app: &TestApp,
    reference: &str,
    code: &str,
    amount: &str,
    order: &str,
    deadline: &str,
) {
    let fields = serde_json::json!({
        "disputePspReference": reference,
        "eventCode": code,
        "amount": amount,
        "merchantReference": order,
        "defensePeriodEndsAt": deadline,
    });
    post_pingpong(app, fields).await;
}

/// Three PingPong disputes (two due, one won) and Botim Money's chargeback.
async fn seeded() -> TestApp {
    seeded_with(Settings::default()).await
}

async fn seeded_with(settings: Settings) -> TestApp {
    let app = spawn_app_with(settings).await;
    app.import_fixture_connections().await;
    pingpong(
        &app,
        "PP-1",
        "NOTIFICATION_OF_CHARGEBACK",
        "129.90",
        "ORDER-1",
    )
    .await;
    pingpong(
        &app,
        "PP-2",
        "NOTIFICATION_OF_CHARGEBACK",
        "20000.00",
        "ORDER-2",
    )
    .await;
    pingpong(
        &app,
        "PP-3",
        "NOTIFICATION_OF_CHARGEBACK",
        "5.00",
        "ORDER-3",
    )
    .await;
    pingpong(&app, "PP-3", "CHARGEBACK_REVERSED", "5.00", "ORDER-3").await;
    let sign = test_support::fixture_sign("botim-chargeback");
    let answer = app
        .post_webhook(
            "botim-main",
            &[("sign", sign.as_str())],
            test_support::fixture_body("botim-chargeback.json"),
        )
        .await;
    assert_eq!(answer.status(), 200);
    app
}

/// The dispute references a queue page links to, in its order.
fn listed(html: &str) -> Vec<String> {
    html.split("href=\"/disputes/")
        .skip(1)
        .filter_map(|rest| rest.split_once("<code>")?.1.split('<').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_work_queue_shows_what_needs_a_response_soonest_first_then_what_has_no_deadline() {
    let app = seeded().await;
    app.sign_in_as(Role::Analyst).await;

    let (status, html) = app.get_page("/disputes").await;

    assert_eq!(status, 200);
    assert_eq!(listed(&html), ["PP-1", "PP-2", "O1000"], "{html}");
    assert!(html.contains("deadline not given"), "{html}");
    assert!(
        html.contains("20,000.00 USD"),
        "amounts are grouped: {html}"
    );
    let tabs = html.replace("<!>", "");
    assert!(
        tabs.contains("Needs response <span class=\"count\">3</span>"),
        "{html}"
    );
    assert!(
        tabs.contains("Won <span class=\"count\">1</span>"),
        "{html}"
    );
}

#[tokio::test]
async fn filters_and_orders_in_the_address_narrow_and_sort_the_queue() {
    let app = seeded().await;
    app.sign_in_as(Role::Analyst).await;

    for (query, expected) in [
        (
            "status=any&sort=amount",
            vec!["PP-2", "O1000", "PP-1", "PP-3"],
        ),
        ("status=won", vec!["PP-3"]),
        ("provider=botim_money", vec!["O1000"]),
        (
            "connection=pingpong-main&status=any&sort=opened_oldest",
            vec!["PP-1", "PP-2", "PP-3"],
        ),
        ("status=any&q=ORDER-2", vec!["PP-2"]),
        ("status=any&q=O1", vec!["O1000"]),
        ("status=any&currency=AED", vec!["O1000"]),
        (
            "status=any&amount_min=100&amount_max=1000",
            vec!["PP-1", "O1000"],
        ),
        ("deadline=7d", vec![]),
        ("assignee=me", vec![]),
    ] {
        let (status, html) = app.get_page(&format!("/disputes?{query}")).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(listed(&html), expected, "{query}");
    }
}

#[tokio::test]
async fn the_csv_export_lists_exactly_the_disputes_of_the_same_view_in_the_same_order() {
    let app = seeded().await;
    app.sign_in_as(Role::Analyst).await;

    for query in [
        "status=any&sort=amount",
        "provider=pingpong",
        "status=won",
        "q=nothing",
    ] {
        let (_, html) = app.get_page(&format!("/disputes?{query}")).await;
        assert!(
            html.contains(&format!(
                "href=\"/disputes.csv?{}\"",
                query.replace('&', "&amp;")
            )),
            "the page links its export: {html}"
        );
        let response = app.get(&format!("/disputes.csv?{query}")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        assert!(response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"disputes-"));
        let csv = response.text().await.unwrap();
        let mut lines = csv.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("dispute_ref,connection,provider,stage"));
        let refs: Vec<String> = lines
            .map(|line| line.split(',').next().unwrap().to_owned())
            .collect();
        assert_eq!(refs, listed(&html), "{query}");
    }
    let csv = app
        .get("/disputes.csv?status=any&q=PP-2")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("PP-2,pingpong-main,pingpong,chargeback,needs_response,2099-01-01T23:59:59Z,20000.00,USD,13.1,Merchandise Not Received,ORDER-2"),
        "{csv}"
    );

    let refused = app.get("/disputes.csv?provider=stripe").await;
    assert_eq!(refused.status(), 400);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains(r#"provider "stripe" is not a provider"#));
}

#[tokio::test]
async fn a_filter_it_cannot_read_is_named_and_markup_in_the_address_stays_text() {
    let app = seeded().await;
    app.sign_in_as(Role::Analyst).await;

    let (status, html) = app.get_page("/disputes?stage=%3Ch1%3EX%3C/h1%3E").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"stage "&lt;h1&gt;X&lt;/h1&gt;" is not a stage"#),
        "{html}"
    );
    assert!(!html.contains("<h1>X"), "{html}");

    let (_, html) = app
        .get_page("/disputes?status=any&q=%22%3E%3Cscript%3Ex")
        .await;
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("value=\"&quot;&gt;&lt;script&gt;x\""),
        "{html}"
    );

    let (_, html) = app.get_page("/disputes?q=a%07b").await;
    assert!(html.contains("without control characters"), "{html}");
    let (_, html) = app
        .get_page(&format!("/disputes?q={}", "x".repeat(5000)))
        .await;
    assert!(html.contains("at most 200 characters"), "{html}");
    let (_, html) = app.get_page("/disputes?after=not-a-cursor").await;
    assert!(
        html.contains("That page of the list does not exist."),
        "{html}"
    );
    // A cursor someone wrote with a time before any the database holds.
    use dispute_core::domain::{QueueCursor, Sort, SortValue};
    for (sort, value) in [
        (
            Sort::Deadline,
            SortValue::Due {
                settled: false,
                at: Some(jiff::Timestamp::MIN),
            },
        ),
        (Sort::Opened, SortValue::Time(Some(jiff::Timestamp::MIN))),
    ] {
        let cursor = app::pages::cursor_text(&QueueCursor { sort, value, id: 1 });
        let path = format!("/disputes?status=any&sort={}&after={cursor}", sort.as_str());
        let (status, html) = app.get_page(&path).await;
        assert_eq!(status, 200, "{path}: {html}");
    }
}

#[tokio::test]
async fn keyset_pages_walk_the_whole_queue_without_losing_or_repeating_a_dispute() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    // 55 disputes with the same deadline: only the tie-breaker orders them.
    for i in 0..55 {
        pingpong(
            &app,
            &format!("T-{i:02}"),
            "NOTIFICATION_OF_CHARGEBACK",
            "1.00",
            "O",
        )
        .await;
    }
    app.sign_in_as(Role::Analyst).await;

    let (_, first) = app.get_page("/disputes").await;
    let next = first
        .split("href=\"")
        .find_map(|rest| rest.split('"').next().filter(|h| h.contains("after=")))
        .expect("a next page")
        .replace("&amp;", "&");
    let (_, second) = app.get_page(&next).await;

    let mut all = listed(&first);
    assert_eq!(all.len(), 50);
    all.extend(listed(&second));
    let expected: Vec<String> = (0..55).map(|i| format!("T-{i:02}")).collect();
    assert_eq!(all, expected);
    assert!(
        !second.contains("rel=\"next\""),
        "the last page has no next"
    );
}

#[tokio::test]
async fn a_view_is_saved_under_a_name_found_in_the_menu_and_removed() {
    let app = seeded().await;
    app.sign_in_as(Role::Analyst).await;

    let saved = app
        .post_form(
            &app.client,
            "/api/disputes/views/save",
            &[
                ("name", "Big <b>ones</b>"),
                ("query", "status=any&sort=amount&junk=1"),
            ],
        )
        .await;
    let (target, html) = app.follow(&app.client, saved).await;

    assert_eq!(target, "/disputes?status=any&sort=amount");
    assert!(
        html.contains("View “Big &lt;b&gt;ones&lt;/b&gt;” saved"),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<a href="/disputes?status=any&amp;sort=amount">Big &lt;b&gt;ones&lt;/b&gt;</a>"#
        ),
        "{html}"
    );
    let id: i64 = sqlx::query_scalar("select id from saved_views")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let refused = app
        .post_form(
            &app.client,
            "/api/disputes/views/save",
            &[("name", "Bad"), ("query", "status=open")],
        )
        .await;
    let (_, html) = app.follow(&app.client, refused).await;
    assert!(html.contains(r#"status "open" is not a status"#), "{html}");

    let long = format!(
        "q={0}&reason_code={0}&status=any",
        "%F0%9F%98%80".repeat(200)
    );
    let refused = app
        .post_form(
            &app.client,
            "/api/disputes/views/save",
            &[("name", "Too long"), ("query", &long)],
        )
        .await;
    let (_, html) = app.follow(&app.client, refused).await;
    assert!(html.contains("This view is too long to save"), "{html}");

    let removed = app
        .post_form(
            &app.client,
            "/api/disputes/views/delete",
            &[("id", &id.to_string())],
        )
        .await;
    let (_, html) = app.follow(&app.client, removed).await;
    assert!(html.contains("View removed"), "{html}");
    assert!(html.contains("None yet"), "{html}");
}

#[tokio::test]
async fn a_note_and_an_assignment_appear_on_the_timeline_in_the_queue_and_in_the_audit_log() {
    let app = seeded().await;
    let email = app.sign_in_as(Role::Analyst).await;
    let page = app.dispute_page("pingpong-main", "PP-1").await;
    let id = app.dispute_id("pingpong-main", "PP-1").await;
    let form = |extra: (&'static str, &'static str)| vec![("dispute", id.as_str()), extra];

    let noted = app
        .post_form(
            &app.client,
            "/api/disputes/note",
            &form(("text", "Proof of delivery <b>sent</b>\nto the acquirer")),
        )
        .await;
    let (target, html) = app.follow(&app.client, noted).await;
    assert_eq!(target, page);
    assert!(html.contains("Note added"), "{html}");
    assert!(html.contains("Note by Test analyst"), "{html}");
    assert!(
        html.contains("Proof of delivery &lt;b&gt;sent&lt;/b&gt;\nto the acquirer"),
        "{html}"
    );

    let assigned = app
        .post_form(
            &app.client,
            "/api/disputes/assign",
            &form(("assignee", "me")),
        )
        .await;
    let (_, html) = app.follow(&app.client, assigned).await;
    assert!(html.contains("The dispute has a new owner"), "{html}");
    assert!(
        html.contains("Assigned to Test analyst by Test analyst"),
        "{html}"
    );
    let timeline = &html[html.find("<h2>Timeline</h2>").unwrap()..];
    let note_at = timeline.find("Note by").unwrap();
    let assigned_at = timeline.find("Assigned to Test analyst").unwrap();
    let chargeback_at = timeline.find("NOTIFICATION_OF_CHARGEBACK").unwrap();
    assert!(chargeback_at < note_at && note_at < assigned_at, "in order");

    let (_, mine) = app.get_page("/disputes?assignee=me").await;
    assert_eq!(listed(&mine), ["PP-1"]);
    let (_, unassigned) = app.get_page("/disputes?assignee=unassigned").await;
    assert_eq!(listed(&unassigned), ["PP-2", "O1000"]);

    let empty = app
        .post_form(&app.client, "/api/disputes/note", &form(("text", "   ")))
        .await;
    let (_, html) = app.follow(&app.client, empty).await;
    assert!(html.contains("a note cannot be empty"), "{html}");
    let unassigned = app
        .post_form(&app.client, "/api/disputes/assign", &form(("assignee", "")))
        .await;
    let (_, html) = app.follow(&app.client, unassigned).await;
    assert!(html.contains("Unassigned by Test analyst"), "{html}");

    let audit: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select action, subject, actor_email from audit_log where action like 'dispute.%' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let subject = "dispute pingpong-main/PP-1".to_owned();
    assert_eq!(
        audit,
        [
            ("dispute.note".into(), subject.clone(), Some(email.clone())),
            (
                "dispute.assign".into(),
                subject.clone(),
                Some(email.clone())
            ),
            ("dispute.assign".into(), subject, Some(email)),
        ]
    );
}

#[tokio::test]
async fn the_board_sorts_what_is_due_into_columns_with_the_amounts_at_risk_in_the_viewers_zone() {
    let app = seeded().await;
    app.sign_in_as(Role::Analyst).await;
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48);
    let soon_text = soon.strftime("%Y-%m-%d %H:%M:%S").to_string();
    pingpong_due(
        &app,
        "SOON-1",
        "NOTIFICATION_OF_CHARGEBACK",
        "1000.00",
        "S1",
        &soon_text,
    )
    .await;
    pingpong_due(
        &app,
        "SOON-2",
        "NOTIFICATION_OF_CHARGEBACK",
        "500.50",
        "S2",
        &soon_text,
    )
    .await;
    pingpong_due(
        &app,
        "LATE-1",
        "NOTIFICATION_OF_CHARGEBACK",
        "7.00",
        "L1",
        "2023-01-01 00:00:00",
    )
    .await;

    let zone = app
        .post_form(
            &app.client,
            "/api/account/timezone",
            &[("timezone", "Asia/Dubai")],
        )
        .await;
    let (target, account) = app.follow(&app.client, zone).await;
    assert_eq!(target, "/account");
    assert!(
        account.contains("Times are now shown in Asia/Dubai"),
        "{account}"
    );
    let (_, html) = app.get_page("/deadlines").await;

    let section = |title: &str| {
        let start = html.find(&format!("aria-label=\"{title}\"")).expect(title);
        let end = html[start..].find("</section>").unwrap() + start;
        html[start..end].replace("<!>", "")
    };
    let overdue = section("Overdue");
    assert!(
        overdue.contains("LATE-1") && overdue.contains("7.00 USD"),
        "{overdue}"
    );
    let next = section("Next 3 days");
    assert!(next.contains("<span class=\"count\">2</span>"), "{next}");
    assert!(next.contains("1,500.50 USD"), "the amount at risk: {next}");
    assert!(next.contains("SOON-1") && next.contains("SOON-2"), "{next}");
    let local = dispute_core::domain::display_time::local_and_utc(
        soon,
        &jiff::tz::TimeZone::get("Asia/Dubai").unwrap(),
        jiff::Timestamp::now(),
    );
    assert!(next.contains(&local), "the viewer's zone first: {next}");
    let none = section("Needs a response, no deadline given");
    assert!(
        none.contains("O1000") && none.contains("200.00 AED"),
        "{none}"
    );
    assert!(section("Due today").contains("nothing at risk"));

    let refused = app
        .post_form(
            &app.client,
            "/api/account/timezone",
            &[("timezone", "Mars/Olympus")],
        )
        .await;
    let (_, account) = app.follow(&app.client, refused).await;
    assert!(account.contains("is not a time zone name"), "{account}");
    let audit: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'user.timezone'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn the_dashboard_shows_its_figures_as_charts_and_tables_and_follows_new_events() {
    let app = seeded_with(Settings {
        dashboard_refresh: std::time::Duration::from_secs(1),
        ..Settings::default()
    })
    .await;
    app.sign_in_as(Role::Analyst).await;
    let yesterday = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24))
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    for (reference, code) in [
        ("NEW-1", "NOTIFICATION_OF_CHARGEBACK"),
        ("NEW-1", "CHARGEBACK_REVERSED"),
        ("NEW-2", "NOTIFICATION_OF_CHARGEBACK"),
        ("NEW-2", "CHARGEBACK_RETURN"),
    ] {
        let fields = serde_json::json!({
            "disputePspReference": reference, "eventCode": code, "eventDate": yesterday,
        });
        post_pingpong(&app, fields).await;
    }

    // The figures are recomputed by a job within a period of new events.
    let html = dashboard_showing(&app, "<strong>3</strong> open disputes").await;
    // The tile's parts each link to the list of their status.
    assert!(
        html.contains(r#"<a href="/disputes">3 need a response</a>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/disputes?status=under_review">0 under review</a>"#),
        "{html}"
    );
    assert!(
        html.contains("20,129.90 USD"),
        "PP-1 and PP-2 at risk: {html}"
    );
    assert!(html.contains("200.00 AED"), "{html}");
    assert!(
        html.contains("aria-label=\"Open disputes by stage: Chargeback 3\""),
        "a chart is named by its numbers: {html}"
    );
    assert!(html.contains("role=\"img\""), "{html}");
    assert!(html.contains("<summary>The numbers</summary>"), "{html}");
    assert!(html.contains("Disputes opened per week"), "{html}");
    assert!(
        html.contains("<td>PingPong Checkout</td><td class=\"number\">1</td><td class=\"number\">1</td><td class=\"number\">0</td><td class=\"number\">50 %</td>"),
        "won NEW-1, lost NEW-2 within 90 days: {html}"
    );
    assert_eq!(
        html.matches("<svg").count(),
        3,
        "open by stage, opened per week, win rates"
    );
    assert!(!html.contains("<script"), "{html}");

    pingpong(
        &app,
        "PP-4",
        "NOTIFICATION_OF_CHARGEBACK",
        "1.00",
        "ORDER-4",
    )
    .await;
    dashboard_showing(&app, "<strong>4</strong> open disputes").await;
}

/// The dashboard once it shows `figure` (within a few refresh periods).
async fn dashboard_showing(app: &TestApp, figure: &str) -> String {
    let mut seen = String::new();
    for _ in 0..50 {
        let (status, html) = app.get_page("/dashboard").await;
        assert_eq!(status, 200);
        seen = html.replace("<!>", "");
        if seen.contains(figure) {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the dashboard never showed {figure}: {seen}");
}

#[tokio::test]
async fn ops_follow_a_timeline_event_to_its_raw_notification_and_analysts_do_not_see_the_link() {
    let app = seeded().await;
    let fields = serde_json::json!({
        "disputePspReference": "RAW-1", "reason": "<script>alert(1)</script>\u{7}",
    });
    post_pingpong(&app, fields).await;
    app.sign_in_as(Role::Ops).await;
    let raw = app.dispute_page("pingpong-main", "RAW-1").await;
    let (_, page) = app.get_page(&raw).await;

    let link = page
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.starts_with("/deliveries/"))
        .expect("a link to the raw notification")
        .to_owned();
    let (status, html) = app.get_page(&link).await;

    assert_eq!(status, 200);
    let id: i64 = link.trim_start_matches("/deliveries/").parse().unwrap();
    let stored = app.store.notification(id).await.unwrap().unwrap();
    assert_eq!(stored.verdict.as_str(), "valid");
    assert!(html.contains("<h1>Delivery"), "{html}");
    assert!(html.contains(&hex_sha256(&stored.body)), "{html}");
    assert!(html.contains("content-length"), "the headers: {html}");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("200"), "the answer: {html}");
    assert_eq!(app.get_page("/deliveries/999999").await.0, 404);
    assert_eq!(app.get_page("/deliveries/not-a-number").await.0, 404);

    let analyst = crate::helpers::browser_client();
    let (_, email) = app.create_user(Role::Analyst).await;
    app.sign_in_with(&analyst, &email, crate::helpers::PASSWORD)
        .await;
    let page = app.get_with(&analyst, &raw).await.text().await.unwrap();
    assert!(!page.contains("raw notification"), "{page}");
    assert_eq!(app.get_with(&analyst, &link).await.status(), 403);
}

fn hex_sha256(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(body))
}

#[tokio::test]
async fn a_dispute_reference_with_markup_and_control_characters_stays_text_everywhere_it_is_shown()
{
    let app = seeded().await;
    let reference = "<b onclick=x>X\u{7}\"'";
    let fields = serde_json::json!({ "disputePspReference": reference });
    post_pingpong(&app, fields).await;
    app.sign_in_as(Role::Ops).await;

    let (_, queue) = app.get_page("/disputes?status=any&q=%3Cb%20onclick").await;
    assert!(!queue.contains("<b onclick"), "{queue}");
    assert!(queue.contains("&lt;b onclick=x&gt;X\\u{7}"), "{queue}");
    assert!(!queue.contains('\u{7}'), "{queue}");
    let page = app.dispute_page("pingpong-main", reference).await;
    let (status, html) = app.get_page(&page).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("<b onclick"), "{html}");
    assert!(
        html.contains("<title>Dispute &lt;b onclick=x&gt;X\\u{7}"),
        "{html}"
    );
    assert!(
        html.contains("<dd><code>&lt;b onclick=x&gt;X\\u{7}"),
        "shown escaped; the forms' hidden values carry it exactly: {html}"
    );
    let csv = app
        .get("/disputes.csv?status=any&q=%3Cb%20onclick")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("\"<b onclick=x>X\u{7}\"\"'\""),
        "CSV quotes it: {csv}"
    );

    let oversized = serde_json::json!({ "disputePspReference": "R".repeat(500) });
    let mut fields: serde_json::Value =
        serde_json::from_slice(&test_support::fixture_body("pp-chargeback.json")).unwrap();
    fields.as_object_mut().unwrap().remove("sign");
    fields["disputePspReference"] = oversized["disputePspReference"].clone();
    let answer = app
        .post_webhook("pingpong-main", &[], test_support::pingpong_signed(&fields))
        .await;
    assert_eq!(answer.status(), 400, "an oversized reference is malformed");
}

#[tokio::test]
async fn every_reference_a_provider_may_send_has_a_page_notes_and_a_status_query() {
    let app = seeded().await;
    app.sign_in_as(Role::Analyst).await;
    for reference in ["a/b", "..", ".", "x/../y", "%2F", "?q=1#f"] {
        post_pingpong(
            &app,
            serde_json::json!({ "disputePspReference": reference }),
        )
        .await;
        let (_, queue) = app
            .get_page(&format!(
                "/disputes?status=any&q={}",
                urlencoding::encode(reference)
            ))
            .await;
        let page = app.dispute_page("pingpong-main", reference).await;
        assert!(
            queue.contains(&format!("href=\"{page}\"")),
            "{reference}: {queue}"
        );
        let (status, html) = app.get_page(&page).await;
        assert_eq!(status, 200, "{reference}: {html}");
        let shown = html_escape::encode_text(reference).into_owned();
        assert!(
            html.contains(&format!("<h1>Dispute {shown}</h1>")),
            "{html}"
        );

        let id = &app.dispute_id("pingpong-main", reference).await;
        let noted = app
            .post_form(
                &app.client,
                "/api/disputes/note",
                &[("dispute", id), ("text", "called the customer")],
            )
            .await;
        let (target, html) = app.follow(&app.client, noted).await;
        assert_eq!(target, page);
        assert!(html.contains("Note added"), "{reference}: {html}");
        let asked = app
            .post_form(&app.client, "/api/disputes/query", &[("dispute", id)])
            .await;
        let (target, _) = app.follow(&app.client, asked).await;
        assert_eq!(target, page, "{reference}");
        let mut queries: i64 = 0;
        for _ in 0..50 {
            queries = sqlx::query_scalar(
                "select count(*) from status_queries q join disputes d on d.id = q.dispute_id
                 where d.dispute_ref = $1",
            )
            .bind(reference)
            .fetch_one(&app.pool)
            .await
            .unwrap();
            if queries > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(queries, 1, "{reference}: the provider was asked");
    }
}
