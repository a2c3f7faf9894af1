//! Mounts the Leptos application: its pages, its server functions, and the
//! 404 page for every address nothing else claims.

use app::{shell, state::AppState, App};
use axum::{response::Redirect, routing::get, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

pub fn router(state: AppState) -> Router {
    let options = LeptosOptions::builder().output_name("dispute-desk").build();
    let routes = generate_route_list(App);
    let context = move || provide_context(state.clone());
    let not_found = leptos_axum::render_app_async_with_context(context.clone(), {
        let options = options.clone();
        move || shell(options.clone())
    });
    Router::new()
        .route("/", get(|| async { Redirect::to("/disputes") }))
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(move |request| not_found(request))
        .with_state(options)
}
