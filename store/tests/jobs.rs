//! The job system against a real database: one of two workers claims a
//! job, a worker thought stopped is taken over and its writes no longer
//! count, a job is enqueued once per key however often it is asked for, a
//! failed attempt waits longer each time until the attempts are used up,
//! and periodic work runs once per period whatever the number of replicas.

use dispute_core::domain::{JobKind, JobState};
use dispute_store::{new_claim, NewJob, Store, StoreError};
use jiff::{SignedDuration, Timestamp};
use test_support::TestDatabase;

async fn store() -> (Store, TestDatabase) {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool(4).await);
    store.migrate().await.unwrap();
    (store, db)
}

fn job(key: &str, max_attempts: i32) -> NewJob {
    NewJob {
        kind: JobKind::Retention,
        key: key.to_owned(),
        dispute_id: None,
        payload: serde_json::json!({ "n": 1 }),
        run_at: None,
        max_attempts,
    }
}

async fn state_of(store: &Store, id: i64) -> (String, i32, Option<String>, Timestamp) {
    let (state, attempts, error, run_at): (String, i32, Option<String>, jiff_sqlx::Timestamp) =
        sqlx::query_as("select state, attempts, last_error, run_at from jobs where id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
    (state, attempts, error, run_at.to_jiff())
}

async fn silence(store: &Store, id: i64) {
    test_support::silence_job(store.pool(), id).await;
}

#[tokio::test]
async fn of_two_workers_exactly_one_claims_a_job() {
    let (store, _db) = store().await;
    let id = store.enqueue(&job("only", 3)).await.unwrap();

    for _ in 0..20 {
        sqlx::query("update jobs set state = 'waiting', claim = null where id = $1")
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.claim_job(&[JobKind::Retention], new_claim()),
            store.claim_job(&[JobKind::Retention], new_claim()),
        );
        let claimed: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(claimed.len(), 1, "{claimed:?}");
        assert_eq!(claimed[0].id, id);
    }
    assert!(
        store
            .claim_job(&[JobKind::Dashboard], new_claim())
            .await
            .unwrap()
            .is_none(),
        "a worker claims only the kinds it asks for"
    );
}

#[tokio::test]
async fn a_worker_silent_for_a_minute_is_taken_over_and_its_writes_no_longer_count() {
    let (store, _db) = store().await;
    let id = store.enqueue(&job("taken", 3)).await.unwrap();
    let first = store
        .claim_job(&[JobKind::Retention], new_claim())
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .claim_job(&[JobKind::Retention], new_claim())
            .await
            .unwrap()
            .is_none(),
        "a job whose worker beats its heart is not taken"
    );
    store.beat(&first).await.unwrap();

    silence(&store, id).await;
    let second = store
        .claim_job(&[JobKind::Retention], new_claim())
        .await
        .unwrap()
        .unwrap();

    assert_eq!(second.id, id);
    assert_eq!(second.attempts, 2, "the stopped worker's attempt counts");
    assert!(matches!(
        store.beat(&first).await,
        Err(StoreError::ClaimLost)
    ));
    assert!(matches!(
        store.job_done(&first).await,
        Err(StoreError::ClaimLost)
    ));
    store.job_done(&second).await.unwrap();
    assert_eq!(state_of(&store, id).await.0, "done");
    let runs: i64 = sqlx::query_scalar("select runs from jobs where id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(runs, 2);
}

#[tokio::test]
async fn a_job_is_enqueued_once_per_key_however_often_and_however_concurrently_it_is_asked_for() {
    let (store, _db) = store().await;
    let once = job("once", 3);
    let asks = (0..8).map(|_| store.enqueue(&once));
    let ids: Vec<i64> = futures::future::join_all(asks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let other = store.enqueue(&job("another", 3)).await.unwrap();

    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_ne!(other, ids[0]);
    let rows: i64 = sqlx::query_scalar("select count(*) from jobs")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn a_failed_attempt_waits_longer_each_time_until_the_attempts_are_used_up() {
    let (store, _db) = store().await;
    let id = store.enqueue(&job("flaky", 3)).await.unwrap();
    let due_now = || async {
        sqlx::query("update jobs set run_at = now() where id = $1")
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
    };

    let mut pauses = Vec::new();
    for attempt in 1..=3 {
        let held = store
            .claim_job(&[JobKind::Retention], new_claim())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.attempts, attempt);
        let before = Timestamp::now();
        let now = store
            .job_failed(&held, &format!("attempt {attempt} failed"))
            .await
            .unwrap();
        let (state, _, error, run_at) = state_of(&store, id).await;
        assert_eq!(
            error.as_deref(),
            Some(format!("attempt {attempt} failed").as_str())
        );
        if attempt < 3 {
            assert_eq!((now, state.as_str()), (JobState::Waiting, "waiting"));
            assert!(
                store
                    .claim_job(&[JobKind::Retention], new_claim())
                    .await
                    .unwrap()
                    .is_none(),
                "not before its pause is over"
            );
            pauses.push((run_at.duration_since(before).as_secs_f64()).round() as i64);
            due_now().await;
        } else {
            assert_eq!((now, state.as_str()), (JobState::Failed, "failed"));
        }
    }

    assert_eq!(pauses, [10, 20]);
    assert!(store
        .claim_job(&[JobKind::Retention], new_claim())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn periodic_work_runs_once_per_period_whatever_the_number_of_replicas() {
    let (store, _db) = store().await;
    let period = SignedDuration::from_secs(10);
    // Periods in the past, so every run made is due.
    let start = dispute_core::domain::jobs::period_start(
        Timestamp::now() - SignedDuration::from_hours(1),
        period,
    );
    let replicas = (0..3).map(|_| store.schedule_periodic(JobKind::Dashboard, start));
    let made: Vec<bool> = futures::future::join_all(replicas)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(made.iter().filter(|m| **m).count(), 1, "{made:?}");

    let run = store
        .claim_job(&[JobKind::Dashboard], new_claim())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !store
            .schedule_periodic(JobKind::Dashboard, start + period)
            .await
            .unwrap(),
        "not while this period's run is still running"
    );
    assert!(store
        .claim_job(&[JobKind::Dashboard], new_claim())
        .await
        .unwrap()
        .is_none());
    store.job_done(&run).await.unwrap();
    assert!(
        !store
            .schedule_periodic(JobKind::Dashboard, start)
            .await
            .unwrap(),
        "this period has had its run"
    );
    assert!(store
        .schedule_periodic(JobKind::Dashboard, start + period)
        .await
        .unwrap());
    let next = store
        .claim_job(&[JobKind::Dashboard], new_claim())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.id, run.id, "one row per periodic kind");
    assert_eq!(
        next.attempts, 1,
        "each period's run has its attempts afresh"
    );

    // A run that failed for good does not stop the next period's.
    store
        .job_failed(&next, "the database was away")
        .await
        .unwrap();
    assert!(store
        .schedule_periodic(JobKind::Dashboard, start + period * 2)
        .await
        .unwrap());
}
