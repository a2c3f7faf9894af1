//! `POST /webhooks/{slug}`: works out who sent it, lets intake admit it
//! (a sender past its allowance is answered before the body is read), reads
//! the raw body (at most one byte past the limit) and hands it to intake.
//! No session and no CSRF check: the signature is the authentication. 2xx
//! only once the notification is committed; any failure to store answers
//! 503 so the provider retries.

use std::{net::SocketAddr, time::Instant};

use app::intake::{InboundRequest, Intake};
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
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

use crate::sender;

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
                tracing::error!(?slug, error = %app::error::chain(&error), "connection not read");
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
                tracing::error!(?slug, error = %app::error::chain(&error), "notification not stored");
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
    /// The body, or its first `MAX_BODY + 1` bytes.
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
/// never needed to refuse it. A broken stream ends the body where it broke.
async fn read_body(mut body: Body, declared: Option<u64>) -> ReadBody {
    let limit = MAX_BODY + 1;
    let mut kept = Vec::new();
    let mut complete = true;
    while kept.len() < limit {
        let Some(frame) = body.frame().await else {
            break;
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
        sha256: Sha256::digest(&kept).into(),
        kept,
        complete,
    }
}
