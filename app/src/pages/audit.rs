//! The Audit log page (admin): every change made by a person, newest first,
//! narrowed by person, kind and time. Nothing here edits it; the database
//! refuses updates and deletes.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{when, Empty, PageHeading};
use crate::{
    error::{AppError, InternalErrorPage},
    store::AuditRecord,
};

const SHOWN: i64 = 500;

#[server(endpoint = "audit/list")]
pub async fn audit_entries(
    actor: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
) -> Result<Vec<AuditRecord>, AppError> {
    use crate::{auth::require, domain::Permission, store::AuditFilter};
    require(Permission::ReadAuditLog)?;
    let state = expect_context::<crate::state::AppState>();
    let day = |text: Option<String>, end: bool| -> Result<Option<jiff::Timestamp>, AppError> {
        match text.filter(|t| !t.trim().is_empty()) {
            None => Ok(None),
            Some(t) => {
                let date: jiff::civil::Date = t.trim().parse().map_err(|_| {
                    AppError::BadRequest(format!("{t:?} is not a date (yyyy-mm-dd)"))
                })?;
                let date = if end {
                    date.tomorrow().unwrap_or(date)
                } else {
                    date
                };
                Ok(Some(
                    date.to_zoned(jiff::tz::TimeZone::UTC)
                        .map_err(|_| AppError::BadRequest("date out of range".into()))?
                        .timestamp(),
                ))
            }
        }
    };
    let filter = AuditFilter {
        actor: actor
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty()),
        action: action
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty()),
        since: day(since, false)?,
        until: day(until, true)?,
    };
    Ok(state.store.audit_log(&filter, SHOWN).await?)
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map().read_untracked().clone();
    let field = |name: &str| query.get(name).filter(|v| !v.is_empty());
    let (actor, action, since, until) = (
        field("actor"),
        field("action"),
        field("since"),
        field("until"),
    );
    let filters = (actor.clone(), action.clone(), since.clone(), until.clone());
    view! {
        <PageHeading title="Audit log" />
        <form class="filters" method="get" action="/audit">
            <label>"Person (email)" <input type="text" name="actor" value=actor /></label>
            <label>
                "Kind"
                <select name="action">
                    <option value="">"all"</option>
                    {[
                        ("session", "sign-ins and sign-outs"),
                        ("user", "accounts"),
                        ("connection", "connections and keys"),
                    ]
                        .into_iter()
                        .map(|(value, label)| {
                            view! {
                                <option value=value selected=action.as_deref() == Some(value)>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>"From" <input type="date" name="since" value=since /></label>
            <label>"To" <input type="date" name="until" value=until /></label>
            <button type="submit">"Show"</button>
        </form>
        <Suspense>
            {Suspend::new(async move {
                let (actor, action, since, until) = filters;
                match audit_entries(actor, action, since, until).await {
                    Ok(entries) if entries.is_empty() => {
                        view! { <Empty>"No changes recorded for these filters."</Empty> }.into_any()
                    }
                    Ok(entries) => view! { <AuditTable entries /> }.into_any(),
                    Err(AppError::BadRequest(message)) => {
                        view! { <p class="flash error" role="alert">{message}</p> }.into_any()
                    }
                    Err(_) => view! { <InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AuditTable(entries: Vec<AuditRecord>) -> impl IntoView {
    view! {
        <table class="data">
            <thead>
                <tr>
                    <th>"When"</th>
                    <th>"Who"</th>
                    <th>"From"</th>
                    <th>"What"</th>
                    <th>"Subject"</th>
                    <th>"Change"</th>
                </tr>
            </thead>
            <tbody>
                {entries
                    .into_iter()
                    .map(|e| {
                        let details = if e.details.as_object().is_some_and(|o| o.is_empty()) {
                            String::new()
                        } else {
                            e.details.to_string()
                        };
                        view! {
                            <tr>
                                <td>{when(e.at)}</td>
                                <td>{e.actor_email.unwrap_or_else(|| "command line".into())}</td>
                                <td>{e.address}</td>
                                <td>
                                    <code>{e.action}</code>
                                </td>
                                <td>{e.subject}</td>
                                <td>
                                    <code>{details}</code>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
