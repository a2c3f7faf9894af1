//! The Audit log page.

use leptos::prelude::*;

use super::{Empty, PageHeading};

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <PageHeading title="Audit log" />
        <Empty>"No changes recorded yet. Every change made by a person will be listed here."</Empty>
    }
}
