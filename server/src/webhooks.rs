//! `POST /webhooks/{slug}`: reads the raw body (bounded), works out who sent
//! it, and hands it to intake. No session and no CSRF check: the signature
//! is the authentication. 2xx only once the notification is committed; any
//! failure to store answers 503 so the provider retries.

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

/// Past this many bytes an oversized body is no longer read: its length is
/// then what was read or what `Content-Length` claims, whichever is larger.
const READ_LIMIT: u64 = 64 * 1024 * 1024;

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
    // Its own task, so that once the request has arrived, storing and
    // judging it run to the end even if the sender hangs up meanwhile.
    let work = tokio::spawn(async move {
        let read = read_body(body, declared_length(&headers)).await;
        let request = InboundRequest {
            delivery: Delivery {
                slug: &slug,
                sender: sender::address(peer.ip(), &headers, &state.trusted_proxies),
                headers: &headers,
                body: &read.kept,
                body_length: read.length,
                complete: read.complete,
            },
            body_sha256: read.sha256,
            started,
        };
        match state.intake.receive(&request).await {
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
    length: u64,
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

/// Reads the whole body, keeping at most `MAX_BODY + 1` bytes and hashing
/// all of it. A broken stream ends the body where it broke.
async fn read_body(mut body: Body, declared: Option<u64>) -> ReadBody {
    let mut kept = Vec::new();
    let mut length: u64 = 0;
    let mut hasher = Sha256::new();
    let mut cut_short = false;
    let mut complete = true;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            complete = false;
            break;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        length += data.len() as u64;
        hasher.update(&data);
        let room = (MAX_BODY + 1).saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
        if length > READ_LIMIT {
            cut_short = true;
            break;
        }
    }
    ReadBody {
        kept,
        length: if cut_short {
            length.max(declared.unwrap_or(0))
        } else {
            length
        },
        sha256: hasher.finalize().into(),
        complete,
    }
}
