//! What a stranger on the network, a provider-signed but odd notification,
//! and a slow or vanishing client can do to intake: every case is answered
//! clearly, stored as far as it should be, and cannot grow the database
//! without bound, stall the server or forge a log line.

use std::time::Duration;

use serde_json::json;
use server::config::{ConnectionLimits, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use test_support::{fixtures, pingpong_signed, provider_key};

use crate::helpers::{captured_logs, spawn_app, spawn_app_with, TestApp};

fn body(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("bodies").join(name)).unwrap()
}

async fn stored(app: &TestApp) -> Vec<dispute_store::StoredNotification> {
    app.store.notifications().await.unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn an_unknown_connection_keeps_only_the_first_4_kib_with_the_true_length_and_digest() {
    let app = spawn_app().await;
    let big: Vec<u8> = (0..10_000).map(|i| b'a' + (i % 26) as u8).collect();

    let answer = app.post_webhook("nobody-here", &[], big.clone()).await;

    assert_eq!(answer.status(), 404);
    let row = &stored(&app).await[0];
    assert_eq!(row.verdict.as_str(), "unknown_connection");
    assert_eq!(row.body, big[..4096]);
    assert_eq!(row.body_length, 10_000);
    assert_eq!(
        row.body_sha256,
        dispute_workflows::intake::body_digest(&big)
    );
}

#[tokio::test]
async fn past_a_senders_allowance_strangers_requests_get_429_and_are_only_counted() {
    let app = spawn_app_with(Settings {
        stranger_requests_per_minute: 3.try_into().unwrap(),
        ..Settings::default()
    })
    .await;
    app.import_fixture_connections().await;

    let mut statuses = Vec::new();
    for n in 0..5 {
        let answer = app
            .post_webhook(&format!("guess-{n}"), &[], b"{}".to_vec())
            .await;
        statuses.push(answer.status().as_u16());
        if answer.status() == 429 {
            assert_eq!(answer.headers()["retry-after"], "60");
            assert_eq!(
                answer.text().await.unwrap(),
                r#"{"error":"too many requests from this address; retry later"}"#
            );
        }
    }
    let known = app
        .post_webhook("pingpong-main", &[], body("pp-rfi.json"))
        .await;

    assert_eq!(statuses, [404, 404, 404, 429, 429]);
    assert_eq!(
        known.status(),
        200,
        "notifications to a connection are not limited"
    );
    assert_eq!(
        stored(&app).await.len(),
        4,
        "three strangers and the notification"
    );
    app.intake.flush_throttled().await.unwrap();
    assert_eq!(
        count(&app, "select sum(requests)::bigint from throttled_requests").await,
        2
    );
    app.sign_in_as(dispute_core::domain::Role::Ops).await;
    let (_, html) = app.get_page("/deliveries").await;
    let section = html.split("Refused for rate").nth(1).unwrap();
    assert!(
        section.contains("<code>127.0.0.1</code></td><td>2</td>"),
        "{section}"
    );
    assert!(section.contains("/webhooks/guess-4"), "{section}");
}

#[tokio::test]
async fn a_nul_slug_is_an_unknown_connection_stored_as_received() {
    let app = spawn_app().await;

    let answer = app.post_webhook("%00", &[], b"{}".to_vec()).await;

    assert_eq!(answer.status(), 404);
    let row = &stored(&app).await[0];
    assert_eq!(
        (row.slug.as_str(), row.verdict.as_str()),
        ("%00", "unknown_connection")
    );
}

#[tokio::test]
async fn a_slug_cannot_forge_a_log_line() {
    let app = spawn_app().await;
    let marker = format!("forged{}", uuid::Uuid::new_v4().simple());

    app.post_webhook(&format!("x%0AERROR%20{marker}%0D%0A"), &[], b"{}".to_vec())
        .await;

    let logs = captured_logs();
    assert!(logs.contains(&marker), "the slug is logged");
    for line in logs.lines().filter(|l| l.contains(&marker)) {
        assert!(!line.trim_start().starts_with("ERROR"), "forged: {line}");
    }
    assert!(!logs.contains(&format!("\nERROR {marker}")));
}

/// A provider-signed body whose one field is `value`, per provider: the
/// connection, the headers and the body.
fn signed_with(provider: &str, value: &str) -> (&'static str, Vec<(String, String)>, Vec<u8>) {
    match provider {
        "pingpong" => {
            let notice = json!({
                "accId": "2022102018024210348882", "eventCode": "NOTIFICATION_OF_CHARGEBACK",
                "eventDate": "2023-03-07 19:54:58", "disputePspReference": "202303071954574059",
                "currency": "USD", "amount": "129.90", "merchantReference": value,
                "signType": "SHA256",
            });
            ("pingpong-main", vec![], pingpong_signed(&notice))
        }
        "botim" => {
            let notice = json!({
                "notify_id": "99", "notify_timestamp": 1586849271877_i64,
                "acquireChargeback": {
                    "chargebackTime": 1581493898000_i64, "orderNo": "O1000",
                    "merchantOrderNo": "S1", "caseType": value, "partnerId": "200000003232",
                },
            });
            let bytes = serde_json::to_vec(&notice).unwrap();
            let sign = provider_key("botim-money-private.pem").sign(&bytes);
            ("botim-main", vec![("sign".into(), sign)], bytes)
        }
        _ => {
            let notice = json!({
                "caseId": "C1", "status": "DISPUTE_INQUIRY", "reasonMessage": value,
                "merchantNo": "SDP01010114524460",
            });
            let bytes = serde_json::to_vec(&notice).unwrap();
            let key = provider_key("payermax-private.b64");
            let sign = key.sign(&bytes);
            ("payermax-main", vec![("sign".into(), sign)], bytes)
        }
    }
}

#[tokio::test]
async fn a_signed_notification_with_a_nul_or_an_oversized_field_is_malformed_once_and_kept() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let oversized = "m".repeat(500_000);

    for provider in ["pingpong", "botim", "payermax"] {
        for (value, why) in [
            ("a\u{0}b", "contains a NUL character"),
            (oversized.as_str(), "is longer than"),
        ] {
            let (slug, headers, bytes) = signed_with(provider, value);
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();

            let answer = app.post_webhook(slug, &headers, bytes.clone()).await;

            assert_eq!(answer.status(), 400, "{provider} {why}");
            assert_eq!(
                answer.text().await.unwrap(),
                r#"{"error":"the notification could not be read"}"#
            );
            let rows = stored(&app).await;
            let row = rows.last().unwrap();
            assert_eq!(row.verdict.as_str(), "malformed", "{provider}");
            assert!(
                row.reason.as_deref().unwrap().contains(why),
                "{:?}",
                row.reason
            );
            assert!(
                row.reason.as_deref().unwrap().len() < 1100,
                "the reason is bounded"
            );
            assert_eq!(row.body, bytes, "kept whole for replay");
            assert!(row.key_fingerprint.is_some(), "the signature was good");
        }
    }
    assert_eq!(count(&app, "select count(*) from dispute_events").await, 0);
}

#[tokio::test]
async fn an_event_the_database_refuses_is_kept_with_the_reason_and_answered_500() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    // Not an outage: the database refuses this one event.
    sqlx::query(
        "alter table dispute_events add constraint test_refuses_rfi
         check (kind <> 'REQUEST_FOR_INFORMATION')",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let answer = app
        .post_webhook("pingpong-main", &[], body("pp-rfi.json"))
        .await;

    assert_eq!(answer.status(), 500);
    assert_eq!(
        answer.text().await.unwrap(),
        r#"{"error":"the notification could not be recorded; it is kept for review"}"#
    );
    let row = &stored(&app).await[0];
    assert_eq!(row.verdict.as_str(), "failed");
    assert!(
        row.reason.as_deref().unwrap().contains("test_refuses_rfi"),
        "{:?}",
        row.reason
    );
    assert_eq!(row.body, body("pp-rfi.json"));
    assert_eq!(row.response_status, Some(500));
    assert_eq!(count(&app, "select count(*) from disputes").await, 0);
}

fn slow_limits() -> Settings {
    Settings {
        connections: ConnectionLimits {
            header_read_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(2),
            max_connections: 2,
            max_per_address: 2,
        },
        ..Settings::default()
    }
}

/// Reads until the server closes the connection; false if it stays open
/// longer than `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut sink = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_client_sending_its_headers_a_byte_a_second_is_disconnected() {
    let app = spawn_app_with(slow_limits()).await;
    let mut stream = tokio::net::TcpStream::connect(app.socket()).await.unwrap();
    let headers = b"POST /webhooks/pingpong-main HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n";
    let started = std::time::Instant::now();
    let mut sent = 0;

    for byte in headers {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }

    assert!(sent < headers.len(), "the server waited for every byte");
    assert!(closed_within(&mut stream, Duration::from_secs(1)).await);
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let app = spawn_app_with(slow_limits()).await;
    let mut stream = tokio::net::TcpStream::connect(app.socket()).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 1024];
    let n = stream.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));

    assert!(closed_within(&mut stream, Duration::from_secs(4)).await);
}

#[tokio::test]
async fn past_the_connection_cap_a_client_waits_until_one_closes() {
    let app = spawn_app_with(slow_limits()).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(app.socket()).await.unwrap();
        stream.write_all(b"GET /hea").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let waiting = tokio::spawn({
        let client = reqwest::Client::new();
        let url = format!("{}/healthz", app.address);
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "served past the cap");
    drop(held);

    assert_eq!(waiting.await.unwrap().unwrap(), 200);
}

#[tokio::test]
async fn a_body_that_ends_before_its_length_is_kept_as_it_arrived_and_answered_400() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let whole = body("pp-rfi.json");
    let mut stream = tokio::net::TcpStream::connect(app.socket()).await.unwrap();
    let head = format!(
        "POST /webhooks/pingpong-main HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        whole.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&whole[..100]).await.unwrap();
    stream.shutdown().await.unwrap();

    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();

    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.ends_with(r#"{"error":"the body ended early"}"#),
        "{answer}"
    );
    let row = &stored(&app).await[0];
    assert_eq!(row.verdict.as_str(), "malformed");
    assert_eq!(row.body, whole[..100]);
    assert_eq!(
        row.reason.as_deref(),
        Some(
            format!(
                "the body ended early: 100 bytes arrived of the {} declared",
                whole.len()
            )
            .as_str()
        )
    );
    assert_eq!(count(&app, "select count(*) from disputes").await, 0);
}

#[tokio::test]
async fn a_sender_that_hangs_up_after_sending_still_gets_its_notification_judged() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let whole = body("pp-rfi.json");
    let mut stream = tokio::net::TcpStream::connect(app.socket()).await.unwrap();
    let head = format!(
        "POST /webhooks/pingpong-main HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        whole.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&whole).await.unwrap();
    drop(stream);

    let mut verdict = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(row) = stored(&app).await.first() {
            verdict = row.verdict.as_str().to_owned();
            if verdict != "received" {
                break;
            }
        }
    }
    assert_eq!(verdict, "valid");
    assert_eq!(count(&app, "select count(*) from dispute_events").await, 1);
}
