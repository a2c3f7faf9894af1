//! Provider connections: one row per provider account.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// A connection as the connections list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ConnectionSummary {
    pub slug: String,
    pub provider: String,
    pub display_name: String,
    pub enabled: bool,
    pub timezone: String,
}

impl Store {
    /// Every connection, by slug.
    pub async fn list_connections(&self) -> Result<Vec<ConnectionSummary>, StoreError> {
        Ok(sqlx::query_as(
            "select slug, provider, display_name, enabled, timezone from connections order by slug",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
