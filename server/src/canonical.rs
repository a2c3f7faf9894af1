//! Refuses request paths that are not written in their one canonical form:
//! dot segments (`/a/../b`, also percent-encoded), empty segments (`//`),
//! slashes or backslashes hidden in percent-encoding, and percent-encoded
//! characters that need none (`/user%73`, RFC 3986 §6.2.2.2). The guard
//! judges the path as written while a router may read it decoded and
//! normalized; refusing every other spelling keeps both judging the same
//! page.

use axum::{
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// Answers 400 to a non-canonical path; passes everything else on.
pub async fn refuse_non_canonical(request: Request, next: Next) -> Response {
    if is_canonical(request.uri().path()) {
        next.run(request).await
    } else {
        tracing::warn!(path = ?request.uri().path(), "refused a non-canonical path");
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "the address is not in its canonical form" })),
        )
            .into_response()
    }
}

/// Whether `path` (as received, still percent-encoded) has no dot segment,
/// no empty segment but a final one, no encoded `/` or `\`, and no
/// encoded unreserved character.
pub fn is_canonical(path: &str) -> bool {
    if encodes_unreserved(path) {
        return false;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    segments.iter().enumerate().all(|(i, segment)| {
        let decoded = urlencoding::decode_binary(segment.as_bytes());
        let empty_inside = segment.is_empty() && i != last;
        !empty_inside
            && !matches!(&decoded[..], b"." | b"..")
            && !decoded.contains(&b'/')
            && !decoded.contains(&b'\\')
    })
}

/// Whether a `%XX` in `path` stands for a letter, a digit, `-`, `.`, `_`
/// or `~`, which are written as themselves in the canonical form.
fn encodes_unreserved(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::is_canonical;

    #[test]
    fn ordinary_paths_are_canonical() {
        for path in [
            "/",
            "/disputes",
            "/disputes/",
            "/connections/pingpong-main",
            "/assets/main-6fe8dac2ba461be1.css",
            "/webhooks/x%0Ay",
            "/webhooks/caf%C3%A9",
            "/webhooks/a.b",
            "/webhooks/...",
        ] {
            assert!(is_canonical(path), "{path}");
        }
    }

    #[test]
    fn dot_segments_empty_segments_and_hidden_slashes_are_not() {
        for path in [
            "/assets/../disputes",
            "/assets/%2e%2e/disputes",
            "/assets/%2E%2E/disputes",
            "/assets/.%2e/disputes",
            "/x/../users",
            "/./disputes",
            "/disputes/.",
            "/disputes/..",
            "//disputes",
            "/assets//disputes",
            "/x%2f..%2fusers",
            "/x%2F..%2Fusers",
            "/x%5c..%5cusers",
            "/user%73",
            "/%64isputes",
            "/disputes/%31",
            "/a%2Db",
            "/a%7eb",
            "/a%5F",
            "/x\\..\\users",
            "disputes",
            "",
        ] {
            assert!(!is_canonical(path), "{path}");
        }
    }
}
