//! The Delivery history page: every request to a webhook URL, newest first,
//! with the verdict and the answer given.

use leptos::prelude::*;

use super::{list_or_empty, when, PageHeading};
use crate::{error::AppError, store::DeliverySummary};

const SHOWN: i64 = 200;

#[server(endpoint = "deliveries/recent")]
pub async fn recent_deliveries() -> Result<Vec<DeliverySummary>, AppError> {
    crate::auth::require(crate::domain::Permission::ReadDeliveries)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.recent_deliveries(SHOWN).await?)
}

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    view! {
        <PageHeading title="Delivery history" />
        <Suspense>
            {Suspend::new(async move {
                list_or_empty(
                    recent_deliveries().await,
                    "No notifications received yet. Every request to a webhook URL will be listed here with its verdict.",
                    |list| view! { <DeliveryTable deliveries=list /> },
                )
            })}
        </Suspense>
    }
}

#[component]
fn DeliveryTable(deliveries: Vec<DeliverySummary>) -> impl IntoView {
    view! {
        <table class="data">
            <thead>
                <tr>
                    <th>"Received"</th>
                    <th>"Connection"</th>
                    <th>"From"</th>
                    <th>"Verdict"</th>
                    <th>"Answer"</th>
                    <th>"Took"</th>
                    <th>"Why"</th>
                </tr>
            </thead>
            <tbody>
                {deliveries
                    .into_iter()
                    .map(|d| {
                        let accepted = matches!(d.verdict.as_str(), "valid" | "duplicate");
                        let class = if accepted && !d.needs_attention { "badge ok" } else { "badge warn" };
                        view! {
                            <tr>
                                <td>{when(d.received_at)}</td>
                                <td>{d.slug}</td>
                                <td>
                                    <code>{d.remote_addr}</code>
                                </td>
                                <td>
                                    <span class=class>{d.verdict}</span>
                                </td>
                                <td>{d.response_status}</td>
                                <td>{d.latency_us.map(|us| format!("{:.1} ms", us as f64 / 1000.0))}</td>
                                <td>{d.reason}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
