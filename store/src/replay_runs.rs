//! Bulk replays: the deliveries a filter matched, kept in order when it was
//! asked for; run by a job (`JobKind::BulkReplay`) whose holder's token
//! only may write its progress and the tally of outcomes, a batch at a
//! time.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::types::Json;

use super::{
    jobs::{enqueue_on, held, NewJob},
    people::append_audit,
    Actor, AuditEntry, Store, StoreError,
};

/// A bulk replay as it stands.
#[derive(Clone, Debug)]
pub struct ReplayRun {
    pub id: i64,
    /// The delivery filter, as its query string.
    pub filter: String,
    pub requested_by: Option<String>,
    /// Who the replays are made and audited as: the person who asked.
    pub requester: Actor,
    pub requested_at: jiff::Timestamp,
    pub total: i32,
    pub done: i32,
    /// How many replays came to each outcome (`ReplayOutcome::as_str`, or
    /// `skipped` for a delivery a replay had settled meanwhile).
    pub tally: BTreeMap<String, i64>,
    pub finished_at: Option<jiff::Timestamp>,
    pub failure: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    filter: String,
    requested_by: Option<String>,
    requester_id: Option<i64>,
    requester_email: Option<String>,
    requested_at: jiff_sqlx::Timestamp,
    total: i32,
    done: i32,
    tally: Json<BTreeMap<String, i64>>,
    finished_at: Option<jiff_sqlx::Timestamp>,
    failure: Option<String>,
}

impl RunRow {
    fn run(self) -> ReplayRun {
        ReplayRun {
            id: self.id,
            filter: self.filter,
            requested_by: self.requested_by,
            requester: Actor {
                user_id: self.requester_id,
                email: self.requester_email,
                address: None,
            },
            requested_at: self.requested_at.to_jiff(),
            total: self.total,
            done: self.done,
            tally: self.tally.0,
            finished_at: self.finished_at.map(|t| t.to_jiff()),
            failure: self.failure,
        }
    }
}

const RUN_COLUMNS: &str = "r.id, r.filter, u.display_name as requested_by,
     r.requested_by as requester_id, u.email as requester_email, r.requested_at,
     r.total, r.done, r.tally, r.finished_at, r.failure";

impl Store {
    /// Asks for the replay of `deliveries` (oldest first), matched by
    /// `filter`; audited.
    pub async fn request_replay_run(
        &self,
        filter: &str,
        deliveries: &[i64],
        by: &Actor,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let total = i32::try_from(deliveries.len()).map_err(StoreError::corrupt)?;
        let id: i64 = sqlx::query_scalar(
            "insert into replay_runs (filter, requested_by, total) values ($1, $2, $3)
             returning id",
        )
        .bind(filter)
        .bind(by.user_id)
        .bind(total)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "insert into replay_run_items (run_id, position, notification_id)
             select $1, position::integer, id
             from unnest($2::bigint[]) with ordinality as d(id, position)",
        )
        .bind(id)
        .bind(deliveries)
        .execute(&mut *tx)
        .await?;
        let job = NewJob {
            kind: dispute_core::domain::JobKind::BulkReplay,
            key: id.to_string(),
            dispute_id: None,
            payload: json!({ "run": id }),
            run_at: None,
            // It resumes where a stopped runner left it.
            max_attempts: 20,
        };
        enqueue_on(&mut tx, &job, None).await?;
        append_audit(
            &mut tx,
            by,
            &AuditEntry {
                action: "deliveries.replay_run",
                subject: &format!("replay run {id}"),
                details: json!({ "run": id, "filter": filter, "deliveries": total }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Bulk replay `id`, unfinished, held from now on with `claim` (its
    /// job's): only the holder's writes to it count. `None` when it has
    /// finished.
    pub async fn hold_replay_run(
        &self,
        id: i64,
        claim: i64,
    ) -> Result<Option<ReplayRun>, StoreError> {
        let held: Option<i64> = sqlx::query_scalar(
            "update replay_runs set claim = $2 where id = $1 and finished_at is null returning id",
        )
        .bind(id)
        .bind(claim)
        .fetch_optional(&self.pool)
        .await?;
        match held {
            Some(id) => self.replay_run(id).await,
            None => Ok(None),
        }
    }

    /// The next `limit` deliveries of run `id` after position `done`.
    pub async fn replay_run_items(
        &self,
        id: i64,
        done: i32,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "select notification_id from replay_run_items
             where run_id = $1 and position > $2 order by position limit $3",
        )
        .bind(id)
        .bind(done)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records, for the holder of `claim`, a batch: `done` deliveries in
    /// all and the tally so far; the claim renewed.
    pub async fn replay_run_progress(
        &self,
        id: i64,
        claim: i64,
        done: i32,
        tally: &BTreeMap<String, i64>,
    ) -> Result<(), StoreError> {
        let rows = sqlx::query(
            "update replay_runs set done = $3, tally = $4 where id = $1 and claim = $2",
        )
        .bind(id)
        .bind(claim)
        .bind(done)
        .bind(Json(tally))
        .execute(&self.pool)
        .await?
        .rows_affected();
        held(rows)
    }

    /// Marks a bulk replay held with `claim` finished, with why it stopped
    /// if it failed.
    pub async fn finish_replay_run(
        &self,
        id: i64,
        claim: i64,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        let rows = sqlx::query(
            "update replay_runs set finished_at = now(), failure = $3
             where id = $1 and claim = $2",
        )
        .bind(id)
        .bind(claim)
        .bind(failure)
        .execute(&self.pool)
        .await?
        .rows_affected();
        held(rows)
    }

    pub async fn replay_run(&self, id: i64) -> Result<Option<ReplayRun>, StoreError> {
        Ok(sqlx::query_as::<_, RunRow>(&format!(
            "select {RUN_COLUMNS} from replay_runs r left join users u on u.id = r.requested_by
             where r.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(RunRow::run))
    }

    /// The newest bulk replays first.
    pub async fn replay_runs(&self, limit: i64) -> Result<Vec<ReplayRun>, StoreError> {
        Ok(sqlx::query_as::<_, RunRow>(&format!(
            "select {RUN_COLUMNS} from replay_runs r left join users u on u.id = r.requested_by
             order by r.id desc limit $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(RunRow::run)
        .collect())
    }
}
