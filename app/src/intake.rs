//! Judging an inbound notification: find its connection, store the raw
//! request first, then verify, parse and record it, and decide the answer.
//! The server's webhook route calls this after reading the body; replaying a
//! stored notification will run the same judgement again.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Instant,
};

use http::{HeaderMap, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    domain::{ProviderKind, Verdict},
    providers::{
        keys::{Salt, VerificationKey},
        Ack, Connector, Notification, ParseContext, Rejection,
    },
    store::{
        Acceptance, Answer, IntakeConnection, KeyPurpose, NewNotification, Rejected, Store,
        StoreError, StoredKeyMaterial,
    },
    vault::Vault,
};

/// Bodies larger than this are refused (413) and kept only in part.
pub const MAX_BODY: usize = 1024 * 1024;
/// How much of a refused oversized body is kept for ops.
pub const KEPT_OF_OVERSIZED: usize = 64 * 1024;

/// A request to `/webhooks/{slug}` as read from the wire.
#[derive(Debug)]
pub struct InboundRequest<'a> {
    pub slug: &'a str,
    pub sender: IpAddr,
    pub headers: &'a HeaderMap,
    /// The whole body, or its first bytes when it was over `MAX_BODY`.
    pub body: &'a [u8],
    /// The true length of the body.
    pub body_length: u64,
    /// SHA-256 of the whole body.
    pub body_sha256: [u8; 32],
    /// When reading the request began, for the recorded latency.
    pub started: Instant,
}

impl InboundRequest<'_> {
    fn too_large(&self) -> bool {
        self.body_length > MAX_BODY as u64
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
}

/// Receives notifications for every connection. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Intake {
    store: Store,
    vault: Vault,
    connectors: Arc<Mutex<HashMap<i64, CachedConnector>>>,
}

#[derive(Debug)]
struct CachedConnector {
    version: jiff::Timestamp,
    connector: Arc<Connector>,
}

impl Intake {
    pub fn new(store: Store, vault: Vault) -> Self {
        Self {
            store,
            vault,
            connectors: Arc::default(),
        }
    }

    /// Stores the request, judges it and records the judgement. An error
    /// means the request could not be stored or judged durably: answer 5xx
    /// so the provider retries.
    pub async fn receive(&self, request: &InboundRequest<'_>) -> Result<Reply, StoreError> {
        let connection = self.store.intake_connection(request.slug).await?;
        let kept = if request.too_large() {
            &request.body[..request.body.len().min(KEPT_OF_OVERSIZED)]
        } else {
            request.body
        };
        let received = self
            .store
            .insert_notification(&NewNotification {
                connection_id: connection.as_ref().map(|c| c.id),
                slug: request.slug.to_owned(),
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
        match &parsed.notification {
            Notification::Dispute(event) => {
                self.store.accept_dispute_event(&acceptance, event).await?
            }
            Notification::Payment(payment) => {
                self.store.accept_payment(&acceptance, payment).await?
            }
        };
        Ok(reply)
    }

    /// The checks before any signature: size, connection, its state, the
    /// sender's address.
    fn screen<'c>(
        &self,
        request: &InboundRequest<'_>,
        connection: Option<&'c IntakeConnection>,
    ) -> Result<&'c IntakeConnection, (Verdict, String)> {
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
                format!("there is no connection named {:?}", request.slug),
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
        let reply = rejection_reply(verdict);
        self.store
            .reject_notification(
                id,
                &Rejected {
                    verdict,
                    reason,
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
            let loaded = match (connection.provider, key.material) {
                (ProviderKind::PingPong, StoredKeyMaterial::Sealed(sealed)) => self
                    .vault
                    .open(&sealed, &context)
                    .map_err(|e| e.to_string())
                    .and_then(|secret| Salt::parse(&secret).map_err(|e| e.to_string()))
                    .map(|salt| salts.push(salt)),
                (_, StoredKeyMaterial::PublicDer(der)) => VerificationKey::from_spki_der(&der)
                    .map_err(|e| e.to_string())
                    .map(|k| public_keys.push(k)),
                (_, StoredKeyMaterial::Sealed(_)) => {
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

fn rejection_reply(verdict: Verdict) -> Reply {
    let (status, message) = match verdict {
        Verdict::BadSignature => (StatusCode::UNAUTHORIZED, "the signature is not valid"),
        Verdict::MissingSignature => (StatusCode::UNAUTHORIZED, "the request is not signed"),
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
