//! The Deadlines page: disputes waiting on a response, soonest deadline
//! first, then those whose provider gives no deadline.

use leptos::prelude::*;

use super::{label, list_or_empty, money, when, PageHeading};
use crate::{error::AppError, store::DisputeRecord};

const SHOWN: i64 = 200;

pub async fn due_disputes() -> Result<Vec<DisputeRecord>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.due_disputes(SHOWN).await?)
}

#[component]
pub fn DeadlinesPage() -> impl IntoView {
    view! {
        <PageHeading title="Deadlines" />
        <Suspense>
            {Suspend::new(async move {
                list_or_empty(
                    due_disputes().await,
                    "Nothing is due. Disputes that need a response will be listed here, soonest first.",
                    |list| view! { <DueTable disputes=list /> },
                )
            })}
        </Suspense>
    }
}

#[component]
fn DueTable(disputes: Vec<DisputeRecord>) -> impl IntoView {
    view! {
        <table class="data">
            <thead>
                <tr>
                    <th>"Respond by"</th>
                    <th>"Dispute"</th>
                    <th>"Connection"</th>
                    <th>"Stage"</th>
                    <th>"Amount"</th>
                    <th>"Reason"</th>
                </tr>
            </thead>
            <tbody>
                {disputes
                    .into_iter()
                    .map(|d| {
                        let link = super::dispute::href(&d.connection_slug, &d.dispute_ref);
                        let (stage, _) = label(d.stage, d.status);
                        view! {
                            <tr>
                                <td>
                                    {match d.deadline {
                                        Some(at) => when(at).into_any(),
                                        None => view! { <span class="badge warn">"deadline not given"</span> }.into_any(),
                                    }}
                                </td>
                                <td>
                                    <a href=link>
                                        <code>{d.dispute_ref}</code>
                                    </a>
                                </td>
                                <td>{d.connection_slug}</td>
                                <td>{stage}</td>
                                <td>{money(d.amount.as_ref())}</td>
                                <td>{d.reason}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
