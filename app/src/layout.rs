//! The frame around every page: the brand and the main navigation.

use leptos::prelude::*;
use leptos_router::components::A;

/// The navigation entries, in the order the team works through them.
pub const NAVIGATION: [(&str, &str); 6] = [
    ("/disputes", "Disputes"),
    ("/deadlines", "Deadlines"),
    ("/deliveries", "Delivery history"),
    ("/connections", "Connections"),
    ("/users", "Users"),
    ("/audit", "Audit log"),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/disputes">
                "Dispute Desk"
            </a>
            <nav aria-label="Main">
                <ul>
                    {NAVIGATION
                        .iter()
                        .map(|(href, label)| {
                            view! {
                                <li>
                                    <A href=*href>{*label}</A>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
        </header>
        <main>{children()}</main>
    }
}
