//! Signing in and out.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{FlashMessages, PageHeading};
use crate::error::AppError;

/// One message for every refusal, so it tells nothing about which accounts
/// exist or why.
pub const SIGN_IN_FAILED: &str =
    "Sign-in failed: check the email and password, or wait a few minutes and try again.";

#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::{
        auth::{actor, begin_session, client_address, safe_next},
        domain::user::{sign_in_throttled, SIGN_IN_WINDOW_MINUTES},
        state::AppState,
        store::Actor,
    };

    let state = expect_context::<AppState>();
    let address = client_address().map(|a| a.to_string()).unwrap_or_default();
    let email = email.trim().to_lowercase();

    let account = state.store.user_by_email(&email).await?;
    let (for_account, from_address) = state
        .store
        .recent_sign_in_failures(&email, &address, SIGN_IN_WINDOW_MINUTES)
        .await?;
    // Always hash, even when the door is closed or the account unknown.
    let password_ok = state.passwords.verify(
        &password,
        account.as_ref().map(|a| a.password_hash.as_str()),
    );
    let admitted = match account {
        Some(user)
            if password_ok && !user.disabled && !sign_in_throttled(for_account, from_address) =>
        {
            user
        }
        _ => {
            state
                .store
                .record_sign_in(&email, &address, false, &actor(None))
                .await?;
            leptos_axum::redirect("/login?error=1");
            return Ok(());
        }
    };

    begin_session(admitted.id).await?;
    let who = Actor {
        user_id: Some(admitted.id),
        email: Some(admitted.email.clone()),
        address: Some(address.clone()),
    };
    state
        .store
        .record_sign_in(&email, &address, true, &who)
        .await?;
    let target = if admitted.must_change_password {
        "/account/password".to_owned()
    } else {
        safe_next(next.as_deref())
    };
    leptos_axum::redirect(&target);
    Ok(())
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::{
        auth::{actor, end_session, require_signed_in},
        state::AppState,
        store::AuditEntry,
    };

    let user = require_signed_in()?;
    let state = expect_context::<AppState>();
    end_session().await?;
    state
        .store
        .audit(
            &actor(Some(&user)),
            &AuditEntry {
                action: "session.signed_out",
                subject: &user.email,
                details: serde_json::json!({}),
            },
        )
        .await?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let failed = query.read_untracked().get("error").is_some();
    let next = query.read_untracked().get("next").unwrap_or_default();
    view! {
        <PageHeading title="Sign in" />
        <FlashMessages />
        {failed.then(|| view! { <p class="flash error" role="alert">{SIGN_IN_FAILED}</p> })}
        <form class="panel form" method="post" action="/api/login">
            <input type="hidden" name="next" value=next />
            <label>"Email" <input type="email" name="email" required autocomplete="username" /></label>
            <label>
                "Password"
                <input type="password" name="password" required autocomplete="current-password" />
            </label>
            <button type="submit">"Sign in"</button>
        </form>
    }
}
