//! Signing in and out: session renewal, timeouts, throttling, the setup
//! token, and forms from other sites.

use std::time::Duration;

use app::domain::Role;
use server::config::Settings;
use sha2::{Digest, Sha256};

use crate::helpers::{browser_client, spawn_app, spawn_app_with, TestApp, PASSWORD};

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .cookies()
        .find(|c| c.name() == "dispute_desk_session")
        .map(|c| c.value().to_owned())
}

/// A client that presents exactly this session cookie.
fn client_with_cookie(app: &TestApp, value: &str) -> reqwest::Client {
    let jar = reqwest::cookie::Jar::default();
    jar.add_cookie_str(
        &format!("dispute_desk_session={value}"),
        &app.address.parse().unwrap(),
    );
    reqwest::Client::builder()
        .cookie_provider(std::sync::Arc::new(jar))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in_cookie(app: &TestApp, client: &reqwest::Client, email: &str) -> String {
    let response = app
        .post_form(
            client,
            "/api/login",
            &[("email", email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 302);
    session_cookie(&response).expect("a session cookie")
}

async fn status_of(app: &TestApp, client: &reqwest::Client, path: &str) -> u16 {
    app.get_with(client, path).await.status().as_u16()
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_a_new_id_is_issued_at_each_sign_in() {
    let app = spawn_app().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let client = browser_client();

    let response = app
        .post_form(
            &client,
            "/api/login",
            &[("email", &email), ("password", PASSWORD)],
        )
        .await;
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains("Secure"),
        "plain http here: {set_cookie}"
    );
    let first = session_cookie(&response).unwrap();
    let second = sign_in_cookie(&app, &client, &email).await;

    assert_ne!(first, second);
    assert_eq!(
        status_of(&app, &client_with_cookie(&app, &first), "/disputes").await,
        303
    );
    assert_eq!(
        status_of(&app, &client_with_cookie(&app, &second), "/disputes").await,
        200
    );
}

#[tokio::test]
async fn a_planted_session_id_is_not_the_one_that_signs_in() {
    let app = spawn_app().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let planted = client_with_cookie(&app, "attacker-chosen-session-id-000000");

    let signed_in = sign_in_cookie(&app, &planted, &email).await;

    assert_ne!(signed_in, "attacker-chosen-session-id-000000");
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let client = browser_client();
    let cookie = sign_in_cookie(&app, &client, &email).await;

    let response = app.post_form(&client, "/api/logout", &[]).await;

    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/login");
    assert_eq!(
        status_of(&app, &client_with_cookie(&app, &cookie), "/disputes").await,
        303
    );
    let sessions: i64 = sqlx::query_scalar("select count(*) from tower_sessions.session")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn an_idle_session_ends() {
    let app = spawn_app_with(Settings {
        session_idle: Duration::from_secs(2),
        ..Settings::default()
    })
    .await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let client = browser_client();
    let cookie = sign_in_cookie(&app, &client, &email).await;
    assert_eq!(status_of(&app, &client, "/disputes").await, 200);

    tokio::time::sleep(Duration::from_millis(3100)).await;

    assert_eq!(
        status_of(&app, &client_with_cookie(&app, &cookie), "/disputes").await,
        303
    );
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_timeout_however_active() {
    let app = spawn_app_with(Settings {
        session_absolute: Duration::from_secs(2),
        ..Settings::default()
    })
    .await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let client = browser_client();
    sign_in_cookie(&app, &client, &email).await;

    for _ in 0..3 {
        assert_eq!(status_of(&app, &client, "/disputes").await, 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;

    assert_eq!(status_of(&app, &client, "/disputes").await, 303);
}

#[tokio::test]
async fn a_disabled_account_is_signed_out_at_its_next_request() {
    let app = spawn_app().await;
    let (id, email) = app.create_user(Role::Ops).await;
    let client = browser_client();
    sign_in_cookie(&app, &client, &email).await;
    app.store
        .update_user(id, Role::Ops, true, &Default::default())
        .await
        .unwrap();

    assert_eq!(status_of(&app, &client, "/disputes").await, 303);
    let again = app
        .post_form(
            &client,
            "/api/login",
            &[("email", &email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(again.headers()["location"], "/login?error=1");
}

#[tokio::test]
async fn a_form_from_another_site_is_refused() {
    let app = spawn_app().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let client = browser_client();
    sign_in_cookie(&app, &client, &email).await;

    let forged = client
        .post(format!("{}/api/logout", app.address))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    let no_origin = client
        .post(format!("{}/api/logout", app.address))
        .send()
        .await
        .unwrap();

    assert_eq!(forged.status(), 403);
    assert_eq!(
        forged.text().await.unwrap(),
        r#"{"error":"cross-origin requests are refused"}"#
    );
    assert_eq!(no_origin.status(), 403);
    assert_eq!(
        status_of(&app, &client, "/disputes").await,
        200,
        "still signed in"
    );
}

#[tokio::test]
async fn after_five_failures_sign_in_is_refused_with_the_same_message_even_with_the_right_password()
{
    let app = spawn_app().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let client = browser_client();
    for _ in 0..5 {
        let r = app
            .post_form(
                &client,
                "/api/login",
                &[("email", &email), ("password", "wrong password!")],
            )
            .await;
        assert_eq!(r.headers()["location"], "/login?error=1");
    }

    let right = app
        .post_form(
            &client,
            "/api/login",
            &[("email", &email), ("password", PASSWORD)],
        )
        .await;

    assert_eq!(right.headers()["location"], "/login?error=1");
    let html = app
        .get_with(&client, "/login?error=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(app::pages::login::SIGN_IN_FAILED));
    let failures: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'session.sign_in_failed' and subject = $1",
    )
    .bind(&email)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(failures, 6);
}

#[tokio::test]
async fn after_five_failures_from_one_address_other_accounts_are_refused_from_it_too() {
    let app = spawn_app().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let client = browser_client();
    for n in 0..5 {
        let guess = format!("nobody{n}@example.com");
        app.post_form(
            &client,
            "/api/login",
            &[("email", &guess), ("password", PASSWORD)],
        )
        .await;
    }

    let right = app
        .post_form(
            &client,
            "/api/login",
            &[("email", &email), ("password", PASSWORD)],
        )
        .await;

    assert_eq!(right.headers()["location"], "/login?error=1");
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let client = browser_client();
    let unknown = app
        .post_form(
            &client,
            "/api/login",
            &[("email", "nobody@example.com"), ("password", PASSWORD)],
        )
        .await;
    let wrong = app
        .post_form(
            &client,
            "/api/login",
            &[("email", &email), ("password", "not the password")],
        )
        .await;
    assert_eq!(unknown.status(), wrong.status());
    assert_eq!(unknown.headers()["location"], wrong.headers()["location"]);
}

#[tokio::test]
async fn a_setup_token_creates_the_first_admin_once() {
    let app = spawn_app().await;
    let printed: i64 = sqlx::query_scalar("select count(*) from setup_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(printed, 1, "a token is offered when there is no account");
    let token = "test-setup-token-0123456789";
    app.store
        .create_setup_token(
            &Sha256::digest(token.as_bytes()),
            jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5),
        )
        .await
        .unwrap();
    let client = browser_client();
    let form = [
        ("token", token),
        ("email", "first@example.com"),
        ("display_name", "First Admin"),
        ("password", PASSWORD),
    ];

    let created = app.post_form(&client, "/api/setup", &form).await;
    let reused = app.post_form(&browser_client(), "/api/setup", &form).await;

    assert_eq!(created.headers()["location"], "/connections");
    assert_eq!(
        status_of(&app, &client, "/users").await,
        200,
        "signed in as admin"
    );
    assert!(reused.headers()["location"]
        .to_str()
        .unwrap()
        .contains("no%20longer%20valid"));
    let users = app.store.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].role, Role::Admin);
    let hash: String = sqlx::query_scalar("select password_hash from users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
}

#[tokio::test]
async fn a_reset_password_must_be_changed_before_anything_else() {
    let app = spawn_app().await;
    let (id, email) = app.create_user(Role::Analyst).await;
    let hash = app
        .passwords
        .hash(&app::domain::NewPassword::parse("temporary password 1").unwrap());
    app.store
        .set_password(id, &hash, true, &Default::default())
        .await
        .unwrap();
    let client = browser_client();

    let target = app
        .sign_in_with(&client, &email, "temporary password 1")
        .await;
    assert_eq!(target, "/account/password");
    let elsewhere = app.get_with(&client, "/disputes").await;
    assert_eq!(elsewhere.headers()["location"], "/account/password");

    let changed = app
        .post_form(
            &client,
            "/api/account/password",
            &[
                ("current", "temporary password 1"),
                ("new_password", PASSWORD),
                ("repeated", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        changed.headers()["location"],
        "/disputes?notice=Your+password+was+changed"
    );
    assert_eq!(status_of(&app, &client, "/disputes").await, 200);
}

#[tokio::test]
async fn behind_an_https_public_address_the_cookie_is_secure_and_forms_must_come_from_it() {
    let app = spawn_app_with(Settings {
        public_url: Some("https://desk.example.com".into()),
        ..Settings::default()
    })
    .await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let form = [("email", email.as_str()), ("password", PASSWORD)];

    let from_local = app.post_form(&browser_client(), "/api/login", &form).await;
    let from_public = browser_client()
        .post(format!("{}/api/login", app.address))
        .header("origin", "https://desk.example.com")
        .header("accept", "text/html")
        .form(&form)
        .send()
        .await
        .unwrap();

    assert_eq!(
        from_local.status(),
        403,
        "the bound address is not the public one"
    );
    assert_eq!(from_public.status(), 302);
    let cookie = from_public.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}
