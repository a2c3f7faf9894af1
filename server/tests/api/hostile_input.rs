//! What a lured admin or a curious person can send through the pages:
//! markup, control characters and oversized values in every form field and
//! address parameter, non-canonical paths, oversized forms. Each is shown as
//! text or refused with a clear answer — never run, never a 500, nothing
//! half-stored.

use dispute_core::domain::Role;
use reqwest::header::CACHE_CONTROL;

use crate::helpers::{spawn_app, TestApp, PASSWORD};

/// Closes a textarea and an attribute, then opens tags of its own.
const MARKUP: &str = r#"</textarea>"'><h1>X</h1><script>alert(1)</script>"#;

/// A PayerMax connection form with markup in every field it echoes.
const MARKUP_IN_EVERY_FIELD: [(&str, &str); 11] = [
    ("provider", "payermax"),
    ("display_name", MARKUP),
    ("account_id", MARKUP),
    ("app_id", MARKUP),
    ("timezone", MARKUP),
    ("query_preset", "custom"),
    ("query_base_url", MARKUP),
    ("source_allowlist", MARKUP),
    ("enabled", "on"),
    ("verification_key", MARKUP),
    ("signing_key", MARKUP),
];

fn assert_inert(html: &str) {
    assert!(!html.contains("<h1>X</h1>"), "raw markup came back: {html}");
    // Only the sign-in page's own script, loaded by address, at most once.
    let scripts = html.matches("<script").count();
    let own = html.matches("<script src=\"/assets/zone-").count();
    assert!(scripts == own && own <= 1, "a script came back: {html}");
}

async fn connections(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from connections")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_refused_new_connection_shows_every_typed_field_as_text() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let mut form = vec![("creating", "yes"), ("slug", MARKUP)];
    form.extend(MARKUP_IN_EVERY_FIELD);

    let refused = app
        .post_form(&app.client, "/api/connections/save", &form)
        .await;
    let (target, html) = app.follow(&app.client, refused).await;

    assert_eq!(target, "/connections/new?provider=payermax");
    assert_inert(&html);
    assert!(
        html.contains("&lt;/textarea&gt;\"'&gt;&lt;h1&gt;X&lt;/h1&gt;"),
        "the allowlist comes back escaped: {html}"
    );
    assert!(html.contains("is not a connection slug"), "{html}");
    assert_eq!(connections(&app).await, 0);
}

#[tokio::test]
async fn a_refused_connection_edit_shows_every_typed_field_as_text() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    app.import_fixture_connections().await;
    let mut form = vec![("slug", "payermax-main")];
    form.extend(MARKUP_IN_EVERY_FIELD);

    let refused = app
        .post_form(&app.client, "/api/connections/save", &form)
        .await;
    let (target, html) = app.follow(&app.client, refused).await;

    assert_eq!(target, "/connections/payermax-main");
    assert_inert(&html);
    assert!(
        html.contains("&lt;/textarea&gt;\"'&gt;&lt;h1&gt;X&lt;/h1&gt;"),
        "the typed allowlist comes back escaped: {html}"
    );
    let stored: String =
        sqlx::query_scalar("select display_name from connections where slug = 'payermax-main'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!stored.contains("<h1>"), "nothing was saved: {stored}");
}

#[tokio::test]
async fn links_can_neither_fill_a_form_nor_put_words_on_a_page() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let payload = urlencoding::encode(MARKUP);

    for path in [
        format!("/connections/new?provider=pingpong&source_allowlist={payload}&slug={payload}"),
        format!("/disputes?notice={payload}&error={payload}"),
        format!("/users?notice={payload}"),
        format!("/connections?error={payload}"),
    ] {
        let (status, html) = app.get_page(&path).await;
        assert_eq!(status, 200, "{path}");
        assert_inert(&html);
        assert!(
            !html.contains("h1&gt;X"),
            "text from the link is not shown at all: {html}"
        );
    }
}

#[tokio::test]
async fn saved_settings_and_names_with_markup_are_shown_as_text() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    app.import_fixture_connections().await;
    let saved = app
        .post_form(
            &app.client,
            "/api/connections/save",
            &[
                ("slug", "pingpong-main"),
                ("provider", "pingpong"),
                ("display_name", "<h1>X</h1>"),
                ("account_id", "<script>alert(1)</script>"),
                ("timezone", "UTC"),
                ("query_preset", "production"),
                ("query_base_url", ""),
                ("source_allowlist", ""),
                ("enabled", "on"),
            ],
        )
        .await;
    let (_, detail) = app.follow(&app.client, saved).await;
    assert!(detail.contains("saved"), "{detail}");
    app.post_form(
        &app.client,
        "/api/users/create",
        &[
            ("email", "person@example.com"),
            ("display_name", "<h1>X</h1>"),
            ("role", "analyst"),
            ("password", "temporary password 1"),
        ],
    )
    .await;

    for path in [
        "/connections",
        "/connections/pingpong-main",
        "/users",
        "/audit",
    ] {
        let (status, html) = app.get_page(path).await;
        assert_eq!(status, 200, "{path}");
        assert_inert(&html);
        assert!(html.contains("&lt;h1&gt;X&lt;/h1&gt;"), "{path}: {html}");
    }
}

#[tokio::test]
async fn address_parameters_echoed_into_forms_are_escaped() {
    let app = spawn_app().await;
    let payload = urlencoding::encode(MARKUP);
    for path in [
        format!("/login?next={payload}"),
        format!("/setup?token={payload}"),
        format!("/setup?token=x&error={payload}"),
    ] {
        let (_, html) = app.get_page(&path).await;
        assert_inert(&html);
    }
    app.sign_in_as(Role::Admin).await;
    let (status, html) = app
        .get_page(&format!("/audit?actor={payload}&since=2020-01-01"))
        .await;
    assert_eq!(status, 200);
    assert_inert(&html);
}

#[tokio::test]
async fn control_characters_and_oversized_values_are_refused_without_a_500() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    app.import_fixture_connections().await;
    let long = "x".repeat(20_000);
    let before = (
        connections(&app).await,
        app.store.user_count().await.unwrap(),
    );

    for value in ["a\u{0}b", "a\u{7}b\r\nc", long.as_str()] {
        for (endpoint, form) in [
            (
                "/api/connections/save",
                vec![
                    ("creating", "yes"),
                    ("provider", "pingpong"),
                    ("slug", "new-one"),
                    ("display_name", value),
                    ("account_id", value),
                    ("timezone", "UTC"),
                    ("query_preset", "production"),
                    ("query_base_url", ""),
                    ("source_allowlist", ""),
                    ("verification_key", "a salt that is long enough"),
                ],
            ),
            (
                "/api/users/create",
                vec![
                    ("email", value),
                    ("display_name", "Someone"),
                    ("role", "analyst"),
                    ("password", "temporary password 1"),
                ],
            ),
            (
                "/api/users/create",
                vec![
                    ("email", "someone@example.com"),
                    ("display_name", value),
                    ("role", value),
                    ("password", "temporary password 1"),
                ],
            ),
            (
                "/api/connections/add-key",
                vec![("slug", value), ("key", value)],
            ),
            ("/api/connections/promote-key", vec![("slug", value)]),
            ("/api/users/update", vec![("id", value), ("role", value)]),
            (
                "/api/login",
                vec![("email", value), ("password", value), ("next", value)],
            ),
        ] {
            let answer = app.post_form(&app.client, endpoint, &form).await;
            let status = answer.status().as_u16();
            assert!(
                status == 302 || status == 400,
                "{endpoint} with {:?}: {status}",
                &value[..value.len().min(10)]
            );
        }
        for path in [
            format!("/audit?actor={}", urlencoding::encode(value)),
            format!("/connections/{}", urlencoding::encode(value)),
        ] {
            let status = app.get(&path).await.status().as_u16();
            assert!(status == 200 || status == 404, "{path}: {status}");
        }
    }

    assert_eq!(
        (
            connections(&app).await,
            app.store.user_count().await.unwrap()
        ),
        before,
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_refused_server_function_answers_its_status_with_a_page_or_json() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;

    let from_a_form = app
        .post_form(
            &app.client,
            "/api/connections/promote-key",
            &[("slug", "no-such-connection")],
        )
        .await;
    let from_a_script = app
        .client
        .post(format!("{}/api/connections/promote-key", app.address))
        .header("origin", &app.address)
        .form(&[("slug", "no-such-connection")])
        .send()
        .await
        .unwrap();

    assert_eq!(from_a_form.status(), 400);
    let page = from_a_form.text().await.unwrap();
    assert!(page.contains("there is no connection"), "{page}");
    assert_eq!(from_a_script.status(), 400);
    let json: serde_json::Value = from_a_script.json().await.unwrap();
    assert_eq!(
        json["error"],
        "there is no connection \"no-such-connection\""
    );
}

#[tokio::test]
async fn a_form_over_the_size_limit_answers_413_with_a_page() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let huge = "k".repeat(300 * 1024);

    let answer = app
        .post_form(
            &app.client,
            "/api/connections/add-key",
            &[("slug", "pingpong-main"), ("key", &huge)],
        )
        .await;

    assert_eq!(answer.status(), 413);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("The form is too large"));
}

#[tokio::test]
async fn signed_in_pages_and_form_answers_are_never_cached() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let page = app.get("/users").await;
    let answer = app
        .post_form(&app.client, "/api/users/unlock", &[("id", "0")])
        .await;
    for response in [page, answer] {
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    }
    let stylesheet = app.get(app::assets::STYLESHEET_PATH).await;
    assert!(stylesheet.headers()[CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
}

/// A raw GET with a session cookie.
fn get(path: &str, cookie: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nCookie: dispute_desk_session={cookie}\r\nConnection: close\r\n\r\n"
    )
}

#[tokio::test]
async fn no_spelling_of_a_path_slips_past_the_guard() {
    let app = spawn_app().await;
    let (id, email) = app.create_user(Role::Analyst).await;
    let analyst = app.session_cookie(&email, PASSWORD).await;
    let (reset, reset_email) = app.create_user(Role::Ops).await;
    let hash = app
        .passwords
        .hash(&dispute_core::domain::NewPassword::parse("temporary password 1").unwrap())
        .await;
    app.store
        .set_password(reset, &hash, true, &Default::default())
        .await
        .unwrap();
    let must_change = app
        .session_cookie(&reset_email, "temporary password 1")
        .await;
    assert_ne!(id, reset);

    for (cookie, path) in [
        (&must_change, "/assets/../disputes"),
        (&must_change, "/assets/%2e%2e/disputes"),
        (&must_change, "/assets/%2E%2E/disputes"),
        (&must_change, "/assets/.%2e/disputes"),
        (&must_change, "/./disputes"),
        (&must_change, "//disputes"),
        (&analyst, "/x/../users"),
        (&analyst, "/x/%2e%2e/users"),
        (&analyst, "/x%2F..%2Fusers"),
        (&analyst, "/connections//new"),
        (&analyst, "/disputes/."),
        (&analyst, "/user%73"),
        (&analyst, "/connection%73/new"),
    ] {
        let (status, answer) = app.raw(&get(path, cookie)).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(!answer.contains("<h1>"), "{path}: no page is rendered");
    }
    let (status, _) = app.raw(&get("/disputes", &analyst)).await;
    assert_eq!(status, 200, "the canonical path still works");
    let (status, _) = app.raw(&get("/users", &analyst)).await;
    assert_eq!(status, 403);
}
