//! The work queue: by default what needs a response, soonest deadline
//! first (then those whose provider gives no deadline); every filter and
//! order in the address, so a view can be bookmarked, shared, saved by name
//! and exported as CSV; counts per status; keyset pages.

use std::collections::BTreeMap;

use dispute_core::domain::{
    queue::FilterError, Assignee, ProviderKind, QueueCursor, QueueFilter, Sort, Stage, Status,
};
use leptos::{prelude::*, server_fn::ServerFn};

use super::{
    countdown, cursor_from, cursor_text, label, money, shown, DataTable, Day, Empty, PageHeading,
};
use crate::{
    error::{AppError, InternalErrorPage},
    flash::Flash,
};
use dispute_store::{ConnectionSummary, DisputeRecord, SavedView, StatusCounts};

/// Disputes per page.
pub const PAGE: i64 = 50;

/// The longest query string a saved view keeps (the column's limit).
const MAX_VIEW_QUERY: usize = 4000;

/// One page of the queue and what the page around it shows.
pub struct QueuePage {
    pub filter: QueueFilter,
    pub disputes: Vec<DisputeRecord>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
    pub counts: StatusCounts,
    pub connections: Vec<ConnectionSummary>,
    pub views: Vec<SavedView>,
    /// Connections that have gone silent: (slug, last heard).
    pub silent: Vec<(String, jiff::Timestamp)>,
}

/// The queue, or, when its address holds a value it cannot read, the
/// filters again with the message beside that field.
pub enum QueueAnswer {
    Page(Box<QueuePage>),
    Refused {
        params: BTreeMap<String, String>,
        error: FilterError,
        connections: Vec<ConnectionSummary>,
    },
}

pub async fn work_queue(params: BTreeMap<String, String>) -> Result<QueueAnswer, AppError> {
    let viewer = crate::auth::require(dispute_core::domain::Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let connections = || async {
        Ok::<_, AppError>(
            state
                .store
                .connections_overview()
                .await?
                .into_iter()
                .map(|c| c.summary)
                .collect::<Vec<_>>(),
        )
    };
    let filter = QueueFilter::from_params(&params).and_then(|filter| {
        match params.get("after").filter(|a| !a.is_empty()) {
            None => Ok((filter, None)),
            Some(text) => cursor_from::<QueueCursor>(text)
                .map(|cursor| (filter, Some(cursor.storable())))
                .ok_or_else(|| FilterError {
                    field: "after".into(),
                    message: "That page of the list does not exist.".into(),
                }),
        }
    });
    let (filter, after) = match filter {
        Ok(read) => read,
        Err(error) => {
            return Ok(QueueAnswer::Refused {
                connections: connections().await?,
                params,
                error,
            })
        }
    };
    let now = jiff::Timestamp::now();
    let mut disputes = match state
        .store
        .work_queue(&filter, viewer.id, now, after.as_ref(), PAGE + 1)
        .await?
    {
        Ok(disputes) => disputes,
        Err(e) => {
            return Ok(QueueAnswer::Refused {
                connections: connections().await?,
                params,
                error: FilterError {
                    field: String::new(),
                    message: e.to_string(),
                },
            })
        }
    };
    let next = (disputes.len() as i64 > PAGE).then(|| {
        disputes.truncate(PAGE as usize);
        disputes.last().map(|d| cursor_text(&d.cursor(&filter)))
    });
    Ok(QueueAnswer::Page(Box::new(QueuePage {
        counts: state.store.status_counts(&filter, viewer.id, now).await?,
        connections: connections().await?,
        views: state.store.saved_views(viewer.id).await?,
        silent: state.store.silent_connections(state.silence_after).await?,
        filter,
        disputes,
        next: next.flatten(),
    })))
}

/// The queue's address for `filter`, with `extra` parameters after it.
pub fn queue_href(path: &str, filter: &QueueFilter, extra: &[(&str, &str)]) -> String {
    let mut query = filter.query_string();
    for (name, value) in extra {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!("{name}={}", urlencoding::encode(value)));
    }
    match query.is_empty() {
        true => path.to_owned(),
        false => format!("{path}?{query}"),
    }
}

#[server(endpoint = "disputes/views/save")]
pub async fn save_view(name: String, query: String) -> Result<(), AppError> {
    use dispute_core::domain::{casework::MAX_SAVED_VIEWS, Permission, ViewName};
    let viewer = crate::auth::require(Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    // Only a filter the queue can read is kept, written the way it writes
    // filters (so a saved view is never a link to something else).
    let params: BTreeMap<String, String> = url_params(&query);
    let (filter, back) = match QueueFilter::from_params(&params) {
        Ok(filter) => {
            let back = queue_href("/disputes", &filter, &[]);
            (filter, back)
        }
        Err(e) => return crate::flash::redirect("/disputes", Flash::error(e.message)).await,
    };
    let name = match ViewName::parse(&name) {
        Ok(name) => name,
        Err(e) => return crate::flash::redirect(&back, Flash::error(e.0)).await,
    };
    let query = filter.query_string();
    if query.len() > MAX_VIEW_QUERY {
        let refused =
            Flash::error("This view is too long to save: shorten its search or reason code");
        return crate::flash::redirect(&back, refused).await;
    }
    let flash = match state.store.save_view(viewer.id, &name, &query).await? {
        Some(_) => Flash::notice(format!("View \u{201c}{}\u{201d} saved", name.as_str())),
        None => Flash::error(format!(
            "You have {MAX_SAVED_VIEWS} saved views, the most one person may keep: remove one first"
        )),
    };
    crate::flash::redirect(&back, flash).await
}

#[server(endpoint = "disputes/views/delete")]
pub async fn delete_view(id: i64) -> Result<(), AppError> {
    let viewer = crate::auth::require(dispute_core::domain::Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let flash = match state.store.delete_view(viewer.id, id).await? {
        true => Flash::notice("View removed"),
        false => Flash::error("No such view"),
    };
    crate::flash::redirect("/disputes", flash).await
}

/// A query string's parameters (the last value of a repeated name wins).
pub fn url_params(query: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .into_owned()
        .collect()
}

#[component]
pub fn DisputesPage() -> impl IntoView {
    let params = super::query_params();
    view! {
        <PageHeading title="Disputes" />
        <Suspense>
            {Suspend::new(async move {
                match work_queue(params).await {
                    Ok(QueueAnswer::Page(page)) => view! { <Queue page=*page /> }.into_any(),
                    Ok(QueueAnswer::Refused { params, error, connections }) => {
                        // A refusal of a parameter without a field (a page's cursor) is said
                        // above the form.
                        let beside_a_field = dispute_core::domain::queue::NAMES.contains(&error.field.as_str());
                        view! {
                            {(!beside_a_field).then(|| view! {
                                <p class="flash error" role="alert">{error.message.clone()}</p>
                            })}
                            <FilterForm values=params error=Some(error) connections />
                            <p><a href="/disputes">"Back to the work queue"</a></p>
                        }
                            .into_any()
                    }
                    Err(_) => view! { <InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Queue(page: QueuePage) -> impl IntoView {
    let QueuePage {
        filter,
        disputes,
        next,
        counts,
        connections,
        views,
        silent,
    } = page;
    let csv = queue_href("/disputes.csv", &filter, &[]);
    let next = next.map(|cursor| queue_href("/disputes", &filter, &[("after", &cursor)]));
    let empty = disputes.is_empty();
    let by_activity = filter.sort == Sort::LastEvent;
    let values = form_values(&filter);
    view! {
        <super::SilenceWarning silent />
        <a class="skip-link" href="#results">"Skip to the disputes"</a>
        <StatusTabs filter=filter.clone() counts />
        <QuickViews filter=filter.clone() />
        <FilterForm values error=None connections />
        <div class="toolbar">
            <SavedViews views />
            <form class="save-view" method="post" action=SaveView::PATH>
                <input type="hidden" name="query" value=filter.query_string() />
                <label>
                    "Save this view as "
                    <input type="text" name="name" required maxlength="80" />
                </label>
                <button type="submit" class="secondary">"Save view"</button>
            </form>
            <a class="button secondary" href=csv download>"Export CSV"</a>
        </div>
        {match empty {
            true => view! {
                <div id="results"><Empty>"No dispute matches this view."</Empty></div>
            }.into_any(),
            false => view! { <div id="results"><QueueTable disputes by_activity /></div> }.into_any(),
        }}
        <nav class="pager" aria-label="Pages">
            <a href=queue_href("/disputes", &filter, &[])>"First page"</a>
            {next.map(|href| view! { <a href=href rel="next">"Next page"</a> })}
        </nav>
    }
}

/// What the form shows for a filter the queue read: its parameters, with
/// the defaults the address leaves out written in.
fn form_values(filter: &QueueFilter) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = filter
        .to_params()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    values.insert(
        "status".into(),
        filter.status.map_or("any", |s| s.as_str()).to_owned(),
    );
    values
}

/// Ready-made views: the filters an analyst reaches for most.
#[component]
fn QuickViews(filter: QueueFilter) -> impl IntoView {
    use dispute_core::domain::DeadlineWindow;
    let base = QueueFilter::default();
    let views = [
        (
            "Mine",
            QueueFilter {
                assignee: Assignee::Me,
                ..base.clone()
            },
        ),
        (
            "Due in 3 days",
            QueueFilter {
                deadline: Some(DeadlineWindow::Within72Hours),
                ..base.clone()
            },
        ),
        (
            "Overdue",
            QueueFilter {
                deadline: Some(DeadlineWindow::Overdue),
                ..base.clone()
            },
        ),
        (
            "Flagged",
            QueueFilter {
                status: None,
                disagreeing: true,
                ..base.clone()
            },
        ),
    ];
    view! {
        <nav class="quick-views" aria-label="Quick views">
            <ul>
                {views
                    .into_iter()
                    .map(|(name, view)| {
                        let current = (view == filter).then_some("page");
                        view! {
                            <li><a href=queue_href("/disputes", &view, &[]) aria-current=current>{name}</a></li>
                        }
                    })
                    .collect_view()}
            </ul>
        </nav>
    }
}

/// The filters as a form that sends itself as the address (GET): the
/// search up front, the rest under "More filters" (open when one is set or
/// refused); a refused value's message beside its field.
#[component]
fn FilterForm(
    values: BTreeMap<String, String>,
    error: Option<FilterError>,
    connections: Vec<ConnectionSummary>,
) -> impl IntoView {
    let value = |name: &str| values.get(name).map(|v| shown(v)).unwrap_or_default();
    let refusal = |name: &str| {
        error
            .as_ref()
            .filter(|e| e.field == name)
            .map(|e| view! { <span class="field-error" role="alert">{e.message.clone()}</span> })
    };
    let invalid = |name: &str| {
        error
            .as_ref()
            .is_some_and(|e| e.field == name)
            .then_some("true")
    };
    let options = |items: Vec<(String, String)>, current: String| {
        items
            .into_iter()
            .map(|(v, l)| {
                let selected = v == current;
                view! { <option value=v selected=selected>{l}</option> }
            })
            .collect_view()
    };
    let any = || ("".to_owned(), "any".to_owned());
    let more_set = values.iter().any(|(name, value)| {
        name != "q" && name != "status" && name != "sort" && !value.is_empty()
    }) || values
        .get("status")
        .is_some_and(|s| s != Status::NeedsResponse.as_str())
        || error.as_ref().is_some_and(|e| e.field != "q");
    let connection_options = std::iter::once(any())
        .chain(connections.into_iter().map(|c| {
            let name = match c.display_name.is_empty() {
                true => c.slug.clone(),
                false => c.display_name.clone(),
            };
            (c.slug, name)
        }))
        .collect();
    let status = values
        .get("status")
        .cloned()
        .unwrap_or_else(|| Status::NeedsResponse.as_str().to_owned());
    view! {
        <form class="filters queue-filters" method="get" action="/disputes">
            <div class="filter-bar">
                <label class="search">
                    <span class="visually-hidden">"Search"</span>
                    <input
                        type="search"
                        name="q"
                        value=value("q")
                        aria-invalid=invalid("q")
                        placeholder="Search by dispute, case, order or transaction reference"
                    />
                    {refusal("q")}
                </label>
                <label>
                    "Order "
                    <select name="sort">
                        {options(
                            Sort::ALL
                                .iter()
                                .map(|s| (s.as_str().to_owned(), s.label().to_owned()))
                                .collect(),
                            values.get("sort").cloned().unwrap_or_else(|| Sort::Deadline.as_str().to_owned()),
                        )}
                    </select>
                    {refusal("sort")}
                </label>
                <button type="submit">"Show"</button>
                <a class="button secondary" href="/disputes">"Clear filters"</a>
            </div>
            <details class="more-filters" open=more_set>
                <summary>"More filters"</summary>
                <div class="filter-grid">
                    <label>
                        "Connection"
                        <select name="connection" aria-invalid=invalid("connection")>
                            {options(connection_options, value("connection"))}
                        </select>
                        {refusal("connection")}
                    </label>
                    <label>
                        "Provider"
                        <select name="provider" aria-invalid=invalid("provider")>
                            {options(
                                std::iter::once(any())
                                    .chain(ProviderKind::ALL.iter().map(|p| (p.as_str().to_owned(), p.display_name().to_owned())))
                                    .collect(),
                                value("provider"),
                            )}
                        </select>
                        {refusal("provider")}
                    </label>
                    <label>
                        "Stage"
                        <select name="stage" aria-invalid=invalid("stage")>
                            {options(
                                std::iter::once(any())
                                    .chain(Stage::ALL.iter().map(|s| (s.as_str().to_owned(), s.label().to_owned())))
                                    .collect(),
                                value("stage"),
                            )}
                        </select>
                        {refusal("stage")}
                    </label>
                    <label>
                        "Status"
                        <select name="status" aria-invalid=invalid("status")>
                            {options(
                                std::iter::once(("any".to_owned(), "any".to_owned()))
                                    .chain(Status::ALL.iter().map(|s| (s.as_str().to_owned(), s.label().to_owned())))
                                    .collect(),
                                status,
                            )}
                        </select>
                        {refusal("status")}
                    </label>
                    <label>
                        "Deadline"
                        <select name="deadline" aria-invalid=invalid("deadline")>
                            {options(
                                [
                                    ("", "any"),
                                    ("overdue", "overdue"),
                                    ("24h", "within 24 hours"),
                                    ("72h", "within 72 hours"),
                                    ("7d", "within 7 days"),
                                    ("custom", "between the days below"),
                                ]
                                    .into_iter()
                                    .map(|(v, l)| (v.to_owned(), l.to_owned()))
                                    .collect(),
                                value("deadline"),
                            )}
                        </select>
                        {refusal("deadline")}
                    </label>
                    <label>"Due from" <input type="date" name="due_from" value=value("due_from") aria-invalid=invalid("due_from") /> {refusal("due_from")}</label>
                    <label>"Due to" <input type="date" name="due_to" value=value("due_to") aria-invalid=invalid("due_to") /> {refusal("due_to")}</label>
                    <label>
                        "Currency"
                        <input type="text" name="currency" value=value("currency") maxlength="3" size="4" aria-invalid=invalid("currency") />
                        {refusal("currency")}
                    </label>
                    <label>
                        "Amount from"
                        <input type="text" name="amount_min" value=value("amount_min") inputmode="decimal" size="8" aria-invalid=invalid("amount_min") />
                        {refusal("amount_min")}
                    </label>
                    <label>
                        "Amount to"
                        <input type="text" name="amount_max" value=value("amount_max") inputmode="decimal" size="8" aria-invalid=invalid("amount_max") />
                        {refusal("amount_max")}
                    </label>
                    <label>
                        "Assignee"
                        <select name="assignee" aria-invalid=invalid("assignee")>
                            {options(
                                [("anyone", "anyone"), ("me", "me"), ("unassigned", "unassigned")]
                                    .into_iter()
                                    .map(|(v, l)| (v.to_owned(), l.to_owned()))
                                    .collect(),
                                values.get("assignee").cloned().unwrap_or_else(|| "anyone".to_owned()),
                            )}
                        </select>
                        {refusal("assignee")}
                    </label>
                    <label>
                        "Reason code"
                        <input type="text" name="reason_code" value=value("reason_code") size="6" aria-invalid=invalid("reason_code") />
                        {refusal("reason_code")}
                    </label>
                    <label>"Opened from" <input type="date" name="opened_from" value=value("opened_from") aria-invalid=invalid("opened_from") /> {refusal("opened_from")}</label>
                    <label>"Opened to" <input type="date" name="opened_to" value=value("opened_to") aria-invalid=invalid("opened_to") /> {refusal("opened_to")}</label>
                    <label class="check">
                        <input type="checkbox" name="flag" value="disagrees" checked=values.get("flag").is_some_and(|f| f == "disagrees") />
                        "Flagged: the provider disagrees"
                        {refusal("flag")}
                    </label>
                </div>
            </details>
        </form>
    }
}

/// A link per status with its count for the same filter.
#[component]
fn StatusTabs(filter: QueueFilter, counts: StatusCounts) -> impl IntoView {
    let tab = |status: Option<Status>, text: &'static str, (n, estimated): (i64, bool)| {
        let target = QueueFilter {
            status,
            ..filter.clone()
        };
        let current = filter.status == status;
        let about = if estimated { "≈ " } else { "" };
        view! {
            <li>
                <a
                    href=queue_href("/disputes", &target, &[])
                    aria-current=current.then_some("true")
                >
                    {text}
                    " "
                    <span class="count">{format!("{about}{}", group(n))}</span>
                </a>
            </li>
        }
    };
    let tabs: Vec<_> = std::iter::once(tab(None, "All", (counts.total(), counts.estimated())))
        .chain(
            Status::ALL
                .iter()
                .map(|s| tab(Some(*s), s.label(), counts.count(Some(*s)))),
        )
        .collect();
    view! {
        <nav class="tabs" aria-label="Statuses">
            <ul>{tabs}</ul>
            {counts.estimated().then(|| view! {
                <small>"≈ estimated from a sample: more than 5,000 disputes match"</small>
            })}
        </nav>
    }
}

/// A count with thousands separators.
fn group(n: i64) -> String {
    use num_format::{Locale, ToFormattedString};
    n.to_formatted_string(&Locale::en)
}

#[component]
fn SavedViews(views: Vec<SavedView>) -> impl IntoView {
    view! {
        <details class="menu">
            <summary>"Saved views"</summary>
            {match views.is_empty() {
                true => view! { <p>"None yet: name the current view to save it."</p> }.into_any(),
                false => view! {
                    <ul>
                        {views
                            .into_iter()
                            .map(|v| {
                                let href = match v.query.is_empty() {
                                    true => "/disputes".to_owned(),
                                    false => format!("/disputes?{}", v.query),
                                };
                                view! {
                                    <li>
                                        <a href=href>{v.name}</a>
                                        <form method="post" action=DeleteView::PATH>
                                            <input type="hidden" name="id" value=v.id.to_string() />
                                            <button type="submit" class="link">"remove"</button>
                                        </form>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }.into_any(),
            }}
        </details>
    }
}

#[component]
fn QueueTable(disputes: Vec<DisputeRecord>, by_activity: bool) -> impl IntoView {
    let now = jiff::Timestamp::now();
    // Of the two days, the one the list is not ordered by gives way on a
    // narrower screen.
    let (opened, last_event) = match by_activity {
        true => ("wide-only", ""),
        false => ("", "wide-only"),
    };
    view! {
        <DataTable class="queue">
            <thead>
                <tr>
                    <th class="due">"Respond by"</th>
                    <th class="reference">"Dispute"</th>
                    <th class="connection">"Connection"</th>
                    <th class="stands">"Where it stands"</th>
                    <th class="number amount">"Amount"</th>
                    <th class="reason">"Reason"</th>
                    <th class="assignee">"Assignee"</th>
                    <th class=format!("day {opened}")>"Opened"</th>
                    <th class=format!("day {last_event}")>"Last event"</th>
                </tr>
            </thead>
            <tbody>
                {disputes
                    .into_iter()
                    .map(|d| {
                        let link = crate::links::dispute(d.id);
                        let (stage, status) = label(d.stage, d.status);
                        let disagrees = d
                            .query_conflict
                            .as_ref()
                            .is_some_and(|c| !c.is_recovered_outcome(d.status));
                        let reason = [d.reason_code.as_deref(), d.reason.as_deref()]
                            .into_iter()
                            .flatten()
                            .map(shown)
                            .collect::<Vec<_>>()
                            .join(" ");
                        let reason_in_full = reason.clone();
                        let reference = shown(&d.dispute_ref);
                        let stands = match disagrees {
                            true => format!("{stage}, {status}; the provider disagrees"),
                            false => format!("{stage}, {status}"),
                        };
                        let assignee = d.assignee.map(|p| p.display_name).unwrap_or_default();
                        let assignee_in_full = assignee.clone();
                        let connection = d.connection_slug.clone();
                        let reference_in_full = reference.clone();
                        let due = match (d.deadline, d.status) {
                            (Some(at), _) => {
                                let (text, urgency) = countdown(at, now);
                                view! {
                                    <span class=format!("badge {urgency}")>{text}</span>
                                    " "
                                    <Day at=at />
                                }
                                    .into_any()
                            }
                            (None, Some(Status::NeedsResponse)) => {
                                view! { <span class="badge warn">"deadline not given"</span> }
                                    .into_any()
                            }
                            (None, _) => view! { "—" }.into_any(),
                        };
                        view! {
                            <tr>
                                <td>{due}</td>
                                <td title=reference_in_full>
                                    <a href=link>
                                        <code>{reference}</code>
                                    </a>
                                </td>
                                <td title=connection>{d.connection_slug}</td>
                                <td title=stands>
                                    <span class="badge">{stage}</span>
                                    " "
                                    <span class=format!(
                                        "badge status-{}",
                                        d.status.map_or("none", |s| s.as_str()),
                                    )>{status}</span>
                                    {disagrees.then(|| view! {
                                        " " <span class="badge warn">"provider disagrees"</span>
                                    })}
                                </td>
                                <td class="number">{money(d.amount.as_ref())}</td>
                                <td title=reason_in_full>{reason}</td>
                                <td title=assignee_in_full>{assignee}</td>
                                <td class=opened><Day at=d.opened_at /></td>
                                <td class=last_event><Day at=d.last_event_at /></td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(group(-20000), "-20,000");
    }

    #[test]
    fn a_query_string_reads_back_as_its_parameters() {
        let params = url_params("?q=O2023%20%26x&status=any&sort=amount&empty=&flag");
        assert_eq!(params.get("q").map(String::as_str), Some("O2023 &x"));
        assert_eq!(params.get("status").map(String::as_str), Some("any"));
        assert_eq!(params.get("empty").map(String::as_str), Some(""));
        assert_eq!(params.get("flag").map(String::as_str), Some(""));
        assert_eq!(
            url_params("a+b=c+d").get("a b").map(String::as_str),
            Some("c d")
        );
    }

    #[test]
    fn queue_addresses_carry_the_filter_then_the_extras() {
        let filter = QueueFilter::default();
        assert_eq!(queue_href("/disputes", &filter, &[]), "/disputes");
        assert_eq!(
            queue_href("/disputes", &filter, &[("after", "abc=")]),
            "/disputes?after=abc%3D"
        );
        let any = filter.any_status();
        assert_eq!(
            queue_href("/disputes.csv", &any, &[]),
            "/disputes.csv?status=any"
        );
    }
}
