//! The Disputes page.

use leptos::prelude::*;

use super::{Empty, PageHeading};

#[component]
pub fn DisputesPage() -> impl IntoView {
    view! {
        <PageHeading title="Disputes" />
        <Empty>"No disputes yet. They appear here as the providers' notifications arrive."</Empty>
    }
}
