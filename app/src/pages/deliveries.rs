//! The Delivery history page: every request to a webhook URL, newest first,
//! with the verdict and the answer given.

use leptos::prelude::*;

use super::{list_or_empty, when, PageHeading};
use crate::{
    error::AppError,
    store::{DeliverySummary, ThrottledCount},
};

const SHOWN: i64 = 200;

pub async fn recent_deliveries() -> Result<Vec<DeliverySummary>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDeliveries)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.recent_deliveries(SHOWN).await?)
}

/// Requests refused with 429 in the last day, per sender.
pub async fn throttled_requests() -> Result<Vec<ThrottledCount>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDeliveries)?;
    let state = expect_context::<crate::state::AppState>();
    let day_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    Ok(state.store.throttled_since(day_ago, 50).await?)
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
        <h2>"Refused for rate in the last 24 hours"</h2>
        <p>
            "Requests for unknown connections or with oversized bodies past a sender's allowance are answered 429 and counted here, not stored."
        </p>
        <Suspense>
            {Suspend::new(async move {
                list_or_empty(
                    throttled_requests().await,
                    "None.",
                    |list| view! { <ThrottledTable counts=list /> },
                )
            })}
        </Suspense>
    }
}

#[component]
fn ThrottledTable(counts: Vec<ThrottledCount>) -> impl IntoView {
    view! {
        <table class="data">
            <thead>
                <tr>
                    <th>"From"</th>
                    <th>"Requests refused"</th>
                    <th>"Latest minute"</th>
                    <th>"Latest address asked for"</th>
                </tr>
            </thead>
            <tbody>
                {counts
                    .into_iter()
                    .map(|c| {
                        view! {
                            <tr>
                                <td>
                                    <code>{c.sender}</code>
                                </td>
                                <td>{c.requests}</td>
                                <td>{when(c.minute)}</td>
                                <td>
                                    <code>{format!("/webhooks/{}", c.last_slug)}</code>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
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
                        let accepted = d.verdict.is_accepted();
                        let class = if accepted && !d.needs_attention { "badge ok" } else { "badge warn" };
                        view! {
                            <tr>
                                <td>{when(d.received_at)}</td>
                                <td>{d.slug}</td>
                                <td>
                                    <code>{d.remote_addr}</code>
                                </td>
                                <td>
                                    <span class=class>{d.verdict.as_str()}</span>
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
