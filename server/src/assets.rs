//! Serves the stylesheet under its content-hashed path, cacheable forever.

use app::assets::{STYLESHEET, STYLESHEET_PATH};
use axum::{http::header, routing::get, Router};

pub fn router() -> Router {
    Router::new().route(
        STYLESHEET_PATH,
        get(|| async {
            (
                [
                    (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                ],
                STYLESHEET,
            )
        }),
    )
}
