//! One module per page: the component and the server functions it calls.

pub mod account;
pub mod audit;
pub mod connection;
pub mod connection_new;
pub mod connections;
pub mod deadlines;
pub mod deliveries;
pub mod disputes;
pub mod forbidden;
pub mod login;
pub mod not_found;
pub mod setup;
pub mod users;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::flash::FlashKind;

/// The title and heading every page starts with.
#[component]
pub fn PageHeading(#[prop(into)] title: String) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Dispute Desk") />
        <h1>{title}</h1>
    }
}

/// The outcome of the last form, which the guard took from the session for
/// this page (see `crate::flash`).
#[component]
pub fn FlashMessages() -> impl IntoView {
    crate::flash::current().map(|flash| match flash.kind {
        FlashKind::Notice => {
            view! { <p class="flash notice" role="status">{flash.message}</p> }.into_any()
        }
        FlashKind::Error => {
            view! { <p class="flash error" role="alert">{flash.message}</p> }.into_any()
        }
    })
}

/// A `<textarea>` holding `value`. The only way pages render one: the
/// browser reads a textarea's content as raw text up to `</textarea>`, and
/// Leptos writes it unescaped, so the value is escaped here.
#[component]
pub fn TextArea(
    name: &'static str,
    #[prop(into, optional)] value: String,
    #[prop(optional)] required: bool,
    /// For secrets: no autofill, no spell checking.
    #[prop(optional)]
    secret: bool,
) -> impl IntoView {
    let escaped = html_escape::encode_text(&value).into_owned();
    let autocomplete = secret.then_some("off");
    let spellcheck = secret.then_some("false");
    view! {
        <textarea
            name=name
            required=required
            autocomplete=autocomplete
            spellcheck=spellcheck
            inner_html=escaped
        ></textarea>
    }
}

/// What a page says while the capability behind it has nothing to show.
#[component]
pub fn Empty(children: Children) -> impl IntoView {
    view! { <p class="panel empty">{children()}</p> }
}

/// A list a server function returned: its table, a sentence when it is
/// empty, or the error page.
pub fn list_or_empty<T, V: IntoView + 'static>(
    result: Result<Vec<T>, crate::error::AppError>,
    empty: &'static str,
    table: impl FnOnce(Vec<T>) -> V,
) -> AnyView {
    match result {
        Ok(list) if list.is_empty() => view! { <Empty>{empty}</Empty> }.into_any(),
        Ok(list) => table(list).into_any(),
        Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
    }
}

/// A list position as it travels in a link: opaque to people, read back
/// only as the type that wrote it.
pub fn cursor_text<T: serde::Serialize>(position: &T) -> String {
    use base64::Engine;
    let json = serde_json::to_vec(position).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// The position `cursor_text` wrote; `None` for anything else.
pub fn cursor_from<T: for<'de> serde::Deserialize<'de>>(text: &str) -> Option<T> {
    use base64::Engine;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// A time as the tables show it, in UTC.
pub fn when(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// An amount as the tables show it: its currency's minor units, e.g.
/// `129.90 USD`; empty when there is none.
pub fn money(amount: Option<&dispute_core::domain::Money>) -> String {
    amount.map(ToString::to_string).unwrap_or_default()
}

/// A stage or status as analysts read it.
pub fn label(
    stage: Option<dispute_core::domain::Stage>,
    status: Option<dispute_core::domain::Status>,
) -> (&'static str, &'static str) {
    (
        stage.map_or("—", |s| s.label()),
        status.map_or("—", |s| s.label()),
    )
}
