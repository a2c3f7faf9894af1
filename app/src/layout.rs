//! The frame around every page: the brand, the navigation the signed-in
//! person's role reaches, the sign-out button, and the zone times are in.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::components::A;

use crate::auth::current_user;
use dispute_core::domain::Permission;

/// The navigation entries, in the order the team works through them, with
/// what each needs.
pub const NAVIGATION: [(&str, &str, Permission); 11] = [
    ("/disputes", "Disputes", Permission::ReadDisputes),
    ("/deadlines", "Deadlines", Permission::ReadDisputes),
    ("/dashboard", "Dashboard", Permission::ReadDisputes),
    (
        "/deliveries",
        "Delivery history",
        Permission::ReadDeliveries,
    ),
    ("/providers", "Provider health", Permission::ReadDeliveries),
    ("/queries", "Status queries", Permission::ReadDeliveries),
    ("/jobs", "Jobs", Permission::ReadDeliveries),
    ("/connections", "Connections", Permission::ManageConnections),
    ("/users", "Users", Permission::ManageUsers),
    ("/audit", "Audit log", Permission::ReadAuditLog),
    ("/rebuilds", "Rebuild disputes", Permission::RebuildDisputes),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let user = current_user();
    let zone = user.as_ref().map(|u| {
        dispute_core::domain::display_time::zone_label(&u.timezone.zone(), jiff::Timestamp::now())
    });
    let entries: Vec<_> = NAVIGATION
        .iter()
        .filter(|(_, _, needs)| user.as_ref().is_some_and(|u| u.role.may(*needs)))
        .map(|(href, label, _)| {
            view! {
                <li>
                    <A href=*href>{*label}</A>
                </li>
            }
        })
        .collect();
    view! {
        <header class="topbar">
            <a class="brand" href="/disputes">
                "Dispute Desk"
            </a>
            <nav aria-label="Main">
                <ul>{entries}</ul>
            </nav>
            {user.map(|u| {
                view! {
                    <form class="account" method="post" action=crate::pages::login::Logout::PATH>
                        <a href="/account" title=u.email.clone()>{u.display_name.clone()}</a>
                        <span class="role">{u.role.label()}</span>
                        <button type="submit">"Sign out"</button>
                    </form>
                }
            })}
        </header>
        <main>
            <crate::pages::FlashMessages />
            {children()}
        </main>
        {zone.map(|zone| view! {
            <footer class="zone-note">
                {format!("Times are in {zone}. ")}
                <a href="/account">"Change time zone"</a>
            </footer>
        })}
    }
}
