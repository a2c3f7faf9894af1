//! What every page and server function can reach through Leptos context.

use crate::store::Store;

/// Shared by all requests; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
}
