//! The error type server functions return, and the error page.

use leptos::prelude::*;
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use dispute_store::StoreError;

/// An error a server function can return to a page. Internal causes are
/// logged where they happen and never cross to the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// A failure of ours (database, bug): the page answers HTTP 500 and says
    /// only that something went wrong.
    #[error("something went wrong on our side")]
    Internal,
    /// The request itself was wrong (bad form data): HTTP 400 with the reason.
    #[error("{0}")]
    BadRequest(String),
    /// Nobody is signed in: HTTP 401.
    #[error("sign in first")]
    Unauthorized,
    /// The signed-in person's role does not allow this: HTTP 403.
    #[error("your role does not allow this")]
    Forbidden,
}

impl AppError {
    /// The HTTP status the error answers with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            AppError::Internal => http::StatusCode::INTERNAL_SERVER_ERROR,
            AppError::BadRequest(_) => http::StatusCode::BAD_REQUEST,
            AppError::Unauthorized => http::StatusCode::UNAUTHORIZED,
            AppError::Forbidden => http::StatusCode::FORBIDDEN,
        }
    }

    /// Logs `cause` with its whole source chain and returns the opaque error.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %dispute_workflows::chain(cause), "internal error");
        AppError::Internal
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::internal(&e)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => AppError::BadRequest(m),
            other => AppError::internal(&other),
        }
    }
}

/// Answers the page with HTTP 500 and a message that shows no internals.
#[component]
pub fn InternalErrorPage() -> impl IntoView {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::INTERNAL_SERVER_ERROR);
    }
    view! {
        <Title text="Something went wrong · Dispute Desk" />
        <section class="error-page">
            <h1>"Something went wrong"</h1>
            <p>
                "The page could not be shown. The cause has been logged for the operators; try again in a moment."
            </p>
        </section>
    }
}
