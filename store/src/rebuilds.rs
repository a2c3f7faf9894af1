//! Rebuilds' rows: disputes with their recorded events and the bodies they
//! came from, a batch at a time; a dispute rebuilt under its lock (events
//! rewritten as they read today, then refolded); the checks and applies,
//! each run by a job (`JobKind::Rebuild`) whose holder's token only may
//! write its progress.

use std::sync::LazyLock;

use dispute_core::domain::{
    rebuild::{differences, rebuild, EventChange, Kept, Reading, Rebuilt, RecordedEvent},
    DisputeState, EventOrigin, NormalizedEvent, ProviderKind, Stage, Status, ZoneName,
};
use serde_json::json;
use sqlx::types::Json;

use super::{
    columns::{self, EventColumns},
    jobs::{enqueue_on, held, NewJob},
    money,
    people::append_audit,
    record::refold_stored,
    Actor, AuditEntry, Named, Store, StoreError,
};

/// A dispute as a rebuild reads it: its state as stored, and every event
/// with the body it was read from.
#[derive(Clone, Debug)]
pub struct RebuildSubject {
    pub dispute_id: i64,
    pub provider: ProviderKind,
    pub timezone: ZoneName,
    pub account_id: Option<String>,
    pub state: DisputeState,
    pub events: Vec<(RecordedEvent, Option<Vec<u8>>)>,
}

/// Whether a rebuild only checks or applies a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebuildKind {
    Check,
    /// Applies the check it names.
    Apply(i64),
}

/// A rebuild as it stands.
#[derive(Clone, Debug)]
pub struct RebuildRecord {
    pub id: i64,
    pub kind: RebuildKind,
    pub requested_by: Option<String>,
    pub requested_at: jiff::Timestamp,
    pub done_through: i64,
    pub total: i64,
    pub checked: i64,
    pub changed: i64,
    pub finished_at: Option<jiff::Timestamp>,
    pub failure: Option<String>,
    /// A check's apply, if one was asked for.
    pub applied_by: Option<i64>,
}

/// One dispute a rebuild found (or made) changed.
#[derive(Clone, Debug)]
pub struct RebuildChange {
    pub dispute_id: i64,
    pub slug: String,
    pub dispute_ref: String,
    pub before: DisputeState,
    pub after: DisputeState,
    pub events: Vec<EventChange>,
    pub kept: Vec<(i64, String)>,
    pub unlike_check: Option<bool>,
}

/// A dispute's change as a rebuild keeps it.
pub struct NewRebuildChange<'a> {
    pub dispute_id: i64,
    pub before: &'a DisputeState,
    pub rebuilt: &'a Rebuilt,
    pub unlike_check: Option<bool>,
}

#[derive(sqlx::FromRow)]
struct SubjectRow {
    id: i64,
    provider: Named<ProviderKind>,
    timezone: String,
    account_id: Option<String>,
    stage: Option<Named<Stage>>,
    status: Option<Named<Status>>,
    deadline: Option<jiff_sqlx::Timestamp>,
    currency: Option<String>,
    amount_text: Option<String>,
    reason: Option<String>,
    reason_code: Option<String>,
    payment_reference: Option<String>,
    merchant_reference: Option<String>,
    opened_at: Option<jiff_sqlx::Timestamp>,
    last_event_at: Option<jiff_sqlx::Timestamp>,
}

#[derive(sqlx::FromRow)]
struct RecordedRow {
    id: i64,
    dispute_id: i64,
    dispute_ref: String,
    source: Named<EventOrigin>,
    event_key: String,
    #[sqlx(flatten)]
    values: EventColumns,
    heard_at: jiff_sqlx::Timestamp,
    body: Option<Vec<u8>>,
}

static SUBJECT_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "d.id, c.provider, c.timezone, c.account_id, {}",
        columns::projection_columns("d")
    )
});

// `heard_at` is the time an event takes when its provider gives none. An
// event recorded without the provider's time (`occurred_at_text` null) holds
// that time already; one with it was heard when its delivery was received
// (a replay's event names the original delivery), or for a status query
// when it was recorded.
static RECORDED_EVENTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "select e.id, e.dispute_id, d.dispute_ref, e.source, e.event_key, {},
                case when e.occurred_at_text is null then e.occurred_at
                     else coalesce(n.received_at, e.recorded_at) end as heard_at,
                case when e.source <> 'status_query' then n.body end as body
         from dispute_events e
         join disputes d on d.id = e.dispute_id
         left join notifications n on n.id = e.notification_id
         where e.dispute_id = any($1)
         order by e.dispute_id, e.id",
        columns::event_columns("e")
    )
});

impl SubjectRow {
    fn subject(self) -> Result<RebuildSubject, StoreError> {
        Ok(RebuildSubject {
            dispute_id: self.id,
            provider: self.provider.0,
            timezone: ZoneName::parse(&self.timezone).map_err(StoreError::corrupt)?,
            account_id: self.account_id,
            state: DisputeState {
                stage: self.stage.map(|s| s.0),
                status: self.status.map(|s| s.0),
                deadline: self.deadline.map(|t| t.to_jiff()),
                amount: money(self.amount_text, self.currency)?,
                reason: self.reason,
                reason_code: self.reason_code,
                payment_reference: self.payment_reference,
                merchant_reference: self.merchant_reference,
                opened_at: self.opened_at.map(|t| t.to_jiff()),
                last_event_at: self.last_event_at.map(|t| t.to_jiff()),
                status_from: None,
                deadline_from: None,
            },
            events: Vec::new(),
        })
    }
}

impl RecordedRow {
    fn recorded(self) -> Result<(i64, RecordedEvent, Option<Vec<u8>>), StoreError> {
        Ok((
            self.dispute_id,
            RecordedEvent {
                id: self.id,
                origin: self.source.0,
                event: self.values.normalized(&self.dispute_ref, self.event_key)?,
                heard_at: self.heard_at.to_jiff(),
            },
            self.body,
        ))
    }
}

/// The subjects `rows` name, each with its recorded events.
async fn with_events(
    conn: &mut sqlx::PgConnection,
    rows: Vec<SubjectRow>,
) -> Result<Vec<RebuildSubject>, StoreError> {
    let mut subjects = rows
        .into_iter()
        .map(SubjectRow::subject)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<i64> = subjects.iter().map(|s| s.dispute_id).collect();
    let events = sqlx::query_as::<_, RecordedRow>(&RECORDED_EVENTS)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    let mut at = 0;
    for row in events {
        let (dispute_id, event, body) = row.recorded()?;
        while subjects[at].dispute_id != dispute_id {
            at += 1;
        }
        subjects[at].events.push((event, body));
    }
    Ok(subjects)
}

/// Reading a body that was kept: its reading under today's mapping.
pub type Reread<'a> =
    &'a (dyn Fn(&RebuildSubject, &RecordedEvent, Option<&[u8]>) -> Reading + Sync);

/// A rebuild's rows.
#[derive(sqlx::FromRow)]
struct RebuildRow {
    id: i64,
    kind: String,
    check_id: Option<i64>,
    requested_by: Option<String>,
    requested_at: jiff_sqlx::Timestamp,
    done_through: i64,
    total: i64,
    checked: i64,
    changed: i64,
    finished_at: Option<jiff_sqlx::Timestamp>,
    failure: Option<String>,
    applied_by: Option<i64>,
}

impl RebuildRow {
    fn record(self) -> Result<RebuildRecord, StoreError> {
        let kind = match (self.kind.as_str(), self.check_id) {
            ("check", None) => RebuildKind::Check,
            ("apply", Some(check)) => RebuildKind::Apply(check),
            (other, _) => return Err(StoreError::corrupt(format!("rebuild kind {other:?}"))),
        };
        Ok(RebuildRecord {
            id: self.id,
            kind,
            requested_by: self.requested_by,
            requested_at: self.requested_at.to_jiff(),
            done_through: self.done_through,
            total: self.total,
            checked: self.checked,
            changed: self.changed,
            finished_at: self.finished_at.map(|t| t.to_jiff()),
            failure: self.failure,
            applied_by: self.applied_by,
        })
    }
}

const REBUILD_COLUMNS: &str = "r.id, r.kind, r.check_id, u.email as requested_by, r.requested_at,
     r.done_through, r.total, r.checked, r.changed, r.finished_at, r.failure,
     (select a.id from rebuilds a where a.check_id = r.id) as applied_by";

#[derive(sqlx::FromRow)]
struct ChangeRow {
    dispute_id: i64,
    slug: String,
    dispute_ref: String,
    before: Json<DisputeState>,
    after: Json<DisputeState>,
    events: Json<Vec<(i64, NormalizedEvent, NormalizedEvent)>>,
    kept: Json<Vec<(i64, String)>>,
    unlike_check: Option<bool>,
}

impl Store {
    /// Up to `limit` disputes after dispute `after`, in id order, each with
    /// its recorded events and the bodies they came from.
    pub async fn rebuild_subjects(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RebuildSubject>, StoreError> {
        // One snapshot for disputes and events, so a state is never
        // compared with events recorded after it was read.
        let mut tx = self.pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query_as::<_, SubjectRow>(&format!(
            "select {} from disputes d join connections c on c.id = d.connection_id
             where d.id > $1 order by d.id limit $2",
            *SUBJECT_COLUMNS
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let subjects = with_events(&mut tx, rows).await?;
        tx.commit().await?;
        Ok(subjects)
    }

    /// Applies to dispute `dispute_id`, under its lock, what rebuild `job`
    /// (held with `claim`) finds: each event read again (`reread`), those
    /// that read differently rewritten and the dispute's revision moved on,
    /// the dispute refolded; the change kept when there is one (beside what
    /// the check found, `check`), and the job's progress moved past the
    /// dispute, all in one transaction, so a runner that stops loses
    /// nothing and redoes nothing. Whether anything changed.
    pub async fn apply_rebuild(
        &self,
        job: i64,
        claim: i64,
        check: &RebuildChange,
        reread: Reread<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query_as::<_, SubjectRow>(&format!(
            "select {} from disputes d join connections c on c.id = d.connection_id
             where d.id = $1 for update of d",
            *SUBJECT_COLUMNS
        ))
        .bind(check.dispute_id)
        .fetch_optional(&mut *tx)
        .await?;
        let mut changed = false;
        if let Some(row) = row {
            let subject = with_events(&mut tx, vec![row])
                .await?
                .pop()
                .expect("one subject read, one returned");
            let readings: Vec<(RecordedEvent, Reading)> = subject
                .events
                .iter()
                .map(|(event, body)| (event.clone(), reread(&subject, event, body.as_deref())))
                .collect();
            let rebuilt = rebuild(&readings);
            if !rebuilt.changed.is_empty() {
                let revision: i32 = sqlx::query_scalar(
                    "update disputes set revision = revision + 1 where id = $1 returning revision",
                )
                .bind(check.dispute_id)
                .fetch_one(&mut *tx)
                .await?;
                for change in &rebuilt.changed {
                    let heard_at = readings
                        .iter()
                        .find(|(e, _)| e.id == change.id)
                        .map(|(e, _)| e.heard_at)
                        .expect("a changed event is one of those read");
                    rewrite_event(&mut tx, change.id, &change.after, heard_at, revision).await?;
                }
            }
            refold_stored(&mut tx, check.dispute_id).await?;
            changed = !rebuilt.changed.is_empty()
                || !differences(&subject.state, &rebuilt.state).is_empty();
            if changed {
                let unlike_check = !differences(&check.after, &rebuilt.state).is_empty()
                    || rebuilt.changed != check.events;
                insert_change(
                    &mut tx,
                    job,
                    &NewRebuildChange {
                        dispute_id: check.dispute_id,
                        before: &subject.state,
                        rebuilt: &rebuilt,
                        unlike_check: Some(unlike_check),
                    },
                )
                .await?;
            }
        }
        let rows = sqlx::query(
            "update rebuilds set done_through = $3, checked = checked + 1,
                 changed = changed + $4
             where id = $1 and claim = $2",
        )
        .bind(job)
        .bind(claim)
        .bind(check.dispute_id)
        .bind(i64::from(changed))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        held(rows)?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Asks for a rebuild: a check of every dispute, or the apply of check
    /// `kind` names, and the job that runs it; held with `claim` at once
    /// when the requester runs it itself. Audited. `Conflict` when that
    /// check is applied already.
    pub async fn request_rebuild(
        &self,
        kind: RebuildKind,
        by: &Actor,
        claim: Option<i64>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (kind_name, check_id, total): (&str, Option<i64>, i64) = match kind {
            RebuildKind::Check => (
                "check",
                None,
                sqlx::query_scalar("select count(*) from disputes")
                    .fetch_one(&mut *tx)
                    .await?,
            ),
            RebuildKind::Apply(check) => (
                "apply",
                Some(check),
                sqlx::query_scalar(
                    "select changed from rebuilds
                     where id = $1 and kind = 'check' and finished_at is not null
                       and failure is null",
                )
                .bind(check)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::corrupt("only a finished check can be applied"))?,
            ),
        };
        let id: i64 = sqlx::query_scalar(
            "insert into rebuilds (kind, check_id, requested_by, total, claim)
             values ($1, $2, $3, $4, $5)
             returning id",
        )
        .bind(kind_name)
        .bind(check_id)
        .bind(by.user_id)
        .bind(total)
        .bind(claim)
        .fetch_one(&mut *tx)
        .await?;
        enqueue_on(&mut tx, &rebuild_job(id), claim).await?;
        append_audit(
            &mut tx,
            by,
            &AuditEntry {
                action: if check_id.is_some() {
                    "disputes.rebuild_apply"
                } else {
                    "disputes.rebuild_check"
                },
                subject: &format!("rebuild {id}"),
                details: json!({ "rebuild": id, "check": check_id, "disputes": total }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Rebuild `id`, unfinished, held from now on with `claim` (its job's):
    /// only the holder's writes to it count. `None` when it has finished.
    pub async fn hold_rebuild(
        &self,
        id: i64,
        claim: i64,
    ) -> Result<Option<RebuildRecord>, StoreError> {
        let held: Option<i64> = sqlx::query_scalar(
            "update rebuilds set claim = $2 where id = $1 and finished_at is null returning id",
        )
        .bind(id)
        .bind(claim)
        .fetch_optional(&self.pool)
        .await?;
        match held {
            Some(id) => self.rebuild(id).await,
            None => Ok(None),
        }
    }

    /// Records a batch of a check's work in one transaction: the changes it
    /// found, how far it got (`checked` disputes in all), the claim renewed.
    pub async fn check_progress(
        &self,
        id: i64,
        claim: i64,
        done_through: i64,
        checked: i64,
        changes: &[NewRebuildChange<'_>],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for change in changes {
            insert_change(&mut tx, id, change).await?;
        }
        let rows = sqlx::query(
            "update rebuilds set done_through = $3, checked = $4,
                 changed = (select count(*) from rebuild_changes where rebuild_id = $1)
             where id = $1 and claim = $2",
        )
        .bind(id)
        .bind(claim)
        .bind(done_through)
        .bind(checked)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        held(rows)?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a rebuild held with `claim` finished, with why it stopped if
    /// it failed.
    pub async fn finish_rebuild(
        &self,
        id: i64,
        claim: i64,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        let rows = sqlx::query(
            "update rebuilds set finished_at = now(), failure = $3 where id = $1 and claim = $2",
        )
        .bind(id)
        .bind(claim)
        .bind(failure)
        .execute(&self.pool)
        .await?
        .rows_affected();
        held(rows)
    }

    pub async fn rebuild(&self, id: i64) -> Result<Option<RebuildRecord>, StoreError> {
        sqlx::query_as::<_, RebuildRow>(&format!(
            "select {REBUILD_COLUMNS} from rebuilds r left join users u on u.id = r.requested_by
             where r.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(RebuildRow::record)
        .transpose()
    }

    /// The newest rebuilds first.
    pub async fn rebuilds(&self, limit: i64) -> Result<Vec<RebuildRecord>, StoreError> {
        sqlx::query_as::<_, RebuildRow>(&format!(
            "select {REBUILD_COLUMNS} from rebuilds r left join users u on u.id = r.requested_by
             order by r.id desc limit $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(RebuildRow::record)
        .collect()
    }

    /// Up to `limit` of a rebuild's changes after dispute `after`, in
    /// dispute order.
    pub async fn rebuild_changes(
        &self,
        id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RebuildChange>, StoreError> {
        let rows = sqlx::query_as::<_, ChangeRow>(
            "select r.dispute_id, c.slug, d.dispute_ref, r.before, r.after, r.events, r.kept,
                    r.unlike_check
             from rebuild_changes r
             join disputes d on d.id = r.dispute_id
             join connections c on c.id = d.connection_id
             where r.rebuild_id = $1 and r.dispute_id > $2
             order by r.dispute_id limit $3",
        )
        .bind(id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| RebuildChange {
                dispute_id: r.dispute_id,
                slug: r.slug,
                dispute_ref: r.dispute_ref,
                before: r.before.0,
                after: r.after.0,
                events: r
                    .events
                    .0
                    .into_iter()
                    .map(|(id, before, after)| EventChange { id, before, after })
                    .collect(),
                kept: r.kept.0,
                unlike_check: r.unlike_check,
            })
            .collect())
    }
}

/// Keeps a dispute's change as rebuild `id` found or made it.
async fn insert_change(
    tx: &mut sqlx::PgConnection,
    id: i64,
    change: &NewRebuildChange<'_>,
) -> Result<(), StoreError> {
    let events: Vec<(i64, &NormalizedEvent, &NormalizedEvent)> = change
        .rebuilt
        .changed
        .iter()
        .map(|c| (c.id, &c.before, &c.after))
        .collect();
    let kept: Vec<(i64, String)> = change
        .rebuilt
        .kept
        .iter()
        .map(|(id, why): &(i64, Kept)| (*id, why.describe()))
        .collect();
    sqlx::query(
        "insert into rebuild_changes
             (rebuild_id, dispute_id, before, after, events, kept, unlike_check)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict on constraint rebuild_changes_pkey do nothing",
    )
    .bind(id)
    .bind(change.dispute_id)
    .bind(Json(change.before))
    .bind(Json(&change.rebuilt.state))
    .bind(Json(events))
    .bind(Json(kept))
    .bind(change.unlike_check)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes an event's values as they read today (heard at `heard_at`, its
/// time when the provider gives none) under the dispute's new `revision`;
/// its key, dispute and origin stay.
async fn rewrite_event(
    tx: &mut sqlx::PgConnection,
    id: i64,
    event: &NormalizedEvent,
    heard_at: jiff::Timestamp,
    revision: i32,
) -> Result<(), StoreError> {
    let statement = format!(
        "update dispute_events set {}, revision = $18 where id = $1",
        columns::event_assignments(2)
    );
    let occurred_at = event.occurred_at.as_ref().map_or(heard_at, |t| t.at);
    columns::bind_event(sqlx::query(&statement).bind(id), event, occurred_at)
        .bind(revision)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The job that runs rebuild `id`: it resumes where a stopped runner left
/// it, so it may be tried again and again.
fn rebuild_job(id: i64) -> NewJob {
    NewJob {
        kind: dispute_core::domain::JobKind::Rebuild,
        key: id.to_string(),
        dispute_id: None,
        payload: json!({ "rebuild": id }),
        run_at: None,
        max_attempts: 20,
    }
}
