//! Dispute Desk's UI: the Leptos pages and their server functions, the
//! layout, the charts, who may reach what, and the state they share. The
//! store (`dispute_store`) and the workflows (`dispute_workflows`) do the
//! work; the `server` crate mounts all of it on axum.
#![forbid(unsafe_code)]

pub mod access;
pub mod assets;
pub mod auth;
pub mod charts;
pub mod error;
pub mod exports;
pub mod flash;
pub mod layout;
pub mod links;
pub mod pages;
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, StaticSegment,
};

use layout::Layout;
use pages::{
    account::{AccountPage, PasswordPage},
    audit::AuditPage,
    connection::ConnectionPage,
    connection_new::NewConnectionPage,
    connections::ConnectionsPage,
    dashboard::DashboardPage,
    deadlines::DeadlinesPage,
    decide::DecidePage,
    deliveries::DeliveriesPage,
    delivery::DeliveryPage,
    dispute::DisputePage,
    disputes::DisputesPage,
    forbidden::Forbidden,
    jobs::JobsPage,
    letters::LettersPage,
    login::LoginPage,
    not_found::NotFound,
    providers::ProvidersPage,
    queries::QueriesPage,
    rebuilds::{RebuildPage, RebuildsPage},
    replays::{ReplayRunPage, ReplaysPage},
    response::ResponsePage,
    setup::SetupPage,
    users::UsersPage,
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
    provide_context(pages::ViewerZone(
        auth::current_user().map_or(jiff::tz::TimeZone::UTC, |u| u.timezone.zone()),
    ));
    // The server's guard marks requests the caller's role does not reach;
    // their page is never rendered, so none of its data is read.
    let denied = auth::access_denied();
    view! {
        <Router>
            <Layout>
                <Show when=move || !denied fallback=Forbidden>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("login") view=LoginPage />
                    <Route path=StaticSegment("setup") view=SetupPage />
                    <Route path=StaticSegment("account") view=AccountPage />
                    <Route
                        path=(StaticSegment("account"), StaticSegment("password"))
                        view=PasswordPage
                    />
                    <Route path=StaticSegment("disputes") view=DisputesPage />
                    <Route
                        path=(StaticSegment("disputes"), ParamSegment("id"))
                        view=DisputePage
                    />
                    <Route
                        path=(
                            StaticSegment("disputes"),
                            ParamSegment("id"),
                            StaticSegment("decide"),
                            ParamSegment("choice"),
                        )
                        view=DecidePage
                    />
                    <Route
                        path=(StaticSegment("responses"), ParamSegment("id"))
                        view=ResponsePage
                    />
                    <Route path=StaticSegment("letters") view=LettersPage />
                    <Route path=StaticSegment("deadlines") view=DeadlinesPage />
                    <Route path=StaticSegment("dashboard") view=DashboardPage />
                    <Route path=StaticSegment("deliveries") view=DeliveriesPage />
                    <Route
                        path=(StaticSegment("deliveries"), ParamSegment("id"))
                        view=DeliveryPage
                    />
                    <Route path=StaticSegment("providers") view=ProvidersPage />
                    <Route path=StaticSegment("queries") view=QueriesPage />
                    <Route path=StaticSegment("jobs") view=JobsPage />
                    <Route path=StaticSegment("replays") view=ReplaysPage />
                    <Route
                        path=(StaticSegment("replays"), StaticSegment("runs"), ParamSegment("id"))
                        view=ReplayRunPage
                    />
                    <Route path=StaticSegment("rebuilds") view=RebuildsPage />
                    <Route
                        path=(StaticSegment("rebuilds"), ParamSegment("id"))
                        view=RebuildPage
                    />
                    <Route path=StaticSegment("connections") view=ConnectionsPage />
                    <Route
                        path=(StaticSegment("connections"), StaticSegment("new"))
                        view=NewConnectionPage
                    />
                    <Route
                        path=(StaticSegment("connections"), ParamSegment("slug"))
                        view=ConnectionPage
                    />
                    <Route path=StaticSegment("users") view=UsersPage />
                    <Route path=StaticSegment("audit") view=AuditPage />
                </Routes>
                </Show>
            </Layout>
        </Router>
    }
}
