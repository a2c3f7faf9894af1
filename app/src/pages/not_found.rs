//! The page for any address the application does not know: HTTP 404.

use leptos::prelude::*;

use super::PageHeading;

#[component]
pub fn NotFound() -> impl IntoView {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageHeading title="Page not found" />
        <p class="panel">
            "There is no page at this address. Use the navigation above to find your way."
        </p>
    }
}
