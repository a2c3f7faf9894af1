//! Mounts the Leptos application: its pages, its server functions, and the
//! 404 page for every address nothing else claims.
//!
//! Pages are rendered here rather than by `leptos_routes_with_context`
//! because every page must be complete in the first response: Leptos'
//! own handlers append hydration data (inline scripts) after `</html>`, which
//! a page without WebAssembly never reads and a strict Content-Security-Policy
//! would refuse.

use app::{shell, state::AppState, App};
use axum::{
    body::Body,
    extract::State,
    http::Request,
    response::{Redirect, Response},
    routing::{get, on, MethodFilter},
    Router,
};
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
    handle_response_inner(
        move || provide_context(app.clone()),
        move || shell(options),
        request,
        whole_document,
    )
    .await
}

async fn server_function(State(state): State<PageState>, request: Request<Body>) -> Response {
    let app = state.app;
    axum::response::IntoResponse::into_response(
        leptos_axum::handle_server_fns_with_context(move || provide_context(app.clone()), request)
            .await,
    )
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
