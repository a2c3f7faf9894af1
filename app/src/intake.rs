//! Intake: a request to `/webhooks/{slug}` is judged
//! (`dispute_core::providers::judge`, pure) and stored with its judgement in
//! one transaction (`Store::record_delivery`). This module holds what
//! judging needs that is not pure: the connections with their providers and
//! parsed keys, cached until the store's connections version moves (this
//! process's own changes, and every process's announced by the database),
//! and each sender's allowance of strangers' requests (unknown connections,
//! oversized bodies): only a small prefix of those is kept, and past the
//! allowance they are answered 429 and only counted.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Instant,
};

use dispute_core::{
    domain::{text, ConnectionSlug, Verdict},
    providers::{
        judge::{judge, Delivery, Judge, Judgement, Refused, Reply, MAX_BODY},
        Connector, ParseContext,
    },
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

use crate::{
    metrics::Metrics,
    store::{IntakeConnection, NewNotification, Recorded, Store, StoreError, ThrottledCount},
    vault::Vault,
};

/// How much of a stranger's body (unknown connection, oversized) is kept.
pub const KEPT_OF_STRANGERS: usize = 4 * 1024;
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

impl InboundRequest<'_> {
    /// The connection's slug, when the path segment can be one.
    fn connection_slug(&self) -> Option<ConnectionSlug> {
        let decoded = urlencoding::decode(self.delivery.slug).ok()?;
        ConnectionSlug::parse(&decoded).ok()
    }
}

/// Receives notifications for every connection. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    vault: Vault,
    connections: Arc<Mutex<Connections>>,
    /// Each sender's allowance of strangers' requests.
    strangers: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Strangers' requests refused past their allowance, not yet written.
    throttled: Arc<Mutex<HashMap<(IpAddr, jiff::Timestamp), Tally>>>,
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
    /// Intake allowing each sender `strangers_per_minute` requests for
    /// unknown connections or with oversized bodies.
    pub fn new(
        store: Store,
        vault: Vault,
        strangers_per_minute: NonZeroU32,
        metrics: Metrics,
    ) -> Self {
        Self {
            metrics,
            store,
            vault,
            connections: Arc::default(),
            strangers: Arc::new(RateLimiter::keyed(Quota::per_minute(strangers_per_minute))),
            throttled: Arc::default(),
        }
    }

    /// Judges the request and stores it with its judgement. An error means
    /// it could not be stored: answer 5xx so the provider retries.
    pub async fn receive(&self, request: &InboundRequest<'_>) -> Result<Reply, StoreError> {
        let delivery = &request.delivery;
        let known = match request.connection_slug() {
            Some(slug) => self.connection(&slug).await?,
            None => None,
        };
        let stranger = known.is_none() || delivery.body_length > MAX_BODY as u64;
        let provider = known.as_ref().map(|k| k.connection.provider);
        if stranger && self.strangers.check_key(&delivery.sender).is_err() {
            self.count_throttled(delivery);
            self.metrics.delivery(
                provider,
                "rate_limited",
                request.started.elapsed().as_secs_f64(),
            );
            return Ok(Reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests from this address; retry later",
            ));
        }
        let kept = if stranger {
            &delivery.body[..delivery.body.len().min(KEPT_OF_STRANGERS)]
        } else {
            delivery.body
        };
        let raw = NewNotification {
            connection_id: known.as_ref().map(|k| k.connection.id),
            slug: text::cut(delivery.slug, KEPT_SLUG),
            remote_addr: delivery.sender.to_string(),
            headers: header_pairs(delivery.headers),
            body: kept.to_vec(),
            body_length: delivery.body_length as i64,
            body_sha256: request.body_sha256.to_vec(),
        };

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
                let reason = format!(
                    "the database refused the event: {}",
                    crate::error::chain(&e)
                );
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
                    tracing::warn!(error = %crate::error::chain(&e), "cannot listen for connection changes");
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

    /// Counts a stranger's request refused past its sender's allowance.
    fn count_throttled(&self, delivery: &Delivery<'_>) {
        let now = jiff::Timestamp::now();
        let minute = jiff::Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(60))
            .unwrap_or(now);
        let mut throttled = self.throttled.lock().unwrap_or_else(|p| p.into_inner());
        let tally = throttled.entry((delivery.sender, minute)).or_insert(Tally {
            requests: 0,
            last_slug: String::new(),
        });
        tally.requests += 1;
        tally.last_slug = text::cut(delivery.slug, KEPT_SLUG);
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
}

/// SHA-256 of a body, for the stored row.
pub fn body_digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
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
