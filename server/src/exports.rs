//! Downloads behind the guard like the pages (each checking the role
//! again): `GET /disputes.csv?<the work queue's parameters>`, the queue as
//! CSV; `GET /deliveries/{id}/raw`, a delivery's body byte for byte.

use app::{auth::CurrentUser, exports::queue_csv};

use axum::{
    body::Body,
    extract::{RawQuery, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Extension, Router,
};
use dispute_core::domain::{Permission, QueueFilter};
use dispute_store::Store;
use futures::StreamExt;

use crate::error_page::error_page_saying;

pub fn router(store: Store) -> Router {
    Router::new()
        .route("/disputes.csv", get(disputes_csv))
        .route("/deliveries/{id}/raw", get(raw_body))
        .with_state(store)
}

/// The body as it arrived (or its kept prefix), as an opaque download:
/// never rendered, so nothing in it can run.
async fn raw_body(
    State(store): State<Store>,
    user: Option<Extension<CurrentUser>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    if !user.is_some_and(|Extension(u)| u.role.may(Permission::ReadDeliveries)) {
        return crate::error_page::error_page(StatusCode::FORBIDDEN);
    }
    let Ok(id) = id.parse::<i64>() else {
        return crate::error_page::error_page(StatusCode::NOT_FOUND);
    };
    match store.notification(id).await {
        Ok(Some(n)) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"delivery-{id}.body\""),
                ),
            ],
            n.body,
        )
            .into_response(),
        Ok(None) => crate::error_page::error_page(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %dispute_workflows::chain(&e), "a delivery could not be read");
            crate::error_page::error_page(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// 200 with `text/csv` (a header row, then every matching dispute), 400 with
/// a page naming the parameter it cannot read, 403 for a role without access.
async fn disputes_csv(
    State(store): State<Store>,
    user: Option<Extension<CurrentUser>>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(Extension(user)) = user.filter(|u| u.role.may(Permission::ReadDisputes)) else {
        return crate::error_page::error_page(StatusCode::FORBIDDEN);
    };
    let params = app::pages::disputes::url_params(query.as_deref().unwrap_or_default());
    let filter = match QueueFilter::from_params(&params) {
        Ok(filter) => filter,
        Err(e) => {
            return error_page_saying(
                StatusCode::BAD_REQUEST,
                "Cannot export this view",
                &e.message,
            )
        }
    };
    let now = jiff::Timestamp::now();
    let name = format!("disputes-{}.csv", now.strftime("%Y%m%d-%H%M%S"));
    let body = queue_csv(store, filter, user.id, now).map(|chunk| {
        chunk.inspect_err(|e| {
            tracing::error!(error = %dispute_workflows::chain(e), "the CSV export stopped part-way");
        })
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
