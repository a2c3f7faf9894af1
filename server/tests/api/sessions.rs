//! Signing in and out: session renewal, timeouts, throttling, the setup
//! token, and forms from other sites.

use std::time::Duration;

use dispute_core::domain::Role;
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
    assert_eq!(
        failures_of(&app, &email).await,
        5,
        "the attempt refused while waiting is not counted"
    );
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_log where subject = $1")
        .bind(&email)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        audited, 1,
        "only the account's creation: failures stay out of the audit log"
    );
}

async fn failures_of(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar::<_, i32>(
        "select coalesce(sum(failures), 0)::int from sign_in_failures where email = $1",
    )
    .bind(email)
    .fetch_one(&app.pool)
    .await
    .map(i64::from)
    .unwrap()
}

#[tokio::test]
async fn after_twenty_failures_from_one_address_other_accounts_are_refused_from_it_too() {
    let app = spawn_app().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    let client = browser_client();
    for n in 0..20 {
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
    let (target, page) = app.follow(&browser_client(), reused).await;
    assert!(target.ends_with("&error=link"), "{target}");
    assert!(
        page.contains("This setup link is no longer valid"),
        "{page}"
    );
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
        .hash(&dispute_core::domain::NewPassword::parse("temporary password 1").unwrap())
        .await;
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
    let (target, html) = app.follow(&client, changed).await;
    assert_eq!(target, "/disputes");
    assert!(html.contains("Your password was changed"), "{html}");
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

/// An app that believes X-Forwarded-For from 127.0.0.1, so a test can
/// sign in from several addresses.
async fn app_behind_a_proxy() -> TestApp {
    spawn_app_with(Settings {
        trusted_proxies: dispute_core::domain::SourceAllowlist::parse(&["127.0.0.1"], &[]).unwrap(),
        ..Settings::default()
    })
    .await
}

async fn sign_in_from(app: &TestApp, address: &str, email: &str, password: &str) -> String {
    let answer = browser_client()
        .post(format!("{}/api/login", app.address))
        .header("origin", &app.address)
        .header("accept", "text/html")
        .header("x-forwarded-for", address)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    answer.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn failures_from_one_address_do_not_close_the_account_to_another() {
    let app = app_behind_a_proxy().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    for _ in 0..8 {
        assert_eq!(
            sign_in_from(&app, "198.51.100.7", &email, "wrong password!").await,
            "/login?error=1"
        );
    }

    assert_eq!(
        sign_in_from(&app, "198.51.100.7", &email, PASSWORD).await,
        "/login?error=1",
        "closed from the guessing address"
    );
    assert_eq!(
        sign_in_from(&app, "203.0.113.9", &email, PASSWORD).await,
        "/disputes",
        "open from the owner's"
    );
}

#[tokio::test]
async fn attempts_while_closed_do_not_extend_the_wait_and_it_ends() {
    let app = app_behind_a_proxy().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    for _ in 0..5 {
        sign_in_from(&app, "198.51.100.7", &email, "wrong password!").await;
    }
    for _ in 0..10 {
        sign_in_from(&app, "198.51.100.7", &email, "wrong password!").await;
    }
    assert_eq!(failures_of(&app, &email).await, 5);

    // The 30-second wait after the fifth failure has passed.
    sqlx::query("update sign_in_failures set last_failure_at = now() - interval '31 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();

    assert_eq!(
        sign_in_from(&app, "198.51.100.7", &email, PASSWORD).await,
        "/disputes"
    );
    assert_eq!(failures_of(&app, &email).await, 0, "a sign-in forgets them");
}

#[tokio::test]
async fn each_failure_past_the_fifth_doubles_the_wait() {
    let app = app_behind_a_proxy().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    for _ in 0..5 {
        sign_in_from(&app, "198.51.100.7", &email, "wrong password!").await;
    }
    sqlx::query("update sign_in_failures set last_failure_at = now() - interval '31 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    sign_in_from(&app, "198.51.100.7", &email, "wrong password!").await;
    assert_eq!(failures_of(&app, &email).await, 6);
    sqlx::query("update sign_in_failures set last_failure_at = now() - interval '31 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();

    assert_eq!(
        sign_in_from(&app, "198.51.100.7", &email, PASSWORD).await,
        "/login?error=1",
        "the sixth failure closed it for 60 seconds"
    );
}

#[tokio::test]
async fn an_admin_unlocks_a_closed_account_and_it_is_audited() {
    let app = app_behind_a_proxy().await;
    app.sign_in_as(Role::Admin).await;
    let (id, email) = app.create_user(Role::Analyst).await;
    for _ in 0..6 {
        sign_in_from(&app, "198.51.100.7", &email, "wrong password!").await;
    }
    let users = app.get_page("/users").await.1;
    assert!(users.contains("sign-in paused until"), "{users}");

    let unlocked = app
        .post_form(&app.client, "/api/users/unlock", &[("id", &id.to_string())])
        .await;

    let (_, users) = app.follow(&app.client, unlocked).await;
    assert!(users.contains("failures forgotten"), "{users}");
    assert!(!users.contains("sign-in paused until"), "{users}");
    assert_eq!(
        sign_in_from(&app, "198.51.100.7", &email, PASSWORD).await,
        "/disputes"
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'user.sign_in_unlocked' and subject = $1",
    )
    .bind(&email)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn the_audit_page_summarizes_failed_sign_ins() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    app.post_form(
        &browser_client(),
        "/api/login",
        &[
            ("email", "<b>guess</b>@example.com"),
            ("password", "nope nope nope"),
        ],
    )
    .await;

    let (_, html) = app.get_page("/audit").await;

    assert!(
        html.contains("Failed sign-ins in the last 24 hours"),
        "{html}"
    );
    assert!(
        html.contains("&lt;b&gt;guess&lt;/b&gt;@example.com"),
        "{html}"
    );
    assert!(!html.contains("<b>guess"), "{html}");
}

/// Two browsers signed in as the same person.
async fn two_sessions(
    app: &TestApp,
    role: Role,
) -> (i64, String, reqwest::Client, reqwest::Client) {
    let (id, email) = app.create_user(role).await;
    let (one, two) = (browser_client(), browser_client());
    app.sign_in_with(&one, &email, PASSWORD).await;
    app.sign_in_with(&two, &email, PASSWORD).await;
    assert_eq!(status_of(app, &one, "/disputes").await, 200);
    assert_eq!(status_of(app, &two, "/disputes").await, 200);
    (id, email, one, two)
}

#[tokio::test]
async fn changing_ones_password_ends_the_other_sessions_but_not_this_one() {
    let app = spawn_app().await;
    let (_, _, here, elsewhere) = two_sessions(&app, Role::Analyst).await;

    let changed = app
        .post_form(
            &here,
            "/api/account/password",
            &[
                ("current", PASSWORD),
                ("new_password", "a brand new password"),
                ("repeated", "a brand new password"),
            ],
        )
        .await;

    assert_eq!(changed.headers()["location"], "/disputes");
    assert_eq!(status_of(&app, &here, "/disputes").await, 200);
    assert_eq!(status_of(&app, &elsewhere, "/disputes").await, 303);
}

#[tokio::test]
async fn an_admins_reset_or_role_change_ends_the_persons_sessions() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let (id, _, one, two) = two_sessions(&app, Role::Analyst).await;
    app.post_form(
        &app.client,
        "/api/users/reset-password",
        &[("id", &id.to_string()), ("password", "given by the admin")],
    )
    .await;
    assert_eq!(status_of(&app, &one, "/disputes").await, 303);
    assert_eq!(status_of(&app, &two, "/disputes").await, 303);

    let (id, _, one, _) = two_sessions(&app, Role::Analyst).await;
    app.post_form(
        &app.client,
        "/api/users/update",
        &[("id", &id.to_string()), ("role", "ops")],
    )
    .await;
    assert_eq!(status_of(&app, &one, "/disputes").await, 303);
}

#[tokio::test]
async fn disabling_then_enabling_an_account_does_not_revive_its_sessions() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let (id, email, one, _) = two_sessions(&app, Role::Analyst).await;
    let id = id.to_string();
    for form in [
        [("id", id.as_str()), ("role", "analyst"), ("disabled", "on")].as_slice(),
        [("id", id.as_str()), ("role", "analyst")].as_slice(),
    ] {
        app.post_form(&app.client, "/api/users/update", form).await;
    }

    assert_eq!(status_of(&app, &one, "/disputes").await, 303);
    assert_eq!(
        app.sign_in_with(&browser_client(), &email, PASSWORD).await,
        "/disputes"
    );
}

#[tokio::test]
async fn next_goes_only_to_paths_on_this_site_and_never_breaks_the_answer() {
    let app = spawn_app().await;
    let (_, email) = app.create_user(Role::Analyst).await;
    for (next, expected) in [
        ("/deliveries?x=1", "/deliveries?x=1"),
        ("/\t/evil.example/x", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("/x\r\nSet-Cookie: stolen=1", "/"),
        ("/x\nLocation: https://evil.example", "/"),
    ] {
        let answer = app
            .post_form(
                &browser_client(),
                "/api/login",
                &[("email", &email), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(answer.status(), 302, "{next:?}");
        assert_eq!(answer.headers()["location"], expected, "{next:?}");
        assert!(answer.headers().get("set-cookie").is_some());
    }
}

#[tokio::test]
async fn setup_checks_its_token_before_anything_else() {
    let app = spawn_app().await;
    let refused = app
        .post_form(
            &browser_client(),
            "/api/setup",
            &[
                ("token", "not-the-token"),
                ("email", "not an email"),
                ("display_name", ""),
                ("password", "short"),
            ],
        )
        .await;

    let target = refused.headers()["location"].to_str().unwrap();
    assert!(
        target.ends_with("&error=link"),
        "the token is judged first: {target}"
    );
    assert_eq!(app.store.user_count().await.unwrap(), 0);
}

#[tokio::test]
async fn the_browsers_time_zone_is_taken_at_sign_in_until_the_person_picks_one() {
    let app = spawn_app().await;
    let (id, email) = app.create_user(Role::Analyst).await;
    let zone_of = |id: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("select timezone from users where id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let sign_in = |browser_zone: &'static str| {
        let (app, email) = (&app, email.clone());
        async move {
            let client = browser_client();
            let answer = app
                .post_form(
                    &client,
                    "/api/login",
                    &[
                        ("email", email.as_str()),
                        ("password", PASSWORD),
                        ("browser_timezone", browser_zone),
                    ],
                )
                .await;
            assert!(answer.status().is_redirection(), "signed in");
            let (_, page) = app.follow(&client, answer).await;
            (client, page)
        }
    };

    // Without scripts the field is empty, and a name that is no zone (or
    // markup) is ignored: the account stays in UTC.
    for ignored in ["", "Mars/Olympus", "<b>Asia/Dubai</b>\u{7}"] {
        let (_, page) = sign_in(ignored).await;
        assert!(!page.contains("your browser's time zone"), "{page}");
        assert_eq!(zone_of(id).await, "UTC");
    }

    let (client, page) = sign_in("Asia/Dubai").await;
    assert!(
        page.contains("Times are shown in Asia/Dubai, your browser's time zone."),
        "{page}"
    );
    assert!(page.contains("Times are in Asia/Dubai (UTC+04)"), "{page}");
    assert_eq!(zone_of(id).await, "Asia/Dubai");

    // Once taken, or once the person picks one, the browser no longer
    // decides: travelling does not move the account.
    let (_, page) = sign_in("Europe/London").await;
    assert!(!page.contains("your browser's time zone"), "{page}");
    assert_eq!(zone_of(id).await, "Asia/Dubai");
    let picked = app
        .post_form(&client, "/api/account/timezone", &[("timezone", "UTC")])
        .await;
    assert!(picked.status().is_redirection());
    sign_in("America/New_York").await;
    assert_eq!(zone_of(id).await, "UTC");

    let audit: Vec<serde_json::Value> = sqlx::query_scalar(
        "select details from audit_log where action = 'user.timezone' and subject = $1 order by id",
    )
    .bind(&email)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        [
            serde_json::json!({"before": "UTC", "after": "Asia/Dubai", "from": "browser"}),
            serde_json::json!({"before": "Asia/Dubai", "after": "UTC"}),
        ]
    );
}

#[tokio::test]
async fn the_sign_in_page_loads_its_one_script_from_our_origin() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    // Every other page runs no script at all.
    let elsewhere = app
        .client
        .get(format!("{}/no/such/page", app.address))
        .send()
        .await
        .unwrap();
    let policy = elsewhere.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        policy.contains("default-src 'none'") && !policy.contains("script-src"),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    let start = html.find("<script src=\"").expect("the script") + "<script src=\"".len();
    let path = &html[start..start + html[start..].find('"').unwrap()];
    assert!(
        path.starts_with("/assets/zone-") && path.ends_with(".js"),
        "{path}"
    );
    assert!(html.contains("name=\"browser_timezone\""), "{html}");
    let script = app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(script
        .text()
        .await
        .unwrap()
        .contains("resolvedOptions().timeZone"));
}

#[tokio::test]
async fn the_sign_in_page_tells_a_fresh_installation_how_to_get_in() {
    let app = spawn_app().await;
    let page = || async {
        app.client
            .get(format!("{}/login", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let fresh = page().await;
    assert!(fresh.contains("No account exists yet"), "{fresh}");
    assert!(fresh.contains("dispute-desk users create"), "{fresh}");

    app.create_user(Role::Analyst).await;
    let later = page().await;
    assert!(!later.contains("No account exists yet"), "{later}");
    assert!(later.contains("Sign in"), "{later}");
}
