//! This replica's part in the job system (`dispute_store::jobs`): a worker
//! that claims due jobs (looking every `POLL` when it has none) and runs up
//! to `JOB_WORKERS` at once, each with its heartbeat; and a scheduler that, at each period's start, makes each
//! periodic job's run wait (every replica asks; one row per kind makes it
//! once per cluster). What each kind of job does is `Work::run`.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use dispute_core::domain::{jobs::period_start, JobKind, JobState};
use dispute_store::{new_claim, Actor, Job, Store, StoreError};
use dispute_workflows::metrics::Metrics;
use dispute_workflows::status_queries::StatusQueries;
use dispute_workflows::submissions::{Attempt, Submissions};
use dispute_workflows::vault::Vault;
use tokio::sync::Semaphore;
use tower_sessions_core::ExpiredDeletion;
use tower_sessions_sqlx_store::PostgresStore;

use crate::config::StatusQuerySettings;

/// How often an idle worker looks for due jobs: one cheap statement, and
/// the longest an analyst's "Query status now" waits to be picked up.
const POLL: Duration = Duration::from_secs(1);
/// How often a running job tells it is alive (it is taken over after a
/// minute of silence).
const HEARTBEAT: Duration = Duration::from_secs(15);
/// Disputes one reconciliation run asks about at most.
const RECONCILE_BATCH: i64 = 50;

/// What jobs need to do their work.
pub struct Work {
    pub store: Store,
    pub vault: Vault,
    pub metrics: Metrics,
    pub queries: StatusQueries,
    pub submissions: Submissions,
    pub sessions: PostgresStore,
    pub reconciliation: StatusQuerySettings,
    pub retention: jiff::SignedDuration,
    pub refused_retention: jiff::SignedDuration,
}

/// What a status query's job carries.
#[derive(serde::Deserialize)]
struct QueryJob {
    asked_by: Option<Actor>,
    why: String,
}

/// What a submission's job carries.
#[derive(serde::Deserialize)]
struct SubmissionJob {
    submission: i64,
}

/// What a checklist question's job carries.
#[derive(serde::Deserialize)]
struct ChecklistJob {
    response: i64,
    asked_by: Actor,
}

impl Work {
    /// One attempt at `job`.
    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let store = &self.store;
        match job.kind {
            JobKind::StatusQuery => {
                let asked: QueryJob = serde_json::from_value(job.payload.clone())?;
                let dispute = job.dispute_id.context("a status query names its dispute")?;
                self.queries
                    .ask(dispute, asked.asked_by.as_ref(), &asked.why)
                    .await?;
            }
            JobKind::Checklist => {
                let asked: ChecklistJob = serde_json::from_value(job.payload.clone())?;
                self.queries
                    .ask_checklist(asked.response, &asked.asked_by)
                    .await?;
            }
            JobKind::Submission => {
                let sending: SubmissionJob = serde_json::from_value(job.payload.clone())?;
                let last = job.attempts >= job.max_attempts;
                match self
                    .submissions
                    .run(sending.submission, job.attempts, last)
                    .await?
                {
                    Attempt::Finished => {}
                    Attempt::TryAgain(words) => anyhow::bail!(words),
                }
            }
            JobKind::Reconcile => {
                self.queries
                    .reconcile(&self.reconciliation.rules, RECONCILE_BATCH)
                    .await?;
            }
            JobKind::Retention => {
                let now = jiff::Timestamp::now();
                let purged = store
                    .purge_expired(now - self.retention, now - self.refused_retention)
                    .await?;
                if purged != dispute_store::Purged::default() {
                    tracing::info!(?purged, "retention removed what is past its time");
                }
            }
            JobKind::SessionSweep => self.sessions.delete_expired().await?,
            JobKind::Dashboard => {
                dispute_workflows::dashboard::refresh(store).await?;
            }
            JobKind::Rebuild => {
                dispute_workflows::rebuild::run_job(store, job.key.parse()?, job.claim).await?;
            }
            JobKind::BulkReplay => {
                dispute_workflows::replay::run_bulk_job(
                    store,
                    &self.vault,
                    &self.metrics,
                    job.key.parse()?,
                    job.claim,
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// Runs `job`, which this replica holds, to the end of this attempt with
/// its heartbeat going, and records how it ended.
pub async fn run_held(work: &Work, job: &Job) {
    // A job whose runners stopped mid-way as often as it may be tried is
    // not tried again.
    let ran = match job.attempts > job.max_attempts {
        true => Err(anyhow::anyhow!(
            "its runner stopped {} times without finishing",
            job.attempts - 1
        )),
        false => beating(&work.store, job, work.run(job))
            .await
            .unwrap_or_else(|| Err(anyhow::anyhow!("another runner took it over"))),
    };
    if let Err(e) = &ran {
        if job.kind == JobKind::Submission && job.attempts >= job.max_attempts {
            give_up(&work.store, job, e).await;
        }
    }
    record(&work.store, job, ran).await;
}

/// A submission whose job fails for good is given up, so its stage is free
/// for another decision and the page says so.
async fn give_up(store: &Store, job: &Job, error: &anyhow::Error) {
    let Ok(sending) = serde_json::from_value::<SubmissionJob>(job.payload.clone()) else {
        return;
    };
    tracing::error!(job = job.id, submission = sending.submission, error = %format!("{error:#}"), "a submission is given up");
    let words =
        "Dispute Desk could not send it and has stopped trying (the reason is in the server's log)";
    if let Err(e) = store
        .finish_submission(
            sending.submission,
            &dispute_store::Finished::GaveUp(words.into()),
        )
        .await
    {
        tracing::error!(job = job.id, error = %e, "cannot give up a submission");
    }
}

/// `work` on held `job`, with the job's heartbeat going meanwhile; `None`
/// when another runner took the job over, in which case `work` is stopped
/// where it stands (the new holder carries on from what was recorded).
pub async fn beating<T>(
    store: &Store,
    job: &Job,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    let (lost, taken_over) = tokio::sync::oneshot::channel::<()>();
    let beats = {
        let (store, job) = (store.clone(), job.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                match store.beat(&job).await {
                    Ok(()) => {}
                    Err(StoreError::ClaimLost) => {
                        let _ = lost.send(());
                        return;
                    }
                    Err(e) => tracing::warn!(job = job.id, error = %e, "cannot beat a job's heart"),
                }
            }
        })
    };
    let done = tokio::select! {
        done = work => Some(done),
        Ok(()) = taken_over => None,
    };
    beats.abort();
    done
}

/// Records how an attempt at held `job` ended: done, waiting for its next
/// attempt, or failed for good.
pub async fn record(store: &Store, job: &Job, ran: anyhow::Result<()>) {
    let recorded = match &ran {
        Ok(()) => store.job_done(job).await.map(|()| JobState::Done),
        Err(e) => store.job_failed(job, &format!("{e:#}")).await,
    };
    match (recorded, ran) {
        (Ok(JobState::Done), _) => {}
        (Ok(state), Err(e)) => {
            tracing::warn!(job = job.id, kind = job.kind.as_str(), state = state.as_str(), error = %format!("{e:#}"), "a job's attempt failed");
        }
        (Ok(_), Ok(())) => {}
        (Err(StoreError::ClaimLost), _) => {
            tracing::warn!(
                job = job.id,
                kind = job.kind.as_str(),
                "another runner took this job over"
            );
        }
        (Err(e), _) => {
            tracing::error!(job = job.id, error = %e, "cannot record how a job ended; it will be taken over");
        }
    }
}

/// Claims and runs due jobs, `workers` at once, until dropped.
pub async fn work(work: Arc<Work>, workers: usize) {
    let slots = Arc::new(Semaphore::new(workers));
    loop {
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        match work.store.claim_job(JobKind::ALL, new_claim()).await {
            Ok(Some(job)) => {
                let work = work.clone();
                tokio::spawn(async move {
                    run_held(&work, &job).await;
                    drop(slot);
                });
            }
            Ok(None) => {
                drop(slot);
                tokio::time::sleep(POLL).await;
            }
            Err(e) => {
                drop(slot);
                tracing::warn!(error = %e, "cannot look for jobs");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// At the start of each period of each of `periodic`, asks for that
/// job's run; until dropped.
pub async fn schedule(store: Store, periodic: Vec<(JobKind, Duration)>) {
    let each = periodic.into_iter().map(|(kind, period)| {
        let store = store.clone();
        async move {
            // A period of under a second would keep the database busy.
            let period = jiff::SignedDuration::try_from(period.max(Duration::from_secs(1)))
                .expect("a period fits");
            loop {
                let now = jiff::Timestamp::now();
                let start = period_start(now, period);
                if let Err(e) = store.schedule_periodic(kind, start).await {
                    tracing::warn!(kind = kind.as_str(), error = %e, "cannot schedule a periodic job");
                }
                let next = start + period;
                let wait = now.duration_until(next).unsigned_abs();
                tokio::time::sleep(wait).await;
            }
        }
    });
    futures::future::join_all(each).await;
}
