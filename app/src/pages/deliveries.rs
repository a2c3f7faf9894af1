//! The Delivery history page.

use leptos::prelude::*;

use super::{Empty, PageHeading};

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    view! {
        <PageHeading title="Delivery history" />
        <Empty>"No notifications received yet. Every request to a webhook URL will be listed here with its verdict."</Empty>
    }
}
