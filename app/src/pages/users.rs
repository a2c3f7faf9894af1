//! The Users page.

use leptos::prelude::*;

use super::{Empty, PageHeading};

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <PageHeading title="Users" />
        <Empty>"No user accounts yet. They arrive with sign-in."</Empty>
    }
}
