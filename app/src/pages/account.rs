//! One's own account: the time zone times are shown in, and changing
//! one's password (required after an admin's reset).

use leptos::{prelude::*, server_fn::ServerFn};

use super::PageHeading;
use crate::error::AppError;

#[server(endpoint = "account/password")]
pub async fn change_password(
    current: String,
    new_password: String,
    repeated: String,
) -> Result<(), AppError> {
    use crate::{
        auth::{actor, keep_session, require_signed_in},
        state::AppState,
    };
    use dispute_core::domain::NewPassword;

    let user = require_signed_in()?;
    let state = expect_context::<AppState>();
    let back = |message: String| {
        crate::flash::redirect("/account/password", crate::flash::Flash::error(message))
    };
    let stored = state
        .store
        .user_by_id(user.id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !state
        .passwords
        .verify(&current, Some(&stored.password_hash))
        .await
    {
        return back("the current password is not right".into()).await;
    }
    if new_password != repeated {
        return back("the two new passwords differ".into()).await;
    }
    if new_password == current {
        return back("choose a password different from the current one".into()).await;
    }
    let password = match NewPassword::parse(&new_password) {
        Ok(p) => p,
        Err(e) => return back(e.to_string()).await,
    };
    let epoch = state
        .store
        .set_password(
            user.id,
            &state.passwords.hash(&password).await,
            false,
            &actor(Some(&user)),
        )
        .await?
        .ok_or(AppError::Unauthorized)?;
    // Every other session of this person ends; this one goes on.
    keep_session(epoch).await?;
    crate::flash::redirect(
        "/disputes",
        crate::flash::Flash::notice("Your password was changed"),
    )
    .await
}

#[server(endpoint = "account/timezone")]
pub async fn set_timezone(timezone: String) -> Result<(), AppError> {
    use crate::{
        auth::{actor, require_signed_in},
        flash::{redirect, Flash},
        state::AppState,
    };
    use dispute_core::domain::ZoneName;
    let user = require_signed_in()?;
    let state = expect_context::<AppState>();
    let zone = match ZoneName::parse(&timezone) {
        Ok(zone) => zone,
        Err(e) => return redirect("/account", Flash::error(e.to_string())).await,
    };
    if !state
        .store
        .set_timezone(user.id, &zone, &actor(Some(&user)))
        .await?
    {
        return Err(AppError::Unauthorized);
    }
    redirect(
        "/account",
        Flash::notice(format!("Times are now shown in {}", zone.as_str())),
    )
    .await
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let user = crate::auth::current_user();
    let current = user
        .as_ref()
        .map(|u| u.timezone.as_str().to_owned())
        .unwrap_or_default();
    let zones: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.as_str().to_owned())
        .collect();
    view! {
        <PageHeading title="Your account" />
        {user.map(|u| view! {
            <p>{u.display_name} " · " {u.email} " · " {u.role.label()}</p>
        })}
        <form class="panel form" method="post" action=SetTimezone::PATH>
            <label>
                "Time zone"
                <small>"Times are shown in this zone; deadlines also in UTC, which providers count in."</small>
                <select name="timezone">
                    {zones
                        .into_iter()
                        .map(|zone| {
                            let selected = zone == current;
                            let label = zone.clone();
                            view! { <option value=zone selected=selected>{label}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <button type="submit">"Save time zone"</button>
        </form>
        <p><a href="/account/password">"Change your password"</a></p>
    }
}

#[component]
pub fn PasswordPage() -> impl IntoView {
    let must = crate::auth::current_user().is_some_and(|u| u.must_change_password);
    view! {
        <PageHeading title="Change your password" />
        {must.then(|| view! { <p class="flash">"The password you were given is temporary: choose your own to continue."</p> })}
        <form class="panel form" method="post" action=ChangePassword::PATH>
            <label>
                "Current password"
                <input type="password" name="current" required autocomplete="current-password" />
            </label>
            <label>
                "New password (at least 12 characters)"
                <input type="password" name="new_password" required minlength="12" autocomplete="new-password" />
            </label>
            <label>
                "New password again"
                <input type="password" name="repeated" required minlength="12" autocomplete="new-password" />
            </label>
            <button type="submit">"Change password"</button>
        </form>
    }
}
