//! Builds the application from settings and a pool, binds the listener and
//! serves until told to stop.

use std::{future::Future, net::SocketAddr, time::Duration};

use app::{intake::Intake, state::AppState, store::Store, vault::Vault};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{config::Settings, router};

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
        let intake = Intake::new(store.clone(), vault);
        let router = router::router(AppState { store }, intake, settings.trusted_proxies.clone());
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

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn termination_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
