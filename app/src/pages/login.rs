//! Signing in and out.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;

use super::PageHeading;
use crate::error::AppError;

/// One message for every refusal, so it tells nothing about which accounts
/// exist or why.
pub const SIGN_IN_FAILED: &str =
    "Sign-in failed: check the email and password, or wait a few minutes and try again.";

#[server(endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
    browser_timezone: Option<String>,
) -> Result<(), AppError> {
    use crate::{
        auth::{begin_session, client_address, safe_next},
        flash::{redirect, Flash},
        state::AppState,
    };
    use dispute_core::domain::{user::throttle, Email, ZoneName};
    use dispute_store::Actor;

    let state = expect_context::<AppState>();
    let address = client_address().map(|a| a.to_string()).unwrap_or_default();
    // Failures count per address group (an IPv6 /64 is one sender).
    let group = client_address()
        .map(|a| a.group().to_string())
        .unwrap_or_default();
    let refuse = || {
        leptos_axum::redirect("/login?error=1");
        Ok(())
    };
    // What is not an email address names no account; its failures are
    // counted together under one name.
    let email = Email::parse(&email);
    let counted_as = email
        .as_ref()
        .map_or("(not an email address)", |e| e.as_str())
        .to_owned();
    let (for_account, from_address) = state
        .store
        .sign_in_failures(&counted_as, &group, throttle::MEMORY)
        .await?;
    if throttle::refuses(for_account, from_address, jiff::Timestamp::now()) {
        // Not counted, and no password checked: waiting is all that helps.
        return refuse();
    }
    let account = match &email {
        Ok(email) => state.store.user_by_email(email.as_str()).await?,
        Err(_) => None,
    };
    // Always hash, so the time taken does not tell whether the account exists.
    let password_ok = state
        .passwords
        .verify(
            &password,
            account.as_ref().map(|a| a.password_hash.as_str()),
        )
        .await;
    let admitted = match account {
        Some(user) if password_ok && !user.disabled => user,
        _ => {
            state
                .store
                .record_sign_in_failure(&counted_as, &group, throttle::MEMORY)
                .await?;
            return refuse();
        }
    };

    begin_session(admitted.id, admitted.session_epoch).await?;
    let who = Actor {
        user_id: Some(admitted.id),
        email: Some(admitted.email.clone()),
        address: Some(address.clone()),
    };
    state.store.record_sign_in(&who, &admitted.email).await?;
    let target = if admitted.must_change_password {
        "/account/password"
    } else {
        safe_next(next.as_deref())
    };
    // Until the person picks a zone, their browser's is a better guess
    // than UTC; without scripts the field is empty and nothing changes.
    let browser_zone = browser_timezone
        .as_deref()
        .and_then(|name| ZoneName::parse(name).ok());
    if let Some(zone) = browser_zone {
        if state
            .store
            .adopt_browser_timezone(admitted.id, &zone, &who)
            .await?
        {
            let said = format!(
                "Times are shown in {}, your browser's time zone. You can change it in your account.",
                zone.as_str()
            );
            return redirect(target, Flash::notice(said)).await;
        }
    }
    leptos_axum::redirect(target);
    Ok(())
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::{
        auth::{actor, end_session, require_signed_in},
        state::AppState,
    };
    use dispute_store::AuditEntry;

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

/// Whether nobody can sign in yet: a fresh installation.
pub async fn no_account_yet() -> Result<bool, AppError> {
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.user_count().await? == 0)
}

/// What a newcomer to a fresh installation needs to know to get in.
#[component]
fn FirstRunHint() -> impl IntoView {
    view! {
        <Suspense>
            {Suspend::new(async move {
                no_account_yet().await.ok().filter(|none| *none).map(|_| view! {
                    <section class="panel first-run" aria-label="Getting started">
                        <h2>"Welcome to Dispute Desk"</h2>
                        <p>
                            "No account exists yet. When it started, the server wrote a one-time setup link to its log (a line that reads “create the first admin at …/setup?token=…”); open it to create the first admin. It is valid for an hour: restart the server for a new one."
                        </p>
                        <p>
                            "Or, on the server: " <code>"dispute-desk users create --email you@example.com --role admin"</code>
                            ", which reads the password from standard input."
                        </p>
                    </section>
                })
            })}
        </Suspense>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let failed = query.read_untracked().get("error").is_some();
    let next = query.read_untracked().get("next").unwrap_or_default();
    view! {
        <PageHeading title="Sign in" />
        <FirstRunHint />
        {failed.then(|| view! { <p class="flash error" role="alert">{SIGN_IN_FAILED}</p> })}
        <form class="panel form" method="post" action=Login::PATH>
            <input type="hidden" name="next" value=next />
            <input type="hidden" name="browser_timezone" value="" />
            <label>"Email" <input type="email" name="email" required autocomplete="username" /></label>
            <label>
                "Password"
                <input type="password" name="password" required autocomplete="current-password" />
            </label>
            <button type="submit">"Sign in"</button>
        </form>
        <script src=crate::assets::ZONE_SCRIPT_PATH defer></script>
    }
}
