//! The frame around every page: the brand, the navigation the signed-in
//! person's role reaches, the sign-out button, and the zone times are in.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::components::A;

use crate::auth::current_user;
use dispute_core::domain::Permission;

/// Where a navigation entry sits: the analysts' pages in the bar itself,
/// ops' and admins' pages each under a menu of their own, so the bar fits
/// one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Work,
    Operations,
    Admin,
}

impl Group {
    fn menu(self) -> Option<&'static str> {
        match self {
            Group::Work => None,
            Group::Operations => Some("Operations"),
            Group::Admin => Some("Admin"),
        }
    }
}

/// The navigation entries, in the order the team works through them, with
/// what each needs and where it sits.
pub const NAVIGATION: [(&str, &str, Permission, Group); 12] = [
    (
        "/disputes",
        "Disputes",
        Permission::ReadDisputes,
        Group::Work,
    ),
    (
        "/deadlines",
        "Deadlines",
        Permission::ReadDisputes,
        Group::Work,
    ),
    (
        "/dashboard",
        "Dashboard",
        Permission::ReadDisputes,
        Group::Work,
    ),
    (
        "/deliveries",
        "Delivery history",
        Permission::ReadDeliveries,
        Group::Operations,
    ),
    (
        "/providers",
        "Provider health",
        Permission::ReadDeliveries,
        Group::Operations,
    ),
    (
        "/queries",
        "Status queries",
        Permission::ReadDeliveries,
        Group::Operations,
    ),
    (
        "/jobs",
        "Jobs",
        Permission::ReadDeliveries,
        Group::Operations,
    ),
    (
        "/connections",
        "Connections",
        Permission::ManageConnections,
        Group::Admin,
    ),
    ("/users", "Users", Permission::ManageUsers, Group::Admin),
    (
        "/letters",
        "Cover letters",
        Permission::ManageLetters,
        Group::Admin,
    ),
    (
        "/audit",
        "Audit log",
        Permission::ReadAuditLog,
        Group::Admin,
    ),
    (
        "/rebuilds",
        "Rebuild disputes",
        Permission::RebuildDisputes,
        Group::Admin,
    ),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let user = current_user();
    let zone = user.as_ref().map(|u| {
        dispute_core::domain::display_time::zone_label(&u.timezone.zone(), jiff::Timestamp::now())
    });
    let reaches = |needs: Permission| user.as_ref().is_some_and(|u| u.role.may(needs));
    let link = |href: &'static str, label: &'static str| {
        view! {
            <li>
                <A href=href>{label}</A>
            </li>
        }
    };
    let entries: Vec<_> = [Group::Work, Group::Operations, Group::Admin]
        .into_iter()
        .filter_map(|group| {
            let links: Vec<_> = NAVIGATION
                .iter()
                .filter(|(_, _, needs, g)| *g == group && reaches(*needs))
                .map(|(href, label, ..)| link(href, label))
                .collect();
            match (group.menu(), links.is_empty()) {
                (_, true) => None,
                (None, false) => Some(links.into_any()),
                (Some(menu), false) => Some(
                    view! {
                        <li class="menu">
                            <details>
                                <summary>{menu}</summary>
                                <ul>{links}</ul>
                            </details>
                        </li>
                    }
                    .into_any(),
                ),
            }
        })
        .collect();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
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
        <main id="main">
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
