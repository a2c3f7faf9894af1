//! The Deadlines page.

use leptos::prelude::*;

use super::{Empty, PageHeading};

#[component]
pub fn DeadlinesPage() -> impl IntoView {
    view! {
        <PageHeading title="Deadlines" />
        <Empty>"Nothing is due. Disputes that need a response will be listed here, soonest first."</Empty>
    }
}
