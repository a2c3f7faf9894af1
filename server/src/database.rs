//! Chooses the database: `DATABASE_URL` when set, the private cluster
//! otherwise.

use secrecy::ExposeSecret;
use sqlx::PgPool;

use dispute_store::private_postgres::{ClusterError, PrivateCluster};

use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    BadUrl(#[source] sqlx::Error),
}

/// The pool, and the private cluster when one was started (to be stopped
/// after the pool is closed).
pub struct Database {
    pub pool: PgPool,
    pub cluster: Option<PrivateCluster>,
}

pub async fn open(settings: &Settings) -> Result<Database, DatabaseError> {
    let (options, cluster) = match &settings.database_url {
        Some(url) => (
            url.expose_secret().parse().map_err(DatabaseError::BadUrl)?,
            None,
        ),
        None => {
            let cluster = PrivateCluster::locate(
                &settings.data_dir.join("postgres"),
                settings.postgres_bin_dir.as_deref(),
            )?;
            let options = cluster.start().await?;
            tracing::info!(data_dir = %cluster.data_dir().display(), "private PostgreSQL cluster running");
            (options, Some(cluster))
        }
    };
    let pool = dispute_store::connect(options, settings.database_max_connections).await;
    match pool {
        Ok(pool) => Ok(Database { pool, cluster }),
        Err(e) => {
            if let Some(cluster) = cluster {
                let _ = cluster.stop();
            }
            Err(DatabaseError::Connect(e))
        }
    }
}

impl Database {
    /// Closes the pool, then stops the private cluster if one was started.
    pub async fn close(self) -> Result<(), ClusterError> {
        self.pool.close().await;
        if let Some(cluster) = self.cluster {
            cluster.stop()?;
            tracing::info!("private PostgreSQL cluster stopped");
        }
        Ok(())
    }
}
