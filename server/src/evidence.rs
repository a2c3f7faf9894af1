//! Evidence over HTTP, behind the guard like the pages (each handler
//! checking the role again): `POST /responses/{id}/files`, a plain
//! multipart form of up to `FILES_PER_FORM` files, each streamed into the
//! store as it arrives (never read whole) and answered with a redirect to
//! the response's page saying what was kept and what was refused and why;
//! `GET /evidence/{id}`, a file as an attachment (never shown inline);
//! `GET /responses/{id}/packet.pdf`, the response's packet.

use app::{
    auth::CurrentUser,
    flash::{self, Flash},
    state::AppState,
};
use axum::{
    body::Body,
    extract::{multipart::MultipartError, DefaultBodyLimit, Multipart, Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Extension, Router,
};
use dispute_core::{
    domain::{
        evidence::{safe_name, DocumentKind, FileKind},
        Permission,
    },
    providers,
};
use dispute_store::{DisputeRecord, ResponseRecord};
use dispute_workflows::{
    evidence::{EvidenceRefusal, EvidenceRules, IncomingFile},
    packet::PacketRefusal,
    responses::PacketError,
};
use futures::StreamExt;
use tower_sessions::Session;

use crate::error_page::{error_page, error_page_saying};

/// How long an upload or a packet may take: a full form of files over a
/// slow line, or a packet of photos waiting its turn to be built.
pub const TIME: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// File fields one upload form has (`document_1`/`file_1` …).
pub const FILES_PER_FORM: usize = 3;

pub fn router(state: AppState) -> Router {
    // The body may hold a full form of files at the file limit, with room
    // for the multipart framing and the other fields.
    let body_limit = usize::try_from(state.evidence.file_bytes)
        .unwrap_or(usize::MAX)
        .saturating_mul(FILES_PER_FORM)
        .saturating_add(1024 * 1024);
    Router::new()
        .route(
            "/responses/{id}/files",
            post(upload).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/responses/{id}/packet.pdf", get(packet))
        .route("/evidence/{id}", get(download))
        .with_state(state)
}

fn allowed(user: Option<&Extension<CurrentUser>>, permission: Permission) -> bool {
    user.is_some_and(|Extension(u)| u.role.may(permission))
}

/// The response and its dispute, or the page to answer with.
async fn response_and_dispute(
    state: &AppState,
    id: &str,
) -> Result<(ResponseRecord, DisputeRecord), Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(error_page(StatusCode::NOT_FOUND));
    };
    let found = async {
        let Some(response) = state.store.response(id).await? else {
            return Ok(None);
        };
        Ok::<_, dispute_store::StoreError>(
            state
                .store
                .dispute_by_id(response.dispute_id)
                .await?
                .map(|d| (response, d)),
        )
    };
    match found.await {
        Ok(Some(both)) => Ok(both),
        Ok(None) => Err(error_page(StatusCode::NOT_FOUND)),
        Err(e) => {
            tracing::error!(error = %dispute_workflows::chain(&e), "a response could not be read");
            Err(error_page(StatusCode::SERVICE_UNAVAILABLE))
        }
    }
}

/// What one upload did to each file, for the page it returns to.
#[derive(Default)]
struct Outcomes {
    kept: Vec<String>,
    refused: Vec<String>,
}

impl Outcomes {
    fn flash(self) -> Option<Flash> {
        let kept = (!self.kept.is_empty()).then(|| format!("Added {}.", self.kept.join(", ")));
        match (kept, self.refused.is_empty()) {
            (None, true) => None,
            (Some(kept), true) => Some(Flash::notice(kept)),
            (kept, false) => {
                let mut words: Vec<String> = kept.into_iter().collect();
                words.extend(self.refused);
                Some(Flash::error(words.join(" ")))
            }
        }
    }
}

async fn upload(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    session: Session,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    if !allowed(user.as_ref(), Permission::WorkDisputes) {
        return error_page(StatusCode::FORBIDDEN);
    }
    let Some(Extension(user)) = user else {
        return error_page(StatusCode::FORBIDDEN);
    };
    let (response, dispute) = match response_and_dispute(&state, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Ok(mut multipart) = multipart else {
        return error_page_saying(
            StatusCode::BAD_REQUEST,
            "The upload could not be read",
            "Send the files with the form on the response's page.",
        );
    };
    let rules = EvidenceRules {
        limits: state.evidence,
        accepted: providers::profile(dispute.provider).evidence_types,
    };
    let actor = app::auth::actor(Some(&user));
    let subject = format!(
        "dispute {}/{}",
        dispute.connection_slug, dispute.dispute_ref
    );
    let mut documents: [Option<DocumentKind>; FILES_PER_FORM] = [None; FILES_PER_FORM];
    let mut outcomes = Outcomes::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return unreadable(e, outcomes, &session).await,
        };
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(slot) = slot(&name, "document_") {
            let text = match field.text().await {
                Ok(text) => text,
                Err(e) => return unreadable(e, outcomes, &session).await,
            };
            documents[slot] = text.parse().ok();
            continue;
        }
        let Some(slot) = slot(&name, "file_") else {
            continue;
        };
        let sent_name = field.file_name().unwrap_or_default().to_owned();
        let mut field = field;
        let first = match field.chunk().await {
            Ok(first) => first,
            Err(e) => return unreadable(e, outcomes, &session).await,
        };
        // A row of the form left empty sends a part with no name and no
        // bytes.
        if sent_name.is_empty() && first.as_ref().is_none_or(|b| b.is_empty()) {
            continue;
        }
        let Some(document) = documents[slot] else {
            outcomes.refused.push(format!(
                "{}: choose what the file is before sending it.",
                dispute_core::domain::evidence::display_name(&sent_name)
            ));
            if let Err(e) = drain(&mut field).await {
                return unreadable(e, outcomes, &session).await;
            }
            continue;
        };
        let taken = async {
            let mut incoming =
                IncomingFile::start(&state.store, response.id, document, &sent_name, rules)?;
            let mut next = first;
            while let Some(bytes) = next {
                incoming.push(&bytes).await?;
                next = field.chunk().await.map_err(Interrupted::Body)?;
            }
            Ok::<_, Interrupted>(incoming.finish(&actor, &subject).await?)
        };
        match taken.await {
            Ok(file) => outcomes.kept.push(file.name),
            Err(Interrupted::Body(e)) => return unreadable(e, outcomes, &session).await,
            Err(Interrupted::Refused(EvidenceRefusal::Store(e))) => {
                tracing::error!(error = %dispute_workflows::chain(&e), "an evidence file could not be kept");
                outcomes.refused.push(format!(
                    "{} could not be kept: the database is unavailable; send it again in a moment.",
                    dispute_core::domain::evidence::display_name(&sent_name)
                ));
                if let Err(e) = drain(&mut field).await {
                    return unreadable(e, outcomes, &session).await;
                }
            }
            Err(Interrupted::Refused(refusal)) => {
                outcomes.refused.push(refusal.to_string());
                // The rest of a refused file is read and dropped, so the
                // browser gets the answer rather than a closed connection.
                if let Err(e) = drain(&mut field).await {
                    return unreadable(e, outcomes, &session).await;
                }
            }
        }
    }
    let flash = outcomes
        .flash()
        .unwrap_or_else(|| Flash::error("Choose a file to add first."));
    back_to(&session, response.id, flash).await
}

/// Why taking one file stopped.
enum Interrupted {
    Refused(EvidenceRefusal),
    Body(MultipartError),
}

impl From<EvidenceRefusal> for Interrupted {
    fn from(e: EvidenceRefusal) -> Self {
        Interrupted::Refused(e)
    }
}

/// `file_2` → slot 1, for fields named `prefix` and a number within the
/// form's rows.
fn slot(name: &str, prefix: &str) -> Option<usize> {
    let n: usize = name.strip_prefix(prefix)?.parse().ok()?;
    (1..=FILES_PER_FORM).contains(&n).then(|| n - 1)
}

async fn drain(field: &mut axum::extract::multipart::Field<'_>) -> Result<(), MultipartError> {
    while field.chunk().await?.is_some() {}
    Ok(())
}

/// The body stopped being a readable form (too large for any form, cut
/// off, not multipart): what was kept before stays, and the answer says
/// so.
async fn unreadable(e: MultipartError, outcomes: Outcomes, session: &Session) -> Response {
    let (status, words) = match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "The upload is larger than a form of files may be; send fewer or smaller files.",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            "The upload ended early or is not the form the response's page sends; send the files again from that page.",
        ),
    };
    if let Some(flash) = outcomes.flash() {
        if let Err(e) = flash::put(session, flash).await {
            tracing::warn!(error = ?e, "cannot keep the upload's outcome for the page");
        }
    }
    error_page_saying(status, "The upload could not be read", words)
}

async fn back_to(session: &Session, response: i64, flash: Flash) -> Response {
    if let Err(e) = flash::put(session, flash).await {
        tracing::warn!(error = ?e, "cannot keep the upload's outcome for the page");
    }
    Redirect::to(&app::links::response(response)).into_response()
}

/// An attachment's headers: a safe ASCII name, and the person's own name
/// for browsers that read `filename*`.
fn attachment(safe: &str, shown: &str) -> String {
    format!(
        "attachment; filename=\"{safe}\"; filename*=UTF-8''{}",
        urlencoding::encode(shown)
    )
}

async fn download(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(id): Path<String>,
) -> Response {
    if !allowed(user.as_ref(), Permission::ReadDisputes) {
        return error_page(StatusCode::FORBIDDEN);
    }
    let Ok(id) = id.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND);
    };
    let file = match state.store.evidence_file(id).await {
        Ok(Some(file)) => file,
        Ok(None) => return error_page(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %dispute_workflows::chain(&e), "an evidence file could not be read");
            return error_page(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let body = state.store.evidence_bytes(file.id).map(|chunk| {
        chunk.inspect_err(|e| {
            tracing::error!(error = %dispute_workflows::chain(e), "an evidence download stopped part-way");
        })
    });
    (
        [
            (header::CONTENT_TYPE, file.format.content_type().to_owned()),
            (header::CONTENT_LENGTH, file.size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                attachment(&file.safe_name, &file.name),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

async fn packet(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(id): Path<String>,
) -> Response {
    if !allowed(user.as_ref(), Permission::ReadDisputes) {
        return error_page(StatusCode::FORBIDDEN);
    }
    let (response, dispute) = match response_and_dispute(&state, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let built = dispute_workflows::responses::packet(
        &state.store,
        &state.packets,
        &response,
        &dispute,
        state.evidence,
    )
    .await;
    match built {
        Ok(packet) => {
            let name = safe_name(&format!("packet {}", dispute.dispute_ref), FileKind::Pdf);
            (
                [
                    (header::CONTENT_TYPE, "application/pdf".to_owned()),
                    (header::CONTENT_DISPOSITION, attachment(&name, &name)),
                ],
                packet.bytes,
            )
                .into_response()
        }
        Err(PacketError::Refused(refusal @ PacketRefusal::Failed(_))) => {
            tracing::error!(error = %refusal, "a packet could not be built");
            error_page(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Err(PacketError::Refused(refusal)) => error_page_saying(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The packet cannot be made",
            &refusal.to_string(),
        ),
        Err(PacketError::Store(e)) => {
            tracing::error!(error = %dispute_workflows::chain(&e), "a packet's files could not be read");
            error_page(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}
