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

/// The title and heading every page starts with.
#[component]
pub fn PageHeading(#[prop(into)] title: String) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Dispute Desk") />
        <h1>{title}</h1>
    }
}

/// The outcome of the last form, carried in the address by the redirect
/// after it (`?notice=…` or `?error=…`), since pages work without scripts.
#[component]
pub fn FlashMessages() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let query = query.read_untracked();
    let notice = query.get("notice");
    let error = query.get("error").filter(|e| e != "1");
    view! {
        {notice.map(|n| view! { <p class="flash notice" role="status">{n}</p> })}
        {error.map(|e| view! { <p class="flash error" role="alert">{e}</p> })}
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

/// A time as the tables show it, in UTC.
pub fn when(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// An amount with its currency's minor units, e.g. `129.90 USD`.
pub fn money(amount: Option<rust_decimal::Decimal>, currency: Option<&str>) -> String {
    match (amount, currency) {
        (Some(amount), Some(currency)) => {
            crate::domain::Money::parse(&amount.to_string(), currency)
                .map(|m| m.to_string())
                .unwrap_or_else(|_| format!("{amount} {currency}"))
        }
        _ => String::new(),
    }
}

/// A stored stage or status name as analysts read it.
pub fn label(stage: Option<&str>, status: Option<&str>) -> (String, String) {
    use crate::domain::{Stage, Status};
    (
        stage
            .and_then(|s| s.parse::<Stage>().ok())
            .map_or_else(|| "—".to_owned(), |s| s.label().to_owned()),
        status
            .and_then(|s| s.parse::<Status>().ok())
            .map_or_else(|| "—".to_owned(), |s| s.label().to_owned()),
    )
}
