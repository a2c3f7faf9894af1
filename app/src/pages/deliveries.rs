//! The Delivery history page: every request to a webhook URL, newest first,
//! filtered by what is in the address (connection, provider, verdict, status
//! answered, days, text in the body), a keyset page at a time, with the
//! verdict, the answer given and the dispute it touched.

use std::collections::BTreeMap;

use dispute_core::domain::{DeliveryCursor, DeliveryFilter, ProviderKind, Verdict};
use leptos::prelude::*;

use super::{list_or_empty, shown, DataTable, PageHeading, Time};
use crate::error::AppError;
use dispute_store::{DeliveryRecord, StoreError, ThrottledCount, SEARCH_TIMEOUT_SECS};

/// Deliveries per page.
const PAGE: i64 = 100;

/// One page of the history, or why the address cannot be read.
pub enum HistoryAnswer {
    Page {
        filter: DeliveryFilter,
        deliveries: Vec<DeliveryRecord>,
        /// The address of the next page, if there is one.
        older: Option<String>,
        /// The start a body search without one was given.
        bounded: Option<jiff::civil::Date>,
    },
    Refused(String),
}

pub async fn delivery_history(params: BTreeMap<String, String>) -> Result<HistoryAnswer, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDeliveries)?;
    let state = expect_context::<crate::state::AppState>();
    let asked = match DeliveryFilter::from_params(&params) {
        Ok(filter) => filter,
        Err(e) => return Ok(HistoryAnswer::Refused(e.0)),
    };
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let filter = asked.bounded(today);
    let bounded = (filter != asked).then_some(filter.from).flatten();
    let before = match params.get("before").filter(|b| !b.is_empty()) {
        None => None,
        Some(text) => match DeliveryCursor::from_param(text) {
            Some(cursor) => Some(cursor),
            None => {
                return Ok(HistoryAnswer::Refused(
                    "that page of the history does not exist".into(),
                ))
            }
        },
    };
    let mut deliveries = match state
        .store
        .delivery_history(&filter, before, PAGE + 1)
        .await
    {
        Err(StoreError::TooSlow) => return Ok(HistoryAnswer::Refused(search_too_slow())),
        found => found?,
    };
    let older = (deliveries.len() as i64 > PAGE).then(|| {
        deliveries.truncate(PAGE as usize);
        let last = deliveries.last().expect("a full page");
        let cursor = DeliveryCursor {
            received_at: last.received_at,
            id: last.id,
        };
        history_href(&filter, Some(cursor))
    });
    Ok(HistoryAnswer::Page {
        filter,
        deliveries,
        older,
        bounded,
    })
}

/// Why a search through bodies gave no answer.
pub fn search_too_slow() -> String {
    format!(
        "The search through the bodies took longer than {SEARCH_TIMEOUT_SECS} seconds and was stopped: search fewer days, one connection or one verdict."
    )
}

/// The history's address for `filter`, from `before` on.
pub fn history_href(filter: &DeliveryFilter, before: Option<DeliveryCursor>) -> String {
    let mut query = filter.query_string();
    if let Some(cursor) = before {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!("before={}", cursor.to_param()));
    }
    match query.is_empty() {
        true => "/deliveries".to_owned(),
        false => format!("/deliveries?{query}"),
    }
}

/// The bulk replay page for `filter`'s refused deliveries.
pub fn replays_href(filter: &DeliveryFilter) -> String {
    format!("/replays?{}", filter.query_string())
}

/// Requests refused with 429 in the last day, per sender.
pub async fn throttled_requests() -> Result<Vec<ThrottledCount>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDeliveries)?;
    let state = expect_context::<crate::state::AppState>();
    let day_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    Ok(state.store.throttled_since(day_ago, 50).await?)
}

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    let params = super::query_params();
    view! {
        <PageHeading title="Delivery history" />
        <Suspense>
            {Suspend::new(async move {
                match delivery_history(params).await {
                    Ok(HistoryAnswer::Page { filter, deliveries, older, bounded }) => {
                        let empty = deliveries.is_empty();
                        let bounded = bounded.map(|from| {
                            view! {
                                <p class="panel" role="status">
                                    {format!(
                                        "Bodies are searched from {from} on; choose an earlier From day to search further back (slower: every body is read)."
                                    )}
                                </p>
                            }
                        });
                        view! {
                            <p>
                                <a href=replays_href(&filter)>"Preview replaying the refused deliveries this filter matches"</a>
                            </p>
                            <HistoryFilters filter />
                            {bounded}
                            {if empty {
                                view! { <p class="panel empty">"No delivery matches. Every request to a webhook URL is listed here with its verdict."</p> }.into_any()
                            } else {
                                view! { <DeliveryTable deliveries /> }.into_any()
                            }}
                            {older.map(|href| view! { <p><a href=href>"Older deliveries"</a></p> })}
                        }
                            .into_any()
                    }
                    Ok(HistoryAnswer::Refused(reason)) => {
                        view! {
                            <p class="flash error" role="alert">{reason}</p>
                            <p><a href="/deliveries">"The whole history"</a></p>
                        }
                            .into_any()
                    }
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Refused for rate in the last 24 hours"</h2>
        <p>
            "Requests for unknown connections or with oversized bodies past a sender's allowance are answered 429 and counted here, not stored."
        </p>
        <Suspense>
            {Suspend::new(async move {
                list_or_empty(
                    throttled_requests().await,
                    "None.",
                    |list| view! { <ThrottledTable counts=list /> },
                )
            })}
        </Suspense>
    }
}

#[component]
fn HistoryFilters(filter: DeliveryFilter) -> impl IntoView {
    let params: BTreeMap<&str, String> = filter.to_params().into_iter().collect();
    let value = move |name: &str| params.get(name).cloned().unwrap_or_default();
    view! {
        <form class="filters" method="get" action="/deliveries">
            <label>"Connection" <input type="text" name="connection" value=value("connection") size="14" /></label>
            <label>
                "Provider"
                <select name="provider">
                    <option value="">"any"</option>
                    {ProviderKind::ALL
                        .into_iter()
                        .map(|p| view! {
                            <option value=p.as_str() selected=filter.provider == Some(p)>{p.display_name()}</option>
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Verdict"
                <select name="verdict">
                    <option value="">"any"</option>
                    {Verdict::ALL
                        .into_iter()
                        .map(|v| view! {
                            <option value=v.as_str() selected=filter.verdict == Some(v)>{v.label()}</option>
                        })
                        .collect_view()}
                </select>
            </label>
            <label>"Answered with HTTP status" <input type="number" name="status" min="100" max="599" value=value("status") /></label>
            <label>"From" <input type="date" name="from" value=value("from") /></label>
            <label>"To" <input type="date" name="to" value=value("to") /></label>
            <label class="search">"Text in the body" <input type="search" name="q" value=value("q") /></label>
            <button type="submit">"Show"</button>
        </form>
    }
}

#[component]
fn ThrottledTable(counts: Vec<ThrottledCount>) -> impl IntoView {
    view! {
        <DataTable>
            <thead>
                <tr>
                    <th>"From"</th>
                    <th>"Requests refused"</th>
                    <th>"Latest minute"</th>
                    <th>"Latest address asked for"</th>
                </tr>
            </thead>
            <tbody>
                {counts
                    .into_iter()
                    .map(|c| {
                        view! {
                            <tr>
                                <td>
                                    <code>{c.sender}</code>
                                </td>
                                <td>{c.requests}</td>
                                <td><Time at=c.minute /></td>
                                <td>
                                    <code>{format!("/webhooks/{}", c.last_slug)}</code>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}

#[component]
fn DeliveryTable(deliveries: Vec<DeliveryRecord>) -> impl IntoView {
    view! {
        <DataTable>
            <thead>
                <tr>
                    <th>"Received"</th>
                    <th>"Connection"</th>
                    <th>"From"</th>
                    <th>"Verdict"</th>
                    <th>"Answer"</th>
                    <th>"Took"</th>
                    <th>"Dispute"</th>
                    <th>"Why"</th>
                </tr>
            </thead>
            <tbody>
                {deliveries
                    .into_iter()
                    .map(|d| {
                        let accepted = d.verdict.is_accepted();
                        let class = if accepted && !d.needs_attention { "badge ok" } else { "badge warn" };
                        let dispute = d.dispute.as_ref().map(|(id, r)| view! {
                            <a href=crate::links::dispute(*id)><code>{shown(r)}</code></a>
                        });
                        view! {
                            <tr>
                                <td>
                                    <a href=crate::links::delivery(d.id)><Time at=d.received_at /></a>
                                </td>
                                <td>
                                    <code>{shown(&d.slug)}</code>
                                    <br />
                                    <small>{d.provider.map_or("no such connection", |p| p.display_name())}</small>
                                </td>
                                <td><code>{d.remote_addr}</code></td>
                                <td><span class=class>{d.verdict.label()}</span></td>
                                <td>
                                    {d.response_status}
                                    {d.response_body.filter(|b| !b.is_empty()).map(|b| view! { " " <code>{shown(&b)}</code> })}
                                </td>
                                <td>{d.latency_us.map(|us| format!("{:.1} ms", us as f64 / 1000.0))}</td>
                                <td>{dispute}</td>
                                <td>{d.reason.as_deref().map(shown)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}
