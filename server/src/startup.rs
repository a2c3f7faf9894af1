//! Builds the application from settings and a pool, binds the listener and
//! serves until told to stop: every connection under the limits of
//! `ConnectionLimits` (headers in time, no idle connection kept, a cap on
//! open ones), so slow or silent clients cannot hold the server.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

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
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;
use tower_sessions_core::ExpiredDeletion;
use tower_sessions_sqlx_store::PostgresStore;

use crate::{
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
    limits: ConnectionLimits,
    intake: Intake,
    sessions: PostgresStore,
    queries: StatusQueries,
    reconciliation: StatusQuerySettings,
    retention: jiff::SignedDuration,
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
        let listen_addr = settings.listen_addr;
        store.migrate().await.map_err(StartupError::Migrate)?;
        let sessions = guard::session_store(&store)
            .await
            .map_err(StartupError::Sessions)?;
        app::keyring::rekey_fingerprints(&store, &vault)
            .await
            .map_err(StartupError::Migrate)?;
        let passwords =
            Passwords::new(settings.password_cost).map_err(StartupError::PasswordCost)?;
        let listener =
            TcpListener::bind(listen_addr)
                .await
                .map_err(|source| StartupError::Bind {
                    address: listen_addr,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            address: listen_addr,
            source,
        })?;
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
        let router = router::router(
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
            limits: settings.connections,
            intake,
            sessions,
            queries,
            reconciliation: settings.status_queries,
            retention: settings.retention,
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
            limits,
            intake,
            sessions,
            queries,
            reconciliation,
            retention,
            store,
            vault,
            metrics,
            ..
        } = self;
        let tasks = background_jobs(intake, sessions, queries, reconciliation);
        let tasks = with_retention(tasks, store.clone(), retention);
        let tasks = with_jobs(tasks, store, vault, metrics);
        let connections = GracefulShutdown::new();
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let open = Arc::new(Semaphore::new(limits.max_connections));
        tokio::pin!(shutdown);

        loop {
            // At the cap, stop accepting: further clients wait in the
            // kernel's queue until a connection closes.
            let permit = tokio::select! {
                permit = open.clone().acquire_owned() => permit.expect("never closed"),
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, go on.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let mut stream = TimeoutStream::new(stream);
            stream.set_read_timeout(Some(limits.idle_timeout));
            stream.set_write_timeout(Some(limits.idle_timeout));
            let router = router.clone();
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    router.clone().oneshot(request)
                });
            let connection = http
                .serve_connection_with_upgrades(TokioIo::new(Box::pin(stream)), service)
                .into_owned();
            let connection = connections.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, %peer, "connection closed with an error");
                }
                drop(permit);
            });
        }

        drop(listener);
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: no new connections"
        );
        if tokio::time::timeout(grace, connections.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still running after the grace period were cut off");
        }
        tasks.stop(grace).await;
        Ok(())
    }
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

/// Removes strangers' deliveries older than `keep`, hourly.
fn with_retention(mut tasks: Tasks, store: Store, keep: jiff::SignedDuration) -> Tasks {
    tasks.every("retention", RETENTION_SWEEP, move || {
        let store = store.clone();
        async move {
            if let Some(purged) = store.purge_strangers(jiff::Timestamp::now() - keep).await? {
                if purged != app::store::Purged::default() {
                    tracing::info!(
                        deliveries = purged.deliveries,
                        throttled_counts = purged.throttled_counts,
                        "retention removed strangers' deliveries"
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
