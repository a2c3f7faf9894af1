//! The Connections page (admin): every provider account, its intake URL to
//! give the provider, and the last request it received.

use leptos::prelude::*;

use super::{when, DataTable, Empty, PageHeading};
use crate::error::{AppError, InternalErrorPage};
use dispute_core::domain::ProviderKind;
use dispute_store::ConnectionOverview;

pub async fn list_connections() -> Result<(Vec<ConnectionOverview>, String), AppError> {
    crate::auth::require(dispute_core::domain::Permission::ManageConnections)?;
    let state = expect_context::<crate::state::AppState>();
    Ok((
        state.store.connections_overview().await?,
        state.public_url.clone(),
    ))
}

/// The connections that have gone silent, for the warning above the list
/// and above each one's page.
pub async fn silent_connections() -> Result<Vec<(String, jiff::Timestamp)>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ManageConnections)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.silent_connections(state.silence_after).await?)
}

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    view! {
        <PageHeading title="Connections" />
        <Suspense>
            {Suspend::new(async move {
                silent_connections()
                    .await
                    .ok()
                    .map(|silent| view! { <super::SilenceWarning silent /> })
            })}
        </Suspense>
        <p>
            "Add a connection for: "
            {ProviderKind::ALL
                .into_iter()
                .map(|p| {
                    view! {
                        <a class="button secondary" href=format!("/connections/new?provider={}", p.as_str())>
                            {p.display_name()}
                        </a>
                        " "
                    }
                })
                .collect_view()}
        </p>
        <Suspense>
            {Suspend::new(async move {
                match list_connections().await {
                    Ok((list, _)) if list.is_empty() => {
                        view! {
                            <Empty>
                                "No connections yet. Add one above, or import them with "
                                <code>"dispute-desk connections import FILE"</code> "."
                            </Empty>
                        }
                            .into_any()
                    }
                    Ok((list, base)) => view! { <ConnectionTable connections=list base /> }.into_any(),
                    Err(_) => view! { <InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ConnectionTable(connections: Vec<ConnectionOverview>, base: String) -> impl IntoView {
    view! {
        <DataTable>
            <thead>
                <tr>
                    <th>"Connection"</th>
                    <th>"Provider"</th>
                    <th>"Intake URL (give it to the provider)"</th>
                    <th>"State"</th>
                    <th>"Last received"</th>
                </tr>
            </thead>
            <tbody>
                {connections
                    .into_iter()
                    .map(|c| {
                        let s = c.summary;
                        let intake = format!("{base}/webhooks/{}", s.slug);
                        let name = if s.display_name.is_empty() { s.slug.clone() } else { s.display_name.clone() };
                        let provider = s.provider.display_name();
                        let last = match (c.last_received_at, c.last_verdict) {
                            (Some(at), Some(verdict)) => format!("{} ({})", when(at), verdict.label()),
                            _ => "never".to_owned(),
                        };
                        view! {
                            <tr>
                                <td>
                                    <a href=format!("/connections/{}", s.slug)>{name}</a>
                                </td>
                                <td>{provider}</td>
                                <td>
                                    <code>{intake}</code>
                                </td>
                                <td>
                                    {if s.enabled {
                                        view! { <span class="badge ok">"enabled"</span> }
                                    } else {
                                        view! { <span class="badge off">"disabled"</span> }
                                    }}
                                </td>
                                <td>{last}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}
