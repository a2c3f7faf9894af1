//! `POST /webhooks/{slug}`: works out who sent it, lets intake admit it
//! (a sender past its allowance is answered before the body is read), reads
//! the raw body (at most one byte past the limit) and hands it to intake.
//! No session and no CSRF check: the signature is the authentication. 2xx
//! only once the notification is committed; any failure to store answers
//! 503 so the provider retries.

use std::{net::SocketAddr, time::Instant};

use axum::{
    body::Body,
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::post,
    Router,
};
use dispute_core::{
    domain::SourceAllowlist,
    providers::judge::{Delivery, Reply, MAX_BODY},
};
use dispute_workflows::intake::{InboundRequest, Intake, KEPT_PREFIX};
use http_body_util::BodyExt;

use crate::sender;

/// The longest a request's body may take to arrive: a notification is a
/// few KiB, and a connection is not held by one sent a byte at a time.
/// (Within the router's 30 s, so the body's own answer is the one sent.)
const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Clone)]
struct WebhookState {
    intake: Intake,
    trusted_proxies: SourceAllowlist,
}

pub fn router(intake: Intake, trusted_proxies: SourceAllowlist) -> Router {
    Router::new()
        .route("/webhooks/{slug}", post(receive))
        .with_state(WebhookState {
            intake,
            trusted_proxies,
        })
}

async fn receive(
    State(state): State<WebhookState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    // The segment as received: a slug that is not valid UTF-8 or holds a NUL
    // is still stored (and refused as unknown) in its encoded form.
    let slug = uri
        .path()
        .strip_prefix("/webhooks/")
        .unwrap_or_default()
        .to_owned();
    let sender = sender::address(peer.ip(), &headers, &state.trusted_proxies);
    // Its own task, so that once the request has arrived, storing and
    // judging it run to the end even if the sender hangs up meanwhile.
    let work = tokio::spawn(async move {
        let declared = declared_length(&headers);
        let admission = match state.intake.admit(&slug, sender, declared, started).await {
            Ok(Ok(admission)) => admission,
            Ok(Err(refusal)) => return refusal,
            Err(error) => {
                tracing::error!(?slug, error = %dispute_workflows::chain(&error), "connection not read");
                return Reply::unavailable();
            }
        };
        let read = read_body(body, declared).await;
        let request = InboundRequest {
            delivery: Delivery {
                slug: &slug,
                sender,
                headers: &headers,
                body: &read.kept,
                body_length: read.length,
                complete: read.complete,
            },
            body_sha256: read.sha256,
            started,
        };
        match state.intake.receive(admission, &request).await {
            Ok(reply) => {
                tracing::info!(?slug, status = reply.status.as_u16(), "notification judged");
                reply
            }
            Err(error) => {
                tracing::error!(?slug, error = %dispute_workflows::chain(&error), "notification not stored");
                Reply::unavailable()
            }
        }
    });
    match work.await {
        Ok(reply) => respond(reply),
        Err(e) => {
            tracing::error!(error = %e, "judging a notification failed");
            respond(Reply::unavailable())
        }
    }
}

fn respond(reply: Reply) -> Response {
    let mut response = (reply.status, reply.body).into_response();
    let headers = response.headers_mut();
    match reply.content_type {
        Some(content_type) => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        None => {
            headers.remove(header::CONTENT_TYPE);
        }
    }
    if reply.status == StatusCode::TOO_MANY_REQUESTS {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    }
    response
}

struct ReadBody {
    /// The body, or as much of it as was read.
    kept: Vec<u8>,
    /// Its length; past the limit, what `Content-Length` declared if that
    /// is more than was read.
    length: u64,
    /// SHA-256 of `kept`: of the whole body unless it is over the limit.
    sha256: [u8; 32],
    /// False when the stream broke before the body's end.
    complete: bool,
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads the body up to one byte past `MAX_BODY`, where it stops: more is
/// never needed to refuse it. One declared over the limit is refused
/// whatever it holds, so only the prefix kept of it is read. A broken
/// stream, or one still sending after `BODY_DEADLINE`, ends the body where
/// it stopped.
async fn read_body(mut body: Body, declared: Option<u64>) -> ReadBody {
    let limit = match declared {
        Some(length) if length > MAX_BODY as u64 => KEPT_PREFIX,
        _ => MAX_BODY + 1,
    };
    let mut kept = Vec::new();
    let mut complete = true;
    let deadline = tokio::time::Instant::now() + BODY_DEADLINE;
    while kept.len() < limit {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => {
                complete = false;
                break;
            }
        };
        let Ok(frame) = frame else {
            complete = false;
            break;
        };
        if let Ok(data) = frame.into_data() {
            kept.extend_from_slice(&data[..data.len().min(limit - kept.len())]);
        }
    }
    let read = kept.len() as u64;
    ReadBody {
        length: match kept.len() == limit {
            true => read.max(declared.unwrap_or(0)),
            false => read,
        },
        sha256: dispute_workflows::intake::body_digest(&kept),
        kept,
        complete,
    }
}
