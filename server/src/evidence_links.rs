//! `GET /evidence-links/{token}/{name}`: a submitted response's file, for
//! the provider that fetches it (PayerMax's `representmentFile`), without a
//! session or a cookie. Served only while the link's signature holds, it
//! has not expired or been revoked, its name is the file's, and its
//! submission is sending or sent; at most `FETCHES_PER_MINUTE` times a
//! minute per link on each replica (past it, 429, not logged); every other
//! fetch of a known link logged (when, from where, the status, the bytes
//! sent: the file's size when it is served).

use std::{net::SocketAddr, num::NonZeroU32, sync::Arc};

use axum::{
    body::Body,
    extract::{ConnectInfo, Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use dispute_core::domain::{
    links::{Link, LinkRefusal, PREFIX},
    SourceAllowlist,
};
use dispute_store::{EvidenceLink, Store};
use dispute_workflows::vault::Vault;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::sender;

/// Fetches of one link a minute, per replica: a provider fetches each file
/// once or a few times; more is someone else.
const FETCHES_PER_MINUTE: u32 = 30;

#[derive(Clone)]
struct LinkState {
    store: Store,
    vault: Vault,
    trusted_proxies: SourceAllowlist,
    allowance: Arc<DefaultKeyedRateLimiter<i64>>,
}

pub fn router(store: Store, vault: Vault, trusted_proxies: SourceAllowlist) -> Router {
    let quota = Quota::per_minute(NonZeroU32::new(FETCHES_PER_MINUTE).expect("not zero"));
    Router::new()
        .route(&format!("{PREFIX}/{{token}}/{{name}}"), get(fetch))
        .with_state(LinkState {
            store,
            vault,
            trusted_proxies,
            allowance: Arc::new(RateLimiter::keyed(quota)),
        })
}

/// A refusal: a status and a line of text, nothing that names the file.
fn refused(status: StatusCode, words: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        words,
    )
        .into_response()
}

async fn fetch(
    State(state): State<LinkState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((token, name)): Path<(String, String)>,
) -> Response {
    let address = sender::address(peer.ip(), &headers, &state.trusted_proxies).to_string();
    let key = state.vault.link_key();
    let link = match Link::read(&token, &key, jiff::Timestamp::now()) {
        Ok(link) => link,
        Err(LinkRefusal::Expired) => {
            // Signed by the desk, so its id is the link's: logged.
            let id = token.split('-').next().and_then(|id| id.parse().ok());
            if let Some(id) = id {
                log_fetch(&state.store, id, &address, StatusCode::GONE, 0).await;
            }
            return refused(StatusCode::GONE, "this link has expired");
        }
        Err(refusal) => {
            // Anyone can send these: not worth a warning each.
            tracing::debug!(%address, %refusal, "an evidence link was refused");
            return refused(StatusCode::NOT_FOUND, "no such file");
        }
    };
    if state.allowance.check_key(&link.id).is_err() {
        return refused(
            StatusCode::TOO_MANY_REQUESTS,
            "too many fetches of this link",
        );
    }
    let found = match state.store.evidence_link(link.id).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %dispute_workflows::chain(&e), "an evidence link could not be read");
            return refused(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
    };
    let (status, served) = match found {
        Some(file) if file.safe_name != name => (StatusCode::NOT_FOUND, None),
        Some(file) if file.revoked_at.is_some() => (StatusCode::GONE, None),
        Some(file) if !file.live => (StatusCode::NOT_FOUND, None),
        Some(file) => (StatusCode::OK, Some(file)),
        None => return refused(StatusCode::NOT_FOUND, "no such file"),
    };
    let bytes = served.as_ref().map_or(0, |f| f.size);
    if !log_fetch(&state.store, link.id, &address, status, bytes).await {
        return refused(StatusCode::SERVICE_UNAVAILABLE, "try again later");
    }
    match served {
        Some(file) => serve(&state.store, file),
        None if status == StatusCode::GONE => refused(status, "this link was revoked"),
        None => refused(status, "no such file"),
    }
}

/// Logs a fetch of link `id`; false when it could not be.
async fn log_fetch(store: &Store, id: i64, address: &str, status: StatusCode, bytes: u64) -> bool {
    match store
        .record_link_fetch(id, address, status.as_u16(), bytes)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %dispute_workflows::chain(&e), "a link's fetch could not be logged");
            false
        }
    }
}

/// The file's bytes as stored, with the type its content has, as an
/// attachment (never shown inline on the desk's origin).
fn serve(store: &Store, file: EvidenceLink) -> Response {
    use futures::StreamExt;
    let body = store.evidence_bytes(file.file_id).map(|chunk| {
        chunk.inspect_err(|e| {
            tracing::error!(error = %dispute_workflows::chain(e), "a link's file stopped part-way");
        })
    });
    (
        [
            (header::CONTENT_TYPE, file.format.content_type().to_owned()),
            (header::CONTENT_LENGTH, file.size.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file.safe_name),
            ),
            (
                header::HeaderName::from_static("x-robots-tag"),
                "noindex".to_owned(),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
