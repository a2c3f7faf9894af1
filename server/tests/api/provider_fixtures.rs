//! Every case and every sequence of the provider fixtures (made with
//! OpenSSL, not by our code) through the real HTTP intake and the real
//! database. The expectations are read from the files; nothing of them is
//! copied here.

use dispute_store::TimelineEntry;
use jiff::Timestamp;
use serde_json::Value;

use test_support::fixtures;

use crate::helpers::{spawn_app, TestApp};

pub(crate) fn load(name: &str) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(fixtures().join(name)).unwrap()).unwrap()
}

pub(crate) fn case_by_id<'a>(cases: &'a [Value], id: &str) -> &'a Value {
    cases
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

/// Posts a case's request exactly as the file describes it.
pub(crate) async fn deliver(app: &TestApp, case: &Value) -> (u16, String) {
    let request = &case["request"];
    assert_eq!(request["method"], "POST");
    let slug = request["path"]
        .as_str()
        .unwrap()
        .strip_prefix("/webhooks/")
        .unwrap();
    let body = std::fs::read(fixtures().join(request["body_file"].as_str().unwrap())).unwrap();
    let headers: Vec<(&str, &str)> = request["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    let response = app.post_webhook(slug, &headers, body).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

fn ts(value: &Value) -> Option<Timestamp> {
    value.as_str().map(|t| t.parse().unwrap())
}

fn check_event(id: &str, expected: &Value, event: &TimelineEntry, received_at: Timestamp) {
    assert_eq!(
        event.dispute_ref,
        expected["dispute_ref"].as_str().unwrap(),
        "{id} dispute_ref"
    );
    assert_eq!(event.kind, expected["kind"].as_str().unwrap(), "{id} kind");
    assert_eq!(
        event.stage.map(|s| s.as_str()),
        expected["stage"].as_str(),
        "{id} stage"
    );
    assert_eq!(
        event.status.map(|s| s.as_str()),
        expected["status"].as_str(),
        "{id} status"
    );
    match ts(&expected["occurred_at"]) {
        Some(at) => assert_eq!(event.occurred_at, at, "{id} occurred_at"),
        None => {
            assert_eq!(
                event.occurred_at, received_at,
                "{id} occurred_at is the receipt time"
            );
            assert_eq!(event.occurred_at_text, None, "{id}");
        }
    }
    assert_eq!(event.deadline, ts(&expected["deadline"]), "{id} deadline");
    let amount = event.amount.as_ref().unwrap();
    assert_eq!(
        amount.normalized(),
        expected["amount"].as_str().unwrap(),
        "{id} amount"
    );
    assert_eq!(
        amount.currency(),
        expected["currency"].as_str().unwrap(),
        "{id} currency"
    );
}

#[tokio::test]
async fn every_fixture_case_in_file_order_gets_its_answer_verdict_and_event() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let cases = load("cases.json");
    assert!(cases.len() >= 28, "all cases are read");

    for (n, case) in cases.iter().enumerate() {
        let id = case["id"].as_str().unwrap();
        let expect = &case["expect"];

        let (status, body) = deliver(&app, case).await;

        assert_eq!(
            status,
            expect["http_status"].as_u64().unwrap() as u16,
            "{id} status: {body}"
        );
        match &expect["ack_body"] {
            Value::Null => {
                let error: Value =
                    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{id}: {body}"));
                assert!(error["error"].is_string(), "{id}: {body}");
            }
            Value::String(text) => assert_eq!(&body, text, "{id} acknowledgement"),
            json => assert_eq!(&serde_json::from_str::<Value>(&body).unwrap(), json, "{id}"),
        }
        let stored = app.store.notifications().await.unwrap();
        assert_eq!(stored.len(), n + 1, "{id}: every request is stored");
        let row = stored.last().unwrap();
        assert_eq!(
            row.verdict.as_str(),
            expect["verdict"].as_str().unwrap(),
            "{id} verdict: {:?}",
            row.reason
        );
        assert_eq!(row.response_status, Some(status as i16), "{id}");
        assert_eq!(row.response_body.as_deref(), Some(body.as_str()), "{id}");
        let raw =
            std::fs::read(fixtures().join(case["request"]["body_file"].as_str().unwrap())).unwrap();
        assert_eq!(row.body, raw, "{id}: the body is kept byte for byte");

        let recorded_from = match row.verdict.as_str() {
            "valid" => Some(row.id),
            "duplicate" => Some(
                row.duplicate_of
                    .expect("a duplicate points at the original"),
            ),
            _ => None,
        };
        match (&expect["event"], recorded_from) {
            (Value::Null, None) => {}
            (expected, Some(from)) => {
                let event = app
                    .store
                    .event_of_notification(from)
                    .await
                    .unwrap()
                    .unwrap();
                let original = stored.iter().find(|n| n.id == from).unwrap();
                check_event(id, expected, &event, original.received_at);
            }
            (expected, None) => panic!("{id}: expected {expected} but nothing was recorded"),
        }
    }
}

#[tokio::test]
async fn every_fixture_sequence_on_a_fresh_database_gives_its_dispute_state_and_timeline() {
    let cases = load("cases.json");
    for sequence in load("sequences.json") {
        let id = sequence["id"].as_str().unwrap();
        let app = spawn_app().await;
        app.import_fixture_connections().await;

        for delivery in sequence["deliveries"].as_array().unwrap() {
            let case = case_by_id(&cases, delivery.as_str().unwrap());
            let (status, body) = deliver(&app, case).await;
            assert_eq!(
                status,
                case["expect"]["http_status"].as_u64().unwrap() as u16,
                "{id}: {body}"
            );
        }

        for expected in sequence["expect"].as_array().unwrap() {
            let dispute = app
                .store
                .dispute(
                    expected["connection"].as_str().unwrap(),
                    expected["dispute_ref"].as_str().unwrap(),
                )
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{id}: the dispute exists"));
            assert_eq!(
                dispute.stage.map(|s| s.as_str()),
                expected["stage"].as_str(),
                "{id} stage"
            );
            assert_eq!(
                dispute.status.map(|s| s.as_str()),
                expected["status"].as_str(),
                "{id} status"
            );
            assert_eq!(dispute.deadline, ts(&expected["deadline"]), "{id} deadline");
            let timeline = app.store.timeline(dispute.id).await.unwrap();
            if let Some(kinds) = expected["timeline"].as_array() {
                let got: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
                let want: Vec<&str> = kinds.iter().map(|k| k.as_str().unwrap()).collect();
                assert_eq!(got, want, "{id} timeline");
            }
            if let Some(len) = expected["timeline_len"].as_u64() {
                assert_eq!(timeline.len() as u64, len, "{id} timeline length");
            }
            if let Some(stored) = expected["notifications_stored"].as_u64() {
                let count = app.store.notifications().await.unwrap().len() as u64;
                assert_eq!(count, stored, "{id} notifications stored");
            }
        }
    }
}
