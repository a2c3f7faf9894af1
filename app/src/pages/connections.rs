//! The Connections page: the provider accounts Dispute Desk receives from.

use leptos::prelude::*;

use super::{Empty, PageHeading};
use crate::{error::AppError, error::InternalErrorPage, store::ConnectionSummary};

#[server(endpoint = "connections/list")]
pub async fn list_connections() -> Result<Vec<ConnectionSummary>, AppError> {
    crate::auth::require(crate::domain::Permission::ManageConnections)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.list_connections().await?)
}

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    view! {
        <PageHeading title="Connections" />
        <Suspense>
            {Suspend::new(async move {
                match list_connections().await {
                    Ok(list) if list.is_empty() => {
                        view! {
                            <Empty>
                                "No connections yet. Import them with "
                                <code>"dispute-desk connections import FILE"</code> "."
                            </Empty>
                        }
                            .into_any()
                    }
                    Ok(list) => view! { <ConnectionTable connections=list /> }.into_any(),
                    Err(_) => view! { <InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ConnectionTable(connections: Vec<ConnectionSummary>) -> impl IntoView {
    view! {
        <table class="data">
            <thead>
                <tr>
                    <th>"Connection"</th>
                    <th>"Provider"</th>
                    <th>"Intake path"</th>
                    <th>"Time zone"</th>
                    <th>"State"</th>
                </tr>
            </thead>
            <tbody>
                {connections
                    .into_iter()
                    .map(|c| {
                        let intake = format!("/webhooks/{}", c.slug);
                        let name = if c.display_name.is_empty() {
                            c.slug.clone()
                        } else {
                            c.display_name.clone()
                        };
                        view! {
                            <tr>
                                <td>{name}</td>
                                <td>{c.provider}</td>
                                <td>
                                    <code>{intake}</code>
                                </td>
                                <td>{c.timezone}</td>
                                <td>
                                    {if c.enabled {
                                        view! { <span class="badge ok">"enabled"</span> }
                                    } else {
                                        view! { <span class="badge off">"disabled"</span> }
                                    }}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
