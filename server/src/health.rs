//! `/healthz` says the process is alive; `/readyz` says it can do its work
//! (the database answers and every migration is applied), for load balancers
//! and orchestrators.

use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use dispute_store::Store;
use serde_json::{json, Value};

pub fn router(store: Store) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "alive" })) }),
        )
        .route("/readyz", get(ready))
        .with_state(store)
}

/// 200 when ready, 503 otherwise; the cause of a failure is logged, not shown.
async fn ready(State(store): State<Store>) -> (StatusCode, Json<Value>) {
    match store.is_ready().await {
        Ok(true) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "migrations pending" })),
        ),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "database unavailable" })),
            )
        }
    }
}
