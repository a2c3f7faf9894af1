//! Status queries, for ops: every question asked of a provider, newest
//! first — by whom (a person or reconciliation), why, how it ended and what
//! it changed — and the connections that have gone silent.

use leptos::prelude::*;

use super::{dispute::QueryRow, list_or_empty, DataTable, PageHeading, SilenceWarning};
use crate::error::AppError;
use dispute_store::StatusQueryEntry;

const PAGE: i64 = 100;

/// One page of queries, and where the next one starts.
pub async fn status_queries(before: Option<i64>) -> Result<Vec<StatusQueryEntry>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDeliveries)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.status_queries(None, before, PAGE).await?)
}

pub async fn silent_connections() -> Result<Vec<(String, jiff::Timestamp)>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDeliveries)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.silent_connections(state.silence_after).await?)
}

#[component]
pub fn QueriesPage() -> impl IntoView {
    let before = super::query_params()
        .get("before")
        .and_then(|b| b.parse::<i64>().ok());
    view! {
        <PageHeading title="Status queries" />
        <Suspense>
            {Suspend::new(async move {
                silent_connections()
                    .await
                    .ok()
                    .map(|silent| view! { <SilenceWarning silent /> })
            })}
        </Suspense>
        <p>
            "Every question asked of a provider about a dispute: by an analyst's “Query status now”, or by reconciliation (deadlines near with nothing heard, disputes open past their deadline, decisions overdue, silent connections)."
        </p>
        <Suspense>
            {Suspend::new(async move {
                list_or_empty(
                    status_queries(before).await,
                    "No provider has been asked about a dispute yet.",
                    |list| {
                        let next = (list.len() as i64 == PAGE)
                            .then(|| list.last().map(|q| format!("/queries?before={}", q.id)))
                            .flatten();
                        view! {
                            <DataTable>
                                <thead>
                                    <tr>
                                        <th>"Dispute"</th>
                                        <th>"Asked"</th>
                                        <th>"By"</th>
                                        <th>"Why"</th>
                                        <th>"Outcome"</th>
                                        <th>"Changed"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list
                                        .into_iter()
                                        .map(|q| view! { <QueryRow q with_dispute=true /> })
                                        .collect_view()}
                                </tbody>
                            </DataTable>
                            {next.map(|href| view! { <p><a href=href>"Older queries"</a></p> })}
                        }
                    },
                )
            })}
        </Suspense>
    }
}
