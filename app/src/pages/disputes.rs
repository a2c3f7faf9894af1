//! The Disputes page: every dispute, the most recently active first.

use leptos::prelude::*;

use super::{label, list_or_empty, money, when, PageHeading};
use crate::{error::AppError, store::DisputeRecord};

const SHOWN: i64 = 200;

pub async fn recent_disputes() -> Result<Vec<DisputeRecord>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.recent_disputes(SHOWN).await?)
}

#[component]
pub fn DisputesPage() -> impl IntoView {
    view! {
        <PageHeading title="Disputes" />
        <Suspense>
            {Suspend::new(async move {
                list_or_empty(
                    recent_disputes().await,
                    "No disputes yet. They appear here as the providers' notifications arrive.",
                    |list| view! { <DisputeTable disputes=list /> },
                )
            })}
        </Suspense>
    }
}

#[component]
fn DisputeTable(disputes: Vec<DisputeRecord>) -> impl IntoView {
    view! {
        <table class="data">
            <thead>
                <tr>
                    <th>"Dispute"</th>
                    <th>"Connection"</th>
                    <th>"Stage"</th>
                    <th>"Status"</th>
                    <th>"Amount"</th>
                    <th>"Respond by"</th>
                    <th>"Last event"</th>
                </tr>
            </thead>
            <tbody>
                {disputes
                    .into_iter()
                    .map(|d| {
                        let link = super::dispute::href(&d.connection_slug, &d.dispute_ref);
                        let (stage, status) = label(d.stage, d.status);
                        view! {
                            <tr>
                                <td>
                                    <a href=link>
                                        <code>{d.dispute_ref}</code>
                                    </a>
                                </td>
                                <td>{d.connection_slug}</td>
                                <td>{stage}</td>
                                <td>{status}</td>
                                <td>{money(d.amount.as_ref())}</td>
                                <td>{d.deadline.map(when)}</td>
                                <td>{when(d.last_event_at)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
