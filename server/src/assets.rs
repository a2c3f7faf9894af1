//! Serves the stylesheet and the sign-in page's script under their
//! content-hashed paths, cacheable forever.

use app::assets::{STYLESHEET, STYLESHEET_PATH, ZONE_SCRIPT, ZONE_SCRIPT_PATH};
use axum::{http::header, routing::get, Router};

const FOREVER: &str = "public, max-age=31536000, immutable";

pub fn router() -> Router {
    Router::new()
        .route(
            STYLESHEET_PATH,
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, FOREVER),
                    ],
                    STYLESHEET,
                )
            }),
        )
        .route(
            ZONE_SCRIPT_PATH,
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, FOREVER),
                    ],
                    ZONE_SCRIPT,
                )
            }),
        )
}
