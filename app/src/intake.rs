//! Judging an inbound notification: find its connection, store the raw
//! request first, then verify, parse and record it, and decide the answer.
//! The server's webhook route calls this after reading the body; replaying a
//! stored notification will run the same judgement again.
//!
//! Requests that name no connection, or carry an oversized body, are
//! strangers' requests: only a small prefix of their body is kept, and each
//! sender address has an allowance of them per minute; past it they are
//! answered 429 and only counted.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Instant,
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use http::{HeaderMap, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    store::{
        Acceptance, Answer, IntakeConnection, KeyPurpose, NewNotification, Rejected, Store,
        StoreError, StoredKeyMaterial, ThrottledCount,
    },
    vault::Vault,
};
use dispute_core::{
    domain::{ConnectionSlug, Verdict},
    providers::{
        keys::{Salt, VerificationKey},
        profile,
        profile::KeyKind,
        Ack, Connector, Notification, ParseContext, Rejection,
    },
};

/// Bodies larger than this are refused (413) and kept only in part.
pub const MAX_BODY: usize = 1024 * 1024;
/// How much of a stranger's body (unknown connection, oversized) is kept.
pub const KEPT_OF_STRANGERS: usize = 4 * 1024;
/// The longest slug and reason kept; longer ones are cut.
const KEPT_TEXT: usize = 1000;

/// A request to `/webhooks/{slug}` as read from the wire.
#[derive(Debug)]
pub struct InboundRequest<'a> {
    /// The path segment after `/webhooks/`, as received (percent-encoded).
    pub slug: &'a str,
    pub sender: IpAddr,
    pub headers: &'a HeaderMap,
    /// The whole body, or its first bytes when it was over `MAX_BODY`.
    pub body: &'a [u8],
    /// The true length of the body.
    pub body_length: u64,
    /// SHA-256 of the whole body.
    pub body_sha256: [u8; 32],
    /// False when the body ended before the length its sender declared
    /// (`Content-Length`), or its stream broke: what arrived is kept, never
    /// judged as complete.
    pub complete: bool,
    /// When reading the request began, for the recorded latency.
    pub started: Instant,
}

impl InboundRequest<'_> {
    fn too_large(&self) -> bool {
        self.body_length > MAX_BODY as u64
    }

    /// The connection's slug, when the path segment can be one.
    fn connection_slug(&self) -> Option<ConnectionSlug> {
        let decoded = urlencoding::decode(self.slug).ok()?;
        ConnectionSlug::parse(&decoded).ok()
    }
}

/// The HTTP answer to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<&'static str>,
    pub body: String,
}

impl Reply {
    fn ack(ack: Ack) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: ack.content_type,
            body: ack.body.to_owned(),
        }
    }

    fn error(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            content_type: Some("application/json"),
            body: json!({ "error": message }).to_string(),
        }
    }

    /// The answer when the database could not store the request at all:
    /// the provider retries.
    pub fn unavailable() -> Self {
        Self::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the notification could not be stored; retry later",
        )
    }
}

/// Receives notifications for every connection. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    vault: Vault,
    connectors: Arc<Mutex<HashMap<i64, CachedConnector>>>,
    /// Each sender's allowance of strangers' requests.
    strangers: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Strangers' requests refused past their allowance, not yet written.
    throttled: Arc<Mutex<HashMap<(IpAddr, jiff::Timestamp), Tally>>>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake").finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Tally {
    requests: i64,
    last_slug: String,
}

#[derive(Debug)]
struct CachedConnector {
    version: jiff::Timestamp,
    connector: Arc<Connector>,
}

impl Intake {
    /// Intake allowing each sender `strangers_per_minute` requests for
    /// unknown connections or with oversized bodies.
    pub fn new(store: Store, vault: Vault, strangers_per_minute: NonZeroU32) -> Self {
        Self {
            store,
            vault,
            connectors: Arc::default(),
            strangers: Arc::new(RateLimiter::keyed(Quota::per_minute(strangers_per_minute))),
            throttled: Arc::default(),
        }
    }

    /// Stores the request, judges it and records the judgement. An error
    /// means the request could not be stored or judged durably: answer 5xx
    /// so the provider retries.
    pub async fn receive(&self, request: &InboundRequest<'_>) -> Result<Reply, StoreError> {
        let connection = match request.connection_slug() {
            Some(slug) => self.store.intake_connection(&slug).await?,
            None => None,
        };
        let stranger = connection.is_none() || request.too_large();
        if stranger && self.strangers.check_key(&request.sender).is_err() {
            self.count_throttled(request);
            return Ok(Reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests from this address; retry later",
            ));
        }
        let kept = if stranger {
            &request.body[..request.body.len().min(KEPT_OF_STRANGERS)]
        } else {
            request.body
        };
        let received = self
            .store
            .insert_notification(&NewNotification {
                connection_id: connection.as_ref().map(|c| c.id),
                slug: cut(request.slug),
                remote_addr: request.sender.to_string(),
                headers: header_pairs(request.headers),
                body: kept.to_vec(),
                body_length: request.body_length as i64,
                body_sha256: request.body_sha256.to_vec(),
            })
            .await?;

        let connection = match self.screen(request, connection.as_ref()) {
            Ok(connection) => connection,
            Err((verdict, reason)) => {
                return self
                    .reject(received.id, request, verdict, reason, None)
                    .await;
            }
        };
        let connector = self.connector(connection).await?;
        let verified = match connector.verify(request.headers, request.body) {
            Ok(verified) => verified,
            Err(rejection) => return self.refuse(received.id, request, rejection, None).await,
        };
        let key = verified.key().to_string();
        let context = ParseContext {
            zone: connection.timezone.zone(),
            account_id: connection.account_id.clone(),
        };
        let parsed = match connector.parse(&verified, &context) {
            Ok(parsed) => parsed,
            Err(rejection) => {
                return self
                    .refuse(received.id, request, rejection, Some(key))
                    .await
            }
        };
        let reply = Reply::ack(parsed.ack);
        let acceptance = Acceptance {
            notification_id: received.id,
            received_at: received.received_at,
            connection_id: connection.id,
            key_fingerprint: key,
            answer: answer(&reply, request.started),
        };
        let recorded = match &parsed.notification {
            Notification::Dispute(event) => {
                self.store.accept_dispute_event(&acceptance, event).await
            }
            Notification::Payment(payment) => self.store.accept_payment(&acceptance, payment).await,
        };
        match recorded {
            Ok(_) => Ok(reply),
            Err(e) if e.is_outage() => Err(e),
            // The database refused this event: retrying will not help, so
            // the raw request is kept with the reason for ops.
            Err(e) => {
                let reason = format!(
                    "the database refused the event: {}",
                    crate::error::chain(&e)
                );
                tracing::error!(notification = received.id, %reason, "a notification could not be recorded");
                self.reject(
                    received.id,
                    request,
                    Verdict::Failed,
                    reason,
                    Some(acceptance.key_fingerprint),
                )
                .await
            }
        }
    }

    /// Counts a stranger's request refused past its sender's allowance.
    fn count_throttled(&self, request: &InboundRequest<'_>) {
        let now = jiff::Timestamp::now();
        let minute = jiff::Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(60))
            .unwrap_or(now);
        let mut throttled = self.throttled.lock().unwrap_or_else(|p| p.into_inner());
        let tally = throttled.entry((request.sender, minute)).or_insert(Tally {
            requests: 0,
            last_slug: String::new(),
        });
        tally.requests += 1;
        tally.last_slug = cut(request.slug);
    }

    /// Writes the counts of refused strangers' requests, and forgets senders
    /// whose allowance is whole again. Called periodically and at shutdown.
    pub async fn flush_throttled(&self) -> Result<(), StoreError> {
        let counts: Vec<ThrottledCount> = {
            let mut throttled = self.throttled.lock().unwrap_or_else(|p| p.into_inner());
            throttled
                .drain()
                .map(|((sender, minute), tally)| ThrottledCount {
                    sender: sender.to_string(),
                    minute,
                    requests: tally.requests,
                    last_slug: tally.last_slug,
                })
                .collect()
        };
        self.strangers.retain_recent();
        self.store.count_throttled(&counts).await
    }

    /// The checks before any signature: size, completeness, connection, its
    /// state, the sender's address.
    fn screen<'c>(
        &self,
        request: &InboundRequest<'_>,
        connection: Option<&'c IntakeConnection>,
    ) -> Result<&'c IntakeConnection, (Verdict, String)> {
        if !request.complete {
            let declared = request
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .map(|v| format!(" of the {v} declared"))
                .unwrap_or_default();
            return Err((
                Verdict::Malformed,
                format!(
                    "the body ended early: {} bytes arrived{declared}",
                    request.body_length
                ),
            ));
        }
        if request.too_large() {
            return Err((
                Verdict::TooLarge,
                format!(
                    "the body has {} bytes; at most {MAX_BODY} are accepted",
                    request.body_length
                ),
            ));
        }
        let connection = connection.ok_or_else(|| {
            (
                Verdict::UnknownConnection,
                format!("there is no connection named {:?}", cut(request.slug)),
            )
        })?;
        if !connection.enabled {
            return Err((Verdict::Disabled, "the connection is disabled".into()));
        }
        if !connection.source_allowlist.allows(request.sender) {
            return Err((
                Verdict::ForbiddenSource,
                format!(
                    "{} is not on the connection's source allowlist",
                    request.sender
                ),
            ));
        }
        Ok(connection)
    }

    async fn refuse(
        &self,
        id: i64,
        request: &InboundRequest<'_>,
        rejection: Rejection,
        key: Option<String>,
    ) -> Result<Reply, StoreError> {
        self.reject(id, request, rejection.verdict(), rejection.to_string(), key)
            .await
    }

    async fn reject(
        &self,
        id: i64,
        request: &InboundRequest<'_>,
        verdict: Verdict,
        reason: String,
        key_fingerprint: Option<String>,
    ) -> Result<Reply, StoreError> {
        let reply = rejection_reply(verdict, request.complete);
        self.store
            .reject_notification(
                id,
                &Rejected {
                    verdict,
                    reason: cut(&reason),
                    key_fingerprint,
                    answer: answer(&reply, request.started),
                },
            )
            .await?;
        Ok(reply)
    }

    /// The connection's provider with its keys, parsed once per change of
    /// the connection (its version) rather than per request.
    async fn connector(&self, connection: &IntakeConnection) -> Result<Arc<Connector>, StoreError> {
        if let Some(cached) = self.cached(connection) {
            return Ok(cached);
        }
        let stored = self.store.keys(connection.id, KeyPurpose::Verify).await?;
        let context = KeyPurpose::Verify.seal_context(connection.id);
        let mut salts = Vec::new();
        let mut public_keys = Vec::new();
        for key in stored {
            let kind = profile(connection.provider).verification_key.kind;
            let loaded = match (kind, key.material) {
                (KeyKind::Salt, StoredKeyMaterial::Sealed(sealed)) => self
                    .vault
                    .open(&sealed, &context)
                    .map_err(|e| e.to_string())
                    .and_then(|secret| {
                        Salt::parse(&secret, self.vault.fingerprint_key())
                            .map_err(|e| e.to_string())
                    })
                    .map(|salt| salts.push(salt)),
                (KeyKind::RsaPublicKey, StoredKeyMaterial::PublicDer(der)) => {
                    VerificationKey::from_spki_der(&der)
                        .map_err(|e| e.to_string())
                        .map(|k| public_keys.push(k))
                }
                (KeyKind::Salt, StoredKeyMaterial::PublicDer(_)) => {
                    Err("a public key where a salt belongs".into())
                }
                (KeyKind::RsaPublicKey, StoredKeyMaterial::Sealed(_)) => {
                    Err("a sealed secret where a public key belongs".into())
                }
            };
            if let Err(problem) = loaded {
                // Fail closed: the key is left out, and requests it would
                // have verified are rejected and kept for replay.
                tracing::error!(connection = connection.id, key = %key.fingerprint, %problem, "unusable verification key");
            }
        }
        let connector = Arc::new(Connector::new(connection.provider, salts, public_keys));
        self.connectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                connection.id,
                CachedConnector {
                    version: connection.version,
                    connector: connector.clone(),
                },
            );
        Ok(connector)
    }

    fn cached(&self, connection: &IntakeConnection) -> Option<Arc<Connector>> {
        let cache = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&connection.id)
            .filter(|c| {
                c.version == connection.version && c.connector.provider() == connection.provider
            })
            .map(|c| c.connector.clone())
    }
}

/// SHA-256 of a body, for the stored row.
pub fn body_digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

fn rejection_reply(verdict: Verdict, complete: bool) -> Reply {
    let (status, message) = match verdict {
        Verdict::BadSignature => (StatusCode::UNAUTHORIZED, "the signature is not valid"),
        Verdict::MissingSignature => (StatusCode::UNAUTHORIZED, "the request is not signed"),
        Verdict::Malformed if !complete => (StatusCode::BAD_REQUEST, "the body ended early"),
        Verdict::Malformed => (
            StatusCode::BAD_REQUEST,
            "the notification could not be read",
        ),
        Verdict::UnknownConnection => (StatusCode::NOT_FOUND, "no such connection"),
        Verdict::ForbiddenSource => (StatusCode::FORBIDDEN, "this sender is not allowed"),
        Verdict::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than 1 MiB",
        ),
        // Stored for replay; the provider retries until the connection is on.
        Verdict::Disabled => (
            StatusCode::SERVICE_UNAVAILABLE,
            "this connection is disabled",
        ),
        Verdict::Failed => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the notification could not be recorded; it is kept for review",
        ),
        Verdict::Received | Verdict::Valid | Verdict::Duplicate => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the notification was not judged",
        ),
    };
    Reply::error(status, message)
}

fn answer(reply: &Reply, started: Instant) -> Answer {
    Answer {
        status: reply.status.as_u16(),
        body: reply.body.clone(),
        latency_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
    }
}

/// `text` cut to a length the database and the pages can hold.
fn cut(text: &str) -> String {
    match text.char_indices().nth(KEPT_TEXT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Headers as received, values that are not UTF-8 decoded lossily.
fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}
