//! The dashboard's figures, computed by one replica for all: a periodic
//! job recomputes them when an event has been recorded since they were
//! computed, or when they are older than `FRESH_FOR` (the windows of "due
//! within 7 days" and "90 days" move with the clock); pages read the last
//! ones kept, so a view never waits for the aggregates.

use dispute_store::{Dashboard, Store, StoreError};

/// Past this the figures are recomputed even without new events.
const FRESH_FOR: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// Recomputes and keeps the figures if they are missing, behind the
/// events or old; whether it did.
pub async fn refresh(store: &Store) -> Result<bool, StoreError> {
    let now = jiff::Timestamp::now();
    let kept = store.stored_dashboard().await?;
    let stale = match &kept {
        None => true,
        Some((figures, at)) => {
            now.duration_since(*at) >= FRESH_FOR
                || store.last_event_id().await? != figures.last_event_id
        }
    };
    if stale {
        compute(store, now).await?;
    }
    Ok(stale)
}

/// The figures kept, and when they were computed; computed now if none
/// are kept yet (a fresh installation, before the first periodic run).
pub async fn figures(store: &Store) -> Result<(Dashboard, jiff::Timestamp), StoreError> {
    match store.stored_dashboard().await? {
        Some(kept) => Ok(kept),
        None => {
            let now = jiff::Timestamp::now();
            Ok((compute(store, now).await?, now))
        }
    }
}

async fn compute(store: &Store, now: jiff::Timestamp) -> Result<Dashboard, StoreError> {
    let figures = store.dashboard(now).await?;
    store.store_dashboard(&figures, now).await?;
    Ok(figures)
}
