//! `GET /metrics`: the application's metrics in Prometheus' text format,
//! for a scraper holding the `METRICS_TOKEN` bearer token. Without a token
//! configured the route does not exist; a wrong or missing token is 401.

use dispute_workflows::metrics::Metrics;

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use dispute_store::Store;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

#[derive(Clone)]
struct Scrape {
    metrics: Metrics,
    store: Store,
    /// SHA-256 of the token: compared digest to digest, so the comparison
    /// takes the same time whatever was sent.
    token: [u8; 32],
}

pub fn router(metrics: Metrics, store: Store, token: Option<&SecretString>) -> Router {
    let Some(token) = token else {
        return Router::new();
    };
    let token = Sha256::digest(token.expose_secret().trim().as_bytes()).into();
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            metrics,
            store,
            token,
        })
}

async fn scrape(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .map(|t| <[u8; 32]>::from(Sha256::digest(t.trim().as_bytes())));
    if given != Some(scrape.token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required",
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            // The figures describe the installation: no cache keeps them.
            (header::CACHE_CONTROL, "no-store"),
        ],
        scrape.metrics.render(&scrape.store),
    )
        .into_response()
}
