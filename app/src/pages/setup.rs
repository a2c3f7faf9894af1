//! Creating the first admin with the one-time setup token the server printed.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{FlashMessages, PageHeading};
use crate::error::AppError;

#[server(endpoint = "setup")]
pub async fn setup(
    token: String,
    email: String,
    display_name: String,
    password: String,
) -> Result<(), AppError> {
    use crate::{
        auth::{begin_session, client_address, setup_token_digest},
        domain::{DisplayName, Email, NewPassword, Role},
        state::AppState,
        store::NewUser,
    };

    let state = expect_context::<AppState>();
    let back = |message: &str| {
        leptos_axum::redirect(&format!(
            "/setup?token={}&error={}",
            urlencoding::encode(&token),
            urlencoding::encode(message)
        ));
        Ok(())
    };
    let (email, name, password) = match (
        Email::parse(&email),
        DisplayName::parse(&display_name),
        NewPassword::parse(&password),
    ) {
        (Ok(e), Ok(n), Ok(p)) => (e, n, p),
        (Err(e), _, _) => return back(&e.to_string()),
        (_, Err(e), _) => return back(&e.to_string()),
        (_, _, Err(e)) => return back(&e.to_string()),
    };
    let address = client_address().map(|a| a.to_string()).unwrap_or_default();
    let user = NewUser {
        email,
        display_name: name,
        role: Role::Admin,
        password_hash: state.passwords.hash(&password),
        must_change_password: false,
    };
    let digest = setup_token_digest(&token);
    let Some(id) = state
        .store
        .create_first_admin(&digest, &user, &address)
        .await?
    else {
        return back("this setup link is no longer valid");
    };
    begin_session(id).await?;
    leptos_axum::redirect("/connections");
    Ok(())
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let token = use_query_map()
        .read_untracked()
        .get("token")
        .unwrap_or_default();
    view! {
        <PageHeading title="Set up Dispute Desk" />
        <FlashMessages />
        <p>"Create the first administrator. This link works once."</p>
        <form class="panel form" method="post" action="/api/setup">
            <input type="hidden" name="token" value=token />
            <label>"Email" <input type="email" name="email" required autocomplete="username" /></label>
            <label>"Name" <input type="text" name="display_name" required /></label>
            <label>
                "Password (at least 12 characters)"
                <input type="password" name="password" required minlength="12" autocomplete="new-password" />
            </label>
            <button type="submit">"Create administrator"</button>
        </form>
    }
}
