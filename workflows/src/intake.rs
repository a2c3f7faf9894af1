//! Intake: a request to `/webhooks/{slug}` is admitted before its body is
//! read, judged (`dispute_core::providers::judge`, pure) and stored with its
//! judgement in one transaction (`Store::record_delivery`). This module
//! holds what judging needs that is not pure: the connections with their
//! providers and parsed keys, cached until the store's connections version
//! moves (this process's own changes, and every process's announced by the
//! database), and each sender's allowance of refused requests.
//!
//! The allowance bounds what anyone can make us store: a stranger's request
//! (unknown connection, a body declared over the limit) is charged before
//! its body is read, any other request once it is refused (bad or missing
//! signature, malformed, disabled, outside the allowlist); past the
//! allowance the answer is 429 and the request is only counted. Within it,
//! strangers' bodies, bodies from senders outside the allowlist and refused
//! bodies over 64 KiB keep their first 4 KiB with the true length and
//! SHA-256; other refused bodies are kept whole, so they can be replayed
//! once a key is fixed.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Instant,
};

use dispute_core::{
    domain::{text, ConnectionSlug, ProviderKind, Sender, SenderGroup, Verdict},
    providers::{
        judge::{judge, Delivery, Judge, Judgement, Refused, Reply, MAX_BODY},
        Connector, ParseContext,
    },
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

use crate::{metrics::Metrics, vault::Vault};

use dispute_store::{
    IntakeConnection, NewNotification, Recorded, Store, StoreError, ThrottledCount,
};

/// How much of a body not kept whole is kept.
pub const KEPT_PREFIX: usize = 4 * 1024;
/// The longest refused body kept whole: a provider's notification is a few
/// KiB.
pub const KEPT_WHOLE_REFUSED: usize = 64 * 1024;
/// The most header bytes (names and values) kept with a delivery.
pub const KEPT_HEADERS: usize = 8 * 1024;
/// The longest slug kept; a longer one is cut.
const KEPT_SLUG: usize = 1000;

/// A request to `/webhooks/{slug}` as read from the wire.
#[derive(Debug)]
pub struct InboundRequest<'a> {
    pub delivery: Delivery<'a>,
    /// SHA-256 of the whole body.
    pub body_sha256: [u8; 32],
    /// When reading the request began, for the recorded latency.
    pub started: Instant,
}

/// The connection's slug, when the path segment `segment` can be one.
fn connection_slug(segment: &str) -> Option<ConnectionSlug> {
    let decoded = urlencoding::decode(segment).ok()?;
    ConnectionSlug::parse(&decoded).ok()
}

/// A request intake has let in before reading its body.
#[derive(Debug)]
pub struct Admission {
    known: Option<Arc<Known>>,
    /// The sender's allowance was charged for it already.
    charged: bool,
}

/// Receives notifications for every connection. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    vault: Vault,
    connections: Arc<Mutex<Connections>>,
    /// Each sender group's allowance of refused requests in this replica;
    /// what it lets through is counted across replicas in the database.
    allowance: Arc<DefaultKeyedRateLimiter<SenderGroup>>,
    per_minute: NonZeroU32,
    /// Requests refused past their sender's allowance, not yet written.
    throttled: Arc<Mutex<HashMap<(SenderGroup, jiff::Timestamp), Tally>>>,
    metrics: Metrics,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake").finish_non_exhaustive()
    }
}

/// Connections as intake needs them, valid while the store's connections
/// version is the one they were read under, and only while changes are
/// being listened for.
#[derive(Debug, Default)]
struct Connections {
    listening: bool,
    version: u64,
    by_slug: HashMap<ConnectionSlug, Arc<Known>>,
}

/// A connection and its provider with its keys, parsed.
#[derive(Debug)]
struct Known {
    connection: IntakeConnection,
    connector: Connector,
}

#[derive(Debug)]
struct Tally {
    requests: i64,
    last_slug: String,
}

impl Intake {
    /// Intake allowing each sender `refused_per_minute` refused requests
    /// (see the module's comment).
    pub fn new(
        store: Store,
        vault: Vault,
        refused_per_minute: NonZeroU32,
        metrics: Metrics,
    ) -> Self {
        Self {
            metrics,
            store,
            vault,
            connections: Arc::default(),
            allowance: Arc::new(RateLimiter::keyed(Quota::per_minute(refused_per_minute))),
            per_minute: refused_per_minute,
            throttled: Arc::default(),
        }
    }

    /// Lets a request in before its body is read, or answers it: a
    /// stranger's request (unknown connection, body declared over the
    /// limit) is charged to its sender's allowance here, so that past it
    /// nothing more of the request is read. An error means the connection
    /// could not be read: answer 5xx.
    pub async fn admit(
        &self,
        segment: &str,
        sender: Sender,
        declared_length: Option<u64>,
        started: Instant,
    ) -> Result<Result<Admission, Reply>, StoreError> {
        let known = match connection_slug(segment) {
            Some(slug) => self.connection(&slug).await?,
            None => None,
        };
        let stranger =
            known.is_none() || declared_length.is_some_and(|length| length > MAX_BODY as u64);
        if stranger && !self.charge(sender).await? {
            let provider = known.as_ref().map(|k| k.connection.provider);
            return Ok(Err(self.throttled(sender, segment, provider, started)));
        }
        Ok(Ok(Admission {
            known,
            charged: stranger,
        }))
    }

    /// Judges the request and stores it with its judgement. An error means
    /// it could not be stored: answer 5xx so the provider retries.
    pub async fn receive(
        &self,
        admission: Admission,
        request: &InboundRequest<'_>,
    ) -> Result<Reply, StoreError> {
        let delivery = &request.delivery;
        let Admission { known, charged } = admission;
        let provider = known.as_ref().map(|k| k.connection.provider);
        let judgement = match &known {
            Some(known) => {
                let connection = &known.connection;
                let context = ParseContext {
                    zone: connection.timezone.zone(),
                    account_id: connection.account_id.clone(),
                };
                judge(
                    delivery,
                    Some(Judge {
                        enabled: connection.enabled,
                        source_allowlist: &connection.source_allowlist,
                        context: &context,
                        connector: &known.connector,
                    }),
                )
            }
            None => judge(delivery, None),
        };
        if unsigned_refusal(&judgement) && !charged && !self.charge(delivery.sender).await? {
            return Ok(self.throttled(delivery.sender, delivery.slug, provider, request.started));
        }
        // Judged before the allowlist or not, a body from outside it is
        // kept short (a disabled connection's refusal comes first).
        let outsider = known
            .as_ref()
            .is_some_and(|k| !k.connection.source_allowlist.admits(delivery.sender));
        let raw = NewNotification {
            connection_id: known.as_ref().map(|k| k.connection.id),
            slug: text::cut(delivery.slug, KEPT_SLUG),
            remote_addr: delivery.sender.to_string(),
            headers: header_pairs(delivery.headers),
            body: kept_body(delivery.body, &judgement, outsider).to_vec(),
            body_length: delivery.body_length as i64,
            body_sha256: request.body_sha256.to_vec(),
        };
        let judged_in = request.started.elapsed();
        match self
            .store
            .record_delivery(&raw, &judgement, judged_in)
            .await
        {
            Ok((_, recorded)) => {
                let verdict = match (&judgement, recorded) {
                    (Judgement::Refused(refused), _) => refused.verdict,
                    (Judgement::Accepted { .. }, Recorded::Duplicate { .. }) => Verdict::Duplicate,
                    (Judgement::Accepted { .. }, _) => Verdict::Valid,
                };
                self.metrics.delivery(
                    provider,
                    verdict.as_str(),
                    request.started.elapsed().as_secs_f64(),
                );
                Ok(judgement.reply())
            }
            Err(e) if e.is_outage() => {
                self.metrics.delivery(
                    provider,
                    "not_stored",
                    request.started.elapsed().as_secs_f64(),
                );
                Err(e)
            }
            // The database refused what this delivery carries: retrying will
            // not help, so the raw request is kept alone with the reason.
            Err(e) => {
                let reason = format!("the database refused the event: {}", crate::chain(&e));
                tracing::error!(%reason, "a notification could not be recorded");
                let key = match &judgement {
                    Judgement::Accepted { key, .. } => Some(key.clone()),
                    Judgement::Refused(refused) => refused.key.clone(),
                };
                let failed = Judgement::Refused(Refused::new(Verdict::Failed, reason, key));
                self.store.record_delivery(&raw, &failed, judged_in).await?;
                self.metrics.delivery(
                    provider,
                    Verdict::Failed.as_str(),
                    request.started.elapsed().as_secs_f64(),
                );
                Ok(failed.reply())
            }
        }
    }

    /// Listens for changes to connections made anywhere, so that the cache
    /// drops them at once; runs until dropped. While not listening (the
    /// database away), nothing is served from the cache.
    pub async fn watch_connections(&self) {
        loop {
            match self.store.connection_changes().await {
                Ok(mut changes) => {
                    self.listening(true);
                    while changes.next().await.is_ok() {
                        self.store.note_connections_changed();
                    }
                    self.listening(false);
                    tracing::warn!("stopped hearing of connection changes; reading them from the database until heard again");
                }
                Err(e) => {
                    tracing::warn!(error = %crate::chain(&e), "cannot listen for connection changes");
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    fn listening(&self, listening: bool) {
        let mut connections = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        connections.listening = listening;
        connections.by_slug.clear();
    }

    /// The connection named `slug` with its parsed keys: from the cache
    /// when it is current, else from the database (and then cached).
    async fn connection(&self, slug: &ConnectionSlug) -> Result<Option<Arc<Known>>, StoreError> {
        let version = self.store.connections_version();
        {
            let mut cached = self.connections.lock().unwrap_or_else(|p| p.into_inner());
            if cached.version != version {
                cached.version = version;
                cached.by_slug.clear();
            }
            if let Some(known) = cached.by_slug.get(slug).filter(|_| cached.listening) {
                return Ok(Some(known.clone()));
            }
        }
        let Some(connection) = self.store.intake_connection(slug).await? else {
            return Ok(None);
        };
        let connector =
            crate::keyring::connector(&self.store, &self.vault, connection.id, connection.provider)
                .await?;
        let known = Arc::new(Known {
            connection,
            connector,
        });
        let mut cached = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        // Read under this version: kept only if nothing changed meanwhile.
        if cached.listening
            && cached.version == version
            && self.store.connections_version() == version
        {
            cached.by_slug.insert(slug.clone(), known.clone());
        }
        Ok(Some(known))
    }

    /// Takes one request from `sender`'s allowance; false when none is
    /// left. This replica's own allowance is asked first, so a flood stops
    /// here; what it lets through is counted across every replica.
    async fn charge(&self, sender: Sender) -> Result<bool, StoreError> {
        let group = sender.group();
        if self.allowance.check_key(&group).is_err() {
            return Ok(false);
        }
        self.store
            .charge_sender(
                &group.to_string(),
                minute_of(jiff::Timestamp::now()),
                self.per_minute.get(),
            )
            .await
    }

    /// Counts a request refused past its sender's allowance; the answer.
    fn throttled(
        &self,
        sender: Sender,
        segment: &str,
        provider: Option<ProviderKind>,
        started: Instant,
    ) -> Reply {
        let minute = minute_of(jiff::Timestamp::now());
        {
            let mut throttled = self.throttled.lock().unwrap_or_else(|p| p.into_inner());
            let tally = throttled.entry((sender.group(), minute)).or_insert(Tally {
                requests: 0,
                last_slug: String::new(),
            });
            tally.requests += 1;
            tally.last_slug = text::cut(segment, KEPT_SLUG);
        }
        self.metrics
            .delivery(provider, "rate_limited", started.elapsed().as_secs_f64());
        Reply::error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests from this address; retry later",
        )
    }

    /// Writes the counts of requests refused past their allowance, and
    /// forgets senders whose allowance is whole again. Called periodically
    /// and at shutdown.
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
        self.allowance.retain_recent();
        self.store.count_throttled(&counts).await
    }
}

/// SHA-256 of a body, for the stored row.
pub fn body_digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// The start of the minute `at` falls in.
fn minute_of(at: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(at.as_second() - at.as_second().rem_euclid(60)).unwrap_or(at)
}

/// Refused without its signature verifying: anyone could have sent it. (A
/// provider's signed notification that cannot be read is our problem, not
/// a flood: it is kept whole and never throttled.)
fn unsigned_refusal(judgement: &Judgement) -> bool {
    matches!(judgement, Judgement::Refused(refused) if refused.key.is_none())
}

/// What is kept of a delivery's body (see the module's comment);
/// `outsider`: its sender is outside the connection's allowlist.
fn kept_body<'a>(body: &'a [u8], judgement: &Judgement, outsider: bool) -> &'a [u8] {
    let Judgement::Refused(refused) = judgement else {
        return body;
    };
    let short = match refused.verdict {
        _ if !unsigned_refusal(judgement) => false,
        Verdict::UnknownConnection | Verdict::TooLarge => true,
        _ => outsider || body.len() > KEPT_WHOLE_REFUSED,
    };
    match short {
        true => &body[..body.len().min(KEPT_PREFIX)],
        false => body,
    }
}

/// The name under which headers not kept are counted: no header can have
/// it (names have no spaces), so a replay never reads it as one.
pub const HEADERS_NOT_KEPT: &str = "(headers not kept)";

/// Headers as received, values that are not UTF-8 decoded lossily, up to
/// `KEPT_HEADERS` bytes: a header that does not fit is left out (a long one
/// does not push the short signature headers out) and the left-out ones
/// are counted in one last pair.
fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut room = KEPT_HEADERS;
    let (mut left_out, mut left_out_bytes) = (0usize, 0usize);
    let mut pairs = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        let size = name.as_str().len() + value.len();
        if size > room {
            left_out += 1;
            left_out_bytes += size;
            continue;
        }
        room -= size;
        pairs.push((name.as_str().to_owned(), value.into_owned()));
    }
    if left_out > 0 {
        pairs.push((
            HEADERS_NOT_KEPT.to_owned(),
            format!("{left_out} left out, {left_out_bytes} bytes"),
        ));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use dispute_core::providers::judge::Refused;

    fn refused(verdict: Verdict) -> Judgement {
        Judgement::Refused(Refused::new(verdict, "why", None))
    }

    #[test]
    fn refused_bodies_are_kept_whole_only_when_small_and_from_an_allowed_sender() {
        let small = vec![b'a'; KEPT_WHOLE_REFUSED];
        let large = vec![b'a'; KEPT_WHOLE_REFUSED + 1];
        let kept =
            |body: &[u8], verdict, outsider| kept_body(body, &refused(verdict), outsider).len();
        assert_eq!(kept(&small, Verdict::BadSignature, false), small.len());
        assert_eq!(kept(&small, Verdict::Disabled, false), small.len());
        assert_eq!(kept(&large, Verdict::BadSignature, false), KEPT_PREFIX);
        assert_eq!(kept(&large, Verdict::Malformed, false), KEPT_PREFIX);
        assert_eq!(
            kept(&small, Verdict::Disabled, true),
            KEPT_PREFIX,
            "from outside"
        );
        assert_eq!(kept(&small, Verdict::ForbiddenSource, true), KEPT_PREFIX);
        for stranger in [Verdict::UnknownConnection, Verdict::TooLarge] {
            assert_eq!(kept(&small, stranger, false), KEPT_PREFIX, "{stranger:?}");
        }
        let signed = Judgement::Refused(Refused::new(
            Verdict::Malformed,
            "a field is too long",
            Some(dispute_core::providers::keys::Fingerprint::of(
                b"a public key",
            )),
        ));
        assert_eq!(
            kept_body(&large, &signed, false).len(),
            large.len(),
            "the provider signed it"
        );
        assert!(!unsigned_refusal(&signed));
        assert!(unsigned_refusal(&refused(Verdict::BadSignature)));
    }

    #[test]
    fn headers_are_kept_up_to_their_room_and_the_rest_counted() {
        let mut headers = HeaderMap::new();
        headers.insert("cookie", "c".repeat(KEPT_HEADERS).parse().unwrap());
        headers.insert("sign", "s".repeat(344).parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        let pairs = header_pairs(&headers);
        assert!(pairs.iter().any(|(name, _)| name == "sign"));
        assert!(pairs.iter().any(|(name, _)| name == "content-type"));
        assert!(!pairs.iter().any(|(name, _)| name == "cookie"));
        assert_eq!(
            pairs.last().unwrap(),
            &(
                HEADERS_NOT_KEPT.to_owned(),
                format!("1 left out, {} bytes", 6 + KEPT_HEADERS)
            )
        );
        let kept: usize = pairs[..pairs.len() - 1]
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum();
        assert!(kept <= KEPT_HEADERS);
    }
}
