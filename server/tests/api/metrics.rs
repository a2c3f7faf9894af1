//! `/metrics`: Prometheus text behind its own bearer token, counting what
//! the test sent, asked and replayed.

use std::time::Duration;

use dispute_core::domain::Role;
use prometheus_parse::{Scrape, Value};
use server::config::{Settings, StatusQuerySettings};
use test_support::{fixture_body, fixture_sign};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const TOKEN: &str = "a-scraper's-token-of-some-length";

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}/metrics", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn parsed(app: &TestApp) -> Scrape {
    let answer = scrape(app, Some(TOKEN)).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let text = answer.text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text")
}

fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    found(scrape, name, labels).unwrap_or_else(|| panic!("{name} {labels:?} is in the scrape"))
}

fn found(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            other => panic!("{name}: {other:?}"),
        })
}

#[tokio::test]
async fn without_a_token_configured_there_is_no_metrics_route() {
    let app = spawn_app().await;
    // The address is then an unknown page like any other.
    let answer = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_ne!(answer.status(), 200);
    assert!(!answer.text().await.unwrap().contains("dispute_desk_"));
}

#[tokio::test]
async fn metrics_count_deliveries_by_verdict_status_queries_and_reconciliation_runs() {
    let d = Settings::default();
    let app = spawn_app_with(Settings {
        metrics_token: Some(TOKEN.to_owned().into()),
        status_queries: StatusQuerySettings {
            allow_local: true,
            timeout: Duration::from_secs(1),
            reconcile_every: Some(Duration::from_secs(1)),
            ..d.status_queries
        },
        ..d
    })
    .await;
    app.import_fixture_connections().await;
    assert_eq!(scrape(&app, None).await.status(), 401);
    assert_eq!(scrape(&app, Some("wrong")).await.status(), 401);

    let json = [("content-type", "application/json")];
    let botim = fixture_body("botim-chargeback.json");
    let sign = fixture_sign("botim-chargeback");
    let signed = [
        ("content-type", "application/json"),
        ("sign", sign.as_str()),
    ];
    for (slug, headers, body, status) in [
        (
            "pingpong-main",
            &json[..],
            fixture_body("pp-chargeback.json"),
            200,
        ),
        (
            "pingpong-main",
            &json[..],
            fixture_body("pp-chargeback.json"),
            200,
        ),
        ("botim-main", &signed[..], botim, 200),
        (
            "pingpong-main",
            &json[..],
            fixture_body("pp-wrong-salt.json"),
            401,
        ),
        ("nobody", &json[..], b"{}".to_vec(), 404),
    ] {
        assert_eq!(app.post_webhook(slug, headers, body).await.status(), status);
    }

    // An analyst asks PingPong, which is not there.
    sqlx::query("update connections set query_base_url = 'http://127.0.0.1:1/pingpong' where slug = 'pingpong-main'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.sign_in_as(Role::Analyst).await;
    let asked = app
        .post_form(
            &app.client,
            "/api/disputes/query",
            &[(
                "dispute",
                &app.dispute_id("pingpong-main", "202303071954574059").await,
            )],
        )
        .await;
    assert!(asked.status().is_redirection());

    // Ops replays the forged one: still refused.
    let forged: i64 =
        sqlx::query_scalar("select id from notifications where verdict = 'bad_signature'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let ops = crate::helpers::browser_client();
    let (_, email) = app.create_user(Role::Ops).await;
    app.sign_in_with(&ops, &email, crate::helpers::PASSWORD)
        .await;
    let replayed = app
        .post_form(
            &ops,
            "/api/deliveries/replay",
            &[("id", &forged.to_string())],
        )
        .await;
    assert!(replayed.status().is_redirection());

    // Reconciliation and the analyst's question run as jobs.
    let mut scrape = parsed(&app).await;
    for _ in 0..50 {
        let reconciled = found(&scrape, "dispute_desk_reconciliation_runs_total", &[]);
        let asked = found(&scrape, "dispute_desk_status_queries_total", &[]);
        if reconciled.is_some_and(|n| n >= 1.0) && asked.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        scrape = parsed(&app).await;
    }
    let deliveries = |provider, verdict| {
        value(
            &scrape,
            "dispute_desk_deliveries_total",
            &[("provider", provider), ("verdict", verdict)],
        )
    };
    assert_eq!(deliveries("pingpong", "valid"), 1.0);
    assert_eq!(deliveries("pingpong", "duplicate"), 1.0);
    assert_eq!(deliveries("botim_money", "valid"), 1.0);
    assert_eq!(deliveries("pingpong", "bad_signature"), 1.0);
    assert_eq!(deliveries("unknown", "unknown_connection"), 1.0);
    assert_eq!(
        value(&scrape, "dispute_desk_intake_seconds_count", &[]),
        5.0
    );
    assert_eq!(
        value(
            &scrape,
            "dispute_desk_status_queries_total",
            &[("provider", "pingpong"), ("outcome", "unreachable")]
        ),
        1.0
    );
    assert!(value(&scrape, "dispute_desk_reconciliation_runs_total", &[]) >= 1.0);
    assert_eq!(
        value(
            &scrape,
            "dispute_desk_replays_total",
            &[("outcome", "refused")]
        ),
        1.0
    );
    assert!(
        value(
            &scrape,
            "dispute_desk_database_connections",
            &[("state", "idle")]
        ) >= 0.0
    );
}

#[tokio::test]
async fn behind_an_https_public_url_every_answer_asks_for_https_and_otherwise_none_does() {
    let plain = spawn_app().await;
    let https = spawn_app_with(Settings {
        public_url: Some("https://disputes.example.com".into()),
        metrics_token: Some(TOKEN.to_owned().into()),
        ..Settings::default()
    })
    .await;

    for path in ["/login", "/healthz", "/webhooks/nobody"] {
        let answer = plain.get(path).await;
        assert!(
            answer.headers().get("strict-transport-security").is_none(),
            "{path}"
        );
    }
    for path in ["/login", "/healthz", "/webhooks/nobody"] {
        let answer = https.get(path).await;
        assert_eq!(
            answer.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
    let scraped = scrape(&https, Some(TOKEN)).await;
    assert_eq!(
        scraped.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}
