//! Deciding a dispute's stage: the confirmation page for defending it,
//! accepting it, or recording a response sent outside the desk. The page
//! says exactly what will be sent (the provider and account, each file
//! with its size, the summary, the calls in order) and that it cannot be
//! undone, and carries a one-time token its form must return; the server
//! function takes the decision (`Store::submit`) and the job sends it.

use dispute_core::domain::{
    evidence::{size_text, FileKind, ResponseState},
    submission::{
        blocked_because, Channel, Decision, OutsideMethod, OutsideWords, Step, MAX_OUTSIDE_SENT,
    },
    Stage,
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::{shown, DataTable, PageHeading, TextArea};
use crate::{error::AppError, flash::Flash};
use dispute_store::{DisputeRecord, EvidenceFile, ResponseRecord};

/// What the analyst is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Defend,
    Accept,
    /// Record a defence already sent through the provider's own channel.
    Outside,
}

impl Choice {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "defend" => Some(Choice::Defend),
            "accept" => Some(Choice::Accept),
            "outside" => Some(Choice::Outside),
            _ => None,
        }
    }

    fn decision(self) -> Decision {
        match self {
            Choice::Defend | Choice::Outside => Decision::Defend,
            Choice::Accept => Decision::Accept,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Choice::Defend => "defend",
            Choice::Accept => "accept",
            Choice::Outside => "outside",
        }
    }
}

/// Everything the confirmation page shows.
pub struct DecideView {
    dispute: DisputeRecord,
    choice: Choice,
    stage: Stage,
    /// Why it cannot be done now, if it cannot.
    blocked: Option<String>,
    /// How it reaches the provider, and the calls.
    plan: Option<(Channel, Vec<Step>)>,
    account: Option<String>,
    response: Option<ResponseRecord>,
    files: Vec<EvidenceFile>,
    takes_summary: bool,
    sends_as: &'static [FileKind],
    /// `None` when blocked.
    token: Option<String>,
}

pub async fn get_decision(dispute: i64, choice: Choice) -> Result<Option<DecideView>, AppError> {
    let analyst = crate::auth::require(dispute_core::domain::Permission::WorkDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let Some(dispute) = state.store.dispute_by_id(dispute).await? else {
        return Ok(None);
    };
    let Some(stage) = dispute.stage else {
        return Ok(None);
    };
    let response = state
        .store
        .responses_of_dispute(dispute.id)
        .await?
        .into_iter()
        .find(|r| r.stage == stage);
    let files = match (&response, choice) {
        (Some(r), Choice::Defend | Choice::Outside) => state.store.evidence_files(r.id).await?,
        _ => Vec::new(),
    };
    let held = state
        .store
        .submissions_of_dispute(dispute.id)
        .await?
        .into_iter()
        .find(|s| s.stage == stage && s.state.holds_the_stage());
    let documents: Vec<_> = files.iter().map(|f| f.document).collect();
    let plan = match choice {
        Choice::Outside => Some((Channel::Outside, Vec::new())),
        _ => dispute_core::providers::submission::plan(
            dispute.provider,
            choice.decision(),
            &documents,
        ),
    };
    let ready = choice == Choice::Outside
        || response
            .as_ref()
            .is_some_and(|r| r.state == ResponseState::Ready);
    let blocked = match (&held, &plan) {
        (Some(held), _) => Some(format!(
            "{} was asked for already by {} ({}).",
            held.decision.label(),
            held.requested_by.display_name,
            held.state.label().to_lowercase()
        )),
        (None, None) => Some(dispute_core::providers::submission::not_sendable(
            dispute.provider,
        )),
        (None, Some(_)) => blocked_because(
            choice.decision(),
            (dispute.stage, dispute.status),
            dispute.deadline.filter(|_| choice != Choice::Outside),
            ready,
            jiff::Timestamp::now(),
        ),
    };
    let token = match blocked {
        Some(_) => None,
        None => Some(
            state
                .store
                .issue_confirm_token(
                    &dispute_store::Confirming {
                        dispute_id: dispute.id,
                        stage,
                        decision: choice.decision(),
                        outside: choice == Choice::Outside,
                        response_updated_at: response.as_ref().map(|r| r.updated_at),
                    },
                    analyst.id,
                )
                .await?,
        ),
    };
    let account = state
        .store
        .query_subject(dispute.id)
        .await?
        .and_then(|s| s.account_id);
    Ok(Some(DecideView {
        takes_summary: dispute_core::providers::profile(dispute.provider).takes_summary,
        sends_as: dispute_core::providers::submission::sends_as(dispute.provider),
        dispute,
        choice,
        stage,
        blocked,
        plan,
        account,
        response,
        files,
        token,
    }))
}

/// Revokes one of the links a provider fetches a sent response's files
/// from: it answers 410 from then on.
#[server(endpoint = "disputes/revoke-link")]
pub async fn revoke_link(dispute: i64, link: i64) -> Result<(), AppError> {
    let analyst = crate::auth::require(dispute_core::domain::Permission::WorkDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let Some(found) = state.store.dispute_by_id(dispute).await? else {
        return crate::flash::redirect("/disputes", Flash::error("There is no such dispute")).await;
    };
    let subject = format!("dispute {}/{}", found.connection_slug, found.dispute_ref);
    let actor = crate::auth::actor(Some(&analyst));
    let flash = match state
        .store
        .revoke_link(link, found.id, &actor, &subject)
        .await?
    {
        true => Flash::notice("The link is revoked: the provider can no longer fetch that file"),
        false => Flash::error("There is no such link, or it was revoked already"),
    };
    crate::flash::redirect(&crate::links::dispute(found.id), flash).await
}

/// What the outside form sent, kept for the page when it is refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutsideForm {
    pub when: String,
    pub method: String,
    pub sent: String,
    pub note: String,
}

/// Takes the decision confirmed on the page.
#[server(endpoint = "disputes/decide")]
pub async fn decide(
    dispute: i64,
    choice: String,
    token: String,
    #[server(default)] when: String,
    #[server(default)] method: String,
    #[server(default)] sent: String,
    #[server(default)] note: String,
) -> Result<(), AppError> {
    use dispute_store::{SubmitRefusal, SubmitRequest, Submitted};
    let analyst = crate::auth::require(dispute_core::domain::Permission::WorkDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let Some(choice) = Choice::parse(&choice) else {
        return Err(AppError::BadRequest("there is no such decision".into()));
    };
    let Some(found) = state.store.dispute_by_id(dispute).await? else {
        return crate::flash::redirect("/disputes", Flash::error("There is no such dispute")).await;
    };
    let page = crate::links::decide(found.id, choice.as_str());
    let typed = OutsideForm {
        when: when.clone(),
        method: method.clone(),
        sent: sent.clone(),
        note: note.clone(),
    };
    let outside = match choice {
        Choice::Outside => match outside(&when, &method, &sent, &note, &analyst.timezone) {
            Ok(outside) => Some(outside),
            Err(words) => {
                return crate::flash::redirect(&page, Flash::error(words).with_form(&typed)).await
            }
        },
        Choice::Defend | Choice::Accept => None,
    };
    let actor = crate::auth::actor(Some(&analyst));
    let subject = format!("dispute {}/{}", found.connection_slug, found.dispute_ref);
    let provider = found.provider.display_name();
    let submitted = state
        .store
        .submit(&SubmitRequest {
            dispute_id: found.id,
            decision: choice.decision(),
            token: &token,
            outside,
            actor: &actor,
            subject: &subject,
        })
        .await;
    let flash = match (submitted, choice) {
        (Ok(Submitted::Sending { .. }), Choice::Accept) => Flash::notice(format!(
            "Accepting the dispute through {provider}; the steps appear on the timeline"
        )),
        (Ok(Submitted::Sending { .. }), _) => Flash::notice(format!(
            "Sending the defence to {provider}; each step appears on the timeline as it completes"
        )),
        (Ok(Submitted::Recorded { .. }), Choice::Accept) => Flash::notice(format!(
            "Recorded: the dispute is accepted ({provider} has no call for it)"
        )),
        (Ok(Submitted::Recorded { .. }), _) => {
            Flash::notice("Recorded: the response was sent outside the desk")
        }
        (Err(SubmitRefusal::Store(e)), _) => return Err(e.into()),
        (Err(refusal), _) => {
            return crate::flash::redirect(
                &page,
                Flash::error(refusal.to_string()).with_form(&typed),
            )
            .await
        }
    };
    crate::flash::redirect(&crate::links::dispute(found.id), flash).await
}

/// A response sent outside the desk, read from the form (its time in the
/// analyst's zone), or why not.
fn outside(
    when: &str,
    method: &str,
    sent: &str,
    note: &str,
    zone: &dispute_core::domain::ZoneName,
) -> Result<dispute_store::Outside, String> {
    let at = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", when.trim())
        .ok()
        .and_then(|t| t.to_zoned(zone.zone()).ok())
        .map(|z| z.timestamp())
        .ok_or("Say when the response was sent")?;
    if at > jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5) {
        return Err("The time it was sent is in the future".into());
    }
    let method: OutsideMethod = method.parse().map_err(|_| "Say how it was sent")?;
    let OutsideWords { sent, note } = OutsideWords::parse(sent, note)?;
    Ok(dispute_store::Outside {
        at,
        method,
        sent,
        note,
    })
}

#[component]
pub fn DecidePage() -> impl IntoView {
    let (id, choice) = use_params_map().with_untracked(|p| {
        (
            p.get("id").and_then(|id| id.parse().ok()),
            p.get("choice").and_then(|c| Choice::parse(&c)),
        )
    });
    view! {
        <Suspense>
            {Suspend::new(async move {
                let (Some(id), Some(choice)) = (id, choice) else {
                    return view! { <crate::pages::not_found::NotFound /> }.into_any();
                };
                match get_decision(id, choice).await {
                    Ok(Some(found)) => view! { <DecideDetail found=found /> }.into_any(),
                    Ok(None) => view! { <crate::pages::not_found::NotFound /> }.into_any(),
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DecideDetail(found: DecideView) -> impl IntoView {
    let DecideView {
        dispute: d,
        choice,
        stage,
        blocked,
        plan,
        account,
        response,
        files,
        takes_summary,
        sends_as,
        token,
    } = found;
    let provider = d.provider.display_name();
    let stage_name = stage.label().to_lowercase();
    let title = match choice {
        Choice::Defend => format!("Defend the {stage_name}"),
        Choice::Accept => format!("Accept the {stage_name}"),
        Choice::Outside => "Record a response sent outside the desk".to_owned(),
    };
    let channel = plan.as_ref().map(|(c, _)| *c);
    let consequence = match (choice, channel) {
        (Choice::Defend, _) if d.provider == dispute_core::domain::ProviderKind::PayerMax => format!(
            "Dispute Desk will send the summary below to {provider} with a link to each file, which {provider} downloads itself; each link is signed, expires, and can be revoked from the dispute's page. This cannot be undone: once {provider} has the response it cannot be withdrawn or changed."
        ),
        (Choice::Defend, _) => format!(
            "Dispute Desk will send the files below to {provider}, then tell it to defend the dispute. This cannot be undone: once {provider} has the defence it cannot be withdrawn or changed."
        ),
        (Choice::Accept, Some(Channel::Provider)) => format!(
            "Dispute Desk will tell {provider} that you accept the {stage_name}: the amount is lost, and this cannot be undone."
        ),
        (Choice::Accept, _) if d.provider == dispute_core::domain::ProviderKind::PayerMax => format!(
            "PayerMax has no call to accept a dispute: Dispute Desk records that you accept it and sends nothing, and PayerMax closes the case as lost when its time to respond ends{}. This cannot be undone here.",
            d.deadline.map(|at| format!(" ({})", super::when(at))).unwrap_or_default()
        ),
        (Choice::Accept, _) => format!(
            "{provider} has no call to accept a dispute: Dispute Desk records that you accept it and sends nothing. Tell {provider} through its own channel if it needs to hear. This cannot be undone here."
        ),
        (Choice::Outside, _) => format!(
            "Dispute Desk records that the response was sent to {provider} outside the desk, as the merchant's action; nothing is sent from here. The dispute then waits for {provider}'s answer and no deadline counts."
        ),
    };
    let steps = plan.map(|(_, steps)| steps).unwrap_or_default();
    let summary = response
        .as_ref()
        .map(|r| r.summary.clone())
        .filter(|_| takes_summary && choice == Choice::Defend);
    let typed = crate::flash::current()
        .and_then(|f| f.form::<OutsideForm>())
        .unwrap_or_default();
    let facts = view! {
        <dl class="facts">
            <dt>"Dispute"</dt>
            <dd><a href=crate::links::dispute(d.id)>{shown(&d.dispute_ref)}</a></dd>
            <dt>"Provider"</dt>
            <dd>{provider}</dd>
            <dt>"Connection and account"</dt>
            <dd>
                <code>{shown(&d.connection_slug)}</code>
                {account.map(|a| view! { " · account " <code>{shown(&a)}</code> })}
            </dd>
            <dt>"Amount"</dt>
            <dd>{super::money(d.amount.as_ref())}</dd>
            <dt>"Respond by"</dt>
            <dd>{d.deadline.map_or_else(|| "no deadline known".to_owned(), super::when)}</dd>
        </dl>
    };
    let files_table = (choice != Choice::Accept).then(|| {
        let total: u64 = files.iter().map(|f| f.size).sum();
        view! {
            <h2>{match choice { Choice::Outside => "The response's files", _ => "The files that will be sent" }}</h2>
            {match files.is_empty() {
                true => view! { <p>"No files."</p> }.into_any(),
                false => view! {
                    <DataTable>
                        <thead><tr><th>"File"</th><th>"Document"</th><th>"Format"</th><th>"Size"</th></tr></thead>
                        <tbody>
                            {files.into_iter().map(|f| {
                                let converted = (choice == Choice::Defend && !sends_as.is_empty() && !sends_as.contains(&f.format))
                                    .then_some(" (sent as JPEG)");
                                view! {
                                    <tr>
                                        <td>{shown(&f.name)}</td>
                                        <td>{f.document.label()}</td>
                                        <td>{f.format.label()}{converted}</td>
                                        <td>{size_text(f.size)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </DataTable>
                    <p>{format!("{} in all", size_text(total))}</p>
                }.into_any(),
            }}
        }
    });
    let form = token.map(|token| {
        let button = match choice {
            Choice::Defend => format!("Send the defence to {provider}"),
            Choice::Accept => format!("Accept the {stage_name}"),
            Choice::Outside => "Record the response".to_owned(),
        };
        let now = jiff::Timestamp::now().to_zoned(super::viewer_zone());
        let when = match typed.when.is_empty() {
            true => now.strftime("%Y-%m-%dT%H:%M").to_string(),
            false => typed.when.clone(),
        };
        view! {
            <form method="post" action=Decide::PATH class="decide">
                <input type="hidden" name="dispute" value=d.id />
                <input type="hidden" name="choice" value=choice.as_str() />
                <input type="hidden" name="token" value=token />
                {(choice == Choice::Outside).then(|| view! {
                    <label>"When it was sent (your time)"
                        <input type="datetime-local" name="when" value=when required />
                    </label>
                    <label>"How"
                        <select name="method" required>
                            {OutsideMethod::ALL.iter().map(|m| view! {
                                <option value=m.as_str() selected=typed.method == m.as_str()>{m.label()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>"What was sent (the packet, which files)"
                        <input type="text" name="sent" maxlength=MAX_OUTSIDE_SENT value=typed.sent.clone() required />
                    </label>
                    <label>"Note"
                        <TextArea name="note" value=typed.note.clone() />
                    </label>
                })}
                <button type="submit" class="primary">{button}</button>
                " "
                <a href=crate::links::dispute(d.id)>"Cancel"</a>
            </form>
        }
    });
    view! {
        <PageHeading title=title.clone() />
        <section class="panel decide-panel">
            {facts}
            <p class="consequence"><strong>{consequence}</strong></p>
            {blocked.map(|why| view! { <p class="error" role="alert">{why}</p> })}
            {files_table}
            {summary.map(|s| view! {
                <h2>"The summary"</h2>
                <p class="note">{shown(&s)}</p>
            })}
            {(!steps.is_empty()).then(|| view! {
                <h2>{format!("The calls to {provider}, in order")}</h2>
                <ol>{steps.iter().map(|s| view! { <li>{s.label()}</li> }).collect_view()}</ol>
            })}
            {form}
        </section>
    }
}
