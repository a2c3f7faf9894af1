//! Builds the application from settings and a pool, binds the listener and
//! serves until told to stop.

use std::{future::Future, net::SocketAddr, time::Duration};

use app::{auth::password::Passwords, intake::Intake, state::AppState, store::Store, vault::Vault};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_sessions_core::ExpiredDeletion;

use crate::{
    config::Settings,
    guard::{self, Guard},
    router,
};

/// A bound, migrated, ready-to-serve application.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    address: SocketAddr,
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
        // Expired sessions are deleted hourly; they are refused on sight anyway.
        tokio::spawn(
            sessions
                .clone()
                .continuously_delete_expired(Duration::from_secs(3600)),
        );
        let guard = Guard::new(
            store.clone(),
            settings.trusted_proxies.clone(),
            origins,
            settings.session_absolute,
        );
        let sessions = guard::session_layer(
            sessions,
            public_url.starts_with("https://"),
            settings.session_idle,
        );
        let intake = Intake::new(store.clone(), vault.clone());
        let router = router::router(
            AppState {
                store,
                vault,
                passwords,
                public_url,
            },
            intake,
            settings.trusted_proxies.clone(),
            guard,
            sessions,
        );
        Ok(Self {
            listener,
            router,
            address,
        })
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
        let stopping = CancellationToken::new();
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopping.clone().cancelled_owned());
        let mut serving = tokio::spawn(async move { serve.await });

        tokio::select! {
            finished = &mut serving => return finished.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            () = shutdown => {}
        }
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: no new connections"
        );
        stopping.cancel();
        match tokio::time::timeout(grace, &mut serving).await {
            Ok(finished) => finished.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            Err(_) => {
                tracing::warn!("requests still running after the grace period were cut off");
                serving.abort();
                Ok(())
            }
        }
    }
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
