//! Sending notifications over loopback: a closed loop (a fixed number of
//! senders, each sending the next as soon as its last was answered) and an
//! open loop (sends at a fixed rate, whether or not earlier ones were
//! answered, latency counted from when each should have been sent).

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use crate::notifications::Signed;

/// What sending found.
#[derive(Debug, Default)]
pub struct Run {
    pub latencies: Vec<Duration>,
    /// Answers that were not 2xx, and requests that got no answer.
    pub failures: usize,
    pub elapsed: Duration,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Notifications handed out one at a time to every sender.
#[derive(Clone)]
pub struct Queue {
    notifications: Arc<Vec<Signed>>,
    next: Arc<AtomicUsize>,
}

impl Queue {
    pub fn new(notifications: Vec<Signed>) -> Self {
        Self {
            notifications: Arc::new(notifications),
            next: Arc::default(),
        }
    }

    pub fn take(&self) -> Option<&Signed> {
        self.notifications
            .get(self.next.fetch_add(1, Ordering::Relaxed))
    }
}

pub fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

/// Posts one notification; the status, or `None` when nothing answered.
pub async fn post(client: &reqwest::Client, base: &str, n: &Signed) -> Option<u16> {
    let mut request = client
        .post(format!("{base}/webhooks/{}", n.slug))
        .header("content-type", "application/json")
        .body(n.body.clone());
    if let Some(sign) = &n.sign {
        request = request.header("sign", sign);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    response.bytes().await.ok()?;
    Some(status)
}

/// `senders` senders for `duration`.
pub async fn closed_loop(base: &str, queue: &Queue, senders: usize, duration: Duration) -> Run {
    let client = client(senders);
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (client, base, queue) = (client.clone(), base.to_owned(), queue.clone());
            tokio::spawn(async move {
                let mut run = Run::default();
                while Instant::now() < deadline {
                    let Some(n) = queue.take() else { break };
                    let sent = Instant::now();
                    match post(&client, &base, n).await {
                        Some(200..=299) => run.latencies.push(sent.elapsed()),
                        _ => run.failures += 1,
                    }
                }
                run
            })
        })
        .collect();
    let mut total = Run::default();
    for task in tasks {
        let run = task.await.expect("a sender does not panic");
        total.latencies.extend(run.latencies);
        total.failures += run.failures;
    }
    total.elapsed = started.elapsed();
    total
}

/// `rate` notifications a second for `duration`.
pub async fn open_loop(base: &str, queue: &Queue, rate: u32, duration: Duration) -> Run {
    let client = client(256);
    let started = tokio::time::Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let total = (duration.as_secs_f64() * f64::from(rate)) as usize;
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let intended = started + interval * i as u32;
        tokio::time::sleep_until(intended).await;
        let Some(n) = queue.take().cloned() else {
            break;
        };
        let (client, base) = (client.clone(), base.to_owned());
        tasks.push(tokio::spawn(async move {
            let status = post(&client, &base, &n).await;
            (status, intended.elapsed())
        }));
    }
    let mut run = Run::default();
    for task in tasks {
        match task.await.expect("a sender does not panic") {
            (Some(200..=299), latency) => run.latencies.push(latency),
            _ => run.failures += 1,
        }
    }
    run.elapsed = started.elapsed();
    run
}
