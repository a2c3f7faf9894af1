//! The tests that break things on purpose: a storm of sign-ins beside
//! intake, the server killed with SIGKILL under load, PostgreSQL stopped
//! under load. Every notification that got a 2xx must be in the database
//! with its event afterwards.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, RwLock,
    },
    time::{Duration, Instant},
};

use anyhow::bail;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::{
    environment::{Environment, STORM_EMAIL, STORM_PASSWORD},
    load::{self, Queue, Run},
    notifications::{self, Signed},
    percentiles,
};

/// Intake latency with one sender, alone and while `storm` sign-ins run.
pub async fn sign_in_storm(
    env: &Environment,
    queue: &Queue,
    storm: usize,
) -> anyhow::Result<([String; 4], [String; 4])> {
    let base = env.server().base.clone();
    let client = load::client(1);
    let mut alone = Run::default();
    for _ in 0..300 {
        let Some(n) = queue.take() else { break };
        let sent = Instant::now();
        load::post(&client, &base, n).await;
        alone.latencies.push(sent.elapsed());
    }

    let finished = Arc::new(AtomicBool::new(false));
    let sign_ins: Vec<_> = (0..storm)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .expect("a client");
                let form = format!(
                    "email={}&password={}",
                    STORM_EMAIL.replace('@', "%40"),
                    STORM_PASSWORD.replace(' ', "+")
                );
                client
                    .post(format!("{base}/api/login"))
                    .header("origin", &base)
                    .header("accept", "text/html")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let watcher = {
        let finished = finished.clone();
        tokio::spawn(async move {
            let statuses: Vec<_> = futures::future::join_all(sign_ins).await;
            finished.store(true, Ordering::SeqCst);
            statuses
        })
    };
    let mut during = Run::default();
    while !finished.load(Ordering::SeqCst) {
        let Some(n) = queue.take() else { break };
        let sent = Instant::now();
        load::post(&client, &base, n).await;
        during.latencies.push(sent.elapsed());
    }
    let signed_in = watcher
        .await?
        .into_iter()
        .filter(|s| matches!(s, Ok(Ok(302))))
        .count();
    if signed_in != storm {
        bail!("only {signed_in} of {storm} sign-ins succeeded");
    }
    Ok((percentiles(&alone), percentiles(&during)))
}

/// Senders that keep posting to whatever address the server has now,
/// retrying what was not acknowledged, and remembering each notification
/// that was.
struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<Signed>>>,
    refused_while_down: Arc<Mutex<Vec<(Instant, u16)>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: Arc<RwLock<String>>, queue: &Queue, senders: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let client = load::client(senders);
        let tasks = (0..senders)
            .map(|_| {
                let (stop, acknowledged, answers) =
                    (stop.clone(), acknowledged.clone(), answers.clone());
                let (client, base, queue) = (client.clone(), base.clone(), queue.clone());
                tokio::spawn(async move {
                    // Like a provider, a sender retries what was not
                    // acknowledged before it sends anything new.
                    let mut retry: Option<Signed> = None;
                    while !stop.load(Ordering::SeqCst) {
                        let Some(n) = retry.take().or_else(|| queue.take().cloned()) else {
                            break;
                        };
                        let to = base.read().expect("not poisoned").clone();
                        let sent = Instant::now();
                        match load::post(&client, &to, &n).await {
                            Some(status @ 200..=299) => {
                                answers.lock().expect("not poisoned").push((sent, status));
                                acknowledged.lock().expect("not poisoned").push(n);
                            }
                            answer => {
                                if let Some(status) = answer {
                                    answers.lock().expect("not poisoned").push((sent, status));
                                }
                                retry = Some(n);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            acknowledged,
            refused_while_down: answers,
            tasks,
        }
    }

    async fn finish(self) -> (Vec<Signed>, Vec<(Instant, u16)>) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            let _ = task.await;
        }
        let acknowledged = std::mem::take(&mut *self.acknowledged.lock().expect("not poisoned"));
        let answers = std::mem::take(&mut *self.refused_while_down.lock().expect("not poisoned"));
        (acknowledged, answers)
    }
}

/// How many acknowledged notifications are missing, or stored without
/// their event.
async fn missing(pool: &PgPool, acknowledged: &[Signed]) -> anyhow::Result<usize> {
    let mut missing = 0;
    for n in acknowledged {
        let digest = Sha256::digest(&n.body).to_vec();
        let found: bool = sqlx::query_scalar(
            "select exists (
                 select 1 from notifications n
                 join dispute_events e on e.notification_id = coalesce(n.duplicate_of, n.id)
                 where n.body_sha256 = $1 and n.verdict in ('valid', 'duplicate'))",
        )
        .bind(digest)
        .fetch_one(pool)
        .await?;
        missing += usize::from(!found);
    }
    Ok(missing)
}

async fn unjudged(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from notifications where verdict = 'received'")
            .fetch_one(pool)
            .await?,
    )
}

pub async fn crash(kills: u32) -> anyhow::Result<()> {
    let mut env = Environment::prepare().await?;
    env.start_server().await?;
    let queue = Queue::new(notifications::generate("crash", 100_000));
    let base = Arc::new(RwLock::new(env.server().base.clone()));
    let load = Load::start(base.clone(), &queue, 8);
    let started = Instant::now();
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        env.kill_server().await?;
        env.start_server().await?;
        *base.write().expect("not poisoned") = env.server().base.clone();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (acknowledged, _) = load.finish().await;
    let elapsed = started.elapsed();
    let pool = env.pool(2).await?;
    let missing = missing(&pool, &acknowledged).await?;
    let unjudged = unjudged(&pool).await?;
    println!(
        "| SIGKILLs | seconds | acknowledged | missing or without their event | stored but never judged |\n|---|---|---|---|---|\n| {kills} | {:.0} | {} | {missing} | {unjudged} |",
        elapsed.as_secs_f64(),
        acknowledged.len()
    );
    env.stop_server().await?;
    if missing > 0 {
        bail!("{missing} acknowledged notifications are missing");
    }
    Ok(())
}

pub async fn restart_database() -> anyhow::Result<()> {
    let mut env = Environment::prepare().await?;
    env.start_server().await?;
    let queue = Queue::new(notifications::generate("restart", 60_000));
    let base = Arc::new(RwLock::new(env.server().base.clone()));
    let load = Load::start(base, &queue, 8);
    tokio::time::sleep(Duration::from_secs(3)).await;
    env.stop_database()?;
    let down_from = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let down_until = Instant::now();
    env.start_database().await?;
    let up_again = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (acknowledged, answers) = load.finish().await;

    // Sent after the database was gone and before it was started again.
    let while_down: Vec<u16> = answers
        .iter()
        .filter(|(sent, _)| *sent > down_from && *sent < down_until)
        .map(|(_, status)| *status)
        .collect();
    let acknowledged_while_down = while_down
        .iter()
        .filter(|s| (200..300).contains(*s))
        .count();
    let recovered_after = answers
        .iter()
        .filter(|(sent, status)| *sent > up_again && (200..300).contains(status))
        .map(|(sent, _)| sent.duration_since(up_again))
        .min();
    let pool = env.pool(2).await?;
    let missing = missing(&pool, &acknowledged).await?;
    println!(
        "| answers while down | of them 2xx | 5xx | first 2xx after restart | acknowledged | missing |\n|---|---|---|---|---|---|\n| {} | {acknowledged_while_down} | {} | {} | {} | {missing} |",
        while_down.len(),
        while_down.iter().filter(|s| **s >= 500).count(),
        recovered_after.map_or("never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
        acknowledged.len()
    );
    env.stop_server().await?;
    if acknowledged_while_down > 0 || missing > 0 || recovered_after.is_none() {
        bail!("the database restart test failed");
    }
    Ok(())
}
