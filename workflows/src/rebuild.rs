//! Rebuilding disputes after a provider's mapping changed: every recorded
//! event read again from the bytes it came from, every dispute folded
//! afresh. A check runs through every dispute and keeps those that would
//! change; applying a check rewrites each of those under its lock, computed
//! again then, so what arrived in between is not lost. Both run as jobs
//! (the task set's runner, or the command line), a batch at a time, and
//! resume where they stopped.

use dispute_core::{
    domain::{
        rebuild::{differences, rebuild, Reading, Rebuilt, RecordedEvent},
        EventOrigin,
    },
    providers::{self, Notification, ParseContext},
};

use dispute_store::{
    NewRebuildChange, RebuildKind, RebuildRecord, RebuildSubject, Store, StoreError,
};

/// Disputes a check reads per batch (its progress written once a batch),
/// or an apply takes from its check per read (its progress written with
/// each dispute).
const BATCH: i64 = 500;

/// A recorded event's body read with today's mapping.
fn reread(subject: &RebuildSubject, event: &RecordedEvent, body: Option<&[u8]>) -> Reading {
    match event.origin {
        EventOrigin::StatusQuery | EventOrigin::Response => Reading::NotReread,
        EventOrigin::Notification | EventOrigin::Replay => {
            let Some(body) = body else {
                return Reading::Unreadable("the delivery it came from is no longer stored".into());
            };
            let context = ParseContext {
                zone: subject.timezone.zone(),
                account_id: subject.account_id.clone(),
            };
            match providers::reread(subject.provider, body, &context) {
                Ok(parsed) => match parsed.notification {
                    Notification::Dispute(event) => Reading::Read(Box::new(event)),
                    Notification::Payment(_) => {
                        Reading::Unreadable("it now reads as a payment notification".into())
                    }
                },
                Err(refusal) => Reading::Unreadable(refusal.to_string()),
            }
        }
    }
}

/// What rebuilding `subject` would do, when it would do anything: change
/// an event or the state, or keep an event that no longer reads.
pub fn check(subject: &RebuildSubject) -> Option<Rebuilt> {
    let readings: Vec<(RecordedEvent, Reading)> = subject
        .events
        .iter()
        .map(|(event, body)| (event.clone(), reread(subject, event, body.as_deref())))
        .collect();
    let rebuilt = rebuild(&readings);
    let matters = !rebuilt.changed.is_empty()
        || !rebuilt.kept.is_empty()
        || !differences(&subject.state, &rebuilt.state).is_empty();
    matters.then_some(rebuilt)
}

/// Runs rebuild `id` for the job that holds it with `claim`, from where
/// it stands to its end (nothing when it has finished).
pub async fn run_job(store: &Store, id: i64, claim: i64) -> Result<(), StoreError> {
    match store.hold_rebuild(id, claim).await? {
        Some(rebuild) => run(store, &rebuild, claim).await,
        None => Ok(()),
    }
}

/// Runs rebuild `job`, held with `claim`, from where it stands to its end.
/// A database outage leaves it unfinished for a runner to take over later;
/// a runner that took it over meanwhile goes on with it; anything else
/// ends it as failed, with why.
pub async fn run(store: &Store, job: &RebuildRecord, claim: i64) -> Result<(), StoreError> {
    let done = match job.kind {
        RebuildKind::Check => run_check(store, job, claim).await,
        RebuildKind::Apply(check) => run_apply(store, job, check, claim).await,
    };
    let finished = match done {
        Ok(()) => store.finish_rebuild(job.id, claim, None).await,
        Err(e) => Err(e),
    };
    match finished {
        Ok(()) => Ok(()),
        Err(StoreError::ClaimLost) => {
            tracing::warn!(rebuild = job.id, "another runner took this rebuild over");
            Ok(())
        }
        Err(e) if e.is_outage() => Err(e),
        Err(e) => {
            tracing::error!(rebuild = job.id, error = %e, "a rebuild failed");
            match store
                .finish_rebuild(job.id, claim, Some(&e.to_string()))
                .await
            {
                Ok(()) | Err(StoreError::ClaimLost) => Err(e),
                Err(other) => Err(other),
            }
        }
    }
}

async fn run_check(store: &Store, job: &RebuildRecord, claim: i64) -> Result<(), StoreError> {
    let (mut after, mut checked) = (job.done_through, job.checked);
    loop {
        let subjects = store.rebuild_subjects(after, BATCH).await?;
        let Some(last) = subjects.last().map(|s| s.dispute_id) else {
            return Ok(());
        };
        let found: Vec<(&RebuildSubject, Rebuilt)> = subjects
            .iter()
            .filter_map(|s| check(s).map(|rebuilt| (s, rebuilt)))
            .collect();
        let changes: Vec<NewRebuildChange<'_>> = found
            .iter()
            .map(|(subject, rebuilt)| NewRebuildChange {
                dispute_id: subject.dispute_id,
                before: &subject.state,
                rebuilt,
                unlike_check: None,
            })
            .collect();
        checked += subjects.len() as i64;
        store
            .check_progress(job.id, claim, last, checked, &changes)
            .await?;
        after = last;
    }
}

/// Applies `check`, dispute by dispute, each in one transaction with the
/// job's progress.
async fn run_apply(
    store: &Store,
    job: &RebuildRecord,
    check: i64,
    claim: i64,
) -> Result<(), StoreError> {
    let mut after = job.done_through;
    loop {
        let planned = store.rebuild_changes(check, after, BATCH).await?;
        let Some(last) = planned.last().map(|c| c.dispute_id) else {
            return Ok(());
        };
        for plan in &planned {
            store.apply_rebuild(job.id, claim, plan, &reread).await?;
        }
        after = last;
    }
}
