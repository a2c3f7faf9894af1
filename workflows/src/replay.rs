//! Replaying a stored delivery after its cause is fixed (a key, a parser):
//! its exact bytes, headers and sender judged again with the connection as
//! it is now. `preview` says what a replay would do without doing it; `run`
//! records the replay (its own judgement, linked; the original's verdict is
//! never changed); `run_next_bulk` works through a bulk replay as a job.

use dispute_core::{
    domain::{fold, ConnectionSlug, Effect, FoldEvent, Stage, Status, Verdict},
    providers::{
        judge::{judge, Delivery, Judge, Judgement, Refused},
        Notification, ParseContext,
    },
};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::{keyring, metrics::Metrics, vault::Vault};

use dispute_store::{
    Actor, DisputeRecord, ReplayOutcome, ReplayRecord, ReplayRun, Store, StoreError,
    StoredNotification,
};

/// What replaying a delivery now would do.
#[derive(Clone, Debug)]
pub struct Preview {
    pub judgement: Judgement,
    /// The event it would record, if valid: its kind and what it sets.
    pub event: Option<(String, Option<Stage>, Option<Status>)>,
    /// Whether that event is recorded already (then nothing would change).
    pub already_recorded: bool,
    /// The dispute it is about, as it stands.
    pub dispute: Option<DisputeRecord>,
    /// The dispute's stage and status were the event recorded.
    pub after: Option<(Option<Stage>, Option<Status>)>,
}

/// The delivery judged again with its connection's current keys and
/// settings, and the connection it names now.
async fn judged(
    store: &Store,
    vault: &Vault,
    original: &StoredNotification,
) -> Result<(Judgement, Option<(i64, String)>), StoreError> {
    // A request not kept whole (a stranger's prefix, an oversized body, a
    // stream that broke, headers left out) cannot be judged again as what
    // the sender sent.
    let cut_short = original.body.len() as i64 != original.body_length
        || original
            .headers
            .iter()
            .any(|(name, _)| name == crate::intake::HEADERS_NOT_KEPT)
        || (original.verdict == Verdict::Malformed
            && original
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("the body ended early")));
    if cut_short {
        let refused = Refused::new(
            original.verdict,
            "the request was not kept whole, so it cannot be judged again",
            None,
        );
        return Ok((Judgement::Refused(refused), None));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &original.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    let sender = original
        .remote_addr
        .parse()
        .unwrap_or(dispute_core::domain::Sender::Unknown);
    let delivery = Delivery {
        slug: &original.slug,
        sender,
        headers: &headers,
        body: &original.body,
        body_length: original.body_length as u64,
        complete: true,
    };
    let slug = urlencoding::decode(&original.slug)
        .ok()
        .and_then(|s| ConnectionSlug::parse(&s).ok());
    let connection = match &slug {
        Some(slug) => store.intake_connection(slug).await?,
        None => None,
    };
    let Some(connection) = connection else {
        return Ok((judge(&delivery, None), None));
    };
    let connector = keyring::connector(store, vault, connection.id, connection.provider).await?;
    let context = ParseContext {
        zone: connection.timezone.zone(),
        account_id: connection.account_id.clone(),
    };
    let judgement = judge(
        &delivery,
        Some(Judge {
            enabled: connection.enabled,
            source_allowlist: &connection.source_allowlist,
            context: &context,
            connector: &connector,
        }),
    );
    let slug = slug.map(|s| s.as_str().to_owned()).unwrap_or_default();
    Ok((judgement, Some((connection.id, slug))))
}

/// What replaying delivery `original` now would do.
pub async fn preview(
    store: &Store,
    vault: &Vault,
    original: &StoredNotification,
) -> Result<Preview, StoreError> {
    let (judgement, connection) = judged(store, vault, original).await?;
    let (event, already_recorded, dispute, after) = match (&judgement, &connection) {
        (
            Judgement::Accepted {
                notification: Notification::Dispute(event),
                ..
            },
            Some((connection_id, slug)),
        ) => {
            let (stage, status) = match event.effect {
                Effect::Sets(stage, status) => (Some(stage), Some(status)),
                Effect::ExpiresCurrentStage => (None, Some(Status::Expired)),
                Effect::None => (None, None),
            };
            let dispute = store.dispute(slug, event.dispute_ref.as_str()).await?;
            let after = match &dispute {
                Some(d) => store.folded_with(d.id, event, original.received_at).await?,
                None => fold(&[FoldEvent::of(event, original.received_at, 0)]),
            };
            (
                Some((event.kind.clone(), stage, status)),
                store
                    .event_key_recorded(*connection_id, event.key.as_str())
                    .await?,
                dispute,
                Some((after.stage, after.status)),
            )
        }
        _ => (None, false, None, None),
    };
    Ok(Preview {
        judgement,
        event,
        already_recorded,
        dispute,
        after,
    })
}

/// Replays delivery `original` and records it (as part of bulk replay
/// `bulk`, if it is one).
pub async fn run(
    store: &Store,
    vault: &Vault,
    metrics: &Metrics,
    original: &StoredNotification,
    by: &Actor,
    bulk: Option<i64>,
) -> Result<ReplayRecord, StoreError> {
    let (judgement, connection) = judged(store, vault, original).await?;
    let replay = store
        .record_replay(original, connection.map(|(id, _)| id), &judgement, by, bulk)
        .await?;
    metrics.replay(replay.outcome);
    Ok(replay)
}

/// Deliveries a bulk replay reads per batch.
const BULK_BATCH: i64 = 50;

/// What the tally calls a delivery a replay had settled (valid, or found
/// recorded) by the time the bulk replay reached it.
pub const SKIPPED: &str = "skipped";

/// Runs bulk replay `id` for the job that holds it with `claim`, from
/// where it stands to its end (nothing when it has finished).
pub async fn run_bulk_job(
    store: &Store,
    vault: &Vault,
    metrics: &Metrics,
    id: i64,
    claim: i64,
) -> Result<(), StoreError> {
    let Some(run) = store.hold_replay_run(id, claim).await? else {
        return Ok(());
    };
    let finished = match run_bulk(store, vault, metrics, &run, claim).await {
        Ok(()) => store.finish_replay_run(run.id, claim, None).await,
        Err(e) => Err(e),
    };
    match finished {
        Ok(()) => Ok(()),
        Err(StoreError::ClaimLost) => {
            tracing::warn!(run = run.id, "another runner took this bulk replay over");
            Ok(())
        }
        Err(e) if e.is_outage() => Err(e),
        Err(e) => {
            tracing::error!(run = run.id, error = %e, "a bulk replay failed");
            match store
                .finish_replay_run(run.id, claim, Some(&e.to_string()))
                .await
            {
                Ok(()) | Err(StoreError::ClaimLost) => Err(e),
                Err(other) => Err(other),
            }
        }
    }
}

/// Replays run `run`'s deliveries from where it stands, in the order they
/// arrived, its progress and tally written after each one (which also
/// stops a runner that was taken over). One this run replayed already (it
/// stopped before writing its progress) counts as it came out; one another
/// replay settled meanwhile is skipped.
async fn run_bulk(
    store: &Store,
    vault: &Vault,
    metrics: &Metrics,
    run: &ReplayRun,
    claim: i64,
) -> Result<(), StoreError> {
    let mut done = run.done;
    let mut tally = run.tally.clone();
    loop {
        let batch = store.replay_run_items(run.id, done, BULK_BATCH).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for id in &batch {
            let replays = store.replays(*id).await?;
            let outcome = match replays.iter().find(|r| r.run == Some(run.id)) {
                Some(made) => made.outcome.as_str(),
                None if settled(&replays) => SKIPPED,
                None => match store.notification(*id).await? {
                    Some(original) => self::run(
                        store,
                        vault,
                        metrics,
                        &original,
                        &run.requester,
                        Some(run.id),
                    )
                    .await?
                    .outcome
                    .as_str(),
                    None => SKIPPED,
                },
            };
            *tally.entry(outcome.to_owned()).or_default() += 1;
            done += 1;
            store
                .replay_run_progress(run.id, claim, done, &tally)
                .await?;
        }
    }
}

/// Whether one of a delivery's replays made it valid or found its event
/// recorded: replaying it again would change nothing.
pub fn settled(replays: &[ReplayRecord]) -> bool {
    replays.iter().any(|r| {
        matches!(
            r.outcome,
            ReplayOutcome::NewEvent | ReplayOutcome::AlreadyRecorded
        )
    })
}
