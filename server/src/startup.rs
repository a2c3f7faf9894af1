//! Builds the application from settings and a pool, binds the listeners
//! (the whole application, and intake alone when asked for) and serves
//! until told to stop, every connection under `accept`'s limits.

use std::{future::Future, net::SocketAddr, time::Duration};

use app::{
    auth::password::Passwords,
    intake::Intake,
    metrics::Metrics,
    outbound::OutboundPolicy,
    pages::dashboard::DashboardCache,
    state::AppState,
    status_queries::{QuerySettings, StatusQueries},
    store::Store,
    vault::Vault,
};
use dispute_core::domain::SourceAllowlist;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_sessions_core::ExpiredDeletion;
use tower_sessions_sqlx_store::PostgresStore;

use crate::{
    accept,
    config::{ConnectionLimits, Settings, StatusQuerySettings},
    guard::{self, Guard},
    router,
    tasks::Tasks,
};

/// How often refused strangers' requests are written to their counts.
const THROTTLE_FLUSH: Duration = Duration::from_secs(10);
/// How often expired sessions are deleted (they are refused on sight anyway).
const SESSION_SWEEP: Duration = Duration::from_secs(3600);
/// Further attempts of a status query after a network error.
const QUERY_RETRIES: u32 = 2;
/// How often retention looks for strangers' deliveries to remove.
const RETENTION_SWEEP: Duration = Duration::from_secs(3600);
/// Disputes one reconciliation run asks about at most.
const RECONCILE_BATCH: i64 = 50;
/// How often a replica looks for a job to run (a rebuild or a bulk replay
/// asked for on its page, or one abandoned by a replica that stopped).
const JOBS_POLL: Duration = Duration::from_secs(2);

/// A bound, migrated, ready-to-serve application.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    address: SocketAddr,
    /// Intake alone, on a listener of its own.
    intake_listener: Option<(TcpListener, axum::Router)>,
    limits: ConnectionLimits,
    trusted_proxies: SourceAllowlist,
    intake: Intake,
    sessions: PostgresStore,
    queries: StatusQueries,
    reconciliation: StatusQuerySettings,
    retention: jiff::SignedDuration,
    refused_retention: jiff::SignedDuration,
    store: Store,
    vault: Vault,
    metrics: Metrics,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot apply the database migrations")]
    Migrate(#[source] app::store::StoreError),
    #[error("cannot prepare the session table")]
    Sessions(#[source] sqlx::Error),
    #[error(transparent)]
    PasswordCost(app::auth::password::CostError),
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl Application {
    pub async fn build(
        settings: &Settings,
        store: Store,
        vault: Vault,
    ) -> Result<Self, StartupError> {
        store.migrate().await.map_err(StartupError::Migrate)?;
        let sessions = guard::session_store(&store)
            .await
            .map_err(StartupError::Sessions)?;
        app::keyring::rekey_fingerprints(&store, &vault)
            .await
            .map_err(StartupError::Migrate)?;
        let passwords =
            Passwords::new(settings.password_cost).map_err(StartupError::PasswordCost)?;
        let (listener, address) = bind(settings.listen_addr).await?;
        let intake_listener = match settings.intake_listen_addr {
            Some(at) => Some(bind(at).await?),
            None => None,
        };
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let origins = match &settings.public_url {
            Some(url) => vec![url.clone()],
            None => vec![
                format!("http://{address}"),
                format!("http://localhost:{}", address.port()),
            ],
        };
        offer_setup_link(&store, &public_url)
            .await
            .map_err(StartupError::Migrate)?;
        let guard = Guard::new(
            store.clone(),
            settings.trusted_proxies.clone(),
            origins,
            settings.session_absolute,
        );
        let session_layer = guard::session_layer(
            sessions.clone(),
            public_url.starts_with("https://"),
            settings.session_idle,
        );
        let metrics = Metrics::new();
        let intake = Intake::new(
            store.clone(),
            vault.clone(),
            settings.stranger_requests_per_minute,
            metrics.clone(),
        );
        let queries = StatusQueries::new(
            store.clone(),
            vault.clone(),
            QuerySettings {
                policy: OutboundPolicy {
                    allow_local: settings.status_queries.allow_local,
                },
                timeout: settings.status_queries.timeout,
                retries: QUERY_RETRIES,
            },
            metrics.clone(),
        );
        let kept = store.clone();
        let scraping = crate::metrics::router(
            metrics.clone(),
            store.clone(),
            settings.metrics_token.as_ref(),
        );
        let jobs = (vault.clone(), metrics.clone());
        let (router, intake_router) = router::router(
            AppState {
                store,
                vault,
                passwords,
                public_url,
                dashboard: DashboardCache::new(settings.dashboard_refresh),
                queries: queries.clone(),
                metrics: metrics.clone(),
                silence_after: settings.status_queries.rules.silence_after,
            },
            intake.clone(),
            settings.trusted_proxies.clone(),
            guard,
            session_layer,
            scraping,
        );
        Ok(Self {
            listener,
            router,
            address,
            intake_listener: intake_listener.map(|(listener, _)| (listener, intake_router)),
            limits: settings.connections,
            trusted_proxies: settings.trusted_proxies.clone(),
            intake,
            sessions,
            queries,
            reconciliation: settings.status_queries,
            retention: settings.retention,
            refused_retention: settings.refused_retention,
            store: kept,
            vault: jobs.0,
            metrics: jobs.1,
        })
    }

    /// Intake as this application runs it (tests flush its counts).
    pub fn intake(&self) -> Intake {
        self.intake.clone()
    }

    /// The address actually bound (the port is real even when 0 was asked).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The address intake alone is served on, if it has one.
    pub fn intake_address(&self) -> Option<SocketAddr> {
        self.intake_listener
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then stops accepting and gives
    /// in-flight requests up to `grace` to finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> std::io::Result<()> {
        let Application {
            listener,
            router,
            intake_listener,
            limits,
            trusted_proxies,
            intake,
            sessions,
            queries,
            reconciliation,
            retention,
            refused_retention,
            store,
            vault,
            metrics,
            ..
        } = self;
        let tasks = background_jobs(intake, sessions, queries, reconciliation);
        let tasks = with_retention(tasks, store.clone(), retention, refused_retention);
        let tasks = with_jobs(tasks, store, vault, metrics);
        let stop = CancellationToken::new();
        let connections = TaskTracker::new();
        // One share per address across both listeners.
        let per_address = accept::PerAddress::new(limits.max_per_address, trusted_proxies);
        let mut serving = vec![tokio::spawn(accept::serve(
            listener,
            router,
            limits,
            per_address.clone(),
            stop.clone(),
            connections.clone(),
        ))];
        if let Some((listener, router)) = intake_listener {
            serving.push(tokio::spawn(accept::serve(
                listener,
                router,
                limits,
                per_address,
                stop.clone(),
                connections.clone(),
            )));
        }

        // A listener's loop only ends when told to; if one fails, the
        // server stops rather than go on serving half of itself.
        let failed = tokio::select! {
            () = shutdown => None,
            (ended, _, _) = futures::future::select_all(serving.iter_mut()) => Some(ended),
        };
        stop.cancel();
        for listener in serving {
            let _ = listener.await;
        }
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: no new connections"
        );
        connections.close();
        if tokio::time::timeout(grace, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("requests still running after the grace period were cut off");
        }
        tasks.stop(grace).await;
        match failed {
            None => Ok(()),
            Some(ended) => Err(std::io::Error::other(format!(
                "a listener stopped serving: {ended:?}"
            ))),
        }
    }
}

/// A listener on `address`, and the address it got.
async fn bind(address: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let bound = |source| StartupError::Bind { address, source };
    let listener = TcpListener::bind(address).await.map_err(bound)?;
    let local = listener.local_addr().map_err(bound)?;
    Ok((listener, local))
}

/// The jobs that run beside serving.
fn background_jobs(
    intake: Intake,
    sessions: PostgresStore,
    queries: StatusQueries,
    reconciliation: StatusQuerySettings,
) -> Tasks {
    let mut tasks = Tasks::new();
    let watching = intake.clone();
    tasks.run(async move { watching.watch_connections().await });
    tasks.every("throttled request counts", THROTTLE_FLUSH, move || {
        let intake = intake.clone();
        async move { intake.flush_throttled().await }
    });
    tasks.every("expired sessions", SESSION_SWEEP, move || {
        let sessions = sessions.clone();
        async move { sessions.delete_expired().await }
    });
    if let Some(every) = reconciliation.reconcile_every {
        tasks.every_while_running("reconciliation", every, move || {
            let queries = queries.clone();
            async move {
                queries
                    .reconcile(&reconciliation.rules, RECONCILE_BATCH)
                    .await
                    .map(|_| ())
            }
        });
    }
    tasks
}

/// Removes strangers' deliveries older than `keep` and refused ones no
/// provider signed older than `keep_refused`, hourly.
fn with_retention(
    mut tasks: Tasks,
    store: Store,
    keep: jiff::SignedDuration,
    keep_refused: jiff::SignedDuration,
) -> Tasks {
    tasks.every("retention", RETENTION_SWEEP, move || {
        let store = store.clone();
        async move {
            let now = jiff::Timestamp::now();
            if let Some(purged) = store.purge_expired(now - keep, now - keep_refused).await? {
                if purged != app::store::Purged::default() {
                    tracing::info!(
                        deliveries = purged.deliveries,
                        refused = purged.refused,
                        throttled_counts = purged.throttled_counts,
                        "retention removed old deliveries"
                    );
                }
            }
            Ok::<(), app::store::StoreError>(())
        }
    });
    tasks
}

/// Runs rebuilds and bulk replays as they are asked for, one of each at a
/// time; cut off at shutdown, to be taken over where its last batch left
/// it.
fn with_jobs(mut tasks: Tasks, store: Store, vault: Vault, metrics: Metrics) -> Tasks {
    let rebuilding = store.clone();
    tasks.every_while_running("rebuilds", JOBS_POLL, move || {
        let store = rebuilding.clone();
        async move { app::rebuild::run_next(&store).await.map(|_| ()) }
    });
    tasks.every_while_running("bulk replays", JOBS_POLL, move || {
        let (store, vault, metrics) = (store.clone(), vault.clone(), metrics.clone());
        async move {
            app::replay::run_next_bulk(&store, &vault, &metrics)
                .await
                .map(|_| ())
        }
    });
    tasks
}

/// With no account yet, prints a one-time link that creates the first
/// admin; the token is valid for an hour and only its hash is stored.
async fn offer_setup_link(store: &Store, public_url: &str) -> Result<(), app::store::StoreError> {
    if store.user_count().await? > 0 {
        return Ok(());
    }
    let (token, digest) = app::auth::new_setup_token();
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    store.create_setup_token(&digest, expires).await?;
    tracing::warn!(
        "no account exists yet: create the first admin at {public_url}/setup?token={token} (valid once, for one hour)"
    );
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn termination_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
