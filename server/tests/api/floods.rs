//! Floods at a known slug and connections held open (the second security
//! review): refused requests are charged to their sender's allowance and
//! kept bounded, a sender a trusted proxy names unreadably is nobody in
//! particular, and one address cannot hold the connections another needs.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use server::config::{ConnectionLimits, Settings};
use sha2::{Digest, Sha256};
use test_support::{fixture_body, pingpong_signed};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::helpers::{spawn_app_with, TestApp};

async fn rows(app: &TestApp) -> Vec<dispute_store::StoredNotification> {
    app.store.notifications().await.unwrap()
}

async fn throttled(app: &TestApp) -> i64 {
    app.intake.flush_throttled().await.unwrap();
    sqlx::query_scalar("select coalesce(sum(requests), 0)::bigint from throttled_requests")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn allowance(per_minute: u32) -> Settings {
    Settings {
        stranger_requests_per_minute: per_minute.try_into().unwrap(),
        ..Settings::default()
    }
}

/// PingPong's chargeback without its signature, padded to `size` bytes.
fn unsigned(size: usize) -> Vec<u8> {
    let mut fields: serde_json::Value =
        serde_json::from_slice(&fixture_body("pp-chargeback.json")).unwrap();
    fields.as_object_mut().unwrap().remove("sign");
    let mut bytes = serde_json::to_vec(&fields).unwrap();
    bytes.resize(size, b' ');
    bytes
}

/// A notification PingPong signed (with its own reference).
fn signed(reference: &str) -> Vec<u8> {
    let mut fields: serde_json::Value =
        serde_json::from_slice(&fixture_body("pp-chargeback.json")).unwrap();
    fields.as_object_mut().unwrap().remove("sign");
    fields["disputePspReference"] = reference.into();
    pingpong_signed(&fields)
}

#[tokio::test]
async fn refused_requests_at_a_known_slug_are_charged_and_large_ones_keep_only_a_prefix() {
    let app = spawn_app_with(allowance(3)).await;
    app.import_fixture_connections().await;
    let flood = unsigned(100 * 1024);

    let mut statuses = Vec::new();
    for _ in 0..5 {
        let answer = app.post_webhook("pingpong-main", &[], flood.clone()).await;
        statuses.push(answer.status().as_u16());
    }
    // The provider's own notifications are never limited, nor kept short.
    let valid = app
        .post_webhook("pingpong-main", &[], signed("PP-OK"))
        .await;
    let mut unreadable: serde_json::Value = serde_json::from_slice(&signed("PP-NUL")).unwrap();
    unreadable.as_object_mut().unwrap().remove("sign");
    unreadable["merchantReference"] = format!("a\u{0}{}", "m".repeat(100 * 1024)).into();
    let malformed = app
        .post_webhook("pingpong-main", &[], pingpong_signed(&unreadable))
        .await;

    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    assert_eq!(valid.status(), 200);
    assert_eq!(malformed.status(), 400);
    let stored = rows(&app).await;
    assert_eq!(
        stored.len(),
        5,
        "three refusals, the notification, the unreadable one"
    );
    for row in &stored[..3] {
        assert_eq!(row.verdict.as_str(), "missing_signature");
        assert_eq!(row.body, flood[..4096], "a prefix");
        assert_eq!(row.body_length, flood.len() as i64, "the true length");
        assert_eq!(
            row.body_sha256,
            Sha256::digest(&flood).to_vec(),
            "and digest"
        );
    }
    assert_eq!(stored[4].verdict.as_str(), "malformed");
    assert!(
        stored[4].body.len() > 100 * 1024,
        "what PingPong signed is kept whole"
    );
    assert_eq!(throttled(&app).await, 2);
}

#[tokio::test]
async fn a_small_refused_body_is_kept_whole_to_be_replayed_but_not_from_outside_the_allowlist() {
    let app = spawn_app_with(allowance(10)).await;
    app.import_fixture_connections().await;
    let wrong_salt = fixture_body("pp-wrong-salt.json");
    let answer = app
        .post_webhook("pingpong-main", &[], wrong_salt.clone())
        .await;
    assert_eq!(answer.status(), 401);
    sqlx::query(
        "update connections set source_allowlist = '{192.0.2.0/24}' where slug = 'pingpong-main'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.store.note_connections_changed();
    let outside = unsigned(10 * 1024);

    let answer = app
        .post_webhook("pingpong-main", &[], outside.clone())
        .await;

    assert_eq!(answer.status(), 403);
    let stored = rows(&app).await;
    assert_eq!(stored[0].verdict.as_str(), "bad_signature");
    assert_eq!(stored[0].body, wrong_salt, "kept whole");
    assert_eq!(stored[1].verdict.as_str(), "forbidden_source");
    assert_eq!(stored[1].body, outside[..4096]);
    assert_eq!(stored[1].body_length, outside.len() as i64);
}

#[tokio::test]
async fn at_most_8_kib_of_headers_are_kept_and_the_rest_counted() {
    let app = spawn_app_with(Settings::default()).await;
    app.import_fixture_connections().await;
    let big = "b".repeat(20 * 1024);

    let answer = app
        .post_webhook(
            "pingpong-main",
            &[("x-padding", &big), ("content-type", "application/json")],
            signed("PP-HEADERS"),
        )
        .await;

    assert_eq!(answer.status(), 200);
    let headers = &rows(&app).await[0].headers;
    assert!(
        headers.iter().any(|(n, _)| n == "content-type"),
        "{headers:?}"
    );
    assert!(!headers.iter().any(|(n, _)| n == "x-padding"));
    let (name, value) = headers.last().unwrap();
    assert_eq!(name, dispute_workflows::intake::HEADERS_NOT_KEPT);
    assert_eq!(
        value,
        &format!("1 left out, {} bytes", "x-padding".len() + big.len())
    );
    let kept: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    assert!(kept <= 8 * 1024 + 100, "{kept}");
}

/// Through a trusted proxy on loopback, as `sender` (the whole
/// `X-Forwarded-For` header).
async fn via_proxy(app: &TestApp, forwarded_for: &str, body: Vec<u8>) -> u16 {
    app.post_webhook("pingpong-main", &[("x-forwarded-for", forwarded_for)], body)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_a_proxy_an_ipv6_64_shares_one_allowance_and_an_unreadable_hop_is_nobody() {
    let app = spawn_app_with(Settings {
        trusted_proxies: dispute_core::domain::SourceAllowlist::parse(&["127.0.0.1"], &[]).unwrap(),
        ..allowance(2)
    })
    .await;
    app.import_fixture_connections().await;
    let refused = || unsigned(1024);

    let same_64 = [
        via_proxy(&app, "2001:db8:1:2::1", refused()).await,
        via_proxy(&app, "[2001:db8:1:2::2]:4711", refused()).await,
        via_proxy(&app, "2001:db8:1:2:ffff::3", refused()).await,
    ];
    let next_64 = via_proxy(&app, "2001:db8:1:3::1", refused()).await;

    assert_eq!(same_64, [401, 401, 429]);
    assert_eq!(next_64, 401);
    let senders: Vec<String> = rows(&app)
        .await
        .into_iter()
        .map(|r| r.remote_addr)
        .collect();
    assert_eq!(
        senders,
        ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:3::1"]
    );

    // An allowlist naming only the proxy does not let in a sender whose
    // hop cannot be read, nor one written with a port.
    sqlx::query(
        "update connections set source_allowlist = '{127.0.0.1}' where slug = 'pingpong-main'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.store.note_connections_changed();
    for (hop, sender) in [
        ("garbage", "unknown"),
        ("9.9.9.9:4711", "9.9.9.9"),
        ("1.2.3.4, garbage", "unknown"),
    ] {
        assert_eq!(via_proxy(&app, hop, signed("PP-VIA")).await, 403, "{hop}");
        let row = rows(&app).await.pop().unwrap();
        assert_eq!(
            (row.verdict.as_str(), row.remote_addr.as_str()),
            ("forbidden_source", sender)
        );
    }
    // Unknown senders share one allowance, not the proxy's.
    assert_eq!(via_proxy(&app, "garbage", refused()).await, 429);
    assert_eq!(via_proxy(&app, "", signed("PP-EMPTY")).await, 429);
}

/// Writes `head` and reads the answer's status line within `within`.
async fn status_line(stream: &mut TcpStream, head: &str, within: Duration) -> String {
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(within, stream.read(&mut answer))
        .await
        .expect("answered in time")
        .unwrap();
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn past_its_allowance_a_strangers_large_body_is_answered_before_it_is_sent() {
    let app = spawn_app_with(allowance(1)).await;
    assert_eq!(
        app.post_webhook("guess", &[], b"{}".to_vec())
            .await
            .status(),
        404
    );
    let mut stream = TcpStream::connect(app.socket()).await.unwrap();

    let head = "POST /webhooks/guess-again HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\r\n";
    let status = status_line(&mut stream, head, Duration::from_secs(1)).await;

    assert_eq!(status, "HTTP/1.1 429 Too Many Requests");
    assert_eq!(throttled(&app).await, 1);
    assert_eq!(rows(&app).await.len(), 1);
}

/// Sends `head` and then `body` (which the server may stop reading) and
/// returns the answer.
async fn send_oversized(app: &TestApp, head: String, body: Vec<u8>) -> String {
    let mut stream = TcpStream::connect(app.socket()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reading, mut writing) = stream.into_split();
    let sent = tokio::spawn(async move { writing.write_all(&body).await });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), reading.read_to_end(&mut answer)).await;
    let _ = sent.await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_oversized_body_is_read_no_further_than_it_takes_to_refuse_it() {
    let app = spawn_app_with(Settings::default()).await;
    app.import_fixture_connections().await;

    // Declared over the limit: only the prefix that is kept is read.
    let declared = 8 * 1024 * 1024;
    let head = format!(
        "POST /webhooks/pingpong-main HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n"
    );
    let answer = send_oversized(&app, head, vec![b'z'; 2 * 1024 * 1024]).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let row = &rows(&app).await[0];
    assert_eq!(
        (row.verdict.as_str(), row.body_length),
        ("too_large", declared)
    );
    assert_eq!(row.body, vec![b'z'; 4096]);
    assert_eq!(
        row.body_sha256,
        Sha256::digest(&row.body).to_vec(),
        "of what was read"
    );

    // Sent in chunks with no length: read to one byte past the limit.
    let chunk = vec![b'y'; 256 * 1024];
    let mut chunked = Vec::new();
    for _ in 0..8 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head =
        "POST /webhooks/pingpong-main HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let answer = send_oversized(&app, head.to_owned(), chunked).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let row = &rows(&app).await[1];
    let read = 1024 * 1024 + 1;
    assert_eq!(
        (row.verdict.as_str(), row.body_length),
        ("too_large", read as i64)
    );
    assert_eq!(row.body, vec![b'y'; 4096]);
    assert_eq!(row.body_sha256, Sha256::digest(vec![b'y'; read]).to_vec());
}

/// A connection from `from` (a loopback address) to the app.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Whether the server closes `stream` within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut sink = [0u8; 1024];
    matches!(
        tokio::time::timeout(within, stream.read(&mut sink)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn while_one_address_holds_its_share_another_is_answered_at_once() {
    let share = Settings::default().connections.max_per_address;
    // Room for one connection more than the share: without the share, the
    // held address would take it too.
    let app = spawn_app_with(Settings {
        connections: ConnectionLimits {
            max_connections: share + 1,
            ..Settings::default().connections
        },
        ..Settings::default()
    })
    .await;
    app.import_fixture_connections().await;
    let mut held = Vec::new();
    for _ in 0..share {
        // Kept-alive connections that asked once and wait for more.
        let mut stream = connect_from("127.0.0.1", app.socket()).await;
        let status = status_line(
            &mut stream,
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        held.push(stream);
    }
    let mut one_more = connect_from("127.0.0.1", app.socket()).await;
    assert!(
        closed_within(&mut one_more, Duration::from_secs(1)).await,
        "past its share an address's connection is closed"
    );

    let body = signed("PP-OTHER");
    let head = format!(
        "POST /webhooks/pingpong-main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let started = Instant::now();
    let mut other = connect_from("127.0.0.2", app.socket()).await;
    other.write_all(head.as_bytes()).await.unwrap();
    other.write_all(&body).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(1), other.read(&mut answer))
        .await
        .expect("answered within a second")
        .unwrap();
    let took = started.elapsed();

    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    println!("a notification from a second address took {took:?} while the first held {share} connections");
    drop(held);
}

#[tokio::test]
async fn only_http_1_1_is_spoken_and_a_connection_ends_after_its_requests() {
    let app = spawn_app_with(Settings::default()).await;
    let mut h2 = TcpStream::connect(app.socket()).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), h2.read_to_end(&mut answer)).await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
        "no HTTP/2 frames: {:?}",
        String::from_utf8_lossy(&answer)
    );

    let mut stream = TcpStream::connect(app.socket()).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(server::accept::MAX_REQUESTS);
    stream.write_all(&request).await.unwrap();
    let mut answers = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answers))
        .await
        .expect("closed after its last request")
        .unwrap();
    let answers = String::from_utf8_lossy(&answers);
    assert_eq!(
        answers.matches("HTTP/1.1 200").count(),
        server::accept::MAX_REQUESTS
    );
    assert_eq!(
        answers.matches("connection: close").count(),
        1,
        "on the last answer"
    );
}

#[tokio::test]
async fn intake_on_its_own_listener_is_answered_while_the_ui_listener_is_full() {
    let app = spawn_app_with(Settings {
        intake_listen_addr: Some("127.0.0.1:0".parse().unwrap()),
        connections: ConnectionLimits {
            max_connections: 2,
            ..Settings::default().connections
        },
        ..Settings::default()
    })
    .await;
    app.import_fixture_connections().await;
    let intake = app.intake_address.expect("an intake listener");
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(app.socket()).await.unwrap();
        stream.write_all(b"GET /hea").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    let client = reqwest::Client::new();
    let started = Instant::now();
    let answer = client
        .post(format!("http://{intake}/webhooks/pingpong-main"))
        .body(signed("PP-INTAKE"))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    let page = client
        .get(format!("http://{intake}/login"))
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), 200);
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(page.status(), 404, "the intake listener serves no page");
    drop(held);
}

#[tokio::test]
async fn a_body_trickled_a_byte_at_a_time_is_cut_off_and_kept_as_it_arrived() {
    let app = spawn_app_with(Settings::default()).await;
    app.import_fixture_connections().await;
    let mut stream = TcpStream::connect(app.socket()).await.unwrap();
    let head = "POST /webhooks/pingpong-main HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut reading, mut writing) = stream.into_split();
    let trickle = tokio::spawn(async move {
        // Always within the idle timeout, never finishing.
        while writing.write_all(b"{").await.is_ok() {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });

    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(40), reading.read(&mut answer))
        .await
        .expect("answered once the body's time is up")
        .unwrap();
    let took = started.elapsed();
    trickle.abort();

    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!((19..25).contains(&took.as_secs()), "{took:?}");
    let row = &rows(&app).await[0];
    assert_eq!(row.verdict.as_str(), "malformed");
    assert!(row.body.len() < 20 && row.body.iter().all(|b| *b == b'{'));
}
