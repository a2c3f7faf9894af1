//! A replica's own background work beside serving, all told to stop
//! together at shutdown: loops that run until stopped (the job worker and
//! scheduler, hearing of connection changes), and work on a schedule that
//! runs once more on the way out so nothing counted in memory is lost.
//! Work that must happen once across replicas is a job (`crate::jobs`).

use std::{future::Future, time::Duration};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The running jobs.
pub struct Tasks {
    stopping: CancellationToken,
    running: JoinSet<()>,
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new()
    }
}

impl Tasks {
    pub fn new() -> Self {
        Self {
            stopping: CancellationToken::new(),
            running: JoinSet::new(),
        }
    }

    /// Runs `job` every `period` (the first time after one period) until
    /// the set stops, then once more. A failed run is logged; the next one
    /// comes as scheduled.
    pub fn every<F, Fut, E>(&mut self, name: &'static str, period: Duration, mut job: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: std::fmt::Display,
    {
        let stopping = self.stopping.clone();
        self.running.spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.tick().await;
            loop {
                let last = tokio::select! {
                    _ = ticks.tick() => false,
                    () = stopping.cancelled() => true,
                };
                if let Err(e) = job().await {
                    tracing::warn!(job = name, error = %e, "a background job failed");
                }
                if last {
                    return;
                }
            }
        });
    }

    /// Runs `job`, which works until it is stopped (a listener, say),
    /// until the set stops.
    pub fn run(&mut self, job: impl Future<Output = ()> + Send + 'static) {
        let stopping = self.stopping.clone();
        self.running.spawn(async move {
            tokio::select! {
                () = job => {}
                () = stopping.cancelled() => {}
            }
        });
    }

    /// Tells every job to stop and waits up to `grace` for their last runs.
    pub async fn stop(mut self, grace: Duration) {
        self.stopping.cancel();
        let finished = tokio::time::timeout(grace, async {
            while self.running.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!("background jobs still running after the grace period were cut off");
            self.running.abort_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    };

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_job_runs_every_period_and_once_more_when_the_set_stops() {
        let runs = Arc::new(AtomicU32::new(0));
        let mut tasks = Tasks::new();
        let counted = runs.clone();
        tasks.every("count", Duration::from_secs(10), move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(())
            }
        });

        tokio::time::sleep(Duration::from_secs(35)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        tasks.stop(Duration::from_secs(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 4, "the last run at shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_runs_until_stopped_is_stopped() {
        let mut tasks = Tasks::new();
        tasks.run(std::future::pending());
        let started = tokio::time::Instant::now();
        tasks.stop(Duration::from_secs(5)).await;
        assert_eq!(
            started.elapsed().as_secs(),
            0,
            "stopped at once, not cut off"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_run_does_not_end_the_job() {
        let runs = Arc::new(AtomicU32::new(0));
        let mut tasks = Tasks::new();
        let counted = runs.clone();
        tasks.every("fail", Duration::from_secs(1), move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>("the database is away")
            }
        });
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        tasks.stop(Duration::from_secs(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_will_not_finish_is_cut_off_after_the_grace_period() {
        let mut tasks = Tasks::new();
        tasks.every("stuck", Duration::from_secs(1), || async {
            std::future::pending::<Result<(), String>>().await
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let started = tokio::time::Instant::now();
        tasks.stop(Duration::from_secs(2)).await;
        assert_eq!(started.elapsed().as_secs(), 2);
    }
}
