//! The connection pages: adding connections with keys, seeing only
//! fingerprints, rotating keys without rejecting a notification.

use dispute_core::domain::Role;
use serde_json::Value;

use test_support::{fixture_sign, fixtures, provider_key};

use crate::helpers::{captured_logs, TestApp};

fn key_text(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("keys").join(name)).unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn admin_app() -> TestApp {
    let app = crate::helpers::spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    app
}

async fn add(app: &TestApp, fields: &[(&str, &str)]) -> String {
    let mut form = vec![
        ("creating", "yes"),
        ("display_name", ""),
        ("account_id", ""),
        ("timezone", "UTC"),
        ("query_preset", "sandbox"),
        ("query_base_url", ""),
        ("source_allowlist", ""),
        ("enabled", "on"),
    ];
    for (name, value) in fields {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    location(
        &app.post_form(&app.client, "/api/connections/save", &form)
            .await,
    )
}

/// Posts `form` to `endpoint`; the redirect's target and the page there.
async fn submit(app: &TestApp, endpoint: &str, form: &[(&str, &str)]) -> (String, String) {
    let answer = app.post_form(&app.client, endpoint, form).await;
    app.follow(&app.client, answer).await
}

async fn page(app: &TestApp, path: &str) -> String {
    app.get(path).await.text().await.unwrap()
}

#[tokio::test]
async fn a_pingpong_connection_added_in_the_form_verifies_and_never_shows_its_salt() {
    let app = admin_app().await;
    let salt = key_text("pingpong-salt.txt");

    let target = add(
        &app,
        &[
            ("slug", "pingpong-main"),
            ("provider", "pingpong"),
            ("account_id", "2022102018024210348882"),
            ("verification_key", &salt),
            ("source_allowlist", "127.0.0.1\npingpong-sandbox"),
        ],
    )
    .await;

    assert_eq!(target, "/connections/pingpong-main");
    let detail = page(&app, "/connections/pingpong-main").await;
    assert!(
        detail.contains("Connection added. Next: give the provider its intake address"),
        "{detail}"
    );
    assert!(
        !page(&app, "/connections/pingpong-main")
            .await
            .contains("flash notice"),
        "a flash is shown once"
    );
    let list = page(&app, "/connections").await;
    let salt = salt.trim();
    for html in [&detail, &list] {
        assert!(!html.contains(salt), "the salt is shown");
    }
    let keyed = dispute_core::providers::keys::Fingerprint::of_secret(
        app.vault.fingerprint_key(),
        salt.as_bytes(),
    );
    assert!(
        detail.contains(&format!(r#"<code class="fingerprint">{keyed}</code>"#)),
        "a salt is named by its keyed fingerprint: {detail}"
    );
    let unkeyed = dispute_core::providers::keys::Fingerprint::of(salt.as_bytes());
    assert!(!detail.contains(&unkeyed.as_str()[7..]), "{detail}");
    assert!(detail.contains("https://sandbox-acquirer-payment.pingpongx.com"));
    assert!(
        list.contains(&format!("{}/webhooks/pingpong-main", app.address)),
        "{list}"
    );
    let body = std::fs::read(fixtures().join("bodies/pp-rfi.json")).unwrap();
    assert_eq!(
        app.post_webhook("pingpong-main", &[], body).await.status(),
        200
    );
    let list = page(&app, "/connections").await;
    assert!(
        list.contains("(valid)"),
        "the last delivery is shown: {list}"
    );

    let audit: Vec<Value> = sqlx::query_scalar(
        "select details from audit_log where subject = 'pingpong-main' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 2, "created, then its key set: {audit:?}");
    assert!(audit.iter().all(|d| !d.to_string().contains(salt)));
    assert_eq!(audit[1]["after"], keyed.as_str());
    let logs = captured_logs();
    assert!(
        logs.contains("notification judged"),
        "the logs are captured"
    );
    assert!(!logs.contains(salt), "the salt reached the logs");
}

#[tokio::test]
async fn rsa_connections_take_pem_or_bare_keys_and_never_show_the_private_key() {
    let app = admin_app().await;
    let merchant = key_text("payermax-merchant-private.b64");

    let target = add(
        &app,
        &[
            ("slug", "payermax-main"),
            ("provider", "payermax"),
            ("account_id", "SDP01010114524460"),
            ("app_id", "6666c8b036a24579974497c2f9a33333"),
            ("verification_key", &key_text("payermax-public.b64")),
            ("signing_key", &merchant),
        ],
    )
    .await;

    assert_eq!(target, "/connections/payermax-main");
    let detail = page(&app, "/connections/payermax-main").await;
    assert!(
        !detail.contains(&merchant.trim()[40..100]),
        "the private key is shown"
    );
    assert!(!detail.contains("PRIVATE KEY"));
    assert_eq!(
        detail
            .matches(r#"<code class="fingerprint">sha256:"#)
            .count(),
        2,
        "{detail}"
    );
    let body = std::fs::read(fixtures().join("bodies/pm-inquiry-wrapped.json")).unwrap();
    let sign = fixture_sign("pm-inquiry-wrapped");
    assert_eq!(
        app.post_webhook("payermax-main", &[("sign", &sign)], body)
            .await
            .status(),
        200
    );
    assert!(!captured_logs().contains(&merchant.trim()[40..100]));
}

#[tokio::test]
async fn an_invalid_key_or_setting_is_refused_with_what_is_wrong_and_nothing_is_saved() {
    let app = admin_app().await;
    let private = key_text("provider-side/unrelated-private.pem");
    let public = key_text("botim-money-public.pem");
    let cases = [
        (
            vec![
                ("slug", "botim-main"),
                ("provider", "botim_money"),
                ("verification_key", "not a key"),
            ],
            "the key is neither PEM nor Base64-encoded DER",
        ),
        (
            vec![
                ("slug", "botim-main"),
                ("provider", "botim_money"),
                ("verification_key", &private),
            ],
            "this is a private key",
        ),
        (
            vec![
                ("slug", "Botim Main"),
                ("provider", "botim_money"),
                ("verification_key", "x"),
            ],
            "is not a connection slug",
        ),
        (
            vec![("slug", "botim-main"), ("provider", "botim_money")],
            "a verification key is required",
        ),
        (
            vec![
                ("slug", "botim-main"),
                ("provider", "botim_money"),
                ("timezone", "Mars/Base"),
                ("verification_key", &public),
            ],
            "is not a time zone name",
        ),
    ];
    for (fields, message) in cases {
        let target = add(&app, &fields).await;
        assert_eq!(target, "/connections/new?provider=botim_money");
        let html = page(&app, &target).await;
        let flash = html
            .split(r#"class="flash error">"#)
            .nth(1)
            .unwrap_or_else(|| panic!("no error shown: {html}"));
        assert!(flash.contains(message), "{flash} should say {message}");
    }
    assert!(app.store.connections_overview().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_form_comes_back_with_what_was_typed_but_the_keys() {
    let app = admin_app().await;

    let target = add(
        &app,
        &[
            ("slug", "payermax-eu"),
            ("provider", "payermax"),
            ("display_name", "PayerMax EU"),
            ("account_id", "SDP01010114524460"),
            ("source_allowlist", "10.0.0.0/8"),
            ("verification_key", "MIIB-not-a-key"),
        ],
    )
    .await;
    let html = page(&app, &target).await;

    assert!(html.contains(r#"value="payermax-eu""#), "{html}");
    assert!(html.contains(r#"value="PayerMax EU""#), "{html}");
    assert!(html.contains(r#"value="SDP01010114524460""#), "{html}");
    assert!(html.contains(">10.0.0.0/8</textarea>"), "{html}");
    assert!(
        html.contains("https://pay-gate-uat.payermax.com"),
        "the sandbox preset stays chosen"
    );
    assert!(html.contains("verification key: "), "{html}");
    assert!(!target.contains("MIIB") && !html.contains("MIIB-not-a-key"));
}

#[tokio::test]
async fn a_key_is_rotated_in_the_pages_without_a_rejected_notification() {
    let app = admin_app().await;
    add(
        &app,
        &[
            ("slug", "botim-main"),
            ("provider", "botim_money"),
            ("account_id", "200000003232"),
            ("verification_key", &key_text("botim-money-public.pem")),
        ],
    )
    .await;
    let old_body = std::fs::read(fixtures().join("bodies/botim-chargeback.json")).unwrap();
    let old_sign = fixture_sign("botim-chargeback");
    let new_private = provider_key("unrelated-private.pem");
    let new_body = std::fs::read(fixtures().join("bodies/botim-unicode.json")).unwrap();
    let new_sign = new_private.sign(&new_body);

    let (_, both) = submit(
        &app,
        "/api/connections/add-key",
        &[
            ("slug", "botim-main"),
            ("key", &new_private.verification_key().to_pem()),
        ],
    )
    .await;
    assert!(both.contains("flash notice"), "{both}");
    assert_eq!(
        both.matches(r#"<code class="fingerprint">sha256:"#).count(),
        2,
        "{both}"
    );
    let by_old = app
        .post_webhook("botim-main", &[("sign", &old_sign)], old_body.clone())
        .await;
    let by_new = app
        .post_webhook("botim-main", &[("sign", &new_sign)], new_body.clone())
        .await;
    assert_eq!(
        (by_old.status().as_u16(), by_new.status().as_u16()),
        (200, 200)
    );

    let (_, promoted) = submit(
        &app,
        "/api/connections/promote-key",
        &[("slug", "botim-main")],
    )
    .await;
    assert!(promoted.contains("flash notice"), "{promoted}");
    let after_old = app
        .post_webhook("botim-main", &[("sign", &old_sign)], old_body)
        .await;
    let after_new = app
        .post_webhook("botim-main", &[("sign", &new_sign)], new_body)
        .await;
    assert_eq!(
        (after_old.status().as_u16(), after_new.status().as_u16()),
        (401, 200)
    );
    let one = page(&app, "/connections/botim-main").await;
    assert_eq!(
        one.matches(r#"<code class="fingerprint">sha256:"#).count(),
        1,
        "{one}"
    );

    let (_, nothing_to_discard) = submit(
        &app,
        "/api/connections/discard-key",
        &[("slug", "botim-main")],
    )
    .await;
    assert!(
        nothing_to_discard.contains("There is no next key to discard"),
        "{nothing_to_discard}"
    );
    let kinds: Vec<String> =
        sqlx::query_scalar("select action from audit_log where subject = 'botim-main' order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        kinds,
        [
            "connection.created",
            "connection.key_set",
            "connection.key_set",
            "connection.key_promoted"
        ]
    );
}

#[tokio::test]
async fn editing_settings_keeps_the_keys_and_can_disable_the_connection() {
    let app = admin_app().await;
    add(
        &app,
        &[
            ("slug", "pingpong-main"),
            ("provider", "pingpong"),
            ("verification_key", &key_text("pingpong-salt.txt")),
        ],
    )
    .await;

    let saved = app
        .post_form(
            &app.client,
            "/api/connections/save",
            &[
                ("slug", "pingpong-main"),
                ("provider", "pingpong"),
                ("display_name", "PingPong EU"),
                ("account_id", ""),
                ("timezone", "Asia/Shanghai"),
                ("query_preset", "custom"),
                ("query_base_url", "http://127.0.0.1:9999"),
                ("source_allowlist", ""),
            ],
        )
        .await;

    assert_eq!(location(&saved), "/connections/pingpong-main");
    let detail = app
        .store
        .connection_detail(&dispute_core::domain::ConnectionSlug::parse("pingpong-main").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!detail.settings.enabled);
    assert_eq!(detail.settings.timezone, "Asia/Shanghai");
    assert_eq!(detail.settings.query_base_url, "http://127.0.0.1:9999");
    assert!(detail.verification.current.is_some(), "the key is kept");
    let body = std::fs::read(fixtures().join("bodies/pp-rfi.json")).unwrap();
    assert_eq!(
        app.post_webhook("pingpong-main", &[], body).await.status(),
        503
    );
}

#[tokio::test]
async fn salt_fingerprints_stored_before_they_were_keyed_are_renamed_at_start_up() {
    let app = crate::helpers::spawn_app().await;
    app.import_fixture_connections().await;
    let salt = key_text("pingpong-salt.txt");
    let old = dispute_core::providers::keys::Fingerprint::of(salt.trim().as_bytes());
    let renamed = sqlx::query(
        "update connection_keys set fingerprint = $1 where purpose = 'verify'
           and connection_id = (select id from connections where slug = 'pingpong-main')",
    )
    .bind(old.as_str())
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(renamed.rows_affected(), 1);
    let body = std::fs::read(fixtures().join("bodies/pp-rfi.json")).unwrap();
    app.post_webhook("pingpong-main", &[], body).await;
    sqlx::query("update notifications set key_fingerprint = $1")
        .bind(old.as_str())
        .execute(&app.pool)
        .await
        .unwrap();

    server::startup::Application::build(
        &server::config::Settings {
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        },
        app.store.clone(),
        app.vault.clone(),
    )
    .await
    .unwrap();

    let keyed = dispute_core::providers::keys::Fingerprint::of_secret(
        app.vault.fingerprint_key(),
        salt.trim().as_bytes(),
    );
    let (on_key, on_notification): (String, String) = sqlx::query_as(
        "select (select fingerprint from connection_keys k join connections c on c.id = k.connection_id
                 where c.slug = 'pingpong-main' and k.purpose = 'verify'),
                (select key_fingerprint from notifications limit 1)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (on_key.as_str(), on_notification.as_str()),
        (keyed.as_str(), keyed.as_str())
    );
    let public: i64 = sqlx::query_scalar(
        "select count(*) from connection_keys where fingerprint like 'sha256:%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        public, 4,
        "public keys and merchant keys keep their SHA-256 names"
    );
}
