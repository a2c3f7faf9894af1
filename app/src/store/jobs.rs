//! What rebuilds and bulk replays share as jobs: a runner claims the
//! oldest unfinished one with a token and a heartbeat; only writes made
//! with the token count, and a job whose heartbeat is older than a minute
//! is taken over (its runner stopped).

use sqlx::PgPool;

use super::StoreError;

/// A table of jobs: `id`, `claim`, `heartbeat`, `finished_at`, `failure`.
#[derive(Clone, Copy, Debug)]
pub(super) enum Jobs {
    Rebuilds,
    ReplayRuns,
}

impl Jobs {
    fn table(self) -> &'static str {
        match self {
            Jobs::Rebuilds => "rebuilds",
            Jobs::ReplayRuns => "replay_runs",
        }
    }
}

/// A runner's claim on a job (a rebuild, a bulk replay): the store counts
/// only the writes made with the claim the job is held with.
pub fn new_claim() -> i64 {
    rand::random()
}

/// Claims, with `claim`, the oldest unfinished job of `jobs` nobody is
/// working on (or whose runner stopped), for one runner among all
/// replicas; its id.
pub(super) async fn claim(
    pool: &PgPool,
    jobs: Jobs,
    claim: i64,
) -> Result<Option<i64>, StoreError> {
    let table = jobs.table();
    Ok(sqlx::query_scalar(&format!(
        "update {table} set claim = $1, heartbeat = now()
         where id = (select id from {table}
                     where finished_at is null
                       and (heartbeat is null or heartbeat < now() - interval '1 minute')
                     order by id limit 1 for update skip locked)
         returning id"
    ))
    .bind(claim)
    .fetch_optional(pool)
    .await?)
}

/// Marks job `id`, held with `claim`, finished, with why it stopped if it
/// failed.
pub(super) async fn finish(
    pool: &PgPool,
    jobs: Jobs,
    id: i64,
    claim: i64,
    failure: Option<&str>,
) -> Result<(), StoreError> {
    let table = jobs.table();
    let updated = sqlx::query(&format!(
        "update {table} set finished_at = now(), failure = $3, heartbeat = now()
         where id = $1 and claim = $2"
    ))
    .bind(id)
    .bind(claim)
    .bind(failure)
    .execute(pool)
    .await?
    .rows_affected();
    held(updated)
}

/// A write made with a claim that touched no row: another runner holds
/// the job now.
pub(super) fn held(rows_affected: u64) -> Result<(), StoreError> {
    match rows_affected {
        0 => Err(StoreError::ClaimLost),
        _ => Ok(()),
    }
}
