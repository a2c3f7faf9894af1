//! The Audit log page (admin): every change made by a person, newest first,
//! narrowed by person, kind and time, paged by keyset so no entry can be
//! pushed out of reach; and a summary of failed sign-ins, which are counted
//! apart so strangers cannot flood the log. Nothing here edits the log; the
//! database refuses updates and deletes.

use leptos::prelude::*;

use super::{cursor_from, cursor_text, shown, shown_lines, DataTable, Empty, PageHeading, Time};
use crate::error::{AppError, InternalErrorPage};
use dispute_store::{AuditKey, AuditRecord, SignInFailureRecord};

const SHOWN: i64 = 100;

/// The kinds of change the filter offers, by the prefix of their action.
const KINDS: [(&str, &str); 3] = [
    ("session", "sign-ins and sign-outs"),
    ("user", "accounts"),
    ("connection", "connections and keys"),
];

/// One page of the log, and where the next one starts.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AuditPageData {
    pub entries: Vec<AuditRecord>,
    pub older: Option<String>,
    pub failures: Vec<SignInFailureRecord>,
}

pub async fn audit_entries(
    actor: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<String>,
) -> Result<AuditPageData, AppError> {
    use crate::auth::require;
    use dispute_core::domain::Permission;
    use dispute_store::AuditFilter;
    require(Permission::ReadAuditLog)?;
    let state = expect_context::<crate::state::AppState>();
    let day = |text: Option<String>, end: bool| -> Result<Option<jiff::Timestamp>, AppError> {
        match text.filter(|t| !t.trim().is_empty()) {
            None => Ok(None),
            Some(t) => {
                let date = dispute_core::domain::time::day(&t).map_err(|_| {
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
    let actor = actor
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty());
    if actor
        .as_deref()
        .is_some_and(|a| a.chars().count() > 254 || a.chars().any(char::is_control))
    {
        return Err(AppError::BadRequest(
            "the person filter is not an email".into(),
        ));
    }
    let action = match action.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(kind) if KINDS.iter().any(|(k, _)| *k == kind) => Some(kind.to_owned()),
        Some(_) => return Err(AppError::BadRequest("unknown kind of change".into())),
    };
    let after = match after.filter(|a| !a.is_empty()) {
        None => None,
        Some(text) => Some(
            cursor_from::<AuditKey>(&text)
                .map(|key| AuditKey {
                    at: dispute_core::domain::time::storable(key.at),
                    ..key
                })
                .ok_or_else(|| {
                    AppError::BadRequest("that page of the log does not exist".into())
                })?,
        ),
    };
    let filter = AuditFilter {
        actor,
        action,
        since: day(since, false)?,
        until: day(until, true)?,
    };
    let mut entries = state.store.audit_log(&filter, after, SHOWN + 1).await?;
    let older = (entries.len() as i64 > SHOWN).then(|| {
        entries.truncate(SHOWN as usize);
        entries.last().map(|e| cursor_text(&e.key()))
    });
    let day_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    Ok(AuditPageData {
        entries,
        older: older.flatten(),
        failures: state.store.recent_sign_in_failures(day_ago, 50).await?,
    })
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = super::query_params();
    let field = |name: &str| query.get(name).filter(|v| !v.is_empty()).cloned();
    let (actor, action, since, until, after) = (
        field("actor"),
        field("action"),
        field("since"),
        field("until"),
        field("after"),
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
                    {KINDS
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
                let next_link = |older: &str| {
                    let mut query: Vec<(&str, String)> = [
                        ("actor", &actor),
                        ("action", &action),
                        ("since", &since),
                        ("until", &until),
                    ]
                    .into_iter()
                    .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
                    .collect();
                    query.push(("after", older.to_owned()));
                    let query: Vec<String> = query
                        .into_iter()
                        .map(|(name, value)| format!("{name}={}", urlencoding::encode(&value)))
                        .collect();
                    format!("/audit?{}", query.join("&"))
                };
                match audit_entries(actor.clone(), action.clone(), since.clone(), until.clone(), after)
                    .await
                {
                    Ok(page) => {
                        let older = page.older.as_deref().map(next_link);
                        view! {
                            {if page.entries.is_empty() {
                                view! { <Empty>"No changes recorded for these filters."</Empty> }
                                    .into_any()
                            } else {
                                view! { <AuditTable entries=page.entries /> }.into_any()
                            }}
                            {older
                                .map(|href| {
                                    view! {
                                        <p class="pager">
                                            <a href=href rel="next">"Older entries"</a>
                                        </p>
                                    }
                                })}
                            <FailedSignIns failures=page.failures />
                        }
                            .into_any()
                    }
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
        <DataTable>
            <thead>
                <tr>
                    <th>"When"</th>
                    <th>"Who"</th>
                    <th>"Did"</th>
                    <th>"Change"</th>
                </tr>
            </thead>
            <tbody>
                {entries
                    .into_iter()
                    .map(|e| {
                        use dispute_core::domain::audit_words::{action_words, changes};
                        let changed = changes(&e.details);
                        let has_details = e.details.as_object().is_none_or(|o| !o.is_empty());
                        let json = serde_json::to_string_pretty(&e.details).unwrap_or_default();
                        view! {
                            <tr>
                                <td><Time at=e.at /></td>
                                <td>
                                    {e.actor_email.unwrap_or_else(|| "the command line".into())}
                                    {e.address.map(|a| view! { <br /> <small>{format!("from {a}")}</small> })}
                                </td>
                                <td>
                                    {action_words(&e.action)}
                                    {(!e.subject.is_empty()).then(|| view! { ": " <strong>{shown(&e.subject)}</strong> })}
                                    <br />
                                    <small><code>{e.action}</code></small>
                                </td>
                                <td>
                                    <ul class="changes">
                                        {changed.into_iter().map(|c| view! { <li>{shown(&c)}</li> }).collect_view()}
                                    </ul>
                                    {has_details.then(|| view! {
                                        <details>
                                            <summary>"Details"</summary>
                                            <pre>{shown_lines(&json)}</pre>
                                        </details>
                                    })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}

/// Failed sign-ins of the last day, per account and address.
#[component]
fn FailedSignIns(failures: Vec<SignInFailureRecord>) -> impl IntoView {
    view! {
        <h2>"Failed sign-ins in the last 24 hours"</h2>
        {if failures.is_empty() {
            view! { <Empty>"None."</Empty> }.into_any()
        } else {
            view! {
                <DataTable>
                    <thead>
                        <tr>
                            <th>"Email tried"</th>
                            <th>"From"</th>
                            <th>"Failures"</th>
                            <th>"First"</th>
                            <th>"Latest"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {failures
                            .into_iter()
                            .map(|f| {
                                view! {
                                    <tr>
                                        <td>{f.email}</td>
                                        <td>
                                            <code>{f.address}</code>
                                        </td>
                                        <td>{f.failures}</td>
                                        <td><Time at=f.first_at /></td>
                                        <td><Time at=f.last_at /></td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </DataTable>
            }
                .into_any()
        }}
    }
}
