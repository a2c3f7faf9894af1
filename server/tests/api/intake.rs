//! The webhook intake under the conditions the fixtures do not cover:
//! concurrency, a database that goes away, oversized bodies, source
//! allowlists, disabled connections, key rotation and payment notifications.

use dispute_core::providers::keys::VerificationKey;
use dispute_store::{KeyPurpose, KeySlot, StoredKey, StoredKeyMaterial};
use serde_json::{json, Value};

use test_support::{fixture_salt, fixture_sign, fixtures, pingpong_signed, provider_key};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

fn body(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("bodies").join(name)).unwrap()
}

/// The fixture's own Botim Money chargeback, with its OpenSSL signature.
fn botim_chargeback() -> (Vec<u8>, String) {
    (
        body("botim-chargeback.json"),
        fixture_sign("botim-chargeback"),
    )
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

async fn verdicts(app: &TestApp) -> Vec<String> {
    app.store
        .notifications()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.verdict.as_str().to_owned())
        .collect()
}

#[tokio::test]
async fn fifty_concurrent_copies_of_one_notification_are_all_acknowledged_and_make_one_event() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let (body, sign) = botim_chargeback();

    let answers = futures::future::join_all((0..50).map(|_| {
        let body = body.clone();
        let sign = sign.clone();
        let app = &app;
        async move {
            let r = app
                .post_webhook("botim-main", &[("sign", &sign)], body)
                .await;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    }))
    .await;

    for (status, text) in &answers {
        assert_eq!((*status, text.as_str()), (200, r#"{"response":"SUCCESS"}"#));
    }
    assert_eq!(count(&app, "select count(*) from dispute_events").await, 1);
    assert_eq!(count(&app, "select count(*) from disputes").await, 1);
    let verdicts = verdicts(&app).await;
    assert_eq!(verdicts.len(), 50);
    assert_eq!(verdicts.iter().filter(|v| *v == "valid").count(), 1);
    assert_eq!(verdicts.iter().filter(|v| *v == "duplicate").count(), 49);
    let original: i64 = count(&app, "select id from notifications where verdict = 'valid'").await;
    assert_eq!(
        count(
            &app,
            &format!("select count(*) from notifications where duplicate_of = {original}")
        )
        .await,
        49
    );
}

#[tokio::test]
async fn while_the_database_is_down_nothing_is_acknowledged_and_afterwards_it_is_accepted() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    app.take_database_down().await;

    let response = app
        .post_webhook("pingpong-main", &[], body("pp-rfi.json"))
        .await;

    assert_eq!(response.status(), 503);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"the notification could not be stored; retry later"}"#
    );
    app.bring_database_back().await;
    assert_eq!(count(&app, "select count(*) from notifications").await, 0);

    let retried = app
        .post_webhook("pingpong-main", &[], body("pp-rfi.json"))
        .await;
    assert_eq!(retried.status(), 200);
    assert_eq!(retried.text().await.unwrap(), "");
    assert_eq!(verdicts(&app).await, ["valid"]);
    assert_eq!(count(&app, "select count(*) from dispute_events").await, 1);
}

#[tokio::test]
async fn a_2_mib_body_is_refused_with_413_and_only_its_first_4_kib_kept_with_its_declared_length() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let huge: Vec<u8> = (0..2 * 1024 * 1024)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();

    let response = app.post_webhook("pingpong-main", &[], huge.clone()).await;

    assert_eq!(response.status(), 413);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"the body is larger than 1 MiB"}"#
    );
    let stored = app.store.notifications().await.unwrap();
    assert_eq!(stored.len(), 1);
    let row = &stored[0];
    assert_eq!(row.verdict.as_str(), "too_large");
    assert_eq!(row.body_length, 2 * 1024 * 1024);
    assert_eq!(row.body, huge[..4 * 1024]);
    // Declared over the limit: only the prefix kept of it was read.
    assert_eq!(
        row.body_sha256,
        dispute_workflows::intake::body_digest(&huge[..4 * 1024])
    );
    assert_eq!(row.response_status, Some(413));
}

#[tokio::test]
async fn a_body_of_exactly_1_mib_is_judged_not_refused_for_size() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let response = app
        .post_webhook("pingpong-main", &[], vec![b' '; 1024 * 1024])
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(verdicts(&app).await, ["malformed"]);
}

#[tokio::test]
async fn broken_json_with_a_valid_rsa_signature_is_malformed_and_kept() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let garbage = br#"{"notify_id": "1", "acquireChargeback": "#.to_vec();
    let sign = provider_key("botim-money-private.pem").sign(&garbage);

    let response = app
        .post_webhook("botim-main", &[("sign", &sign)], garbage.clone())
        .await;

    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"the notification could not be read"}"#
    );
    let row = &app.store.notifications().await.unwrap()[0];
    assert_eq!(row.verdict.as_str(), "malformed");
    assert_eq!(row.body, garbage);
    assert!(
        row.reason
            .as_deref()
            .unwrap()
            .contains("not the expected JSON"),
        "{:?}",
        row.reason
    );
    assert!(row.key_fingerprint.is_some(), "the signature was good");
    assert_eq!(count(&app, "select count(*) from disputes").await, 0);
}

#[tokio::test]
async fn a_sender_outside_the_allowlist_is_forbidden_and_one_on_it_is_accepted() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    sqlx::query("update connections set source_allowlist = $1 where slug = 'pingpong-main'")
        .bind(vec!["3.125.243.2", "52.76.198.228"])
        .execute(&app.pool)
        .await
        .unwrap();
    app.store.note_connections_changed();

    let refused = app
        .post_webhook("pingpong-main", &[], body("pp-rfi.json"))
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.text().await.unwrap(),
        r#"{"error":"this sender is not allowed"}"#
    );

    sqlx::query(
        "update connections set source_allowlist = '{127.0.0.0/8}' where slug = 'pingpong-main'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.store.note_connections_changed();
    let accepted = app
        .post_webhook("pingpong-main", &[], body("pp-rfi.json"))
        .await;
    assert_eq!(accepted.status(), 200);

    let stored = app.store.notifications().await.unwrap();
    assert_eq!(stored[0].verdict.as_str(), "forbidden_source");
    assert_eq!(stored[0].remote_addr, "127.0.0.1");
    assert_eq!(
        stored[0].reason.as_deref(),
        Some("127.0.0.1 is not on the connection's source allowlist")
    );
    assert_eq!(stored[1].verdict.as_str(), "valid");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_sender_is_checked() {
    let settings = server::config::Settings {
        trusted_proxies: dispute_core::domain::SourceAllowlist::parse(&["127.0.0.1"], &[]).unwrap(),
        ..Default::default()
    };
    let app = spawn_app_with(settings).await;
    app.import_fixture_connections().await;
    sqlx::query("update connections set source_allowlist = $1 where slug = 'pingpong-main'")
        .bind(vec!["3.125.243.2"])
        .execute(&app.pool)
        .await
        .unwrap();
    app.store.note_connections_changed();

    let from_pingpong = app
        .post_webhook(
            "pingpong-main",
            &[("x-forwarded-for", "3.125.243.2")],
            body("pp-rfi.json"),
        )
        .await;
    let from_elsewhere = app
        .post_webhook(
            "pingpong-main",
            &[("x-forwarded-for", "3.125.243.2, 198.51.100.7")],
            body("pp-chargeback.json"),
        )
        .await;

    assert_eq!(from_pingpong.status(), 200);
    assert_eq!(from_elsewhere.status(), 403);
    let stored = app.store.notifications().await.unwrap();
    assert_eq!(stored[0].remote_addr, "3.125.243.2");
    assert_eq!(stored[1].remote_addr, "198.51.100.7");
}

#[tokio::test]
async fn a_disabled_connection_answers_503_so_the_provider_retries_and_keeps_the_request() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    sqlx::query("update connections set enabled = false where slug = 'pingpong-main'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.store.note_connections_changed();

    let response = app
        .post_webhook("pingpong-main", &[], body("pp-rfi.json"))
        .await;

    assert_eq!(response.status(), 503);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"this connection is disabled"}"#
    );
    assert_eq!(verdicts(&app).await, ["disabled"]);
    assert_eq!(count(&app, "select count(*) from dispute_events").await, 0);
}

#[tokio::test]
async fn an_unrecognized_event_is_acknowledged_recorded_and_flagged_without_changing_the_dispute() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    app.post_webhook("pingpong-main", &[], body("pp-fraud-alert.json"))
        .await;

    let response = app
        .post_webhook("pingpong-main", &[], body("pp-unknown-event.json"))
        .await;

    assert_eq!(response.status(), 200);
    let stored = app.store.notifications().await.unwrap();
    assert!(!stored[0].needs_attention);
    assert!(stored[1].needs_attention);
    assert!(stored[1]
        .reason
        .as_deref()
        .unwrap()
        .contains("ISSUER_COMMENTS"));
    let dispute = app
        .store
        .dispute("pingpong-main", "202303110800001102")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            dispute.stage.map(|s| s.as_str()),
            dispute.status.map(|s| s.as_str())
        ),
        (Some("fraud_alert"), Some("needs_response"))
    );
    assert_eq!(app.store.timeline(dispute.id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn during_key_rotation_both_keys_verify_until_the_old_one_is_retired() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let connection = app
        .store
        .intake_connection(&dispute_core::domain::ConnectionSlug::parse("botim-main").unwrap())
        .await
        .unwrap()
        .unwrap();
    let new_private = provider_key("unrelated-private.pem");
    let new_public = VerificationKey::parse(&new_private.verification_key().to_pem()).unwrap();
    let (old_body, old_sign) = botim_chargeback();
    let new_body = body("botim-unicode.json");
    let new_sign = new_private.sign(&new_body);

    // Before the next key is added, the new signature is refused.
    let early = app
        .post_webhook("botim-main", &[("sign", &new_sign)], new_body.clone())
        .await;
    assert_eq!(early.status(), 401);

    app.store
        .set_key(
            connection.id,
            KeyPurpose::Verify,
            KeySlot::Next,
            &StoredKey {
                material: StoredKeyMaterial::PublicDer(new_public.spki_der().to_vec()),
                fingerprint: new_public.fingerprint().to_string(),
            },
            &Default::default(),
        )
        .await
        .unwrap();
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

    assert!(app
        .store
        .promote_next_key(connection.id, KeyPurpose::Verify, &Default::default())
        .await
        .unwrap());
    let old_after = app
        .post_webhook("botim-main", &[("sign", &old_sign)], old_body)
        .await;
    let new_after = app
        .post_webhook("botim-main", &[("sign", &new_sign)], new_body)
        .await;
    assert_eq!(
        (old_after.status().as_u16(), new_after.status().as_u16()),
        (401, 200)
    );

    let stored = app.store.notifications().await.unwrap();
    let fingerprints: Vec<Option<&str>> = stored
        .iter()
        .map(|n| n.key_fingerprint.as_deref())
        .collect();
    assert_eq!(fingerprints[2], Some(new_public.fingerprint().as_str()));
    assert_eq!(
        stored[3].reason.as_deref(),
        Some(
            format!(
                "the signature does not match key {}",
                new_public.fingerprint()
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn a_pingpong_refund_is_recorded_as_a_payment_linked_to_its_dispute() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    app.post_webhook("pingpong-main", &[], body("pp-chargeback.json"))
        .await;
    let biz = json!({
        "notifyType": "REFUND", "status": "SUCCESS", "transactionId": "PS23030716214681886",
        "merchantTransactionId": "PShop20230307162139KX", "refundId": "RF1", "amount": "129.90",
        "currency": "USD", "refundTime": "1679400000000"
    });
    let notification = json!({
        "accId": "2022102018024210348882", "clientId": "2022102018024210348", "code": "000000",
        "description": "success", "bizContent": biz.to_string(), "signType": "SHA256"
    });
    let signed = pingpong_signed(&notification);

    let first = app.post_webhook("pingpong-main", &[], signed.clone()).await;
    let again = app.post_webhook("pingpong-main", &[], signed).await;

    assert_eq!(
        (first.status().as_u16(), again.status().as_u16()),
        (200, 200)
    );
    assert_eq!(first.text().await.unwrap(), "");
    assert_eq!(verdicts(&app).await, ["valid", "valid", "duplicate"]);
    let dispute = app
        .store
        .dispute("pingpong-main", "202303071954574059")
        .await
        .unwrap()
        .unwrap();
    let payments = app.store.payments_of_dispute(dispute.id).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].kind, "REFUND");
    assert_eq!(payments[0].operation_reference.as_deref(), Some("RF1"));
    assert_eq!(
        app.store.timeline(dispute.id).await.unwrap().len(),
        1,
        "a payment is not a dispute event"
    );
}

#[tokio::test]
async fn a_notification_for_another_account_is_refused_as_malformed() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let mut notification: Value = serde_json::from_slice(&body("pp-rfi.json")).unwrap();
    notification["accId"] = json!("9999");
    notification.as_object_mut().unwrap().remove("sign");
    let signed = pingpong_signed(&notification);

    let response = app.post_webhook("pingpong-main", &[], signed).await;

    assert_eq!(response.status(), 400);
    let row = &app.store.notifications().await.unwrap()[0];
    assert_eq!(row.verdict.as_str(), "malformed");
    assert!(row.reason.as_deref().unwrap().contains("accId \"9999\""));
}

#[tokio::test]
async fn salts_and_private_keys_are_sealed_in_the_database() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let salt = fixture_salt();
    let private_b64 =
        std::fs::read_to_string(fixtures().join("keys/payermax-merchant-private.b64")).unwrap();

    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("select coalesce(public_der, sealed_secret) from connection_keys")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 5, "3 verification keys and 2 signing keys");
    for bytes in stored {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&salt));
        assert!(!text.contains(&private_b64.trim()[40..80]));
    }
}

#[tokio::test]
async fn a_hundred_concurrent_copies_per_provider_make_one_event_each_and_are_all_acknowledged() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    for (slug, case, ack) in [
        ("pingpong-main", "pp-chargeback", ""),
        (
            "botim-main",
            "botim-chargeback",
            r#"{"response":"SUCCESS"}"#,
        ),
        (
            "payermax-main",
            "pm-inquiry-wrapped",
            r#"{"code":"SUCCESS","msg":"Success"}"#,
        ),
    ] {
        let body = body(&format!("{case}.json"));
        let sign = (slug != "pingpong-main").then(|| fixture_sign(case));
        let answers = futures::future::join_all((0..100).map(|_| {
            let (body, sign, app) = (body.clone(), sign.clone(), &app);
            async move {
                let headers: Vec<(&str, &str)> =
                    sign.iter().map(|s| ("sign", s.as_str())).collect();
                let r = app.post_webhook(slug, &headers, body).await;
                (r.status().as_u16(), r.text().await.unwrap())
            }
        }))
        .await;

        for answer in &answers {
            assert_eq!((answer.0, answer.1.as_str()), (200, ack), "{slug}");
        }
        let events: i64 = sqlx::query_scalar(
            "select count(*) from dispute_events e join connections c on c.id = e.connection_id
             where c.slug = $1",
        )
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(events, 1, "{slug}");
    }
}

#[tokio::test]
async fn a_connection_changed_by_another_replica_is_seen_at_once() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    assert_eq!(
        app.post_webhook("pingpong-main", &[], body("pp-rfi.json"))
            .await
            .status(),
        200,
        "the connection is now cached"
    );
    // Another server on the same database: its own pool and store.
    let replica = dispute_store::Store::new(
        sqlx::postgres::PgPoolOptions::new()
            .connect_with(app.pool.connect_options().as_ref().clone())
            .await
            .unwrap(),
    );
    let settings = dispute_core::domain::ConnectionDraft {
        enabled: false,
        ..app
            .store
            .connection_detail(
                &dispute_core::domain::ConnectionSlug::parse("pingpong-main").unwrap(),
            )
            .await
            .unwrap()
            .unwrap()
            .settings
    }
    .validate(&[])
    .unwrap();
    replica
        .save_connection(
            &settings,
            dispute_store::Saving::Update,
            |_| vec![],
            &Default::default(),
        )
        .await
        .unwrap();

    let mut status = 0;
    for _ in 0..40 {
        status = app
            .post_webhook("pingpong-main", &[], body("pp-chargeback.json"))
            .await
            .status()
            .as_u16();
        if status == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        status, 503,
        "the disabled connection is refused within a second"
    );
}

#[tokio::test]
async fn different_events_of_one_dispute_arriving_together_all_count() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    // Twenty retrieval requests for one dispute, each with its own date;
    // the latest one's deadline must win whatever order they commit in.
    let notices: Vec<Vec<u8>> = (0..20)
        .map(|n| {
            pingpong_signed(&json!({
                "accId": "2022102018024210348882",
                "eventCode": "REQUEST_FOR_INFORMATION",
                "eventDate": format!("2023-03-{:02} 10:00:00", n + 1),
                "defensePeriodEndsAt": format!("2023-04-{:02} 23:59:59", n + 1),
                "disputePspReference": "RACE1",
                "amount": "10.00",
                "currency": "USD",
                "signType": "SHA256",
            }))
        })
        .collect();

    let answers = futures::future::join_all(
        notices
            .into_iter()
            .map(|body| app.post_webhook("pingpong-main", &[], body)),
    )
    .await;

    assert!(answers.iter().all(|a| a.status() == 200));
    let dispute = app
        .store
        .dispute("pingpong-main", "RACE1")
        .await
        .unwrap()
        .unwrap();
    let timeline = app.store.timeline(dispute.id).await.unwrap();
    let sources: std::collections::BTreeSet<Option<i64>> =
        timeline.iter().map(|e| e.notification_id).collect();
    assert_eq!(timeline.len(), 20);
    assert_eq!(sources.len(), 20, "each event names its own notification");
    assert!(
        !sources.contains(&None),
        "each event names its notification"
    );
    assert_eq!(
        dispute.deadline.unwrap().to_string(),
        "2023-04-20T23:59:59Z",
        "the latest event's deadline"
    );
    assert_eq!(dispute.last_event_at.to_string(), "2023-03-20T10:00:00Z");
    assert_eq!(dispute.opened_at.to_string(), "2023-03-01T10:00:00Z");
}
