//! Builds the application from settings and a pool, binds the listeners
//! (the whole application, and intake alone when asked for) and serves
//! until told to stop, every connection under `accept`'s limits.

use std::{future::Future, net::SocketAddr, time::Duration};

use app::{auth::password::Passwords, state::AppState};

use dispute_workflows::executor::{CallSettings, Executor};

use dispute_workflows::intake::Intake;

use dispute_workflows::metrics::Metrics;

use dispute_workflows::outbound::OutboundPolicy;

use dispute_workflows::status_queries::StatusQueries;
use dispute_workflows::submissions::{LinkSettings, Submissions};

use dispute_store::Store;

use dispute_core::domain::{JobKind, SourceAllowlist};
use dispute_workflows::vault::Vault;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    accept,
    config::{ConnectionLimits, Settings},
    guard::{self, Guard},
    router,
    tasks::Tasks,
};

/// How often this replica writes the counts of requests it refused past
/// their allowance.
const THROTTLE_FLUSH: Duration = Duration::from_secs(10);
/// How often expired sessions are deleted (they are refused on sight anyway).
const SESSION_SWEEP: Duration = Duration::from_secs(3600);
/// Further attempts of a status query after a network error.
const QUERY_RETRIES: u32 = 2;
/// The least a submission's call may take: a supply carries up to the
/// response's files, Base64, which a slow provider takes a while to read.
const SUBMISSION_TIMEOUT: Duration = Duration::from_secs(120);
/// How often retention looks for what is past its time.
const RETENTION_SWEEP: Duration = Duration::from_secs(3600);

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
    work: crate::jobs::Work,
    workers: usize,
    periodic: Vec<(JobKind, Duration)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot apply the database migrations")]
    Migrate(#[source] dispute_store::StoreError),
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
        dispute_workflows::keyring::rekey_fingerprints(&store, &vault)
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
        let calls = |timeout, retries| {
            Executor::new(
                store.clone(),
                CallSettings {
                    policy: OutboundPolicy {
                        allow_local: settings.status_queries.allow_local,
                    },
                    timeout,
                    retries,
                },
            )
        };
        let queries = StatusQueries::new(
            store.clone(),
            vault.clone(),
            calls(settings.status_queries.timeout, QUERY_RETRIES),
            metrics.clone(),
        );
        // A response call is never sent again within an attempt: a failed
        // connection may have delivered it, and only the step's record
        // (and the job's next attempt) may decide to send it again.
        let submissions = Submissions::new(
            store.clone(),
            vault.clone(),
            calls(settings.status_queries.timeout.max(SUBMISSION_TIMEOUT), 0),
            LinkSettings {
                public_url: public_url.clone(),
                lifetime: settings.evidence_link_lifetime,
            },
        );
        let work = crate::jobs::Work {
            store: store.clone(),
            vault: vault.clone(),
            metrics: metrics.clone(),
            queries: queries.clone(),
            submissions,
            sessions: sessions.clone(),
            reconciliation: settings.status_queries,
            retention: settings.retention,
            refused_retention: settings.refused_retention,
        };
        let mut periodic = vec![
            (JobKind::Retention, RETENTION_SWEEP),
            (JobKind::SessionSweep, SESSION_SWEEP),
            (JobKind::Dashboard, settings.dashboard_refresh),
        ];
        if let Some(every) = settings.status_queries.reconcile_every {
            periodic.push((JobKind::Reconcile, every));
        }
        let scraping = crate::metrics::router(
            metrics.clone(),
            store.clone(),
            settings.metrics_token.as_ref(),
        );
        let (router, intake_router) = router::router(
            AppState {
                store,
                vault,
                passwords,
                public_url,
                queries: queries.clone(),
                metrics: metrics.clone(),
                silence_after: settings.status_queries.rules.silence_after,
                evidence: settings.evidence,
                packets: dispute_workflows::packet::Packets::new(settings.packet_builds_at_once),
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
            work,
            workers: settings.job_workers,
            periodic,
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
            work,
            workers,
            periodic,
            ..
        } = self;
        let tasks = beside_serving(intake, work, workers, periodic);
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

/// What runs beside serving: this replica's own work (hearing of
/// connection changes, writing its throttled counts) and its part in the
/// job system — the worker, and the scheduler of the periodic jobs.
fn beside_serving(
    intake: Intake,
    work: crate::jobs::Work,
    workers: usize,
    periodic: Vec<(JobKind, Duration)>,
) -> Tasks {
    let mut tasks = Tasks::new();
    let watching = intake.clone();
    tasks.run(async move { watching.watch_connections().await });
    tasks.every("throttled request counts", THROTTLE_FLUSH, move || {
        let intake = intake.clone();
        async move { intake.flush_throttled().await }
    });
    tasks.run(crate::jobs::schedule(work.store.clone(), periodic));
    if workers > 0 {
        tasks.run(crate::jobs::work(std::sync::Arc::new(work), workers));
    }
    tasks
}

/// With no account yet, prints a one-time link that creates the first
/// admin; the token is valid for an hour and only its hash is stored.
async fn offer_setup_link(
    store: &Store,
    public_url: &str,
) -> Result<(), dispute_store::StoreError> {
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
