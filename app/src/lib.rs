//! Dispute Desk's application library: the Leptos pages and their server
//! functions, the store (the only home of SQL), and the state they share.
//! The `server` crate mounts all of it on axum.
#![forbid(unsafe_code)]

pub mod assets;
pub mod domain;
pub mod error;
pub mod intake;
pub mod layout;
pub mod pages;
pub mod providers;
pub mod state;
pub mod store;
pub mod vault;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags};
use leptos_router::{
    components::{Route, Router, Routes},
    StaticSegment,
};

use layout::Layout;
use pages::{
    audit::AuditPage, connections::ConnectionsPage, deadlines::DeadlinesPage,
    deliveries::DeliveriesPage, disputes::DisputesPage, not_found::NotFound, users::UsersPage,
};

/// The HTML document around every page. There are no hydration scripts: every
/// page is complete as the server sends it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let _ = options;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="stylesheet" href=assets::STYLESHEET_PATH />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Every route of the UI. The server renders each page whole, data included,
/// before it answers (see `server::pages`).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("disputes") view=DisputesPage />
                    <Route path=StaticSegment("deadlines") view=DeadlinesPage />
                    <Route path=StaticSegment("deliveries") view=DeliveriesPage />
                    <Route
                        path=StaticSegment("connections")
                        view=ConnectionsPage

                    />
                    <Route path=StaticSegment("users") view=UsersPage />
                    <Route path=StaticSegment("audit") view=AuditPage />
                </Routes>
            </Layout>
        </Router>
    }
}
