//! One dispute: what it is, where it stands and until when, every event on
//! its timeline in the order it happened with the analysts' notes and
//! assignments among them, the status queries asked of its provider, and the
//! disputed payment's history; the forms that add a note, change the owner
//! and ask the provider where the dispute stands.

use dispute_core::domain::{lifecycle::StepState, reasons, DisputeState, EventOrigin, ZoneName};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Meta;
use leptos_router::hooks::use_params_map;

use super::{
    countdown, label, money, shown, shown_lines, when, when_in, DataTable, Empty, PageHeading,
    TextArea, Time,
};
use crate::{auth::CurrentUser, error::AppError, flash::Flash};
use dispute_store::{
    Casework, DisputeRecord, PaymentRecord, Person, QueryConflict, StatusQueryEntry, TimelineEntry,
};

/// How often one dispute's provider may be asked about it.
const QUERY_INTERVAL: jiff::SignedDuration = jiff::SignedDuration::from_mins(1);
/// How long the latest status query's answer is shown by the button.
const RECENT_ANSWER: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);
/// How many of a dispute's status queries its page lists.
const QUERIES_SHOWN: i64 = 10;

/// Everything the dispute page shows.
pub struct DisputeView {
    pub dispute: DisputeRecord,
    /// The fold's reasons for the dispute's state.
    pub why: DisputeState,
    pub timeline: Vec<TimelineEntry>,
    pub casework: Vec<Casework>,
    pub payments: Vec<PaymentRecord>,
    pub people: Vec<Person>,
    pub queries: Vec<StatusQueryEntry>,
    /// Its responses, the latest stage's first.
    pub responses: Vec<dispute_store::ResponseRecord>,
    /// Its decisions sent or recorded, oldest first, and every step of
    /// sending them.
    pub submissions: Vec<dispute_store::SubmissionRecord>,
    pub steps: Vec<dispute_store::StepRecord>,
    /// The links a provider fetches sent files from, with their fetches.
    pub links: Vec<dispute_store::EvidenceLink>,
    /// A status query asked for is waiting or under way.
    pub asking: bool,
    pub viewer: CurrentUser,
}

pub async fn get_dispute(id: i64) -> Result<Option<DisputeView>, AppError> {
    let viewer = crate::auth::require(dispute_core::domain::Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    // Whether a question is under way is read before the dispute: read
    // after, a question answered in between would leave a page that is
    // neither asking nor showing the answer.
    let asking = state
        .store
        .job_pending(dispute_core::domain::JobKind::StatusQuery, id)
        .await?;
    let Some(dispute) = state.store.dispute_by_id(id).await? else {
        return Ok(None);
    };
    let (why, timeline) = state.store.folded_timeline(dispute.id).await?;
    Ok(Some(DisputeView {
        why,
        timeline,
        casework: state.store.casework(dispute.id).await?,
        payments: state.store.payments_of_dispute(dispute.id).await?,
        people: state.store.assignable_people().await?,
        queries: state
            .store
            .status_queries(Some(dispute.id), None, QUERIES_SHOWN)
            .await?,
        responses: state.store.responses_of_dispute(dispute.id).await?,
        submissions: state.store.submissions_of_dispute(dispute.id).await?,
        steps: state.store.submission_steps_of_dispute(dispute.id).await?,
        links: state.store.links_of_dispute(dispute.id).await?,
        asking,
        dispute,
        viewer,
    }))
}

/// The dispute a form names, and the caller allowed to work on it.
async fn target(dispute: i64) -> Result<(CurrentUser, Option<DisputeRecord>), AppError> {
    let analyst = crate::auth::require(dispute_core::domain::Permission::WorkDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    Ok((analyst, state.store.dispute_by_id(dispute).await?))
}

/// The audit log's name for a dispute.
fn subject(d: &DisputeRecord) -> String {
    format!("dispute {}/{}", d.connection_slug, d.dispute_ref)
}

#[server(endpoint = "disputes/note")]
pub async fn add_note(dispute: i64, text: String) -> Result<(), AppError> {
    use dispute_core::domain::NoteText;
    let (analyst, dispute) = target(dispute).await?;
    let Some(dispute) = dispute else {
        return crate::flash::redirect("/disputes", Flash::error("There is no such dispute")).await;
    };
    let page = crate::links::dispute(dispute.id);
    let text = match NoteText::parse(&text) {
        Ok(text) => text,
        Err(e) => return crate::flash::redirect(&page, Flash::error(e.0)).await,
    };
    let state = expect_context::<crate::state::AppState>();
    let actor = crate::auth::actor(Some(&analyst));
    let flash = match state
        .store
        .add_note(dispute.id, &text, &actor, &subject(&dispute))
        .await?
    {
        Some(_) => Flash::notice("Note added"),
        None => Flash::error("There is no such dispute"),
    };
    crate::flash::redirect(&page, flash).await
}

/// `assignee`: `me`, a person's id, or empty for no one.
#[server(endpoint = "disputes/assign")]
pub async fn assign(dispute: i64, assignee: String) -> Result<(), AppError> {
    use dispute_store::AssignError;
    let (analyst, dispute) = target(dispute).await?;
    let Some(dispute) = dispute else {
        return crate::flash::redirect("/disputes", Flash::error("There is no such dispute")).await;
    };
    let page = crate::links::dispute(dispute.id);
    let to = match assignee.trim() {
        "" => None,
        "me" => Some(analyst.id),
        id => match id.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                return crate::flash::redirect(&page, Flash::error("Choose someone to assign"))
                    .await
            }
        },
    };
    let state = expect_context::<crate::state::AppState>();
    let actor = crate::auth::actor(Some(&analyst));
    let flash = match state
        .store
        .assign(dispute.id, to, &actor, &subject(&dispute))
        .await
    {
        Ok(true) if to.is_none() => Flash::notice("The dispute is unassigned"),
        Ok(true) => Flash::notice("The dispute has a new owner"),
        Ok(false) => Flash::notice("Nothing changed: it was already so"),
        Err(AssignError::Store(e)) => return Err(e.into()),
        Err(e) => Flash::error(e.to_string()),
    };
    crate::flash::redirect(&page, flash).await
}

/// Clears the "provider disagrees" flag: someone has looked at it. The
/// pulled event stays in the timeline and the audit log keeps what the
/// disagreement was. `asked_at`: when the question whose answer the page
/// showed was asked, so a disagreement recorded since is not cleared
/// unseen.
#[server(endpoint = "disputes/review-conflict")]
pub async fn mark_reviewed(dispute: i64, asked_at: String) -> Result<(), AppError> {
    let (analyst, dispute) = target(dispute).await?;
    let Some(dispute) = dispute else {
        return crate::flash::redirect("/disputes", Flash::error("There is no such dispute."))
            .await;
    };
    let state = expect_context::<crate::state::AppState>();
    let actor = crate::auth::actor(Some(&analyst));
    let cleared = match asked_at.parse::<jiff::Timestamp>() {
        Ok(asked_at) => {
            state
                .store
                .mark_conflict_reviewed(dispute.id, asked_at, &actor, &subject(&dispute))
                .await?
        }
        Err(_) => None,
    };
    let flash = match cleared {
        Some(_) => Flash::notice("Marked reviewed: the flag is cleared."),
        None => Flash::notice(
            "Nothing was cleared: the flag was reviewed already or a newer answer replaced it; look again.",
        ),
    };
    crate::flash::redirect(&crate::links::dispute(dispute.id), flash).await
}

/// Asks the dispute's provider where it stands, at most once a minute per
/// dispute. The question is a job, so it is asked and its answer recorded
/// whatever the browser does meanwhile; the page says it is asking until
/// the answer is on it.
#[server(endpoint = "disputes/query")]
pub async fn query_status(dispute: i64) -> Result<(), AppError> {
    use dispute_store::QueryRequested;
    let analyst = crate::auth::require(dispute_core::domain::Permission::WorkDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let actor = crate::auth::actor(Some(&analyst));
    let flash = match state
        .store
        .request_query(dispute, QUERY_INTERVAL, &actor)
        .await?
    {
        QueryRequested::Asking(provider) => Flash::notice(format!(
            "Asking {} where the dispute stands",
            provider.display_name()
        )),
        QueryRequested::TooSoon(next) => Flash::error(format!(
            "The provider was asked about this dispute less than a minute ago; ask again in {} s",
            (next - jiff::Timestamp::now()).get_seconds().max(1)
        )),
        QueryRequested::NoSuchDispute => {
            return crate::flash::redirect("/disputes", Flash::error("There is no such dispute"))
                .await
        }
    };
    crate::flash::redirect(&crate::links::dispute(dispute), flash).await
}

#[component]
pub fn DisputePage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").and_then(|id| id.parse().ok()));
    view! {
        <Suspense>
            {Suspend::new(async move {
                let Some(id) = id else {
                    return view! { <crate::pages::not_found::NotFound /> }.into_any();
                };
                match get_dispute(id).await {
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
        why,
        timeline,
        casework,
        payments,
        people,
        queries,
        responses,
        submissions,
        steps: sent_steps,
        links,
        asking,
        viewer,
    } = found;
    let may_work = viewer
        .role
        .may(dispute_core::domain::Permission::WorkDisputes);
    let show_raw = viewer
        .role
        .may(dispute_core::domain::Permission::ReadDeliveries);
    let (stage, status) = label(d.stage, d.status);
    let now = jiff::Timestamp::now();
    let last_heard = timeline
        .iter()
        .filter(|e| !matches!(e.source, EventOrigin::Replay | EventOrigin::Response))
        .max_by_key(|e| (e.recorded_at, e.id))
        .map(|e| {
            let how = match e.source {
                EventOrigin::StatusQuery => "pulled: a status query's answer",
                _ => "pushed: a notification",
            };
            format!("{} ({how})", when(e.recorded_at))
        });
    let conflict = d.query_conflict.clone().map(|c| {
        view! { <ConflictPanel conflict=c dispute=d.id status=d.status may_work=may_work /> }
    });
    // The answer to a question asked a moment ago, where the button is.
    let answered = queries
        .first()
        .filter(|q| !asking && now.duration_since(q.asked_at) < RECENT_ANSWER)
        .map(|q| {
            view! {
                <p class="panel" role="status">
                    {format!("Asked {}: ", when(q.asked_at))}
                    <span class=format!("badge outcome-{}", q.outcome.as_str())>{q.outcome.label()}</span>
                    " "
                    {shown(&q.detail)}
                </p>
            }
        });
    let deadline = match (d.deadline, d.status) {
        (Some(at), _) => {
            let (text, urgency) = countdown(at, now);
            view! {
                <span class=format!("badge {urgency}")>{text}</span>
                " "
                {when_in(at, &viewer.timezone)}
            }
            .into_any()
        }
        (None, Some(dispute_core::domain::Status::NeedsResponse)) => {
            view! { <span class="badge warn">"needs a response: deadline not given"</span> }
                .into_any()
        }
        (None, _) => view! { "—" }.into_any(),
    };
    let visited: Vec<_> = timeline.iter().filter_map(|e| e.stage).collect();
    let steps = dispute_core::domain::lifecycle::lifecycle(&visited, d.stage.zip(d.status));
    let other_deadline = other_deadline(&d, &why, &timeline, &viewer.timezone);
    let owner = d
        .assignee
        .as_ref()
        .map_or_else(|| "No one".to_owned(), |p| p.display_name.clone());
    let take_it = (may_work && d.assignee.as_ref().map(|p| p.id) != Some(viewer.id)).then(|| {
        view! {
            <form class="inline" method="post" action=Assign::PATH>
                <input type="hidden" name="dispute" value=d.id />
                <input type="hidden" name="assignee" value="me" />
                <button type="submit" class="secondary">"Assign to me"</button>
            </form>
        }
    });
    let action = match (asking, may_work) {
        (true, _) => view! {
            <Meta http_equiv="refresh" content="2" />
            <p role="status">
                {format!("Asking {} where the dispute stands…", d.provider.display_name())}
                " "
                <small>"This page shows the answer when it comes."</small>
            </p>
        }
        .into_any(),
        (false, true) => view! {
            <form class="inline" method="post" action=QueryStatus::PATH>
                <input type="hidden" name="dispute" value=d.id />
                <button type="submit">"Query status now"</button>
                " "
                <small>"Asks the provider where the dispute stands; at most once a minute."</small>
            </form>
        }
        .into_any(),
        (false, false) => ().into_any(),
    };
    view! {
        <PageHeading title=format!("Dispute {}", d.dispute_ref) />
        <section class="panel dispute-summary" aria-label="Summary">
            <div>
                <span class="summary-label">"Amount"</span>
                <strong class="amount">{money(d.amount.as_ref())}</strong>
            </div>
            <div>
                <span class="summary-label">"Where it stands"</span>
                <span class="badge">{stage}</span>
                " "
                <span class=format!("badge status-{}", d.status.map_or("none", |s| s.as_str()))>
                    {status}
                </span>
            </div>
            <div class="summary-deadline">
                <span class="summary-label">"Respond by"</span>
                {deadline}
            </div>
            <div>
                <span class="summary-label">"Owner"</span>
                {owner}
                " "
                {take_it}
            </div>
            <div class="summary-action">{action}</div>
        </section>
        <ol class="lifecycle" aria-label="Lifecycle">
            {steps
                .into_iter()
                .map(|step| {
                    let (class, said) = match step.state {
                        StepState::Passed => ("passed", "passed"),
                        StepState::Skipped => ("skipped", "skipped"),
                        StepState::Current => ("current", "now"),
                        StepState::Ahead => ("ahead", "not yet"),
                    };
                    let current = (step.state == StepState::Current).then_some("step");
                    view! {
                        <li class=class aria-current=current>
                            {step.label}
                            <span class="visually-hidden">{format!(" ({said})")}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
        {conflict}
        {answered}
        <dl class="facts">
            <dt>"Why it stands so"</dt>
            <dd>
                {because(&why, &timeline)}
                {other_deadline.map(|note| view! { <p class="guidance">{note}</p> })}
            </dd>
            <dt>"Reason"</dt>
            <dd>
                {d.reason_code.as_deref().map(|c| view! { <code>{shown(c)}</code> " " })}
                {d.reason.as_deref().map(shown)}
                {d.reason_code.as_deref().and_then(reasons::guide).map(|g| view! {
                    <p class="guidance">
                        {format!(
                            "{} · {}: {}. The network usually allows {} days to respond; the provider's deadline is the one that counts.",
                            g.network, g.category, g.title, g.response_days,
                        )}
                    </p>
                })}
            </dd>
            <dt>"Provider"</dt>
            <dd>{d.provider.display_name()} " · " <code>{d.connection_slug.clone()}</code></dd>
            <dt>"Dispute reference"</dt>
            <dd><code>{shown(&d.dispute_ref)}</code></dd>
            <dt>"Original transaction"</dt>
            <dd><code>{d.payment_reference.as_deref().map(shown)}</code></dd>
            <dt>"Merchant order"</dt>
            <dd><code>{d.merchant_reference.as_deref().map(shown)}</code></dd>
            <dt>"Opened"</dt>
            <dd><Time at=d.opened_at /></dd>
            <dt>"Last heard from the provider"</dt>
            <dd>{last_heard}</dd>
            <dt>"Last asked"</dt>
            <dd>{d.last_queried_at.map_or_else(|| "never".to_owned(), when)}</dd>
        </dl>
        <ResponsePanel
            dispute=d.id
            stage=d.stage
            status=d.status
            responses
            may_work
        />
        <DecisionPanel d=d.clone() submissions links may_work />
        {may_work.then(|| view! {
            <Casework
                dispute=d.id
                assignee=d.assignee.clone()
                viewer=viewer.id
                people
            />
        })}
        <h2>"Timeline"</h2>
        <Timeline entries=timeline casework steps=sent_steps show_raw />
        <h2>"Status queries"</h2>
        <Queries queries />
        <h2>"Payment history"</h2>
        <Payments payments=payments />
    }
}

/// The dispute's response to its current stage (or the way to prepare
/// one), and earlier stages' responses.
#[component]
fn ResponsePanel(
    dispute: i64,
    stage: Option<dispute_core::domain::Stage>,
    status: Option<dispute_core::domain::Status>,
    responses: Vec<dispute_store::ResponseRecord>,
    may_work: bool,
) -> impl IntoView {
    use crate::pages::response::PrepareResponse;
    let current = responses.iter().find(|r| Some(r.stage) == stage).cloned();
    let earlier: Vec<_> = responses
        .into_iter()
        .filter(|r| Some(r.stage) != stage)
        .collect();
    let open = status.is_some_and(|s| !s.is_final());
    let main = match current {
        Some(r) => view! {
            <p>
                <span class=format!("badge response-{}", r.state.as_str())>{r.state.label()}</span>
                " "
                <a href=crate::links::response(r.id)>
                    {format!("Open the response to the {}", r.stage.label().to_lowercase())}
                </a>
                " · last changed "
                <Time at=r.updated_at />
            </p>
        }
        .into_any(),
        None if may_work && open && stage.is_some() => view! {
            <form method="post" action=PrepareResponse::PATH>
                <input type="hidden" name="dispute" value=dispute />
                <button type="submit">"Prepare a response"</button>
                " "
                <small>"Gather the evidence, write the letter and build the packet to send."</small>
            </form>
        }
        .into_any(),
        None => view! { <p>"No response to this stage."</p> }.into_any(),
    };
    view! {
        <section class="panel response-panel" aria-labelledby="response-heading">
            <h2 id="response-heading">"Response"</h2>
            {main}
            {(!earlier.is_empty()).then(|| view! {
                <ul>
                    {earlier
                        .into_iter()
                        .map(|r| view! {
                            <li>
                                <a href=crate::links::response(r.id)>
                                    {format!("The response to the {}", r.stage.label().to_lowercase())}
                                </a>
                                {format!(": {}", r.state.label().to_lowercase())}
                            </li>
                        })
                        .collect_view()}
                </ul>
            })}
        </section>
    }
}

/// The merchant's decision for the current stage: how sending it goes (or
/// what was recorded), and the ways to decide while none holds the stage.
#[component]
fn DecisionPanel(
    d: DisputeRecord,
    submissions: Vec<dispute_store::SubmissionRecord>,
    links: Vec<dispute_store::EvidenceLink>,
    may_work: bool,
) -> impl IntoView {
    use dispute_core::domain::submission::{Channel, Decision, SubmissionState};
    let provider = d.provider.display_name();
    let of_stage: Vec<_> = submissions
        .into_iter()
        .filter(|s| Some(s.stage) == d.stage)
        .collect();
    let holding = of_stage.iter().any(|s| s.state.holds_the_stage());
    let open = d
        .status
        .is_some_and(|s| !s.is_final() && s != dispute_core::domain::Status::Responded);
    let sendable =
        dispute_core::providers::submission::plan(d.provider, Decision::Defend, &[]).is_some();
    let history = of_stage
        .into_iter()
        .rev()
        .map(|s| {
            let what = match (s.decision, s.channel, s.state) {
                (Decision::Defend, Channel::Outside, _) => "Response sent outside the desk".to_owned(),
                (Decision::Defend, _, SubmissionState::Sending) => format!("Sending the defence to {provider}"),
                (Decision::Defend, _, SubmissionState::Done) => format!("Defence sent to {provider}"),
                (Decision::Defend, _, _) => format!("Defence not sent to {provider}"),
                (Decision::Accept, Channel::Outside, _) => "Accepted (recorded; nothing sent)".to_owned(),
                (Decision::Accept, _, SubmissionState::Sending) => format!("Accepting through {provider}"),
                (Decision::Accept, _, SubmissionState::Done) => format!("Accepted through {provider}"),
                (Decision::Accept, _, _) => format!("Acceptance not sent to {provider}"),
            };
            let payermax_closes = (s.decision == Decision::Accept
                && d.provider == dispute_core::domain::ProviderKind::PayerMax)
                .then_some("PayerMax has no accept call: it closes the case as lost when its time to respond ends.");
            view! {
                <li>
                    <span class=format!("badge submission-{}", s.state.as_str())>{s.state.label()}</span>
                    " "
                    <strong>{what}</strong>
                    {format!(" · asked by {} ", s.requested_by.display_name)}
                    <Time at=s.requested_at />
                    {s.words.map(|w| view! { <p class="error">{shown(&w)}</p> })}
                    {s.outside.map(|o| view! {
                        <p>
                            {o.method.label()} " · " <Time at=o.at /> " · " {shown(&o.sent)}
                            {(!o.note.is_empty()).then(|| view! { <br /> <span class="note">{shown_lines(&o.note)}</span> })}
                        </p>
                    })}
                    {payermax_closes.map(|w| view! { <p>{w}</p> })}
                    <FileLinks
                        dispute=d.id
                        links=links.iter().filter(|l| l.submission_id == s.id).cloned().collect()
                        may_work
                    />
                </li>
            }
        })
        .collect_view();
    let actions = (may_work && open && !holding).then(|| {
        let link = |choice: &str, label: &'static str, class: &'static str| {
            view! { <a class=format!("button {class}") href=crate::links::decide(d.id, choice)>{label}</a> " " }
        };
        view! {
            <p class="decide-actions">
                {sendable.then(|| link("defend", "Defend…", "secondary"))}
                {link("accept", "Accept…", "secondary")}
                {link("outside", "Record a response sent outside the desk…", "secondary")}
            </p>
        }
    });
    view! {
        <section class="panel decision-panel" aria-labelledby="decision-heading">
            <h2 id="decision-heading">"Decision"</h2>
            <ul class="submissions">{history}</ul>
            {actions}
        </section>
    }
}

/// The links a provider fetches a sent response's files from: when each
/// expires, how often and by whom it was fetched, and a way to revoke it.
#[component]
fn FileLinks(
    dispute: i64,
    links: Vec<dispute_store::EvidenceLink>,
    may_work: bool,
) -> impl IntoView {
    use crate::pages::decide::RevokeLink;
    (!links.is_empty()).then(|| view! {
        <DataTable class="links">
            <thead>
                <tr><th>"File"</th><th>"Link"</th><th>"Fetched"</th><th>"Last fetch"</th></tr>
            </thead>
            <tbody>
                {links.into_iter().map(|l| {
                    let state = match l.revoked_at {
                        Some(at) => view! { "revoked " <Time at=at /> }.into_any(),
                        None => view! { "expires " <Time at=l.expires_at /> }.into_any(),
                    };
                    let revoke = (may_work && l.revoked_at.is_none()).then(|| view! {
                        <form method="post" action=RevokeLink::PATH class="inline">
                            <input type="hidden" name="dispute" value=dispute />
                            <input type="hidden" name="link" value=l.id />
                            <button type="submit" class="link">"Revoke"</button>
                        </form>
                    });
                    view! {
                        <tr>
                            <td>{shown(&l.name)}</td>
                            <td>{state} {revoke}</td>
                            <td>{format!("{} time{}", l.fetches, if l.fetches == 1 { "" } else { "s" })}</td>
                            <td>{l.last_fetch.map(|f| view! {
                                <Time at=f.at />
                                {format!(" from {} · HTTP {} · {}", f.address, f.status, dispute_core::domain::evidence::size_text(f.bytes.unsigned_abs()))}
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </DataTable>
    })
}

/// When another event gave a deadline other than the one that counts: the
/// other one, and why it does not count.
fn other_deadline(
    d: &DisputeRecord,
    why: &DisputeState,
    timeline: &[TimelineEntry],
    zone: &ZoneName,
) -> Option<String> {
    let counts = d.deadline?;
    let from = why.deadline_from.as_ref()?;
    let other = timeline.iter().rev().find(|e| {
        e.key != from.as_str()
            && e.deadline.is_some_and(|at| at != counts)
            && (e.stage == d.stage || (!e.recognized && e.source == EventOrigin::StatusQuery))
    })?;
    let reason = match other.recognized {
        false => "that answer did not change the dispute, so its deadline did not either",
        true => "the deadline counts from the event that put the dispute where it stands",
    };
    Some(format!(
        "{} ({}, {}) gave another deadline, {}. The one above counts: {reason}. If the provider has moved the deadline, ask them which is right.",
        headline(other),
        shown(&other.kind),
        when(other.recorded_at),
        when_in(other.deadline.unwrap_or(counts), zone),
    ))
}

/// The latest questions asked of the provider about the dispute, answered
/// or not.
#[component]
fn Queries(queries: Vec<StatusQueryEntry>) -> impl IntoView {
    if queries.is_empty() {
        return view! { <Empty>"The provider has not been asked about this dispute."</Empty> }
            .into_any();
    }
    view! {
        <DataTable>
            <thead>
                <tr>
                    <th>"Asked"</th>
                    <th>"By"</th>
                    <th>"Why"</th>
                    <th>"Outcome"</th>
                    <th>"Changed"</th>
                </tr>
            </thead>
            <tbody>
                {queries.into_iter().map(|q| view! { <QueryRow q /> }).collect_view()}
            </tbody>
        </DataTable>
    }
    .into_any()
}

/// One query as a table row; `with_dispute` leads with the dispute's link
/// (the ops list of every dispute's queries).
#[component]
pub fn QueryRow(q: StatusQueryEntry, #[prop(optional)] with_dispute: bool) -> impl IntoView {
    let state = |(stage, status)| {
        let (stage, status) = label(stage, status);
        format!("{stage} · {status}")
    };
    let changed = match q.before == q.after {
        true => "nothing".to_owned(),
        false => format!("{} → {}", state(q.before), state(q.after)),
    };
    let dispute = with_dispute.then(|| {
        view! {
            <td>
                <a href=crate::links::dispute(q.dispute_id)><code>{shown(&q.dispute_ref)}</code></a>
                <br />
                <small>{q.connection_slug.clone()}</small>
            </td>
        }
    });
    view! {
        <tr>
            {dispute}
            <td>{when(q.asked_at)} <br /> <small>{format!("{} ms", q.took_ms)}</small></td>
            <td>{q.asked_by.map_or_else(|| "reconciliation".to_owned(), |name| shown(&name))}</td>
            <td>{shown(&q.why)}</td>
            <td>
                <span class=format!("badge outcome-{}", q.outcome.as_str())>{q.outcome.label()}</span>
                " "
                {shown(&q.detail)}
            </td>
            <td>{changed}</td>
        </tr>
    }
}

/// Which events put the dispute where it stands, in words.
fn because(why: &DisputeState, timeline: &[TimelineEntry]) -> String {
    let find = |key: &Option<dispute_core::domain::EventKey>| {
        let key = key.as_ref()?;
        timeline.iter().find(|e| e.key == key.as_str())
    };
    let named = |e: &TimelineEntry| {
        format!(
            "“{}” ({}, {})",
            headline(e),
            shown(&e.kind),
            when(e.occurred_at)
        )
    };
    let (status_from, deadline_from) = (find(&why.status_from), find(&why.deadline_from));
    let status = match status_from {
        Some(e) => format!("The status comes from {}", named(e)),
        None => "No event has set a status yet".to_owned(),
    };
    match (status_from, deadline_from) {
        (Some(a), Some(b)) if a.id == b.id => format!("{status}, and so does the deadline."),
        (_, Some(e)) => format!("{status}; the deadline comes from {}.", named(e)),
        (_, None) => format!("{status}."),
    }
}

/// Whether an event arrived after one that happened later than it did.
fn arrived_late(entry: &TimelineEntry, all: &[TimelineEntry]) -> bool {
    all.iter()
        .any(|other| other.occurred_at > entry.occurred_at && other.recorded_at < entry.recorded_at)
}

/// The forms that add a note and change the owner.
#[component]
fn Casework(
    dispute: i64,
    assignee: Option<Person>,
    viewer: i64,
    people: Vec<Person>,
) -> impl IntoView {
    let owner = assignee.as_ref().map(|p| p.id);
    view! {
        <div class="casework">
            <form class="panel form" method="post" action=AddNote::PATH>
                <input type="hidden" name="dispute" value=dispute />
                <label>
                    "Add a note"
                    <small>"Kept as written, with your name and the time; notes are never edited."</small>
                    <TextArea name="text" required=true />
                </label>
                <button type="submit" class="secondary">"Add note"</button>
            </form>
            <form class="panel form" method="post" action=Assign::PATH>
                <input type="hidden" name="dispute" value=dispute />
                <label>
                    "Owner"
                    <select name="assignee">
                        <option value="" selected=owner.is_none()>"no one"</option>
                        {people
                            .into_iter()
                            .map(|p| {
                                let selected = owner == Some(p.id);
                                let name = match p.id == viewer {
                                    true => format!("{} (me)", p.display_name),
                                    false => p.display_name,
                                };
                                view! { <option value=p.id.to_string() selected=selected>{name}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <button type="submit" class="secondary">"Assign"</button>
            </form>
        </div>
    }
}

/// One row of the timeline: a provider's event (and whether it arrived
/// after one that happened later), or an analyst's note or assignment.
enum Row {
    Event(Box<TimelineEntry>, bool),
    Work(Casework),
    Step(dispute_store::StepRecord),
}

impl Row {
    fn at(&self) -> jiff::Timestamp {
        match self {
            Row::Event(e, _) => e.occurred_at,
            Row::Work(w) => w.at(),
            Row::Step(s) => s.at,
        }
    }
}

#[component]
fn Timeline(
    entries: Vec<TimelineEntry>,
    casework: Vec<Casework>,
    steps: Vec<dispute_store::StepRecord>,
    show_raw: bool,
) -> impl IntoView {
    let late: Vec<bool> = entries.iter().map(|e| arrived_late(e, &entries)).collect();
    let mut rows: Vec<Row> = entries
        .into_iter()
        .zip(late)
        .map(|(e, late)| Row::Event(Box::new(e), late))
        .chain(casework.into_iter().map(Row::Work))
        .chain(steps.into_iter().map(Row::Step))
        .collect();
    // Stable: events keep their order among themselves, and so does casework.
    rows.sort_by_key(Row::at);
    view! {
        <DataTable class="timeline">
            <thead>
                <tr>
                    <th>"Happened"</th>
                    <th>"What happened"</th>
                    <th>"Received"</th>
                    <th>"Amount"</th>
                    <th>"Reason"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| match row {
                        Row::Event(e, late) => view! { <EventRow e=*e late show_raw /> }.into_any(),
                        Row::Work(w) => view! { <WorkRow w /> }.into_any(),
                        Row::Step(s) => view! { <StepRow s show_raw /> }.into_any(),
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}

#[component]
fn WorkRow(w: Casework) -> impl IntoView {
    let (at, what, text) = match w {
        Casework::Note { at, author, text } => {
            (at, format!("Note by {}", author.display_name), Some(text))
        }
        Casework::Assignment { at, by, to } => {
            let what = match to {
                Some(to) => format!("Assigned to {} by {}", to.display_name, by.display_name),
                None => format!("Unassigned by {}", by.display_name),
            };
            (at, what, None)
        }
        Casework::Response {
            at,
            by,
            action,
            detail,
        } => (
            at,
            format!("{} ({})", action.words(&detail), by.display_name),
            None,
        ),
    };
    view! {
        <tr class="casework-entry">
            <td><Time at=at /></td>
            <td colspan="4">
                <strong>{what}</strong>
                {text.as_deref().map(|text| view! { <div class="note">{shown_lines(text)}</div> })}
            </td>
        </tr>
    }
}

/// One step of sending a decision: what it was and how it ended, with the
/// request and answer for ops and admins.
#[component]
fn StepRow(s: dispute_store::StepRecord, show_raw: bool) -> impl IntoView {
    use dispute_core::domain::submission::StepOutcome;
    let badge = match s.outcome {
        StepOutcome::Sending => ("badge soon", "sent; no answer yet"),
        StepOutcome::Done => ("badge ok", "done"),
        StepOutcome::Refused => ("badge warn", "refused"),
        StepOutcome::Failed => ("badge soon", "failed; tried again"),
    };
    let raw = s.call.filter(|_| show_raw).map(|call| {
        view! {
            <details>
                <summary>"The request and the answer"</summary>
                <p><code>{shown(&call.address)}</code>{call.status.map(|s| format!(" · HTTP {s}"))}</p>
                <pre>{shown_lines(&call.request)}</pre>
                {call.answer.map(|a| view! { <pre>{shown_lines(&a)}</pre> })}
            </details>
        }
    });
    view! {
        <tr class="casework-entry submission-step">
            <td><Time at=s.at /></td>
            <td colspan="4">
                <strong>{s.step.label()}</strong>
                " " <span class="badge">"the merchant's"</span>
                " " <span class=badge.0>{badge.1}</span>
                {(s.outcome != StepOutcome::Done).then(|| view! { <div>{shown(&s.words)}</div> })}
                {raw}
            </td>
        </tr>
    }
}

/// What an event did, in words (see `dispute_core::domain::headline`).
fn headline(e: &TimelineEntry) -> String {
    use dispute_core::domain::headline::{event_title, Told};
    let told = match e.source {
        EventOrigin::StatusQuery => Told::ByQuery,
        EventOrigin::Response => Told::ByMerchant,
        EventOrigin::Notification | EventOrigin::Replay => Told::ByNotification,
    };
    event_title(e.stage.zip(e.status), e.recognized, told)
}

/// An event's title as the timeline leads with it: what it did, and when
/// a response is due if it asks for one.
fn title(e: &TimelineEntry) -> String {
    match (e.status, e.deadline) {
        (Some(dispute_core::domain::Status::NeedsResponse), Some(deadline)) => format!(
            "{} — respond by {}",
            headline(e),
            dispute_core::domain::display_time::local_and_utc(
                deadline,
                &super::viewer_zone(),
                jiff::Timestamp::now()
            )
        ),
        _ => headline(e),
    }
}

#[component]
fn EventRow(e: TimelineEntry, late: bool, show_raw: bool) -> impl IntoView {
    let raw = e
        .notification_id
        .filter(|_| show_raw)
        .map(|id| view! { " · " <a href=crate::links::delivery(id)>"raw notification"</a> });
    let happened = match &e.occurred_at_text {
        Some(_) => view! { <Time at=e.occurred_at /> }.into_any(),
        None => view! { <Time at=e.occurred_at /> <small>" (when received)"</small> }.into_any(),
    };
    let source = match e.source {
        EventOrigin::StatusQuery => Some("from a status query"),
        EventOrigin::Replay => Some("from a replay"),
        EventOrigin::Response => Some("the merchant's"),
        EventOrigin::Notification => None,
    };
    let asked_by = (e.source == EventOrigin::StatusQuery).then(|| {
        format!(
            " · asked by {}",
            e.queried_by
                .as_deref()
                .map_or_else(|| "reconciliation".to_owned(), shown)
        )
    });
    let heading = title(&e);
    let unrecognized = !e.recognized && e.source != EventOrigin::StatusQuery;
    view! {
        <tr class="event">
            <td>{happened}</td>
            <td>
                <strong>{heading}</strong>
                {source.map(|s| view! { " " <span class="badge">{s}</span> })}
                {unrecognized.then(|| view! { " " <span class="badge warn">"not understood"</span> })}
                <br />
                <small class="codes">
                    <code>{shown(&e.kind)}</code>
                    {e.provider_status.map(|s| view! { " · " <code>{shown(&s)}</code> })}
                    {asked_by}
                    {raw}
                </small>
                {e.query_answer.filter(|_| show_raw).map(|answer| view! {
                    <details>
                        <summary>"The provider's answer"</summary>
                        <pre>{shown_lines(&answer)}</pre>
                    </details>
                })}
            </td>
            <td>
                <Time at=e.recorded_at />
                {late.then(|| view! { " " <span class="badge warn">"arrived late"</span> })}
                {(e.duplicates > 0).then(|| view! {
                    " "
                    <span class="badge">{format!("delivered {} more time{}", e.duplicates, if e.duplicates == 1 { "" } else { "s" })}</span>
                })}
            </td>
            <td>{money(e.amount.as_ref())}</td>
            <td>
                {e.reason_code.map(|c| view! { <code>{shown(&c)}</code> " " })}
                {e.reason.as_deref().map(shown)}
            </td>
        </tr>
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
        <DataTable>
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
        </DataTable>
    }
    .into_any()
}

/// What a status query's answer said against the notifications: an alarm
/// while the dispute is open, news when it recovered an outcome the
/// dispute now has; either can be marked reviewed.
#[component]
fn ConflictPanel(
    conflict: QueryConflict,
    dispute: i64,
    status: Option<dispute_core::domain::Status>,
    may_work: bool,
) -> impl IntoView {
    let (known_stage, known_status) = label(conflict.known_stage, conflict.known_status);
    let (said_stage, said_status) = label(
        Some(conflict.provider_stage),
        Some(conflict.provider_status),
    );
    let recovered = conflict.is_recovered_outcome(status);
    let (class, role, badge, sentence) = match recovered {
        true => (
            "panel news",
            "status",
            view! { <span class="badge">"learned from the provider"</span> },
            "No notification told of this outcome; the provider's answer did, and the dispute now shows it.",
        ),
        false => (
            "panel conflict",
            "alert",
            view! { <span class="badge warn">"provider disagrees"</span> },
            "The provider's answer disagrees with what the notifications had said. Check which is right before acting.",
        ),
    };
    let review = may_work.then(|| {
        view! {
            <form method="post" action=MarkReviewed::PATH>
                <input type="hidden" name="dispute" value=dispute />
                <input type="hidden" name="asked_at" value=conflict.asked_at.to_string() />
                <button type="submit" class="secondary">"Mark reviewed"</button>
            </form>
        }
    });
    view! {
        <div class=class role=role>
            <p>{badge} " Asked " <Time at=conflict.asked_at /> ". " {sentence}</p>
            <dl class="facts">
                <dt>"Notifications said"</dt>
                <dd>{known_stage} " · " {known_status}</dd>
                <dt>"The provider says"</dt>
                <dd>{said_stage} " · " {said_status} " — " {shown(&conflict.summary)}</dd>
            </dl>
            {review}
        </div>
    }
}
