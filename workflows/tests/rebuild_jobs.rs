//! A rebuild run by a job that another worker took over: only the new
//! holder's writes count, and a finished rebuild is not run again.

use dispute_core::domain::JobKind;
use dispute_store::{new_claim, Actor, RebuildKind, Store, StoreError};
use test_support::TestDatabase;

async fn store() -> (Store, TestDatabase) {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool(4).await);
    store.migrate().await.unwrap();
    (store, db)
}

#[tokio::test]
async fn a_rebuild_taken_over_from_its_job_lets_only_the_new_holder_write() {
    let (store, _db) = store().await;
    let (first, second) = (new_claim(), new_claim());
    let id = store
        .request_rebuild(RebuildKind::Check, &Actor::default(), Some(first))
        .await
        .unwrap();
    let held = store
        .held_job(JobKind::Rebuild, &id.to_string(), first)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .claim_job(&[JobKind::Rebuild], second)
            .await
            .unwrap()
            .is_none(),
        "its requester holds it"
    );

    test_support::silence_job(store.pool(), held.id).await;
    let taken = store
        .claim_job(&[JobKind::Rebuild], second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.key, id.to_string());
    dispute_workflows::rebuild::run_job(&store, id, taken.claim)
        .await
        .unwrap();

    assert!(matches!(
        store.check_progress(id, first, 1, 1, &[]).await,
        Err(StoreError::ClaimLost)
    ));
    let done = store.rebuild(id).await.unwrap().unwrap();
    assert!(done.finished_at.is_some() && done.failure.is_none());
    dispute_workflows::rebuild::run_job(&store, id, first)
        .await
        .unwrap();
    assert_eq!(
        store.rebuild(id).await.unwrap().unwrap().finished_at,
        done.finished_at,
        "a finished rebuild is not run again"
    );
}
