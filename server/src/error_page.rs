//! The bare pages for refusals and failures that the Leptos renderer does
//! not draw: a panic, the database gone before a page could start, a guard's
//! or an export's refusal.

use axum::{
    http::{header, StatusCode},
    response::{Html, IntoResponse, Response},
};

/// A bare error page for failures outside the Leptos renderer (a panic, the
/// database gone before the page could start); it shows no internals.
pub fn error_page(status: StatusCode) -> Response {
    error_page_saying(
        status,
        "Something went wrong",
        "The cause has been logged for the operators; try again in a moment.",
    )
}

/// A bare page saying why a request was refused; `message` is escaped.
pub fn error_page_saying(status: StatusCode, title: &str, message: &str) -> Response {
    let (title, message) = (
        html_escape::encode_text(title),
        html_escape::encode_text(message),
    );
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Html(format!(
            "<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>{title} · Dispute Desk</title>\
             <link rel=\"stylesheet\" href=\"{}\"><main><h1>{title}</h1><p class=\"panel\">{message}</p>\
             <p><a href=\"/\">Back to Dispute Desk</a></p></main></html>",
            app::assets::STYLESHEET_PATH
        )),
    )
        .into_response()
}
