//! Provider health (ops): for each connection, when its provider was last
//! heard from, its deliveries by verdict over a day and a week, deliveries
//! and refusals per hour as charts (with their numbers), the silence
//! warning, and the refused deliveries waiting for a replay.

use leptos::prelude::*;

use super::{shown, when, DataTable, Empty, PageHeading, SilenceWarning};
use crate::{charts::Chart, error::AppError};
use dispute_store::ConnectionHealth;

pub struct Health {
    pub connections: Vec<ConnectionHealth>,
    pub silent: Vec<(String, jiff::Timestamp)>,
}

pub async fn provider_health() -> Result<Health, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDeliveries)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(Health {
        connections: state.store.provider_health().await?,
        silent: state.store.silent_connections(state.silence_after).await?,
    })
}

#[component]
pub fn ProvidersPage() -> impl IntoView {
    view! {
        <PageHeading title="Provider health" />
        <Suspense>
            {Suspend::new(async move {
                match provider_health().await {
                    Ok(Health { connections, .. }) if connections.is_empty() => view! {
                        <Empty>
                            "No connection yet, so no provider to watch. Once an admin adds one (Admin → Connections) and gives its provider the intake address, each delivery shows here: when the provider was last heard from and how many were refused."
                        </Empty>
                    }
                        .into_any(),
                    Ok(Health { connections, silent }) => view! {
                        <SilenceWarning silent />
                        {connections
                            .into_iter()
                            .map(|c| view! { <ConnectionPanel c /> })
                            .collect_view()}
                    }
                        .into_any(),
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ConnectionPanel(c: ConnectionHealth) -> impl IntoView {
    let hour = |t: jiff::Timestamp| t.strftime("%H").to_string();
    let deliveries: Vec<(String, f64)> = c
        .hourly
        .iter()
        .map(|(h, n, _)| (hour(*h), *n as f64))
        .collect();
    let refused: Vec<(String, f64)> = c
        .hourly
        .iter()
        .map(|(h, _, r)| (hour(*h), *r as f64))
        .collect();
    // The charts' numbers, for the hours that had any.
    let busy: Vec<(jiff::Timestamp, i64, i64)> = c
        .hourly
        .iter()
        .copied()
        .filter(|(_, all, _)| *all > 0)
        .collect();
    // An hour-by-hour chart of nothing but zeros says nothing.
    let drawn = |bars: &[(String, f64)]| bars.iter().any(|(_, v)| *v > 0.0);
    let replays = super::deliveries::replays_href(&dispute_core::domain::DeliveryFilter {
        slug: Some(c.slug.clone()),
        ..Default::default()
    });
    view! {
        <section class="panel">
            <h2>
                <code>{shown(&c.slug)}</code> " · " {c.provider.display_name()}
                {(!c.enabled).then_some(" (disabled)")}
            </h2>
            <dl class="facts">
                <dt>"Last delivery"</dt>
                <dd>{c.last_received.map_or_else(|| "never".to_owned(), when)}</dd>
                <dt>"Last accepted"</dt>
                <dd>{c.last_accepted.map_or_else(|| "never".to_owned(), when)}</dd>
                <dt>"Refused, not replayed"</dt>
                <dd>
                    {c.awaiting_replay.to_string()}
                    {(c.awaiting_replay > 0).then(|| view! { " · " <a href=replays>"preview replaying them"</a> })}
                </dd>
            </dl>
            <DataTable>
                <thead><tr><th>"Verdict"</th><th>"24 hours"</th><th>"7 days"</th></tr></thead>
                <tbody>
                    {c.verdicts
                        .into_iter()
                        .map(|(v, day, week)| view! {
                            <tr><td>{v.label()}</td><td>{day}</td><td>{week}</td></tr>
                        })
                        .collect_view()}
                </tbody>
            </DataTable>
            {(!busy.is_empty()).then(|| view! {
                <DataTable>
                    <thead><tr><th>"Hour (UTC)"</th><th>"Deliveries"</th><th>"Refused"</th></tr></thead>
                    <tbody>
                        {busy
                            .into_iter()
                            .map(|(h, all, refused)| view! {
                                <tr><td>{h.strftime("%Y-%m-%d %H:00").to_string()}</td><td>{all}</td><td>{refused}</td></tr>
                            })
                            .collect_view()}
                    </tbody>
                </DataTable>
            })}
            {drawn(&deliveries).then(|| view! {
                <Chart caption="Deliveries per hour (UTC), last 24 hours" bars=deliveries />
            })}
            {drawn(&refused).then(|| view! {
                <Chart caption="Refused per hour (UTC), last 24 hours" bars=refused />
            })}
        </section>
    }
}
