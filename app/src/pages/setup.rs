//! Creating the first admin with the one-time setup token the server printed.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;

use super::PageHeading;
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
        state::AppState,
    };
    use dispute_core::domain::{DisplayName, Email, NewPassword, Role};
    use dispute_store::NewUser;

    let state = expect_context::<AppState>();
    let back = |refusal: SetupRefusal| {
        leptos_axum::redirect(&format!(
            "/setup?token={}&error={}",
            urlencoding::encode(&token),
            refusal.code()
        ));
        Ok(())
    };
    // The token first: nobody without it gets a password hashed.
    let digest = setup_token_digest(&token);
    if !state.store.setup_token_is_valid(&digest).await? {
        return back(SetupRefusal::LinkInvalid);
    }
    let (email, name, password) = match (
        Email::parse(&email),
        DisplayName::parse(&display_name),
        NewPassword::parse(&password),
    ) {
        (Ok(e), Ok(n), Ok(p)) => (e, n, p),
        (Err(_), _, _) => return back(SetupRefusal::Email),
        (_, Err(_), _) => return back(SetupRefusal::Name),
        (_, _, Err(_)) => return back(SetupRefusal::Password),
    };
    let address = client_address().map(|a| a.to_string()).unwrap_or_default();
    let user = NewUser {
        email,
        display_name: name,
        role: Role::Admin,
        password_hash: state.passwords.hash(&password).await,
        must_change_password: false,
    };
    let Some(id) = state
        .store
        .create_first_admin(&digest, &user, &address)
        .await?
    else {
        return back(SetupRefusal::LinkInvalid);
    };
    // A new account starts in epoch 0.
    begin_session(id, 0).await?;
    leptos_axum::redirect("/connections");
    Ok(())
}

/// Why the setup form came back. Only these codes travel in the address;
/// the page turns them into its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetupRefusal {
    LinkInvalid,
    Email,
    Name,
    Password,
}

impl SetupRefusal {
    const ALL: [SetupRefusal; 4] = [
        SetupRefusal::LinkInvalid,
        SetupRefusal::Email,
        SetupRefusal::Name,
        SetupRefusal::Password,
    ];

    fn code(self) -> &'static str {
        match self {
            SetupRefusal::LinkInvalid => "link",
            SetupRefusal::Email => "email",
            SetupRefusal::Name => "name",
            SetupRefusal::Password => "password",
        }
    }

    fn message(self) -> &'static str {
        match self {
            SetupRefusal::LinkInvalid => {
                "This setup link is no longer valid: restart Dispute Desk for a new one, or use dispute-desk users create."
            }
            SetupRefusal::Email => "That is not an email address.",
            SetupRefusal::Name => "A name must have 1 to 100 characters.",
            SetupRefusal::Password => "A password must have 12 to 256 characters.",
        }
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map().read_untracked().clone();
    let token = query.get("token").unwrap_or_default();
    let refusal = query
        .get("error")
        .and_then(|code| SetupRefusal::ALL.into_iter().find(|r| r.code() == code));
    view! {
        <PageHeading title="Set up Dispute Desk" />
        {refusal.map(|r| view! { <p class="flash error" role="alert">{r.message()}</p> })}
        <p>"Create the first administrator. This link works once."</p>
        <form class="panel form" method="post" action=Setup::PATH>
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
