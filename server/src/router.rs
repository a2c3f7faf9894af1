//! The one place the features' routers are merged and the cross-cutting
//! layers (request ids, tracing, panics, time limits) are applied.

use std::time::Duration;

use app::{domain::SourceAllowlist, intake::Intake, state::AppState};
use axum::{
    body::Body,
    http::{header, HeaderName, Request, StatusCode},
    response::{Html, IntoResponse, Response},
    Router,
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{assets, health, pages, webhooks};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState, intake: Intake, trusted_proxies: SourceAllowlist) -> Router {
    Router::new()
        .merge(health::router(state.store.clone()))
        .merge(webhooks::router(intake, trusted_proxies))
        .merge(assets::router())
        .merge(pages::router(state))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Duration::from_secs(30),
                )),
        )
}

/// Every request's span carries its id, so all its log lines can be found.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CACHE_CONTROL, "no-store")],
        Html("<!DOCTYPE html><title>Something went wrong</title><h1>Something went wrong</h1><p>The cause has been logged for the operators; try again in a moment.</p>"),
    )
        .into_response()
}
