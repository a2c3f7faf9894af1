//! What every page and server function can reach through Leptos context.

use crate::{
    auth::password::Passwords, pages::dashboard::DashboardCache, store::Store, vault::Vault,
};

/// Shared by all requests; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub vault: Vault,
    pub passwords: Passwords,
    /// How people reach Dispute Desk (`scheme://host[:port]`): intake URLs
    /// are shown with it.
    pub public_url: String,
    pub dashboard: DashboardCache,
}
