//! The provider simulator against the real intake: every provider's
//! notifications it signs are accepted and fold to the scenario's expected
//! states, and it retries on the provider's schedule until acknowledged.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{body::Bytes, extract::State, http::HeaderMap, response::IntoResponse};
use simulator::{
    notifications::Keys,
    scenario::{self, Scenario},
    sender::{self, Play},
};

use crate::helpers::spawn_app;

fn keys() -> Keys {
    Keys::load(&test_support::fixtures().join("keys")).expect("the fixtures' provider keys")
}

fn play(intake: &str, time_scale: f64) -> Play {
    Play {
        intake: intake.to_owned(),
        time_scale,
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_mixed_day_from_the_three_providers_folds_to_the_scenarios_expected_states() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let day = scenario::builtin("mixed-day").unwrap();
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(12);

    // About eight hours of the providers' day in about three seconds.
    let log = sender::play(&day, &keys(), start, &play(&app.address, 0.0001))
        .await
        .unwrap();

    for dispute in &day.disputes {
        let stored = app
            .store
            .dispute(&dispute.connection, &dispute.reference)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} was recorded", dispute.reference));
        assert_eq!(
            (stored.stage, stored.status),
            (Some(dispute.expect.stage), Some(dispute.expect.status)),
            "{}",
            dispute.reference
        );
    }
    let corrupt: Vec<_> = log.iter().filter(|a| a.status == Some(401)).collect();
    assert_eq!(
        corrupt.len(),
        4,
        "a corrupted signature is sent and retried 3 times: {log:#?}"
    );
    assert!(corrupt.iter().all(|a| !a.acknowledged));
    let duplicated = log
        .iter()
        .filter(|a| a.reference == "OBDAY004" && a.acknowledged)
        .count();
    assert_eq!(duplicated, 2, "both copies are acknowledged");
    let events: i64 = sqlx::query_scalar(
        "select count(*) from dispute_events e join disputes d on d.id = e.dispute_id
         where d.dispute_ref = 'OBDAY004'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(events, 1, "the duplicate is one event");

    // PayerMax's old, flat format is acknowledged as that format wants.
    let flat: Vec<_> = log.iter().filter(|a| a.reference == "PMDAY004").collect();
    assert_eq!(flat.len(), 3);
    assert!(flat
        .iter()
        .all(|a| a.acknowledged && a.answer.contains("\"bizCode\":\"0000\"")));
    // Late retries of an event after the dispute was closed are
    // acknowledged and change nothing.
    let late: Vec<_> = log
        .iter()
        .filter(|a| ["PPDAY004", "PMDAY005"].contains(&a.reference.as_str()))
        .collect();
    assert!(late.iter().all(|a| a.acknowledged), "{late:#?}");
    let duplicates: i64 = sqlx::query_scalar(
        "select count(*) from notifications n
         join dispute_events e on e.notification_id = n.duplicate_of
         join disputes d on d.id = e.dispute_id
         where d.dispute_ref in ('PPDAY004', 'PMDAY005') and n.verdict = 'duplicate'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(duplicates, 2);
    // PingPong's transaction and refund notifications for disputed payments.
    let payments: Vec<(String, String)> = sqlx::query_as(
        "select kind, payment_reference from payments order by payment_reference, kind",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        payments,
        [
            ("RECHARGE".to_owned(), "PS-PPDAY004".to_owned()),
            ("RECHARGE".to_owned(), "PS-PPDAY009".to_owned()),
            ("REFUND".to_owned(), "PS-PPDAY009".to_owned()),
        ]
    );
}

/// A front for the intake that answers 503 to the first `failures`
/// requests and passes the rest on.
#[derive(Clone)]
struct Flaky {
    seen: Arc<AtomicUsize>,
    failures: usize,
    intake: String,
}

async fn flaky(
    State(front): State<Flaky>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    if front.seen.fetch_add(1, Ordering::SeqCst) < front.failures {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    let mut request = reqwest::Client::new().post(format!("{}{}", front.intake, uri.path()));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = request.body(body.to_vec()).send().await.unwrap();
    let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
    (status, answer.bytes().await.unwrap()).into_response()
}

#[tokio::test]
async fn a_notification_answered_503_twice_arrives_on_the_third_attempt_on_the_providers_schedule()
{
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let front = Flaky {
        seen: Arc::default(),
        failures: 2,
        intake: app.address.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .fallback(flaky)
        .with_state(front.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut story: Scenario = scenario::builtin("mixed-day").unwrap();
    story.disputes.retain(|d| d.reference == "OBDAY001");

    // Botim Money retries after 2 and then 10 minutes: 60 ms and 300 ms here.
    let scale = 0.0005;
    let log = sender::play(
        &story,
        &keys(),
        jiff::Timestamp::now(),
        &play(&address, scale),
    )
    .await
    .unwrap();

    let answers: Vec<(usize, Option<u16>, bool)> = log
        .iter()
        .map(|a| (a.attempt, a.status, a.acknowledged))
        .collect();
    assert_eq!(
        answers,
        [
            (1, Some(503), false),
            (2, Some(503), false),
            (3, Some(200), true)
        ]
    );
    let gap = |a: usize, b: usize| log[b].at_ms - log[a].at_ms;
    assert!(gap(0, 1) >= 60, "2 minutes scaled: {log:#?}");
    assert!(gap(1, 2) >= 300, "10 minutes scaled: {log:#?}");
    let stored = app.store.dispute("botim-main", "OBDAY001").await.unwrap();
    assert!(stored.is_some(), "the third attempt was recorded");
    assert_eq!(front.seen.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_dropped_notification_is_never_sent_and_the_dispute_stays_where_the_last_one_left_it() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let lost = scenario::builtin("lost-notification").unwrap();

    let log = sender::play(
        &lost,
        &keys(),
        jiff::Timestamp::now(),
        &play(&app.address, 0.0001),
    )
    .await
    .unwrap();

    let dropped: Vec<_> = log.iter().filter(|a| a.attempt == 0).collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].kind, "NOTIFICATION_OF_CHARGEBACK");
    let stored = app
        .store
        .dispute("pingpong-main", "PPLOST001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.stage, Some(dispute_core::domain::Stage::Inquiry));
}
