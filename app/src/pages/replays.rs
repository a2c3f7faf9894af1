//! Bulk replay (ops): every refused delivery matching a filter (after a key
//! is fixed, say), with what replaying each now would do — which become
//! valid, which disputes change and from what to what — then one button
//! that replays them all and says what came of it.

use std::collections::BTreeMap;

use dispute_core::{
    domain::{DeliveryFilter, Permission},
    providers::judge::Judgement,
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;

use super::{delivery::change, shown, when, PageHeading};
use crate::{
    error::AppError,
    flash::Flash,
    replay::Preview,
    store::{ReplayOutcome, StoredNotification},
};

/// The most deliveries one bulk replay takes.
const BATCH: i64 = 200;

/// The refused deliveries `filter` names that no replay has made valid yet,
/// oldest first (the order they arrived in, which replays keep).
async fn refused(filter: &DeliveryFilter) -> Result<Vec<StoredNotification>, AppError> {
    let state = expect_context::<crate::state::AppState>();
    let filter = DeliveryFilter {
        refused_only: true,
        ..filter.clone()
    };
    let mut found = Vec::new();
    for d in state.store.delivery_history(&filter, None, BATCH).await? {
        let settled = state.store.replays(d.id).await?.iter().any(|r| {
            matches!(
                r.outcome,
                ReplayOutcome::NewEvent | ReplayOutcome::AlreadyRecorded
            )
        });
        if settled {
            continue;
        }
        if let Some(n) = state.store.notification(d.id).await? {
            found.push(n);
        }
    }
    found.reverse();
    Ok(found)
}

/// The connection slug, event key and dispute a valid replay would record.
fn recorded_as(n: &StoredNotification, p: &Preview) -> Option<(String, String, String)> {
    match &p.judgement {
        Judgement::Accepted {
            notification: dispute_core::providers::Notification::Dispute(event),
            ..
        } => Some((
            n.slug.clone(),
            event.key.as_str().to_owned(),
            event.dispute_ref.as_str().to_owned(),
        )),
        _ => None,
    }
}

pub enum PlanAnswer {
    Plan(DeliveryFilter, Vec<(StoredNotification, Preview)>),
    Refused(String),
}

pub async fn replay_plan(params: BTreeMap<String, String>) -> Result<PlanAnswer, AppError> {
    crate::auth::require(Permission::Replay)?;
    let state = expect_context::<crate::state::AppState>();
    let filter = match DeliveryFilter::from_params(&params) {
        Ok(filter) => filter,
        Err(e) => return Ok(PlanAnswer::Refused(e.0)),
    };
    // Providers resend what was refused: of several deliveries of one event
    // only the first replayed records it.
    let mut seen = std::collections::HashSet::new();
    let mut plan = Vec::new();
    for n in refused(&filter).await? {
        let mut preview = crate::replay::preview(&state.store, &state.vault, &n).await?;
        if let Some((slug, key, _)) = recorded_as(&n, &preview) {
            if !seen.insert((slug, key)) {
                preview.already_recorded = true;
            }
        }
        plan.push((n, preview));
    }
    Ok(PlanAnswer::Plan(filter, plan))
}

/// Replays every refused delivery the filter in `query` names.
#[server(endpoint = "deliveries/replay-matching")]
pub async fn replay_matching(query: String) -> Result<(), AppError> {
    let ops = crate::auth::require(Permission::Replay)?;
    let state = expect_context::<crate::state::AppState>();
    let params = super::disputes::url_params(&query);
    let filter = match DeliveryFilter::from_params(&params) {
        Ok(filter) => filter,
        Err(e) => return crate::flash::redirect("/replays", Flash::error(e.0)).await,
    };
    let page = super::deliveries::replays_href(&filter);
    let actor = crate::auth::actor(Some(&ops));
    let mut tally: BTreeMap<&'static str, usize> = BTreeMap::new();
    for n in refused(&filter).await? {
        let replay =
            crate::replay::run(&state.store, &state.vault, &state.metrics, &n, &actor).await?;
        *tally.entry(replay.outcome.label()).or_default() += 1;
    }
    let total: usize = tally.values().sum();
    let flash = match total {
        0 => Flash::notice("no refused delivery matches: nothing was replayed"),
        _ => Flash::notice(format!(
            "replayed {total}: {}",
            tally
                .iter()
                .map(|(label, n)| format!("{n} {label}"))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    };
    crate::flash::redirect(&page, flash).await
}

#[component]
pub fn ReplaysPage() -> impl IntoView {
    let params: BTreeMap<String, String> = use_query_map()
        .read_untracked()
        .latest_values()
        .map(|(k, v)| (k.to_string(), v.to_owned()))
        .collect();
    view! {
        <PageHeading title="Replay refused deliveries" />
        <p>
            "Every refused delivery matching the filter, judged again with its connection as it is now. Nothing changes until you replay; each replay is recorded beside the original, whose verdict stays."
        </p>
        <Suspense>
            {Suspend::new(async move {
                match replay_plan(params).await {
                    Ok(PlanAnswer::Plan(filter, plan)) => view! { <Plan filter plan /> }.into_any(),
                    Ok(PlanAnswer::Refused(reason)) => {
                        view! { <p class="flash error" role="alert">{reason}</p> }.into_any()
                    }
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Plan(filter: DeliveryFilter, plan: Vec<(StoredNotification, Preview)>) -> impl IntoView {
    let query = filter.query_string();
    let valid = plan
        .iter()
        .filter(|(_, p)| matches!(p.judgement, Judgement::Accepted { .. }))
        .count();
    let changing = plan
        .iter()
        .filter(|(_, p)| {
            !p.already_recorded
                && p.after.is_some()
                && p.dispute.as_ref().map(|d| (d.stage, d.status)) != p.after
        })
        .filter_map(|(n, p)| recorded_as(n, p).map(|(slug, _, dispute)| (slug, dispute)))
        .collect::<std::collections::HashSet<_>>()
        .len();
    if plan.is_empty() {
        return view! { <p class="panel empty">"No refused delivery matches this filter."</p> }
            .into_any();
    }
    view! {
        <p class="panel">
            {format!(
                "{} refused deliveries match; replayed now, {valid} would be valid and {changing} disputes would change.",
                plan.len()
            )}
        </p>
        <form class="inline" method="post" action=ReplayMatching::PATH>
            <input type="hidden" name="query" value=query />
            <button type="submit">{format!("Replay these {}", plan.len())}</button>
        </form>
        <div class="table-wrap">
            <table class="data">
                <thead>
                    <tr>
                        <th>"Delivery"</th>
                        <th>"Refused as"</th>
                        <th>"Replayed now"</th>
                        <th>"Effect"</th>
                    </tr>
                </thead>
                <tbody>
                    {plan
                        .into_iter()
                        .map(|(n, p)| {
                            let now = match &p.judgement {
                                Judgement::Accepted { .. } => "valid".to_owned(),
                                Judgement::Refused(r) => r.verdict.as_str().to_owned(),
                            };
                            let effect = match (&p.event, p.already_recorded) {
                                (Some(_), true) => "recorded already: nothing changes".to_owned(),
                                (Some((kind, ..)), false) => format!("{}: {}", shown(kind), change(&p)),
                                (None, _) => "nothing recorded".to_owned(),
                            };
                            view! {
                                <tr>
                                    <td>
                                        <a href=super::delivery::href(n.id)>{format!("{} · {}", n.id, when(n.received_at))}</a>
                                        <br />
                                        <small><code>{shown(&n.slug)}</code></small>
                                    </td>
                                    <td>{n.verdict.as_str()}</td>
                                    <td>{now}</td>
                                    <td>{effect}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
