use app::{assets::STYLESHEET_PATH, layout::NAVIGATION};

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_navigation_entry_renders_its_page_with_its_heading() {
    let app = spawn_app().await;
    for (path, label) in NAVIGATION {
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
        for (other, _) in NAVIGATION {
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
    let (_, html) = app.get_page("/connections").await;
    assert!(html.contains("No connections yet"), "{html}");
    assert!(!html.contains("<script"), "{html}");
}

#[tokio::test]
async fn the_home_page_sends_the_browser_to_the_disputes() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/disputes");
}

#[tokio::test]
async fn an_unknown_address_answers_404_with_the_not_found_page() {
    let app = spawn_app().await;
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
    sqlx::query(
        "insert into connections (slug, provider, display_name, enabled) values \
         ('pingpong-main', 'pingpong', 'PingPong EU', true), ('botim-main', 'botim_money', '', false)",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let (status, html) = app.get_page("/connections").await;

    assert_eq!(status, 200);
    assert!(html.contains("<td>PingPong EU</td>"), "{html}");
    assert!(
        html.contains("<code>/webhooks/pingpong-main</code>"),
        "{html}"
    );
    assert!(html.contains("<td>botim-main</td>"), "{html}");
    assert!(html.contains("disabled"), "{html}");
}

#[tokio::test]
async fn a_page_whose_data_cannot_be_read_answers_500_without_internals() {
    let app = spawn_app().await;
    app.take_database_down().await;

    let (status, html) = app.get_page("/connections").await;

    assert_eq!(status, 500);
    assert!(html.contains("<h1>Something went wrong</h1>"), "{html}");
    for internal in ["sqlx", "database", "pg_", "dd_test_"] {
        assert!(!html.contains(internal), "leaks {internal}: {html}");
    }
}

#[tokio::test]
async fn the_stylesheet_is_served_under_its_hash_and_cached_forever() {
    let app = spawn_app().await;
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
