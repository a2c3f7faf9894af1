//! One module per page: the component and the server functions it calls.

pub mod audit;
pub mod connections;
pub mod deadlines;
pub mod deliveries;
pub mod disputes;
pub mod not_found;
pub mod users;

use leptos::prelude::*;
use leptos_meta::Title;

/// The title and heading every page starts with.
#[component]
pub fn PageHeading(title: &'static str) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Dispute Desk") />
        <h1>{title}</h1>
    }
}

/// What a page says while the capability behind it has nothing to show.
#[component]
pub fn Empty(children: Children) -> impl IntoView {
    view! { <p class="panel empty">{children()}</p> }
}
