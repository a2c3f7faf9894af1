//! The one place the features' routers are merged and the cross-cutting
//! layers (request ids, tracing, panics, time limits) are applied.

use std::time::Duration;

use app::state::AppState;

use axum::{
    body::Body,
    http::{header, HeaderName, HeaderValue, Request, StatusCode},
    middleware,
    response::Response,
    Router,
};
use dispute_core::domain::SourceAllowlist;
use dispute_workflows::intake::Intake;
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tower_sessions::SessionManagerLayer;
use tower_sessions_sqlx_store::PostgresStore;

use crate::{
    assets, canonical, evidence, evidence_links, exports,
    guard::{self, Guard},
    health, pages, webhooks,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The people-facing part (pages and server functions) sits behind the
/// guard and its sessions; intake, probes, metrics (their own token) and the
/// stylesheet do not. Also returns intake with the probes alone, for a
/// listener of its own.
pub fn router(
    state: AppState,
    intake: Intake,
    trusted_proxies: SourceAllowlist,
    guard: Guard,
    sessions: SessionManagerLayer<PostgresStore>,
    metrics: Router,
) -> (Router, Router) {
    let store = state.store.clone();
    let https = state.public_url.starts_with("https://");
    // Signed-in pages and form answers are never stored by a browser or a
    // proxy; forms are read whole, within their limit, before anything else.
    let signed_in = |router: Router, limit: Duration| {
        router
            .layer(middleware::from_fn_with_state(guard.clone(), guard::guard))
            .layer(sessions.clone())
            .layer(middleware::from_fn(pages::limit_body))
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            // Outermost, so reading a form and finding its session count
            // against the request's time too.
            .layer(time_limit(limit))
    };
    // A provider fetching a sent response's files has no session.
    let links = evidence_links::router(store.clone(), state.vault.clone(), trusted_proxies.clone())
        .layer(time_limit(evidence::TIME));
    let ui = signed_in(
        pages::router(state.clone()).merge(exports::router(store.clone())),
        REQUEST_TIME,
    )
    .merge(signed_in(evidence::router(state), evidence::TIME));
    let intake_only = Router::new()
        .merge(health::router(store.clone()))
        .merge(webhooks::router(intake, trusted_proxies))
        .layer(time_limit(REQUEST_TIME));
    let everything = intake_only
        .clone()
        .merge(
            metrics
                .merge(assets::router())
                .layer(time_limit(REQUEST_TIME)),
        )
        .merge(links)
        .merge(ui);
    (
        with_common_layers(everything, https),
        with_common_layers(intake_only, https),
    )
}

/// What every answer gets: security headers, a request id, tracing, panic
/// and time limits, and the canonical-path check.
fn with_common_layers(mut router: Router, https: bool) -> Router {
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    // Reached over https, browsers are told to come back only that way (a
    // year; subdomains are the operator's to decide, so not included).
    if https {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(request_span))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::from_fn(canonical::refuse_non_canonical)),
    )
}

/// How long a request may take before it is answered 503; evidence, which
/// moves files, has its own (`evidence::TIME`).
const REQUEST_TIME: Duration = Duration::from_secs(30);

fn time_limit(limit: Duration) -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limit)
}

/// No script runs on our pages (the sign-in page's own file is allowed by
/// that page's policy, `crate::pages`) and none may be injected; no
/// framing; the referrer stays on our origin (the CSRF check reads it).
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
];

/// Every request's span carries its id, so all its log lines can be found.
pub(crate) fn request_span(request: &Request<Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let path = request.uri().path();
    // An evidence link is a capability to fetch a file: its token stays
    // out of the logs.
    let path = match path.strip_prefix(dispute_core::domain::links::PREFIX) {
        Some(_) => "/evidence-links/…",
        None => path,
    };
    tracing::info_span!("request", id, method = %request.method(), path = ?path)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    crate::error_page::error_page(StatusCode::INTERNAL_SERVER_ERROR)
}
