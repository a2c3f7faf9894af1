//! Mounts the Leptos application: its pages, its server functions, and the
//! 404 page for every address nothing else claims.
//!
//! Pages are rendered here rather than by `leptos_routes_with_context`
//! because every page must be complete in the first response: Leptos'
//! own handlers append hydration data (inline scripts) after `</html>`, which
//! a page without WebAssembly never reads and a strict Content-Security-Policy
//! would refuse.

use app::{error::AppError, shell, state::AppState, App};
use axum::{
    body::Body,
    extract::State,
    http::{Request, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    routing::{get, on, MethodFilter},
    Json, Router,
};
use serde_json::json;
use server_fn::error::SERVER_FN_ERROR_HEADER;

use crate::error_page::error_page_saying;
use futures::{stream, StreamExt};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_response_inner, LeptosRoutes};
use leptos_integration_utils::{BoxedFnOnce, PinnedFuture, PinnedStream};

#[derive(Clone)]
struct PageState {
    app: AppState,
    options: LeptosOptions,
}

impl axum::extract::FromRef<PageState> for LeptosOptions {
    fn from_ref(state: &PageState) -> Self {
        state.options.clone()
    }
}

pub fn router(app: AppState) -> Router {
    // Leptos spawns its rendering tasks through this executor.
    let _ = any_spawner::Executor::init_tokio();
    let state = PageState {
        app,
        options: LeptosOptions::builder().output_name("dispute-desk").build(),
    };
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::to("/disputes") }))
        .leptos_routes_with_handler(generate_route_list(App), page);
    for (path, method) in server_fn::axum::server_fn_paths() {
        router = router.route(path, on(method_filter(method), server_function));
    }
    router.fallback(page).with_state(state)
}

/// Renders the page for the request's path (the router inside `App` picks it;
/// an unknown path renders the 404 page).
async fn page(State(state): State<PageState>, request: Request<Body>) -> Response {
    let PageState { app, options } = state;
    let sign_in = request.uri().path() == "/login";
    let mut response = handle_response_inner(
        move || provide_context(app.clone()),
        move || shell(options),
        request,
        whole_document,
    )
    .await;
    // The sign-in page alone runs a script, its own file from our origin;
    // every other page runs none.
    if sign_in {
        let policy = format!(
            "{}; script-src 'self'",
            crate::router::CONTENT_SECURITY_POLICY
        );
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            response
                .headers_mut()
                .insert(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

async fn server_function(State(state): State<PageState>, request: Request<Body>) -> Response {
    let app = state.app;
    let wants_page = wants_html(request.headers());
    let response = axum::response::IntoResponse::into_response(
        leptos_axum::handle_server_fns_with_context(move || provide_context(app.clone()), request)
            .await,
    );
    if response.headers().contains_key(SERVER_FN_ERROR_HEADER) {
        refusal(response, wants_page).await
    } else {
        response
    }
}

/// A server function's error answered with its own status: a page for a
/// browser's form, `{"error": …}` otherwise. (Leptos would answer 500, or
/// redirect a form back with the error in the address.)
async fn refusal(response: Response, wants_page: bool) -> Response {
    let body = axum::body::to_bytes(response.into_body(), FORM_LIMIT)
        .await
        .unwrap_or_default();
    let error: AppError = serde_json::from_slice(&body).unwrap_or(AppError::Internal);
    let status = error.status();
    if wants_page {
        let title = status.canonical_reason().unwrap_or("Refused");
        error_page_saying(status, title, &error.to_string())
    } else {
        (status, Json(json!({ "error": error.to_string() }))).into_response()
    }
}

fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The most a form may send: a response's letter of 20,000 characters in
/// any script, percent-encoded (up to 12 bytes a character); keys pasted
/// into a form are a few KiB.
pub const FORM_LIMIT: usize = 256 * 1024;

/// Reads a request's body up to `FORM_LIMIT` before any handler does, so an
/// oversized form is answered 413 with a page, not failed inside Leptos.
pub async fn limit_body(request: Request<Body>, next: Next) -> Response {
    // An upload is streamed as it arrives, within its own route's limit.
    if app::access::is_upload(request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            if too_large {
                error_page_saying(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The form is too large",
                    &format!("A form may send at most {} KiB.", FORM_LIMIT / 1024),
                )
            } else {
                error_page_saying(
                    StatusCode::BAD_REQUEST,
                    "The form could not be read",
                    "The request's body ended early; send the form again.",
                )
            }
        }
    }
}

/// Waits for every `Suspense` to resolve and sends the document alone,
/// leaving out the hydration chunks.
fn whole_document<IV: IntoView + 'static>(
    view: IV,
    _hydration: BoxedFnOnce<PinnedStream<String>>,
    _supports_out_of_order: bool,
) -> PinnedFuture<PinnedStream<String>> {
    Box::pin(async move {
        let html = view.to_html_stream_in_order().collect::<String>().await;
        Box::pin(stream::once(async move { html })) as PinnedStream<String>
    })
}

fn method_filter(method: http::Method) -> MethodFilter {
    MethodFilter::try_from(method).unwrap_or(MethodFilter::POST)
}
