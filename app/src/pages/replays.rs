//! Bulk replay (ops): every refused delivery matching a filter (after a key
//! is fixed, say), with what replaying the first of them now would do —
//! which become valid, which disputes change and from what to what — then
//! one button that replays them all as a job, whose page follows its
//! progress and sums up what came of it.

use std::collections::BTreeMap;

use dispute_core::{
    domain::{DeliveryFilter, Permission},
    providers::judge::Judgement,
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Meta;
use leptos_router::hooks::use_params_map;

use super::{delivery::change, shown, when, DataTable, PageHeading};
use crate::{error::AppError, flash::Flash};
use dispute_store::{ReplayOutcome, ReplayRun, StoreError, StoredNotification};
use dispute_workflows::replay::Preview;

/// The most deliveries previewed, one by one, before a bulk replay.
const PREVIEWED: i64 = 200;

/// The most deliveries one bulk replay takes (the oldest, when more match).
const MAX_BULK: i64 = 100_000;

/// The filter in `params` as the history runs it today (a body search
/// bounded to recent days), so the preview, the run and the history agree.
fn filter_of(params: &BTreeMap<String, String>) -> Result<DeliveryFilter, String> {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    DeliveryFilter::from_params(params)
        .map(|f| f.bounded(today))
        .map_err(|e| e.0)
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

/// What a bulk replay of a filter would do: how many deliveries it takes,
/// and the first of them previewed.
pub struct Plan {
    pub filter: DeliveryFilter,
    pub total: usize,
    /// More than `MAX_BULK` match: one bulk replay takes the oldest.
    pub capped: bool,
    pub previewed: Vec<(StoredNotification, Preview)>,
}

pub enum PlanAnswer {
    Plan(Plan),
    Refused(String),
}

pub async fn replay_plan(params: BTreeMap<String, String>) -> Result<PlanAnswer, AppError> {
    crate::auth::require(Permission::Replay)?;
    let state = expect_context::<crate::state::AppState>();
    let filter = match filter_of(&params) {
        Ok(filter) => filter,
        Err(e) => return Ok(PlanAnswer::Refused(e)),
    };
    let mut matching = match state.store.replayable(&filter, MAX_BULK + 1).await {
        Err(StoreError::TooSlow) => {
            return Ok(PlanAnswer::Refused(super::deliveries::search_too_slow()))
        }
        found => found?,
    };
    let capped = matching.len() as i64 > MAX_BULK;
    matching.truncate(MAX_BULK as usize);
    // Providers resend what was refused: of several deliveries of one event
    // only the first replayed records it.
    let mut seen = std::collections::HashSet::new();
    let mut previewed = Vec::new();
    for id in matching.iter().take(PREVIEWED as usize) {
        let Some(n) = state.store.notification(*id).await? else {
            continue;
        };
        let mut preview =
            dispute_workflows::replay::preview(&state.store, &state.vault, &n).await?;
        if let Some((slug, key, _)) = recorded_as(&n, &preview) {
            if !seen.insert((slug, key)) {
                preview.already_recorded = true;
            }
        }
        previewed.push((n, preview));
    }
    Ok(PlanAnswer::Plan(Plan {
        filter,
        total: matching.len(),
        capped,
        previewed,
    }))
}

/// Starts a bulk replay of every refused delivery the filter in `query`
/// names, as they are now; its page follows it.
#[server(endpoint = "deliveries/replay-matching")]
pub async fn replay_matching(query: String) -> Result<(), AppError> {
    let ops = crate::auth::require(Permission::Replay)?;
    let state = expect_context::<crate::state::AppState>();
    let params = super::disputes::url_params(&query);
    let filter = match filter_of(&params) {
        Ok(filter) => filter,
        Err(e) => return crate::flash::redirect("/replays", Flash::error(e)).await,
    };
    let matching = match state.store.replayable(&filter, MAX_BULK).await {
        Err(StoreError::TooSlow) => {
            let flash = Flash::error(super::deliveries::search_too_slow());
            return crate::flash::redirect(&super::deliveries::replays_href(&filter), flash).await;
        }
        found => found?,
    };
    if matching.is_empty() {
        return crate::flash::redirect(
            &super::deliveries::replays_href(&filter),
            Flash::notice("No refused delivery matches: nothing was replayed"),
        )
        .await;
    }
    let actor = crate::auth::actor(Some(&ops));
    let id = state
        .store
        .request_replay_run(&filter.query_string(), &matching, &actor)
        .await?;
    crate::flash::redirect(
        &crate::links::replay_run(id),
        Flash::notice(format!("Replaying {} deliveries", matching.len())),
    )
    .await
}

async fn runs() -> Result<Vec<ReplayRun>, AppError> {
    crate::auth::require(Permission::Replay)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.replay_runs(10).await?)
}

async fn run(id: String) -> Result<Option<ReplayRun>, AppError> {
    crate::auth::require(Permission::Replay)?;
    let state = expect_context::<crate::state::AppState>();
    match id.parse::<i64>() {
        Ok(id) => Ok(state.store.replay_run(id).await?),
        Err(_) => Ok(None),
    }
}

/// A tally's outcome in words.
fn outcome_label(outcome: &str) -> String {
    match outcome.parse::<ReplayOutcome>() {
        Ok(known) => known.label().to_owned(),
        Err(_) if outcome == dispute_workflows::replay::SKIPPED => {
            "skipped: a replay had settled it already".to_owned()
        }
        Err(_) => shown(outcome),
    }
}

fn run_state(run: &ReplayRun) -> String {
    match (&run.failure, run.finished_at) {
        (Some(why), _) => format!(
            "stopped after {} of {}: {}",
            run.done,
            run.total,
            shown(why)
        ),
        (None, Some(at)) => format!("replayed all {}, finished {}", run.total, when(at)),
        (None, None) => format!("replaying: {} of {} done", run.done, run.total),
    }
}

#[component]
pub fn ReplayRunPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").unwrap_or_default());
    view! {
        <Suspense>
            {Suspend::new(async move {
                match run(id).await {
                    Ok(Some(run)) => view! { <Run run /> }.into_any(),
                    Ok(None) => view! { <crate::pages::not_found::NotFound /> }.into_any(),
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Run(run: ReplayRun) -> impl IntoView {
    let running = run.finished_at.is_none();
    let history = format!("/deliveries?{}", run.filter);
    let tally = run
        .tally
        .iter()
        .map(|(outcome, n)| view! { <li>{format!("{n} {}", outcome_label(outcome))}</li> })
        .collect_view();
    view! {
        {running.then(|| view! { <Meta http_equiv="refresh" content="3" /> })}
        <PageHeading title=format!("Bulk replay {}", run.id) />
        <p class="panel" role="status">{run_state(&run)}</p>
        <ul class="plain">{tally}</ul>
        <p>
            {format!(
                "Asked by {} {}. ",
                run.requested_by.as_deref().map(shown).unwrap_or_else(|| "someone".into()),
                when(run.requested_at)
            )}
            <a href=history>"Its filter in the delivery history"</a>
        </p>
    }
}

#[component]
fn Runs(runs: Vec<ReplayRun>) -> impl IntoView {
    view! {
        <h2>"Recent bulk replays"</h2>
        <ul class="plain">
            {runs
                .into_iter()
                .map(|r| {
                    view! {
                        <li>
                            <a href=crate::links::replay_run(r.id)>{format!("Bulk replay {}", r.id)}</a>
                            {format!(" · {}", run_state(&r))}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

#[component]
pub fn ReplaysPage() -> impl IntoView {
    let params = super::query_params();
    view! {
        <PageHeading title="Replay refused deliveries" />
        <p>
            "Every refused delivery matching the filter, judged again with its connection as it is now. Nothing changes until you replay; each replay is recorded beside the original, whose verdict stays."
        </p>
        <Suspense>
            {Suspend::new(async move {
                match replay_plan(params).await {
                    Ok(PlanAnswer::Plan(plan)) => view! { <PlanView plan /> }.into_any(),
                    Ok(PlanAnswer::Refused(reason)) => {
                        view! { <p class="flash error" role="alert">{reason}</p> }.into_any()
                    }
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense>
            {Suspend::new(async move {
                match runs().await {
                    Ok(runs) if runs.is_empty() => ().into_any(),
                    Ok(runs) => view! { <Runs runs /> }.into_any(),
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PlanView(plan: Plan) -> impl IntoView {
    let Plan {
        filter,
        total,
        capped,
        previewed,
    } = plan;
    let query = filter.query_string();
    let valid = previewed
        .iter()
        .filter(|(_, p)| matches!(p.judgement, Judgement::Accepted { .. }))
        .count();
    let changing = previewed
        .iter()
        .filter(|(_, p)| {
            !p.already_recorded
                && p.after.is_some()
                && p.dispute.as_ref().map(|d| (d.stage, d.status)) != p.after
        })
        .filter_map(|(n, p)| recorded_as(n, p).map(|(slug, _, dispute)| (slug, dispute)))
        .collect::<std::collections::HashSet<_>>()
        .len();
    if previewed.is_empty() {
        return view! { <p class="panel empty">"No refused delivery matches this filter."</p> }
            .into_any();
    }
    let first = match total > previewed.len() {
        true => format!(
            "of the first {} (oldest first), replayed now",
            previewed.len()
        ),
        false => "replayed now".to_owned(),
    };
    let capped = capped.then(|| {
        view! {
            <p class="panel" role="status">
                {format!("More than {MAX_BULK} match: a bulk replay takes the oldest {MAX_BULK}; start another for the rest once it has finished.")}
            </p>
        }
    });
    view! {
        <p class="panel">
            {format!(
                "{total} refused deliveries match; {first}, {valid} would be valid and {changing} disputes would change."
            )}
        </p>
        {capped}
        <form class="inline" method="post" action=ReplayMatching::PATH>
            <input type="hidden" name="query" value=query />
            <button type="submit">{format!("Replay all {total}")}</button>
        </form>
        <DataTable>
            <thead>
                <tr>
                    <th>"Delivery"</th>
                    <th>"Refused as"</th>
                    <th>"Replayed now"</th>
                    <th>"Effect"</th>
                </tr>
            </thead>
            <tbody>
                {previewed
                    .into_iter()
                    .map(|(n, p)| {
                        let now = match &p.judgement {
                            Judgement::Accepted { .. } => "valid".to_owned(),
                            Judgement::Refused(r) => r.verdict.label().to_owned(),
                        };
                        let effect = match (&p.event, p.already_recorded) {
                            (Some(_), true) => "recorded already: nothing changes".to_owned(),
                            (Some((kind, ..)), false) => format!("{}: {}", shown(kind), change(&p)),
                            (None, _) => "nothing recorded".to_owned(),
                        };
                        view! {
                            <tr>
                                <td>
                                    <a href=crate::links::delivery(n.id)>{format!("{} · {}", n.id, when(n.received_at))}</a>
                                    <br />
                                    <small><code>{shown(&n.slug)}</code></small>
                                </td>
                                <td><super::VerdictBadge verdict=n.verdict /></td>
                                <td>{now}</td>
                                <td>{effect}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
    .into_any()
}
