//! The dashboard: open disputes by stage and status, the amount at risk per
//! currency, what is due within a week, outcomes and win rates over 90 days
//! by provider and by reason code, and disputes opened per week — charts
//! drawn on the server, each with its numbers in a table.

use dispute_core::domain::Status;
use leptos::prelude::*;

use super::{label, when, DataTable, PageHeading};
use crate::{
    charts::Chart,
    error::{AppError, InternalErrorPage},
};
use dispute_store::{Dashboard, Outcomes};

/// The figures and when they were computed (by a background job, for
/// every replica: `dispute_workflows::dashboard`).
pub async fn dashboard() -> Result<(Dashboard, jiff::Timestamp), AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(dispute_workflows::dashboard::figures(&state.store).await?)
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <PageHeading title="Dashboard" />
        <Suspense>
            {Suspend::new(async move {
                match dashboard().await {
                    Ok((d, as_of)) => view! {
                        <p class="empty">
                            {format!("Figures as of {}; they follow new events within seconds.", when(as_of))}
                        </p>
                        <Figures d />
                    }
                    .into_any(),
                    Err(_) => view! { <InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A chart's numbers, folded under it.
#[component]
fn Numbers(children: Children) -> impl IntoView {
    view! {
        <details class="numbers">
            <summary>"The numbers"</summary>
            {children()}
        </details>
    }
}

#[component]
fn Figures(d: Dashboard) -> impl IntoView {
    let open_total: i64 = d.open.iter().map(|(_, _, n)| n).sum();
    let of = |status: Status| -> i64 {
        d.open
            .iter()
            .filter(|(_, s, _)| *s == status)
            .map(|(_, _, n)| n)
            .sum()
    };
    // Open is three statuses, so the open tile links to each one's list.
    let (needing, in_review, responded) = (
        of(Status::NeedsResponse),
        of(Status::UnderReview),
        of(Status::Responded),
    );
    let at_risk = match d.at_risk.is_empty() {
        true => "nothing".to_owned(),
        false => d
            .at_risk
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" · "),
    };
    let weeks: Vec<(String, f64)> = d
        .opened_per_week
        .iter()
        .map(|(week, n)| (week.strftime("%m-%d").to_string(), *n as f64))
        .collect();
    let mut by_stage: Vec<(String, f64)> = Vec::new();
    for (stage, _, n) in &d.open {
        let (name, _) = label(*stage, None);
        match by_stage.iter_mut().find(|(s, _)| s == name) {
            Some((_, total)) => *total += *n as f64,
            None => by_stage.push((name.to_owned(), *n as f64)),
        }
    }
    let rates: Vec<(String, f64)> = d
        .by_provider
        .iter()
        .filter_map(|(p, o)| Some((p.display_name().to_owned(), f64::from(o.win_rate()?))))
        .collect();
    view! {
        <div class="tiles">
            <div class="panel tile">
                <strong>{open_total}</strong> " open disputes"
                <small class="tile-parts">
                    <a href="/disputes">{format!("{needing} need a response")}</a>
                    " · "
                    <a href="/disputes?status=under_review">{format!("{in_review} under review")}</a>
                    " · "
                    <a href="/disputes?status=responded">{format!("{responded} responded to")}</a>
                </small>
            </div>
            <a class="panel tile" href="/disputes?deadline=7d"><strong>{d.due_within_7_days}</strong> " due within 7 days"</a>
            <a class="panel tile" href="/deadlines"><strong>{at_risk}</strong> " at risk"</a>
        </div>
        <h2>"Open disputes by stage and status"</h2>
        <Chart caption="Open disputes by stage" bars=by_stage empty="No dispute is open." />
        <Numbers>
        <DataTable>
            <thead><tr><th>"Stage"</th><th>"Status"</th><th class="number">"Disputes"</th></tr></thead>
            <tbody>
                {d.open
                    .into_iter()
                    .map(|(stage, status, n)| {
                        let (stage, status) = label(stage, Some(status));
                        view! { <tr><td>{stage}</td><td>{status}</td><td class="number">{n}</td></tr> }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
        </Numbers>
        <h2>"Disputes opened per week"</h2>
        <Chart
            caption="Disputes opened per week (week starting)"
            bars=weeks
            empty="No dispute was opened in the last 12 weeks."
        />
        <Numbers>
        <DataTable>
            <thead><tr><th>"Week starting"</th><th class="number">"Opened"</th></tr></thead>
            <tbody>
                {d.opened_per_week
                    .into_iter()
                    .map(|(week, n)| view! { <tr><td>{week.to_string()}</td><td class="number">{n}</td></tr> })
                    .collect_view()}
            </tbody>
        </DataTable>
        </Numbers>
        <h2>"Outcomes over 90 days by provider"</h2>
        <Chart
            caption="Win rate by provider, %"
            bars=rates
            empty="No dispute was decided in the last 90 days."
        />
        <Numbers>
        <OutcomeTable
            rows=d.by_provider.into_iter().map(|(p, o)| (p.display_name().to_owned(), o)).collect()
            what="Provider"
        />
        </Numbers>
        <h2>"Outcomes over 90 days by reason code"</h2>
        <OutcomeTable
            rows=d
                .by_reason_code
                .into_iter()
                .map(|(c, o)| (c.unwrap_or_else(|| "none given".to_owned()), o))
                .collect()
            what="Reason code"
        />
    }
}

#[component]
fn OutcomeTable(rows: Vec<(String, Outcomes)>, what: &'static str) -> impl IntoView {
    view! {
        <DataTable>
            <thead>
                <tr>
                    <th>{what}</th>
                    <th class="number">"Won"</th>
                    <th class="number">"Lost"</th>
                    <th class="number">"Expired"</th>
                    <th class="number">"Win rate"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|(name, o)| {
                        let rate = o.win_rate().map_or("—".to_owned(), |r| format!("{r} %"));
                        view! {
                            <tr>
                                <td>{super::shown(&name)}</td>
                                <td class="number">{o.won}</td>
                                <td class="number">{o.lost}</td>
                                <td class="number">{o.expired}</td>
                                <td class="number">{rate}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}
