use app::{assets::STYLESHEET_PATH, layout::NAVIGATION};
use dispute_core::domain::Role;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_navigation_entry_renders_its_page_with_its_heading() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    for (path, label, ..) in NAVIGATION {
        let (status, html) = app.get_page(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            html.contains(&format!("<h1>{label}</h1>")),
            "{path}: {html}"
        );
        assert!(
            html.contains(&format!("<title>{label} · Dispute Desk</title>")),
            "{path}"
        );
        for (other, ..) in NAVIGATION {
            assert!(
                html.contains(&format!("href=\"{other}\"")),
                "{path} links {other}"
            );
        }
    }
}

#[tokio::test]
async fn pages_are_complete_without_javascript() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let (_, html) = app.get_page("/connections").await;
    assert!(html.contains("No connections yet"), "{html}");
    assert!(!html.contains("<script"), "{html}");
}

#[tokio::test]
async fn the_home_page_sends_the_browser_to_the_disputes() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Analyst).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/disputes");
}

#[tokio::test]
async fn an_unknown_address_answers_404_with_the_not_found_page() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Analyst).await;
    let (status, html) = app.get_page("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("<h1>Page not found</h1>"), "{html}");
    assert!(
        html.contains("href=\"/disputes\""),
        "the layout is there: {html}"
    );
}

#[tokio::test]
async fn the_connections_page_lists_what_the_database_holds() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    sqlx::query(
        "insert into connections (slug, provider, display_name, enabled) values \
         ('pingpong-main', 'pingpong', 'PingPong EU', true), ('botim-main', 'botim_money', '', false)",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let (status, html) = app.get_page("/connections").await;

    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<a href="/connections/pingpong-main">PingPong EU</a>"#),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<code>{}/webhooks/pingpong-main</code>",
            app.address
        )),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/connections/botim-main">botim-main</a>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="badge off">disabled</span>"#),
        "{html}"
    );
    let botim = html.find("botim-main").unwrap();
    assert!(botim < html.find("pingpong-main").unwrap(), "by slug");
}

#[tokio::test]
async fn a_page_whose_data_cannot_be_read_answers_500_without_internals() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    sqlx::query("alter table connections rename to connections_elsewhere")
        .execute(&app.pool)
        .await
        .unwrap();

    let (status, html) = app.get_page("/connections").await;

    assert_eq!(status, 500);
    assert!(html.contains("<h1>Something went wrong</h1>"), "{html}");
    for internal in [
        "sqlx",
        "database",
        "pg_",
        "dd_test_",
        "connections_elsewhere",
    ] {
        assert!(!html.contains(internal), "leaks {internal}: {html}");
    }
}

#[tokio::test]
async fn with_the_database_down_a_page_answers_503_without_internals() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    app.take_database_down().await;

    let (status, html) = app.get_page("/disputes").await;

    assert_eq!(status, 503);
    assert!(html.contains("<h1>Something went wrong</h1>"), "{html}");
    for internal in ["sqlx", "database", "pg_", "dd_test_"] {
        assert!(!html.contains(internal), "leaks {internal}: {html}");
    }
}

#[tokio::test]
async fn the_stylesheet_is_served_under_its_hash_and_cached_forever() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Analyst).await;
    let (_, html) = app.get_page("/disputes").await;
    assert!(html.contains(&format!("href=\"{STYLESHEET_PATH}\"")));

    let response = app.get(STYLESHEET_PATH).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/css; charset=utf-8"
    );
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(response.text().await.unwrap().contains(".topbar"));
}

async fn post_fixture(app: &crate::helpers::TestApp, slug: &str, name: &str, sign: Option<&str>) {
    let body = std::fs::read(test_support::fixtures().join("bodies").join(name)).unwrap();
    let headers: Vec<(&str, &str)> = sign.map(|s| ("sign", s)).into_iter().collect();
    let response = app.post_webhook(slug, &headers, body).await;
    assert!(response.status().is_success(), "{name}");
}

#[tokio::test]
async fn the_disputes_deadlines_and_deliveries_pages_show_what_intake_recorded() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    app.import_fixture_connections().await;
    post_fixture(&app, "pingpong-main", "pp-chargeback.json", None).await;
    post_fixture(&app, "pingpong-main", "pp-fraud-alert.json", None).await;
    post_fixture(&app, "pingpong-main", "pp-rfi.json", None).await;
    let _ = app.post_webhook("pingpong-main", &[], b"{".to_vec()).await;

    let (_, disputes) = app.get_page("/disputes").await;
    assert!(
        disputes.contains("<code>202303071954574059</code>"),
        "{disputes}"
    );
    assert!(
        disputes.contains("<code>202303110800001102</code>"),
        "{disputes}"
    );
    assert!(
        disputes.contains("129.90 USD") && disputes.contains("45.00 USD"),
        "{disputes}"
    );
    assert!(
        disputes.contains("Fraud alert") && disputes.contains("Chargeback"),
        "{disputes}"
    );

    // The chargeback is due 2023-04-05; the fraud alert needs a response
    // too but has no deadline, so it comes after.
    let (_, deadlines) = app.get_page("/deadlines").await;
    let dated = deadlines
        .find("Wed 5 Apr 2023, 23:59 UTC")
        .expect("{deadlines}");
    let undated = deadlines.find("202303110800001102").expect("{deadlines}");
    assert!(dated < undated, "{deadlines}");

    let (_, deliveries) = app.get_page("/deliveries").await;
    assert_eq!(
        deliveries.matches(">valid</span>").count(),
        3,
        "{deliveries}"
    );
    assert_eq!(
        deliveries.matches(">malformed</span>").count(),
        1,
        "{deliveries}"
    );
    let malformed_at = deliveries.find(">malformed</span>").unwrap();
    let first_valid_at = deliveries.find(">valid</span>").unwrap();
    assert!(malformed_at < first_valid_at, "newest first");
}

#[tokio::test]
async fn deadlines_are_listed_soonest_first() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Analyst).await;
    app.import_fixture_connections().await;
    post_fixture(&app, "pingpong-main", "pp-prearbitration.json", None).await;
    let sign = test_support::fixture_sign("pm-inquiry-flat");
    post_fixture(&app, "payermax-main", "pm-inquiry-flat.json", Some(&sign)).await;

    let (_, html) = app.get_page("/deadlines").await;

    let payermax = html
        .find("Wed 26 Apr 2023, 23:59 UTC")
        .expect("PayerMax's deadline");
    let pingpong = html
        .find("Sat 20 May 2023, 23:59 UTC")
        .expect("PingPong's deadline");
    assert!(payermax < pingpong, "{html}");
}

#[tokio::test]
async fn a_dispute_page_shows_its_facts_its_timeline_in_the_order_things_happened_and_its_payments()
{
    let app = spawn_app().await;
    app.sign_in_as(Role::Analyst).await;
    app.import_fixture_connections().await;
    post_fixture(&app, "pingpong-main", "pp-chargeback.json", None).await;
    post_fixture(&app, "pingpong-main", "pp-chargeback.json", None).await;
    // A request for information that happened before the chargeback but
    // arrives after it, its reason carrying markup and a control character.
    let mut rfi: serde_json::Value =
        serde_json::from_slice(&test_support::fixture_body("pp-chargeback.json")).unwrap();
    rfi.as_object_mut().unwrap().remove("sign");
    rfi["eventCode"] = "REQUEST_FOR_INFORMATION".into();
    rfi["eventDate"] = "2023-03-10 08:00:00".into();
    rfi["reason"] = "<script>alert(1)</script>\u{7}".into();
    let answer = app
        .post_webhook("pingpong-main", &[], test_support::pingpong_signed(&rfi))
        .await;
    assert_eq!(answer.status(), 200);
    let refund = serde_json::json!({
        "notifyType": "REFUND", "status": "SUCCESS", "transactionId": "PS23030716214681886",
        "merchantTransactionId": "PShop20230307162139KX", "refundId": "RF1", "amount": "129.90",
        "currency": "USD", "refundTime": "1679400000000"
    });
    let refund = serde_json::json!({
        "accId": "2022102018024210348882", "clientId": "2022102018024210348", "code": "000000",
        "description": "success", "bizContent": refund.to_string(), "signType": "SHA256"
    });
    let answer = app
        .post_webhook("pingpong-main", &[], test_support::pingpong_signed(&refund))
        .await;
    assert_eq!(answer.status(), 200);

    let (_, list) = app.get_page("/disputes").await;
    let link = app
        .dispute_page("pingpong-main", "202303071954574059")
        .await;
    assert!(list.contains(&format!("href=\"{link}\"")), "{list}");
    let (status, html) = app.get_page(&link).await;

    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("<h1>Dispute 202303071954574059</h1>"),
        "{html}"
    );
    for fact in [
        "PingPong Checkout",
        "PS23030716214681886",
        "PShop20230307162139KX",
        "129.90 USD",
        "Wed 5 Apr 2023, 23:59 UTC",
        "overdue by",
        "Needs response",
        "Visa · Consumer dispute: Merchandise or services not received. The network usually allows 30 days",
        "The status comes from “Chargeback opened” (NOTIFICATION_OF_CHARGEBACK, Tue 21 Mar 2023, 10:02), and so does the deadline.",
        "Chargeback opened — respond by Wed 5 Apr 2023, 23:59",
    ] {
        assert!(html.contains(fact), "{fact}: {html}");
    }
    let timeline = &html[html.find("<h2>Timeline</h2>").expect("the timeline")..];
    let rfi_at = timeline.find("REQUEST_FOR_INFORMATION").expect("the RFI");
    let chargeback_at = timeline
        .find("NOTIFICATION_OF_CHARGEBACK")
        .expect("the chargeback");
    assert!(rfi_at < chargeback_at, "in the order they happened");
    assert_eq!(html.matches("arrived late").count(), 1, "{html}");
    assert_eq!(
        html.matches("delivered 1 more time").count(),
        1,
        "the chargeback's redelivery is a count, not a row: {html}"
    );
    assert_eq!(timeline.matches("NOTIFICATION_OF_CHARGEBACK").count(), 1);
    assert!(!html.contains("<script>alert"), "markup is escaped");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains('\u{7}'), "control characters are not sent");
    assert!(html.contains("&lt;/script&gt;\\u{7}"), "but shown escaped");
    let payments = &html[html.find("Payment history").unwrap()..];
    assert!(
        payments.contains("REFUND") && payments.contains("RF1"),
        "{payments}"
    );

    for missing in ["/disputes/999999", "/disputes/no-such-dispute"] {
        assert_eq!(app.get_page(missing).await.0, 404, "{missing}");
    }
}

#[tokio::test]
async fn a_chargeback_without_a_deadline_is_in_the_boards_column_for_those_after_the_dated_ones() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Analyst).await;
    app.import_fixture_connections().await;
    post_fixture(&app, "pingpong-main", "pp-chargeback.json", None).await;
    let sign = test_support::fixture_sign("botim-chargeback");
    post_fixture(&app, "botim-main", "botim-chargeback.json", Some(&sign)).await;

    let (_, html) = app.get_page("/deadlines").await;

    let dated = html
        .find("202303071954574059")
        .expect("PingPong's chargeback");
    let undated = html.find("O1000").expect("Botim's chargeback");
    let column = html
        .find("Needs a response, no deadline given")
        .expect("the column");
    assert!(dated < column && column < undated, "{html}");
}
