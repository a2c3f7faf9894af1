//! What every page and server function can reach through Leptos context.

use crate::auth::password::Passwords;

use dispute_workflows::status_queries::StatusQueries;

use dispute_store::Store;

use dispute_workflows::vault::Vault;

/// Shared by all requests; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub vault: Vault,
    pub passwords: Passwords,
    /// How people reach Dispute Desk (`scheme://host[:port]`): intake URLs
    /// are shown with it.
    pub public_url: String,
    pub queries: StatusQueries,
    pub metrics: dispute_workflows::metrics::Metrics,
    /// How long silence from a connection's provider is alarming, unless
    /// the connection sets its own.
    pub silence_after: jiff::SignedDuration,
    /// What evidence files and packets are held to.
    pub evidence: dispute_core::domain::evidence::EvidenceLimits,
    pub packets: dispute_workflows::packet::Packets,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
