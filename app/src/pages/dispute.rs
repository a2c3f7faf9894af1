//! One dispute: what it is, where it stands and until when, every event on
//! its timeline in the order it happened, and the disputed payment's
//! history.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{countdown, label, money, shown, when, Empty, PageHeading};
use dispute_core::domain::EventOrigin;

use crate::{
    error::AppError,
    store::{DisputeRecord, PaymentRecord, TimelineEntry},
};

/// Everything the dispute page shows.
pub struct DisputeView {
    pub dispute: DisputeRecord,
    pub timeline: Vec<TimelineEntry>,
    pub payments: Vec<PaymentRecord>,
}

pub async fn get_dispute(
    slug: String,
    dispute_ref: String,
) -> Result<Option<DisputeView>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let Some(dispute) = state.store.dispute(&slug, &dispute_ref).await? else {
        return Ok(None);
    };
    let timeline = state.store.timeline(dispute.id).await?;
    let payments = state.store.payments_of_dispute(dispute.id).await?;
    Ok(Some(DisputeView {
        dispute,
        timeline,
        payments,
    }))
}

/// The address of a dispute's page.
pub fn href(slug: &str, dispute_ref: &str) -> String {
    format!(
        "/disputes/{}/{}",
        urlencoding::encode(slug),
        urlencoding::encode(dispute_ref)
    )
}

#[component]
pub fn DisputePage() -> impl IntoView {
    let params = use_params_map();
    let (slug, dispute_ref) = params.with_untracked(|p| {
        (
            p.get("slug").unwrap_or_default(),
            p.get("dispute_ref").unwrap_or_default(),
        )
    });
    view! {
        <Suspense>
            {Suspend::new(async move {
                match get_dispute(slug, dispute_ref).await {
                    Ok(Some(found)) => view! { <DisputeDetail found=found /> }.into_any(),
                    Ok(None) => view! { <crate::pages::not_found::NotFound /> }.into_any(),
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DisputeDetail(found: DisputeView) -> impl IntoView {
    let DisputeView {
        dispute: d,
        timeline,
        payments,
    } = found;
    let (stage, status) = label(d.stage, d.status);
    let now = jiff::Timestamp::now();
    let last_heard = timeline
        .iter()
        .filter(|e| e.source != EventOrigin::Replay)
        .map(|e| e.recorded_at)
        .max();
    let deadline = match (d.deadline, d.status) {
        (Some(at), _) => {
            let (text, urgency) = countdown(at, now);
            view! {
                <span class=format!("badge {urgency}")>{text}</span>
                " "
                {when(at)}
            }
            .into_any()
        }
        (None, Some(dispute_core::domain::Status::NeedsResponse)) => {
            view! { <span class="badge warn">"needs a response: deadline not given"</span> }
                .into_any()
        }
        (None, _) => view! { "—" }.into_any(),
    };
    view! {
        <PageHeading title=format!("Dispute {}", d.dispute_ref) />
        <dl class="facts">
            <dt>"Provider"</dt>
            <dd>{d.provider.display_name()} " · " <code>{d.connection_slug.clone()}</code></dd>
            <dt>"Dispute reference"</dt>
            <dd><code>{d.dispute_ref.clone()}</code></dd>
            <dt>"Original transaction"</dt>
            <dd><code>{d.payment_reference.as_deref().map(shown)}</code></dd>
            <dt>"Merchant order"</dt>
            <dd><code>{d.merchant_reference.as_deref().map(shown)}</code></dd>
            <dt>"Amount"</dt>
            <dd>{money(d.amount.as_ref())}</dd>
            <dt>"Reason"</dt>
            <dd>{d.reason.as_deref().map(shown)}</dd>
            <dt>"Stage and status"</dt>
            <dd>
                <span class="badge">{stage}</span>
                " "
                <span class=format!("badge status-{}", d.status.map_or("none", |s| s.as_str()))>
                    {status}
                </span>
            </dd>
            <dt>"Respond by"</dt>
            <dd>{deadline}</dd>
            <dt>"Opened"</dt>
            <dd>{when(d.opened_at)}</dd>
            <dt>"Last heard from the provider"</dt>
            <dd>{last_heard.map(when)}</dd>
        </dl>
        <h2>"Timeline"</h2>
        <Timeline entries=timeline />
        <h2>"Payment history"</h2>
        <Payments payments=payments />
    }
}

/// Whether an event arrived after one that happened later than it did.
fn arrived_late(entry: &TimelineEntry, all: &[TimelineEntry]) -> bool {
    all.iter()
        .any(|other| other.occurred_at > entry.occurred_at && other.recorded_at < entry.recorded_at)
}

#[component]
fn Timeline(entries: Vec<TimelineEntry>) -> impl IntoView {
    let late: Vec<bool> = entries.iter().map(|e| arrived_late(e, &entries)).collect();
    view! {
        <div class="scroll">
            <table class="data timeline">
                <thead>
                    <tr>
                        <th>"Happened"</th>
                        <th>"Received"</th>
                        <th>"Event"</th>
                        <th>"Stage and status"</th>
                        <th>"Respond by"</th>
                        <th>"Amount"</th>
                        <th>"Reason"</th>
                    </tr>
                </thead>
                <tbody>
                    {entries
                        .into_iter()
                        .zip(late)
                        .map(|(e, late)| {
                            let (stage, status) = label(e.stage, e.status);
                            let happened = match &e.occurred_at_text {
                                Some(_) => when(e.occurred_at),
                                None => format!("{} (receipt time)", when(e.occurred_at)),
                            };
                            let source = match e.source {
                                EventOrigin::StatusQuery => Some("from a status query"),
                                EventOrigin::Replay => Some("from a replay"),
                                EventOrigin::Notification => None,
                            };
                            view! {
                                <tr>
                                    <td>{happened}</td>
                                    <td>
                                        {when(e.recorded_at)}
                                        {late.then(|| view! { " " <span class="badge warn">"arrived late"</span> })}
                                    </td>
                                    <td>
                                        <code>{shown(&e.kind)}</code>
                                        {e.provider_status.map(|s| view! { " · " {shown(&s)} })}
                                        {source.map(|s| view! { " " <span class="badge">{s}</span> })}
                                        {(!e.recognized).then(|| view! { " " <span class="badge warn">"unrecognized: did not change the dispute"</span> })}
                                    </td>
                                    <td>{stage} " · " {status}</td>
                                    <td>{e.deadline.map(when)}</td>
                                    <td>{money(e.amount.as_ref())}</td>
                                    <td>
                                        {e.reason_code.map(|c| view! { <code>{shown(&c)}</code> " " })}
                                        {e.reason.as_deref().map(shown)}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Payments(payments: Vec<PaymentRecord>) -> impl IntoView {
    if payments.is_empty() {
        return view! {
            <Empty>"No transaction, refund, capture or void notification names this dispute's payment."</Empty>
        }
        .into_any();
    }
    view! {
        <div class="scroll">
            <table class="data">
                <thead>
                    <tr>
                        <th>"Kind"</th>
                        <th>"Status"</th>
                        <th>"Transaction"</th>
                        <th>"Merchant order"</th>
                        <th>"Operation"</th>
                        <th>"Amount"</th>
                    </tr>
                </thead>
                <tbody>
                    {payments
                        .into_iter()
                        .map(|p| {
                            view! {
                                <tr>
                                    <td>{shown(&p.kind)}</td>
                                    <td>{shown(&p.status)}</td>
                                    <td><code>{shown(&p.payment_reference)}</code></td>
                                    <td><code>{p.merchant_reference.as_deref().map(shown)}</code></td>
                                    <td><code>{p.operation_reference.as_deref().map(shown)}</code></td>
                                    <td>{money(p.amount.as_ref())}</td>
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
