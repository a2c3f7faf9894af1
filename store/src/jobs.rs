//! The job system's rows (`jobs`): enqueued once per kind and key, claimed
//! by one worker among all replicas with a token and a heartbeat, taken
//! over when its worker has been silent for a minute, tried again after a
//! failure with a growing pause until its attempts run out; periodic work
//! is one row per kind that each period's start makes waiting again. Only
//! the holder of a job's token can finish it (`StoreError::ClaimLost`
//! otherwise), and so for the rebuilds and bulk replays a job drives.

use dispute_core::domain::{jobs::retry_after, JobKind, JobState};
use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use sqlx::{types::Json, PgConnection};

use super::{Named, Store, StoreError};

/// A runner's token on a job: the store counts only the writes made with
/// the token the job is held with.
pub fn new_claim() -> i64 {
    rand::random()
}

/// The most of a failure's words kept.
const ERROR_KEPT: usize = 2000;

/// How long a running job's worker may be silent before another takes the
/// job over.
const SILENT_FOR: &str = "1 minute";

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: JobKind,
    /// With `kind`, what makes it one job however often it is asked for.
    pub key: String,
    pub dispute_id: Option<i64>,
    pub payload: serde_json::Value,
    /// `None`: at once.
    pub run_at: Option<jiff::Timestamp>,
    pub max_attempts: i32,
}

/// A job as its worker holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub key: String,
    pub dispute_id: Option<i64>,
    pub payload: serde_json::Value,
    /// This one included.
    pub attempts: i32,
    pub max_attempts: i32,
    pub claim: i64,
}

/// A job as ops read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: i64,
    pub kind: JobKind,
    pub key: String,
    pub dispute_id: Option<i64>,
    pub state: JobState,
    pub run_at: jiff::Timestamp,
    pub attempts: i32,
    pub max_attempts: i32,
    pub runs: i64,
    pub last_error: Option<String>,
    pub heartbeat: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
    pub finished_at: Option<jiff::Timestamp>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: Named<JobKind>,
    key: String,
    dispute_id: Option<i64>,
    payload: Json<serde_json::Value>,
    attempts: i32,
    max_attempts: i32,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: i64,
    kind: Named<JobKind>,
    key: String,
    dispute_id: Option<i64>,
    state: Named<JobState>,
    run_at: jiff_sqlx::Timestamp,
    attempts: i32,
    max_attempts: i32,
    runs: i64,
    last_error: Option<String>,
    heartbeat: Option<jiff_sqlx::Timestamp>,
    created_at: jiff_sqlx::Timestamp,
    finished_at: Option<jiff_sqlx::Timestamp>,
}

impl JobRow {
    fn job(self, claim: i64) -> Job {
        Job {
            id: self.id,
            kind: self.kind.0,
            key: self.key,
            dispute_id: self.dispute_id,
            payload: self.payload.0,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            claim,
        }
    }
}

const RECORD_COLUMNS: &str = "id, kind, key, dispute_id, state, run_at, attempts, max_attempts,
     runs, last_error, heartbeat, created_at, finished_at";

impl From<RecordRow> for JobRecord {
    fn from(r: RecordRow) -> Self {
        Self {
            id: r.id,
            kind: r.kind.0,
            key: r.key,
            dispute_id: r.dispute_id,
            state: r.state.0,
            run_at: r.run_at.to_jiff(),
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            runs: r.runs,
            last_error: r.last_error,
            heartbeat: r.heartbeat.map(|t| t.to_jiff()),
            created_at: r.created_at.to_jiff(),
            finished_at: r.finished_at.map(|t| t.to_jiff()),
        }
    }
}

/// Enqueues `job` on `conn` unless a job of its kind and key exists; held
/// at once with `claim` when its requester runs it itself. The job's id,
/// new or not.
pub(super) async fn enqueue_on(
    conn: &mut PgConnection,
    job: &NewJob,
    claim: Option<i64>,
) -> Result<i64, StoreError> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into jobs (kind, key, dispute_id, payload, run_at, max_attempts, state, claim,
                           heartbeat, attempts, runs)
         values ($1, $2, $3, $4, coalesce($5, now()), $6,
                 case when $7::bigint is null then 'waiting' else 'running' end, $7,
                 case when $7::bigint is not null then now() end,
                 case when $7::bigint is not null then 1 else 0 end,
                 case when $7::bigint is not null then 1 else 0 end)
         on conflict on constraint jobs_key do nothing
         returning id",
    )
    .bind(job.kind.as_str())
    .bind(&job.key)
    .bind(job.dispute_id)
    .bind(Json(&job.payload))
    .bind(job.run_at.map(|t| t.to_sqlx()))
    .bind(job.max_attempts)
    .bind(claim)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        None => Ok(
            sqlx::query_scalar("select id from jobs where kind = $1 and key = $2")
                .bind(job.kind.as_str())
                .bind(&job.key)
                .fetch_one(&mut *conn)
                .await?,
        ),
    }
}

impl Store {
    /// The job of `kind` and `key` as its holder `claim` holds it (one its
    /// requester holds from the start); `None` if another holds it.
    pub async fn held_job(
        &self,
        kind: JobKind,
        key: &str,
        claim: i64,
    ) -> Result<Option<Job>, StoreError> {
        let row: Option<JobRow> = sqlx::query_as(
            "select id, kind, key, dispute_id, payload, attempts, max_attempts from jobs
             where kind = $1 and key = $2 and claim = $3 and state = 'running'",
        )
        .bind(kind.as_str())
        .bind(key)
        .bind(claim)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.job(claim)))
    }

    /// Enqueues `job` once: the id of the job of its kind and key, new or
    /// not.
    pub async fn enqueue(&self, job: &NewJob) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        enqueue_on(&mut conn, job, None).await
    }

    /// Makes periodic `kind` wait to run for the period that starts at
    /// `start`, unless its run for that period was made already, or its
    /// last run is still waiting or running; true when this call made it.
    /// Every replica asks at each period's start; one succeeds.
    pub async fn schedule_periodic(
        &self,
        kind: JobKind,
        start: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        let made: Option<i64> = sqlx::query_scalar(
            "insert into jobs (kind, key, run_at, max_attempts) values ($1, 'periodic', $2, 1)
             on conflict on constraint jobs_key do update
                 set state = 'waiting', run_at = excluded.run_at, attempts = 0,
                     finished_at = null
             where jobs.state in ('done', 'failed') and jobs.run_at < excluded.run_at
             returning id",
        )
        .bind(kind.as_str())
        .bind(start.to_sqlx())
        .fetch_optional(&self.pool)
        .await?;
        Ok(made.is_some())
    }

    /// Claims, with `claim`, the job of one of `kinds` due soonest: waiting
    /// and due, or running with a worker silent for a minute. One worker
    /// among all replicas gets it.
    pub async fn claim_job(
        &self,
        kinds: &[JobKind],
        claim: i64,
    ) -> Result<Option<Job>, StoreError> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let row: Option<JobRow> = sqlx::query_as(&format!(
            "update jobs set state = 'running', claim = $2, heartbeat = now(),
                 attempts = attempts + 1, runs = runs + 1
             where id = (select id from jobs
                         where kind = any($1)
                           and ((state = 'waiting' and run_at <= now())
                                or (state = 'running' and heartbeat < now() - interval '{SILENT_FOR}'))
                         order by run_at, id limit 1
                         for update skip locked)
             returning id, kind, key, dispute_id, payload, attempts, max_attempts"
        ))
        .bind(&kinds)
        .bind(claim)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.job(claim)))
    }

    /// The holder of `job` is still at work on it.
    pub async fn beat(&self, job: &Job) -> Result<(), StoreError> {
        let beaten = sqlx::query(
            "update jobs set heartbeat = now() where id = $1 and claim = $2 and state = 'running'",
        )
        .bind(job.id)
        .bind(job.claim)
        .execute(&self.pool)
        .await?
        .rows_affected();
        held(beaten)
    }

    /// `job` is done.
    pub async fn job_done(&self, job: &Job) -> Result<(), StoreError> {
        let done = sqlx::query(
            "update jobs set state = 'done', finished_at = now(), last_error = null,
                 claim = null, heartbeat = null
             where id = $1 and claim = $2 and state = 'running'",
        )
        .bind(job.id)
        .bind(job.claim)
        .execute(&self.pool)
        .await?
        .rows_affected();
        held(done)
    }

    /// `job`'s attempt failed with `error`: it waits for its next attempt
    /// (`retry_after` its attempts), or has failed for good when they are
    /// used up. What it is now.
    pub async fn job_failed(&self, job: &Job, error: &str) -> Result<JobState, StoreError> {
        let retry_at = jiff::Timestamp::now() + retry_after(job.attempts);
        let state: Option<Named<JobState>> = sqlx::query_scalar(
            "update jobs set
                 state = case when attempts < max_attempts then 'waiting' else 'failed' end,
                 run_at = case when attempts < max_attempts then $3 else run_at end,
                 finished_at = case when attempts < max_attempts then null else now() end,
                 last_error = $4, claim = null, heartbeat = null
             where id = $1 and claim = $2 and state = 'running'
             returning state",
        )
        .bind(job.id)
        .bind(job.claim)
        .bind(retry_at.to_sqlx())
        .bind(dispute_core::domain::text::cut(error, ERROR_KEPT))
        .fetch_optional(&self.pool)
        .await?;
        state.map(|s| s.0).ok_or(StoreError::ClaimLost)
    }

    /// Jobs for ops: the waiting and running ones, soonest first, then the
    /// latest to end; at most `limit` of each.
    pub async fn jobs(&self, limit: i64) -> Result<Vec<JobRecord>, StoreError> {
        let rows: Vec<RecordRow> = sqlx::query_as(&format!(
            "(select {RECORD_COLUMNS} from jobs where state in ('waiting', 'running')
              order by run_at, id limit $1)
             union all
             (select {RECORD_COLUMNS} from jobs where state in ('done', 'failed')
              order by finished_at desc, id desc limit $1)"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(JobRecord::from).collect())
    }

    /// Whether a job of `kind` about dispute `dispute_id` is waiting or
    /// running.
    pub async fn job_pending(&self, kind: JobKind, dispute_id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "select exists (select from jobs
                            where dispute_id = $1 and kind = $2
                              and state in ('waiting', 'running'))",
        )
        .bind(dispute_id)
        .bind(kind.as_str())
        .fetch_one(&self.pool)
        .await?)
    }
}

/// A write made with a token that touched no row: another runner holds the
/// job now (or it ended).
pub(super) fn held(rows_affected: u64) -> Result<(), StoreError> {
    match rows_affected {
        0 => Err(StoreError::ClaimLost),
        _ => Ok(()),
    }
}
