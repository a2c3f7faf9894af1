//! Playing a scenario: every notification sent at its scripted time (scaled
//! down), its answer judged by that provider's rule, and sent again on that
//! provider's retry schedule until it is acknowledged or the retries run
//! out — with every attempt logged for the tests and the demo to read.

use std::time::Duration;

use dispute_core::domain::ProviderKind;
use serde::Serialize;
use tokio::time::Instant;

use crate::{
    notifications::{self, Keys, Request},
    scenario::{Misbehaviour, Scenario},
};

/// How long the provider waits before each retry after a failed attempt,
/// as its documents say (PingPong: three retries for dispute
/// notifications, the first three intervals of its schedule; Botim Money:
/// 2, 10, 10, 60, 120, 360 and 900 minutes; PayerMax: 0 s, 30 s, 5, 10 and
/// 60 minutes, then 12 hours).
pub fn retry_delays(provider: ProviderKind) -> Vec<Duration> {
    let secs = |list: &[u64]| list.iter().map(|s| Duration::from_secs(*s)).collect();
    match provider {
        ProviderKind::PingPong => secs(&[5, 5, 180]),
        ProviderKind::BotimMoney => secs(&[120, 600, 600, 3600, 7200, 21600, 54000]),
        ProviderKind::PayerMax => secs(&[0, 30, 300, 600, 3600, 43200]),
    }
}

/// Whether the provider takes `status` and `body` as "received" (PingPong:
/// any 2xx whose body is not `FAIL`; Botim Money: `{"response":"SUCCESS"}`;
/// PayerMax: `{"code":"SUCCESS"}`, or `{"bizCode":"0000"}` in its old format).
pub fn acknowledged(provider: ProviderKind, status: u16, body: &[u8]) -> bool {
    if !(200..300).contains(&status) {
        return false;
    }
    let json = || serde_json::from_slice::<serde_json::Value>(body).ok();
    match provider {
        ProviderKind::PingPong => body.trim_ascii() != b"FAIL",
        ProviderKind::BotimMoney => {
            status == 200 && json().is_some_and(|v| v["response"] == "SUCCESS")
        }
        ProviderKind::PayerMax => {
            status == 200
                && json().is_some_and(|v| v["code"] == "SUCCESS" || v["bizCode"] == "0000")
        }
    }
}

/// One attempt (or a decision not to send), as the log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub connection: String,
    pub reference: String,
    pub kind: String,
    /// 1 for the first send, 2 for the first retry…; 0 when dropped.
    pub attempt: usize,
    /// Milliseconds from the start of the play.
    pub at_ms: u64,
    /// The HTTP status answered; `None` when dropped or unreachable.
    pub status: Option<u16>,
    pub answer: String,
    pub acknowledged: bool,
}

/// How a scenario is played.
#[derive(Debug, Clone)]
pub struct Play {
    /// Dispute Desk's address, `http://127.0.0.1:3000`.
    pub intake: String,
    /// Real seconds per scripted second: `0.001` plays an hour in 3.6 s.
    pub time_scale: f64,
    /// How long one attempt may take before it counts as failed.
    pub timeout: Duration,
}

#[derive(Clone)]
struct Planned {
    provider: ProviderKind,
    connection: String,
    reference: String,
    kind: String,
    at: Duration,
    copies: usize,
    dropped: bool,
    request: Request,
}

/// Sends every notification of `scenario` and returns the log, ordered by
/// time. `start` is when the scenario's minute 0 happened.
pub async fn play(
    scenario: &Scenario,
    keys: &Keys,
    start: jiff::Timestamp,
    how: &Play,
) -> anyhow::Result<Vec<Attempt>> {
    let mut planned = Vec::new();
    for dispute in &scenario.disputes {
        for (index, step) in dispute.events.iter().enumerate() {
            let scripted = Duration::from_secs(u64::from(step.sent_at()) * 60);
            planned.push(Planned {
                provider: dispute.provider,
                connection: dispute.connection.clone(),
                reference: dispute.reference.clone(),
                kind: step.kind.clone(),
                at: scripted.mul_f64(how.time_scale),
                copies: 1 + usize::from(step.misbehave.contains(&Misbehaviour::Duplicate)),
                dropped: step.misbehave.contains(&Misbehaviour::Drop),
                request: notifications::build(scenario, dispute, index, step, start, keys)?,
            });
        }
    }
    let client = reqwest::Client::builder().timeout(how.timeout).build()?;
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for plan in planned {
        for _ in 0..plan.copies {
            let (client, how, plan) = (client.clone(), how.clone(), plan.clone());
            tasks.spawn(async move { deliver(&client, &how, began, plan).await });
        }
    }
    let mut log = Vec::new();
    while let Some(done) = tasks.join_next().await {
        log.extend(done?);
    }
    log.sort_by_key(|a| (a.at_ms, a.attempt));
    Ok(log)
}

/// Sends `step`'s notification `request` now (an outcome decided while the
/// simulator runs), retried on its provider's schedule.
pub async fn send_now(
    how: &Play,
    dispute: &crate::scenario::DisputeScript,
    step: &crate::scenario::Step,
    request: Request,
) -> Vec<Attempt> {
    let Ok(client) = reqwest::Client::builder().timeout(how.timeout).build() else {
        return Vec::new();
    };
    let plan = Planned {
        provider: dispute.provider,
        connection: dispute.connection.clone(),
        reference: dispute.reference.clone(),
        kind: step.kind.clone(),
        at: Duration::ZERO,
        copies: 1,
        dropped: false,
        request,
    };
    deliver(&client, how, Instant::now(), plan).await
}

/// One notification: sent when due, then retried on its provider's
/// schedule until acknowledged.
async fn deliver(
    client: &reqwest::Client,
    how: &Play,
    began: Instant,
    plan: Planned,
) -> Vec<Attempt> {
    let record =
        |attempt: usize, status: Option<u16>, answer: String, acknowledged: bool| Attempt {
            connection: plan.connection.clone(),
            reference: plan.reference.clone(),
            kind: plan.kind.clone(),
            attempt,
            at_ms: began.elapsed().as_millis() as u64,
            status,
            answer,
            acknowledged,
        };
    tokio::time::sleep_until(began + plan.at).await;
    if plan.dropped {
        return vec![record(0, None, "dropped: never sent".into(), false)];
    }
    let mut log = Vec::new();
    let delays = retry_delays(plan.provider);
    for attempt in 1..=delays.len() + 1 {
        let mut request = client.post(format!("{}{}", how.intake, plan.request.path));
        for (name, value) in &plan.request.headers {
            request = request.header(name, value);
        }
        let entry = match request.body(plan.request.body.clone()).send().await {
            Ok(answer) => {
                let status = answer.status().as_u16();
                // An answer cut off before its end is no acknowledgement.
                let (body, whole) = match answer.bytes().await {
                    Ok(body) => (body, true),
                    Err(_) => (Default::default(), false),
                };
                let acked = whole && acknowledged(plan.provider, status, &body);
                record(
                    attempt,
                    Some(status),
                    String::from_utf8_lossy(&body).chars().take(200).collect(),
                    acked,
                )
            }
            Err(e) => record(attempt, None, format!("no answer: {e}"), false),
        };
        let acked = entry.acknowledged;
        log.push(entry);
        match (acked, delays.get(attempt - 1)) {
            (true, _) | (false, None) => break,
            (false, Some(delay)) => tokio::time::sleep(delay.mul_f64(how.time_scale)).await,
        }
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_judges_its_answer_by_its_own_rule() {
        use ProviderKind::*;
        assert!(acknowledged(PingPong, 200, b""));
        assert!(acknowledged(PingPong, 204, b"ok"));
        assert!(!acknowledged(PingPong, 200, b"FAIL"));
        assert!(!acknowledged(PingPong, 503, b""));
        assert!(acknowledged(BotimMoney, 200, br#"{"response":"SUCCESS"}"#));
        assert!(!acknowledged(BotimMoney, 200, b""));
        assert!(!acknowledged(BotimMoney, 201, br#"{"response":"SUCCESS"}"#));
        assert!(acknowledged(
            PayerMax,
            200,
            br#"{"code":"SUCCESS","msg":"Success"}"#
        ));
        assert!(acknowledged(
            PayerMax,
            200,
            br#"{"bizCode":"0000","message":"success"}"#
        ));
        assert!(!acknowledged(PayerMax, 200, br#"{"code":"FAIL"}"#));
    }

    #[test]
    fn the_retry_schedules_are_the_providers_own() {
        let minutes = |p| {
            retry_delays(p)
                .iter()
                .map(|d| d.as_secs() / 60)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            minutes(ProviderKind::BotimMoney),
            [2, 10, 10, 60, 120, 360, 900]
        );
        let seconds = |p| {
            retry_delays(p)
                .iter()
                .map(|d| d.as_secs())
                .collect::<Vec<_>>()
        };
        assert_eq!(seconds(ProviderKind::PingPong), [5, 5, 180]);
        assert_eq!(
            seconds(ProviderKind::PayerMax),
            [0, 30, 300, 600, 3600, 43200]
        );
    }
}
