//! Rebuilding disputes (admin): after a provider's mapping changed, a check
//! of every dispute against its events as they read today, the disputes
//! that would change and how, then one button that applies exactly that
//! check. Both run as jobs; their pages follow them until they finish.

use dispute_core::domain::{
    rebuild::{differences, Value},
    Permission,
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Meta;
use leptos_router::hooks::use_params_map;

use super::{shown, when, DataTable, PageHeading, Time};
use crate::{error::AppError, flash::Flash};
use dispute_store::{RebuildChange, RebuildKind, RebuildRecord};

/// Changes shown per page.
const PAGE: i64 = 100;

async fn recent() -> Result<Vec<RebuildRecord>, AppError> {
    crate::auth::require(Permission::RebuildDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.rebuilds(20).await?)
}

/// A rebuild and a page of its changes after dispute `after`.
async fn rebuild(
    id: String,
    after: i64,
) -> Result<Option<(RebuildRecord, Vec<RebuildChange>)>, AppError> {
    crate::auth::require(Permission::RebuildDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let Some(record) = state.store.rebuild(id).await? else {
        return Ok(None);
    };
    let changes = state.store.rebuild_changes(id, after, PAGE).await?;
    Ok(Some((record, changes)))
}

/// Checks every dispute against its events as they read today; changes
/// nothing.
#[server(endpoint = "rebuilds/check")]
pub async fn check_disputes() -> Result<(), AppError> {
    let admin = crate::auth::require(Permission::RebuildDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let actor = crate::auth::actor(Some(&admin));
    let id = state
        .store
        .request_rebuild(RebuildKind::Check, &actor, None)
        .await?;
    crate::flash::redirect(
        &crate::links::rebuild(id),
        Flash::notice("The check has started: nothing changes until you apply it"),
    )
    .await
}

/// Applies finished check `check`.
#[server(endpoint = "rebuilds/apply")]
pub async fn apply_rebuild(check: i64) -> Result<(), AppError> {
    let admin = crate::auth::require(Permission::RebuildDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let actor = crate::auth::actor(Some(&admin));
    let finished = state.store.rebuild(check).await?.is_some_and(|r| {
        r.kind == RebuildKind::Check && r.finished_at.is_some() && r.failure.is_none()
    });
    if !finished {
        return crate::flash::redirect(
            &crate::links::rebuild(check),
            Flash::error("Only a check that has finished can be applied"),
        )
        .await;
    }
    match state
        .store
        .request_rebuild(RebuildKind::Apply(check), &actor, None)
        .await
    {
        Ok(id) => {
            crate::flash::redirect(
                &crate::links::rebuild(id),
                Flash::notice("Applying the check's changes"),
            )
            .await
        }
        Err(dispute_store::StoreError::Conflict(_)) => {
            crate::flash::redirect(
                &crate::links::rebuild(check),
                Flash::error("This check has been applied already"),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[component]
pub fn RebuildsPage() -> impl IntoView {
    view! {
        <PageHeading title="Rebuild disputes" />
        <p>
            "After a change to how a provider's notifications are read, a check reads every recorded event again from the bytes it came from and folds every dispute afresh. It lists the disputes that would change, and how; nothing is written until you apply it. Status-query answers stand as recorded."
        </p>
        <form class="inline" method="post" action=CheckDisputes::PATH>
            <button type="submit">"Check every dispute"</button>
        </form>
        <Suspense>
            {Suspend::new(async move {
                super::list_or_empty(recent().await, "No rebuild has been run.", |list| {
                    view! { <RebuildList list /> }
                })
            })}
        </Suspense>
    }
}

fn kind_label(kind: RebuildKind) -> String {
    match kind {
        RebuildKind::Check => "check".into(),
        RebuildKind::Apply(check) => format!("apply of check {check}"),
    }
}

fn progress(r: &RebuildRecord) -> String {
    match (&r.failure, r.finished_at) {
        (Some(why), _) => format!("failed: {}", shown(why)),
        (None, Some(at)) => format!("finished {}", when(at)),
        (None, None) => format!("running: {} of {} disputes", r.checked, r.total),
    }
}

#[component]
fn RebuildList(list: Vec<RebuildRecord>) -> impl IntoView {
    view! {
        <DataTable>
            <thead>
                <tr>
                    <th>"Rebuild"</th>
                    <th>"Asked by"</th>
                    <th>"State"</th>
                    <th>"Disputes changed"</th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|r| {
                        view! {
                            <tr>
                                <td>
                                    <a href=crate::links::rebuild(r.id)>
                                        {format!("{} · {}", r.id, kind_label(r.kind))}
                                    </a>
                                    <br />
                                    <small><Time at=r.requested_at /></small>
                                </td>
                                <td>{r.requested_by.as_deref().map(shown).unwrap_or_else(|| "command line".into())}</td>
                                <td>{progress(&r)}</td>
                                <td>{r.changed}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}

#[component]
pub fn RebuildPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").unwrap_or_default());
    let after = super::query_params()
        .get("after")
        .and_then(|a| a.parse::<i64>().ok())
        .unwrap_or(0);
    view! {
        <Suspense>
            {Suspend::new(async move {
                match rebuild(id, after).await {
                    Ok(Some((record, changes))) => {
                        view! { <Rebuild record changes /> }.into_any()
                    }
                    Ok(None) => view! { <crate::pages::not_found::NotFound /> }.into_any(),
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Rebuild(record: RebuildRecord, changes: Vec<RebuildChange>) -> impl IntoView {
    let running = record.finished_at.is_none();
    let next = (changes.len() as i64 == PAGE)
        .then(|| {
            changes.last().map(|c| {
                format!(
                    "{}?after={}",
                    crate::links::rebuild(record.id),
                    c.dispute_id
                )
            })
        })
        .flatten();
    let summary = match (record.kind, running) {
        (RebuildKind::Check, true) => format!(
            "Checking: {} of {} disputes read, {} would change so far.",
            record.checked, record.total, record.changed
        ),
        (RebuildKind::Check, false) => format!(
            "Checked {} disputes: {} would change. Nothing has been written.",
            record.checked, record.changed
        ),
        (RebuildKind::Apply(_), true) => format!(
            "Applying: {} of {} disputes done, {} rewritten so far.",
            record.checked, record.total, record.changed
        ),
        (RebuildKind::Apply(_), false) => format!(
            "Applied: {} of {} disputes rewritten.",
            record.changed, record.total
        ),
    };
    let apply = match (record.kind, &record.failure, running, record.applied_by) {
        (RebuildKind::Check, None, false, None) if record.changed > 0 => Some(
            view! {
                <form class="inline" method="post" action=ApplyRebuild::PATH>
                    <input type="hidden" name="check" value=record.id />
                    <button type="submit">{format!("Apply these {} changes", record.changed)}</button>
                </form>
            }
            .into_any(),
        ),
        (RebuildKind::Check, _, _, Some(apply)) => Some(
            view! { <p><a href=crate::links::rebuild(apply)>{format!("Applied as rebuild {apply}")}</a></p> }
                .into_any(),
        ),
        (RebuildKind::Apply(check), ..) => Some(
            view! { <p><a href=crate::links::rebuild(check)>{format!("The check it applies: rebuild {check}")}</a></p> }
                .into_any(),
        ),
        _ => None,
    };
    let is_apply = matches!(record.kind, RebuildKind::Apply(_));
    view! {
        {running.then(|| view! { <Meta http_equiv="refresh" content="3" /> })}
        <PageHeading title=format!("Rebuild {}: {}", record.id, kind_label(record.kind)) />
        <p class="panel" role="status">
            {summary}
            {record.failure.as_deref().map(|why| format!(" It failed: {}", shown(why)))}
        </p>
        {apply}
        {if changes.is_empty() {
            view! { <p class="panel empty">"No dispute changes."</p> }.into_any()
        } else {
            view! { <Changes changes is_apply /> }.into_any()
        }}
        {next.map(|next| view! { <p><a href=next>"Next disputes"</a></p> })}
    }
}

fn value(v: Option<&Value>) -> String {
    match v {
        None => "none".into(),
        Some(Value::Text(text)) => shown(text),
        Some(Value::Time(at)) => when(*at),
    }
}

/// What reading an event again changed, in words.
fn event_change(e: &dispute_core::domain::rebuild::EventChange) -> String {
    let status = |s: Option<dispute_core::domain::Status>| s.map_or("no status", |s| s.label());
    let stage = |s: Option<dispute_core::domain::Stage>| s.map_or("no stage", |s| s.label());
    let (before, after) = (e.before.effect, e.after.effect);
    if before == after {
        return "the same effect; other values read anew".into();
    }
    format!(
        "{} {} → {} {}",
        stage(before.stage()),
        status(before.status()),
        stage(after.stage()),
        status(after.status())
    )
}

#[component]
fn Changes(changes: Vec<RebuildChange>, is_apply: bool) -> impl IntoView {
    view! {
        <DataTable>
            <thead>
                <tr>
                    <th>"Dispute"</th>
                    <th>"What changes"</th>
                    <th>"Events that read differently today"</th>
                    {is_apply.then(|| view! { <th>"Against the check"</th> })}
                </tr>
            </thead>
            <tbody>
                {changes
                    .into_iter()
                    .map(|c| {
                        let found = differences(&c.before, &c.after);
                        let values = if found.is_empty() {
                            vec![view! { <li>"its state stays as it is"</li> }.into_any()]
                        } else {
                            found
                                .iter()
                                .map(|d| {
                                    view! {
                                        <li>
                                            <strong>{d.field.label()}</strong>
                                            {format!(": {} → {}", value(d.before.as_ref()), value(d.after.as_ref()))}
                                        </li>
                                    }
                                    .into_any()
                                })
                                .collect()
                        };
                        let events = c
                            .events
                            .iter()
                            .map(|e| {
                                view! {
                                    <li>
                                        <code>{shown(&e.before.kind)}</code>
                                        {format!(": {}", event_change(e))}
                                    </li>
                                }
                            })
                            .collect_view();
                        let kept = c
                            .kept
                            .iter()
                            .map(|(id, why)| {
                                view! { <li>{format!("event {id} kept as recorded: {}", shown(why))}</li> }
                            })
                            .collect_view();
                        let unlike = c.unlike_check.map(|unlike| match unlike {
                            true => "differs from the check: events arrived since, or the mapping changed",
                            false => "as the check found",
                        });
                        view! {
                            <tr>
                                <td>
                                    <a href=crate::links::dispute(c.dispute_id)>
                                        {shown(&c.dispute_ref)}
                                    </a>
                                    <br />
                                    <small><code>{shown(&c.slug)}</code></small>
                                </td>
                                <td><ul class="plain">{values}</ul></td>
                                <td><ul class="plain">{events}{kept}</ul></td>
                                {unlike.map(|u| view! { <td>{u}</td> })}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}
