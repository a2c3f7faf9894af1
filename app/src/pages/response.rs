//! One response to a dispute's stage: the checklist it is held to and
//! whether each item is met, its evidence files with the form that adds
//! more (a plain multipart form, streamed by the server's own route), its
//! letter and summary, making it ready (or back to a draft), and its packet
//! as a download. A response is read-only once it is ready, sent, or its
//! dispute has moved on or been decided; the page says which.

use dispute_core::domain::evidence::{
    not_ready_because, size_text, ChecklistItem, ChecklistSource, DocumentKind, EvidenceLimits,
    FileKind, Letter, Requirement, ResponseState, Summary, MAX_SUMMARY,
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::{shown, DataTable, Empty, PageHeading, TextArea, Time};
use crate::{auth::CurrentUser, error::AppError, flash::Flash};
use dispute_store::{DisputeRecord, EvidenceFile, ResponseRecord};

/// Everything the response page shows.
pub struct ResponseView {
    pub response: ResponseRecord,
    pub dispute: DisputeRecord,
    pub files: Vec<EvidenceFile>,
    pub items: Vec<ChecklistItem>,
    pub source: ChecklistSource,
    /// Why it cannot change now, if it cannot.
    pub read_only: Option<String>,
    pub takes_summary: bool,
    /// The provider can say what the response needs.
    pub lists_needs: bool,
    /// A question to the provider about it is waiting or under way.
    pub asking: bool,
    /// When the provider was last asked what it needs, and what came of it.
    pub last_asked: Option<(jiff::Timestamp, String)>,
    pub accepted: &'static [FileKind],
    pub limits: EvidenceLimits,
    pub viewer: CurrentUser,
}

pub async fn get_response(id: i64) -> Result<Option<ResponseView>, AppError> {
    let viewer = crate::auth::require(dispute_core::domain::Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let Some(found) = state.store.response(id).await? else {
        return Ok(None);
    };
    // Whether a question is under way is read before the response (and its
    // checklist): read after, an answer recorded in between would be
    // neither shown nor said to be coming.
    let asking = state
        .store
        .job_pending(dispute_core::domain::JobKind::Checklist, found.dispute_id)
        .await?;
    let Some(response) = state.store.response(found.id).await? else {
        return Ok(None);
    };
    let last_asked = state.store.last_checklist_answer(response.id).await?;
    let Some(dispute) = state.store.dispute_by_id(response.dispute_id).await? else {
        return Ok(None);
    };
    let files = state.store.evidence_files(response.id).await?;
    let (needs, source) = dispute_workflows::responses::needs(&response, &dispute);
    let items = dispute_workflows::responses::items(&needs, &files);
    let profile = dispute_core::providers::profile(dispute.provider);
    Ok(Some(ResponseView {
        read_only: dispute_core::domain::evidence::read_only_because(
            response.state,
            response.stage,
            (dispute.stage, dispute.status),
        ),
        takes_summary: profile.takes_summary,
        lists_needs: profile.lists_needs,
        asking,
        last_asked,
        accepted: profile.evidence_types,
        limits: state.evidence,
        response,
        dispute,
        files,
        items,
        source,
        viewer,
    }))
}

/// What a form works on: the response it names, its dispute, the analyst
/// changing it, and the page to come back to.
struct Target {
    response: ResponseRecord,
    dispute: DisputeRecord,
    actor: dispute_store::Actor,
    page: String,
    state: crate::state::AppState,
}

/// The form's target; `None` when there is no such response.
async fn target(response: i64) -> Result<Option<Target>, AppError> {
    let analyst = crate::auth::require(dispute_core::domain::Permission::WorkDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let Some(found) = state.store.response(response).await? else {
        return Ok(None);
    };
    let Some(dispute) = state.store.dispute_by_id(found.dispute_id).await? else {
        return Ok(None);
    };
    Ok(Some(Target {
        page: crate::links::response(found.id),
        actor: crate::auth::actor(Some(&analyst)),
        response: found,
        dispute,
        state,
    }))
}

async fn no_such_response() -> Result<(), AppError> {
    crate::flash::redirect("/disputes", Flash::error("There is no such response")).await
}

fn subject(d: &DisputeRecord) -> String {
    format!("dispute {}/{}", d.connection_slug, d.dispute_ref)
}

/// Words for a refusal from the store.
async fn refused(page: &str, refusal: dispute_store::ResponseRefusal) -> Result<(), AppError> {
    use dispute_store::ResponseRefusal::*;
    let message = match refusal {
        NoResponse => "There is no such response or file".to_owned(),
        ReadOnly(why) => why,
        NotIn(state) => format!("The response is {} already", state.label().to_lowercase()),
        Duplicate(name) => format!("The same file is attached already as {name}"),
        Full { .. } => "The response's files are over their limit".to_owned(),
        Store(e) => return Err(e.into()),
    };
    crate::flash::redirect(page, Flash::error(message)).await
}

#[server(endpoint = "responses/prepare")]
pub async fn prepare_response(dispute: i64) -> Result<(), AppError> {
    use dispute_store::Prepared;
    let analyst = crate::auth::require(dispute_core::domain::Permission::WorkDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let Some(dispute) = state.store.dispute_by_id(dispute).await? else {
        return crate::flash::redirect("/disputes", Flash::error("There is no such dispute")).await;
    };
    if let Some(status) = dispute.status.filter(|s| s.is_final()) {
        return crate::flash::redirect(
            &crate::links::dispute(dispute.id),
            Flash::error(format!(
                "The dispute is decided ({}); there is nothing to respond to",
                status.label().to_lowercase()
            )),
        )
        .await;
    }
    let actor = crate::auth::actor(Some(&analyst));
    match dispute_workflows::responses::prepare(&state.store, &dispute, &actor, &subject(&dispute))
        .await?
    {
        Prepared::Made(id) => {
            crate::flash::redirect(
                &crate::links::response(id),
                Flash::notice("A draft response is ready for its evidence and letter"),
            )
            .await
        }
        Prepared::Existing(id) => {
            crate::flash::redirect(
                &crate::links::response(id),
                Flash::notice("This stage has a response already; here it is"),
            )
            .await
        }
        Prepared::NoSuchDispute => {
            crate::flash::redirect("/disputes", Flash::error("There is no such dispute")).await
        }
        Prepared::NoStage => {
            crate::flash::redirect(
                &crate::links::dispute(dispute.id),
                Flash::error("The provider has not said what stage the dispute is at yet"),
            )
            .await
        }
    }
}

/// What the letter form sent, kept for the page when it is refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextForm {
    pub letter: String,
    pub summary: String,
}

#[server(endpoint = "responses/text")]
pub async fn save_response_text(
    response: i64,
    letter: String,
    #[server(default)] summary: String,
) -> Result<(), AppError> {
    let Some(Target {
        response,
        dispute,
        actor,
        page,
        state,
    }) = target(response).await?
    else {
        return no_such_response().await;
    };
    let typed = TextForm {
        letter: letter.clone(),
        summary: summary.clone(),
    };
    let parsed = Letter::parse(&letter).and_then(|l| Ok((l, Summary::parse(&summary)?)));
    let (letter, summary) = match parsed {
        Ok(both) => both,
        Err(e) => {
            let mut words = e.0;
            if let Some(first) = words.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            return crate::flash::redirect(&page, Flash::error(words).with_form(&typed)).await;
        }
    };
    match state
        .store
        .save_response_text(response.id, &letter, &summary, &actor, &subject(&dispute))
        .await
    {
        Ok(()) => crate::flash::redirect(&page, Flash::notice("Letter and summary saved")).await,
        Err(dispute_store::ResponseRefusal::ReadOnly(why)) => {
            crate::flash::redirect(&page, Flash::error(why).with_form(&typed)).await
        }
        Err(other) => refused(&page, other).await,
    }
}

#[server(endpoint = "responses/ready")]
pub async fn mark_ready(response: i64) -> Result<(), AppError> {
    let Some(Target {
        response,
        dispute,
        actor,
        page,
        state,
    }) = target(response).await?
    else {
        return no_such_response().await;
    };
    match dispute_workflows::responses::make_ready(
        &state.store,
        &response,
        &dispute,
        &actor,
        &subject(&dispute),
    )
    .await
    {
        Ok(()) => {
            crate::flash::redirect(&page, Flash::notice("The response is ready to send")).await
        }
        Err(refusal) => refused(&page, refusal).await,
    }
}

#[server(endpoint = "responses/draft")]
pub async fn back_to_draft(response: i64) -> Result<(), AppError> {
    let Some(Target {
        response,
        dispute,
        actor,
        page,
        state,
    }) = target(response).await?
    else {
        return no_such_response().await;
    };
    match state
        .store
        .move_response(
            response.id,
            ResponseState::Ready,
            ResponseState::Draft,
            |_, _| None,
            &actor,
            &subject(&dispute),
        )
        .await
    {
        Ok(()) => {
            crate::flash::redirect(&page, Flash::notice("The response is a draft again")).await
        }
        Err(refusal) => refused(&page, refusal).await,
    }
}

/// Asks the provider, in a job, what the response needs.
#[server(endpoint = "responses/checklist")]
pub async fn ask_checklist(response: i64) -> Result<(), AppError> {
    let Some(Target {
        response,
        dispute,
        actor,
        page,
        state,
    }) = target(response).await?
    else {
        return no_such_response().await;
    };
    let provider = dispute.provider.display_name();
    if let Some(why) = dispute_core::domain::evidence::read_only_because(
        response.state,
        response.stage,
        (dispute.stage, dispute.status),
    ) {
        return crate::flash::redirect(&page, Flash::error(why)).await;
    }
    if !dispute_core::providers::profile(dispute.provider).lists_needs {
        return crate::flash::redirect(
            &page,
            Flash::error(format!("{provider} does not say what a response needs")),
        )
        .await;
    }
    let flash = match state.store.request_checklist(&response, &actor).await? {
        true => Flash::notice(format!("Asking {provider} what the response needs")),
        false => Flash::notice(format!("{provider} is being asked already")),
    };
    crate::flash::redirect(&page, flash).await
}

#[server(endpoint = "responses/remove-file")]
pub async fn remove_evidence(response: i64, file: i64) -> Result<(), AppError> {
    let Some(Target {
        response,
        dispute,
        actor,
        page,
        state,
    }) = target(response).await?
    else {
        return no_such_response().await;
    };
    let belongs = state
        .store
        .evidence_file(file)
        .await?
        .is_some_and(|f| f.response_id == response.id);
    if !belongs {
        return crate::flash::redirect(&page, Flash::error("There is no such file")).await;
    }
    match state
        .store
        .remove_evidence(file, &actor, &subject(&dispute))
        .await
    {
        Ok(removed) => {
            crate::flash::redirect(&page, Flash::notice(format!("Removed {}", removed.name))).await
        }
        Err(refusal) => refused(&page, refusal).await,
    }
}

#[component]
pub fn ResponsePage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").and_then(|id| id.parse().ok()));
    view! {
        <Suspense>
            {Suspend::new(async move {
                let Some(id) = id else {
                    return view! { <crate::pages::not_found::NotFound /> }.into_any();
                };
                match get_response(id).await {
                    Ok(Some(found)) => view! { <ResponseDetail found=found /> }.into_any(),
                    Ok(None) => view! { <crate::pages::not_found::NotFound /> }.into_any(),
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ResponseDetail(found: ResponseView) -> impl IntoView {
    let ResponseView {
        response: r,
        dispute: d,
        files,
        items,
        source,
        read_only,
        takes_summary,
        lists_needs,
        asking,
        last_asked,
        accepted,
        limits,
        viewer,
    } = found;
    let may_work = viewer
        .role
        .may(dispute_core::domain::Permission::WorkDisputes);
    let editable = may_work && read_only.is_none();
    let typed = crate::flash::current().and_then(|f| f.form::<TextForm>());
    let (letter, summary) = typed.map_or_else(
        || (r.letter.clone(), r.summary.clone()),
        |t| (t.letter, t.summary),
    );
    let blockers = (r.state == ResponseState::Draft).then(|| {
        not_ready_because(
            &items,
            &Letter::parse(&r.letter).unwrap_or_default(),
            &Summary::parse(&r.summary).unwrap_or_default(),
            takes_summary,
        )
    });
    let source_words = match source {
        ChecklistSource::Provider(at) => view! {
            {format!("What {} said this dispute needs, when asked ", d.provider.display_name())}
            <Time at=at />
            "."
        }
        .into_any(),
        ChecklistSource::Table(_) => view! {
            {format!(
                "{} does not say what a dispute needs, so this is the desk's list for {} disputes, from the card networks' guides.",
                d.provider.display_name(),
                source.to_string().trim_start_matches("the desk's list for "),
            )}
        }
        .into_any(),
    };
    let missing: Vec<DocumentKind> = items
        .iter()
        .filter(|i| !i.satisfied)
        .map(|i| i.need.document)
        .collect();
    view! {
        <PageHeading title=format!("Response to dispute {}", d.dispute_ref) />
        <p class="back-link">
            <a href=crate::links::dispute(d.id)>{format!("Back to dispute {}", shown(&d.dispute_ref))}</a>
        </p>
        <section class="panel response-summary" aria-label="Where the response stands">
            <span class="badge">{r.stage.label()}</span>
            " "
            <span class=format!("badge response-{}", r.state.as_str())>{r.state.label()}</span>
            " "
            {format!("Prepared by {}, last changed ", r.created_by.display_name)}
            <Time at=r.updated_at />
        </section>
        {read_only.clone().map(|why| view! { <p class="panel guidance" role="note">{why}</p> })}
        <h2>"What the response needs"</h2>
        <p class="secondary-text">{source_words}</p>
        {last_asked.map(|(at, said)| view! {
            <p class="secondary-text">"Last asked " <Time at=at /> ": " {said}</p>
        })}
        {match (asking, lists_needs && may_work && read_only.is_none()) {
            // No refreshing by itself: it would throw away a letter being
            // typed further down.
            (true, _) => view! {
                <p role="status">
                    {format!("Asking {} what the response needs… ", d.provider.display_name())}
                    <a href=crate::links::response(r.id)>"Show the answer"</a>
                </p>
            }
            .into_any(),
            (false, true) => view! {
                <form class="inline" method="post" action=AskChecklist::PATH>
                    <input type="hidden" name="response" value=r.id />
                    <button type="submit" class="secondary">
                        {format!("Ask {} what it needs", d.provider.display_name())}
                    </button>
                </form>
            }
            .into_any(),
            (false, false) => ().into_any(),
        }}
        <Checklist items=items.clone() />
        <h2>"Evidence"</h2>
        <Files files=files.clone() response=r.id editable=editable />
        {editable.then(|| view! {
            <UploadForm response=r.id accepted=accepted limits=limits missing=missing.clone() />
        })}
        <h2>"Letter"</h2>
        {if editable {
            view! {
                <form method="post" action=SaveResponseText::PATH class="form letter-form">
                    <input type="hidden" name="response" value=r.id />
                    <label>
                        "The letter that opens the packet (filled from the dispute; edit freely)"
                        <TextArea name="letter" value=letter.clone() />
                    </label>
                    {match dispute_workflows::packet::unshown(&letter) {
                        0 => None,
                        n => Some(view! {
                            <p class="guidance" role="note">
                                {format!(
                                    "The packet's cover is set in a standard PDF font, which has Latin letters only: {n} characters of this letter will read as ? there. Write the letter in English, or attach it as a PDF exhibit."
                                )}
                            </p>
                        }),
                    }}
                    {takes_summary.then(|| {
                        let count = summary.chars().count();
                        view! {
                            <label>
                                {format!(
                                    "Summary for {} (at most {MAX_SUMMARY} characters; now {count})",
                                    d.provider.display_name(),
                                )}
                                <input type="text" name="summary" value=summary.clone() />
                            </label>
                        }
                    })}
                    <button type="submit">"Save letter"</button>
                </form>
            }
            .into_any()
        } else {
            view! {
                <pre class="letter">{r.letter.clone()}</pre>
                {(takes_summary && !r.summary.is_empty()).then(|| view! {
                    <p>"Summary: "{r.summary.clone()}</p>
                })}
            }
            .into_any()
        }}
        <h2>"Packet"</h2>
        <p>
            "One PDF: a cover with the dispute's facts, the letter and the list of exhibits, then every PDF and picture in the order above. "
            {format!(
                "At most {} and {} pages; pictures are made smaller to fit.",
                size_text(limits.packet_bytes),
                limits.packet_pages
            )}
        </p>
        <p>
            <a class="button secondary" href=crate::links::packet(r.id) download>"Download the packet (PDF)"</a>
        </p>
        {may_work.then(|| view! {
            <StateActions
                response=r.id
                state=r.state
                blockers=blockers.clone().unwrap_or_default()
                read_only=read_only.clone()
            />
        })}
    }
}

#[component]
fn Checklist(items: Vec<ChecklistItem>) -> impl IntoView {
    if items.is_empty() {
        return view! { <Empty>"Nothing is listed for this kind of dispute."</Empty> }.into_any();
    }
    view! {
        <DataTable class="checklist">
            <thead>
                <tr>
                    <th scope="col">"Document"</th>
                    <th scope="col">"Needed"</th>
                    <th scope="col">"What it proves"</th>
                    <th scope="col">"Attached"</th>
                </tr>
            </thead>
            <tbody>
                {items
                    .into_iter()
                    .map(|item| {
                        let (class, said) = match (item.satisfied, item.need.requirement) {
                            (true, _) => ("badge ok", "satisfied"),
                            (false, Requirement::Mandatory) => ("badge warn", "missing"),
                            (false, _) => ("badge", "not attached"),
                        };
                        view! {
                            <tr>
                                <td>{item.need.document.label()}</td>
                                <td>{item.need.requirement.label()}</td>
                                <td>{item.need.proves.clone()}</td>
                                <td><span class=class>{said}</span></td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
    .into_any()
}

#[component]
fn Files(files: Vec<EvidenceFile>, response: i64, editable: bool) -> impl IntoView {
    if files.is_empty() {
        return view! { <Empty>"No evidence yet."</Empty> }.into_any();
    }
    view! {
        <DataTable class="evidence">
            <thead>
                <tr>
                    <th scope="col">"Exhibit"</th>
                    <th scope="col">"File"</th>
                    <th scope="col">"What it is"</th>
                    <th scope="col">"Format"</th>
                    <th scope="col">"Size"</th>
                    <th scope="col">"Pages"</th>
                    <th scope="col">"Added"</th>
                    {editable.then(|| view! { <th scope="col"><span class="visually-hidden">"Remove"</span></th> })}
                </tr>
            </thead>
            <tbody>
                {files
                    .into_iter()
                    .scan(0, |exhibits, f| {
                        // Numbered as the packet numbers them: only what it
                        // shows.
                        let number = f.format.goes_in_packet().then(|| {
                            *exhibits += 1;
                            *exhibits
                        });
                        Some((number, f))
                    })
                    .map(|(number, f)| {
                        view! {
                            <tr>
                                <td>{number.map_or_else(|| "sent as it is".to_owned(), |n| n.to_string())}</td>
                                <td class="truncate" title=f.name.clone()>
                                    <a href=crate::links::evidence(f.id) download>{f.name.clone()}</a>
                                </td>
                                <td>{f.document.label()}</td>
                                <td>{f.format.label()}</td>
                                <td class="nowrap">{size_text(f.size)}</td>
                                <td>{f.pages.map(|p| p.to_string()).unwrap_or_default()}</td>
                                <td class="nowrap">
                                    {f.uploaded_by.display_name.clone()}", "<Time at=f.uploaded_at />
                                </td>
                                {editable.then(|| view! {
                                    <td>
                                        <form method="post" action=RemoveEvidence::PATH>
                                            <input type="hidden" name="response" value=response />
                                            <input type="hidden" name="file" value=f.id />
                                            <button type="submit" class="link">
                                                "Remove"
                                                <span class="visually-hidden">{format!(" {}", f.name)}</span>
                                            </button>
                                        </form>
                                    </td>
                                })}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
    .into_any()
}

/// Up to three files at once, each with what it is; the rows start on
/// what the checklist still misses.
#[component]
fn UploadForm(
    response: i64,
    accepted: &'static [FileKind],
    limits: EvidenceLimits,
    missing: Vec<DocumentKind>,
) -> impl IntoView {
    let formats = accepted
        .iter()
        .map(|k| k.label())
        .collect::<Vec<_>>()
        .join(", ");
    let rows = (1..=3).map(|n| {
        let chosen = missing.get(n - 1).copied().unwrap_or(DocumentKind::Other);
        view! {
            <div class="upload-row">
                <label>
                    {format!("File {n} is")}
                    <select name=format!("document_{n}")>
                        {DocumentKind::ALL
                            .iter()
                            .map(|kind| view! {
                                <option value=kind.as_str() selected=*kind == chosen>{kind.label()}</option>
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    <span class="visually-hidden">{format!("File {n}")}</span>
                    <input type="file" name=format!("file_{n}") />
                </label>
            </div>
        }
    });
    view! {
        <form
            method="post"
            action=crate::links::response_files(response)
            enctype="multipart/form-data"
            class="form upload"
        >
            {rows.collect_view()}
            <p class="secondary-text">
                {format!(
                    "{formats}; each up to {}, {} in all. A file's format is read from its content, not its name.",
                    size_text(limits.file_bytes),
                    size_text(limits.response_bytes),
                )}
            </p>
            <button type="submit">"Add files"</button>
        </form>
    }
}

#[component]
fn StateActions(
    response: i64,
    state: ResponseState,
    blockers: Vec<String>,
    read_only: Option<String>,
) -> impl IntoView {
    match state {
        ResponseState::Draft if read_only.is_none() => view! {
            <h2>"Ready to send?"</h2>
            {(!blockers.is_empty()).then(|| view! {
                <div class="panel guidance">
                    <p>"Before it can be marked ready:"</p>
                    <ul>{blockers.into_iter().map(|b| view! { <li>{b}</li> }).collect_view()}</ul>
                </div>
            })}
            <form method="post" action=MarkReady::PATH>
                <input type="hidden" name="response" value=response />
                <button type="submit" class="secondary">"Mark ready to send"</button>
            </form>
        }
        .into_any(),
        ResponseState::Ready => view! {
            <h2>"Ready to send"</h2>
            <p>"Sending it through the provider comes next; until then it can be changed again."</p>
            <form method="post" action=BackToDraft::PATH>
                <input type="hidden" name="response" value=response />
                <button type="submit" class="secondary">"Back to draft"</button>
            </form>
        }
        .into_any(),
        _ => ().into_any(),
    }
}
