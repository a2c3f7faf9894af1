//! The page for a signed-in person whose role does not reach the address:
//! HTTP 403.

use leptos::prelude::*;

use super::PageHeading;

#[component]
pub fn Forbidden() -> impl IntoView {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <PageHeading title="Not allowed" />
        <p class="panel">"Your role does not give access to this page. Ask an administrator if you need it."</p>
    }
}
