//! The Users page (admin): accounts, their roles, password resets, and
//! disabling (accounts are never deleted: the audit log names them).

use leptos::prelude::*;

use super::{FlashMessages, PageHeading};
use crate::{
    domain::Role,
    error::{AppError, InternalErrorPage},
    store::UserSummary,
};

/// Sends the browser back to the users page with a message.
fn back(kind: &str, message: &str) -> Result<(), AppError> {
    leptos_axum::redirect(&format!("/users?{kind}={}", urlencoding::encode(message)));
    Ok(())
}

#[server(endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    crate::auth::require(crate::domain::Permission::ManageUsers)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.list_users().await?)
}

#[server(endpoint = "users/create")]
pub async fn create_user(
    email: String,
    display_name: String,
    role: String,
    password: String,
) -> Result<(), AppError> {
    use crate::{
        auth::{actor, require},
        domain::{DisplayName, Email, NewPassword, Permission},
        store::{NewUser, StoreError},
    };
    let admin = require(Permission::ManageUsers)?;
    let state = expect_context::<crate::state::AppState>();
    let parsed = (|| -> Result<_, String> {
        Ok((
            Email::parse(&email).map_err(|e| e.to_string())?,
            DisplayName::parse(&display_name).map_err(|e| e.to_string())?,
            role.parse::<Role>().map_err(|e| e.to_string())?,
            NewPassword::parse(&password).map_err(|e| e.to_string())?,
        ))
    })();
    let (email, display_name, role, password) = match parsed {
        Ok(values) => values,
        Err(message) => return back("error", &message),
    };
    let user = NewUser {
        email: email.clone(),
        display_name,
        role,
        password_hash: state.passwords.hash(&password),
        // The admin chose it: the person picks their own at first sign-in.
        must_change_password: true,
    };
    match state.store.create_user(&user, &actor(Some(&admin))).await {
        Ok(_) => back(
            "notice",
            &format!("{email} can now sign in with the temporary password"),
        ),
        Err(StoreError::Conflict(_)) => {
            back("error", &format!("an account with {email} exists already"))
        }
        Err(e) => Err(e.into()),
    }
}

#[server(endpoint = "users/update")]
pub async fn update_user(id: i64, role: String, disabled: Option<String>) -> Result<(), AppError> {
    use crate::{
        auth::{actor, require},
        domain::Permission,
    };
    let admin = require(Permission::ManageUsers)?;
    let state = expect_context::<crate::state::AppState>();
    let Ok(role) = role.parse::<Role>() else {
        return back("error", "unknown role");
    };
    let disabled = disabled.is_some();
    if id == admin.id && (role != Role::Admin || disabled) {
        return back("error", "you cannot remove your own admin access");
    }
    if !state
        .store
        .update_user(id, role, disabled, &actor(Some(&admin)))
        .await?
    {
        return back("error", "no such account");
    }
    back("notice", "saved")
}

#[server(endpoint = "users/reset-password")]
pub async fn reset_password(id: i64, password: String) -> Result<(), AppError> {
    use crate::{
        auth::{actor, require},
        domain::{NewPassword, Permission},
    };
    let admin = require(Permission::ManageUsers)?;
    let state = expect_context::<crate::state::AppState>();
    let password = match NewPassword::parse(&password) {
        Ok(p) => p,
        Err(e) => return back("error", &e.to_string()),
    };
    let hash = state.passwords.hash(&password);
    if !state
        .store
        .set_password(id, &hash, true, &actor(Some(&admin)))
        .await?
    {
        return back("error", "no such account");
    }
    back(
        "notice",
        "the password was reset; it must be changed at the next sign-in",
    )
}

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <PageHeading title="Users" />
        <FlashMessages />
        <Suspense>
            {Suspend::new(async move {
                match list_users().await {
                    Ok(users) => view! { <UserTable users /> }.into_any(),
                    Err(_) => view! { <InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Add a person"</h2>
        <form class="panel form" method="post" action="/api/users/create">
            <label>"Email" <input type="email" name="email" required /></label>
            <label>"Name" <input type="text" name="display_name" required /></label>
            <label>"Role" <RoleSelect selected=Role::Analyst /></label>
            <label>
                "Temporary password (at least 12 characters; they choose their own at first sign-in)"
                <input type="password" name="password" required minlength="12" autocomplete="new-password" />
            </label>
            <button type="submit">"Add"</button>
        </form>
    }
}

#[component]
fn RoleSelect(selected: Role) -> impl IntoView {
    view! {
        <select name="role">
            {Role::ALL
                .into_iter()
                .map(|role| {
                    view! {
                        <option value=role.as_str() selected=role == selected>
                            {role.label()}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}

#[component]
fn UserTable(users: Vec<UserSummary>) -> impl IntoView {
    view! {
        <table class="data">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Email"</th>
                    <th>"Role and state"</th>
                    <th>"Reset password"</th>
                </tr>
            </thead>
            <tbody>
                {users
                    .into_iter()
                    .map(|u| {
                        let id = u.id.to_string();
                        view! {
                            <tr>
                                <td>{u.display_name}</td>
                                <td>
                                    {u.email}
                                    {u.must_change_password.then(|| view! { <span class="badge">"must change password"</span> })}
                                </td>
                                <td>
                                    <form class="inline" method="post" action="/api/users/update">
                                        <input type="hidden" name="id" value=id.clone() />
                                        <RoleSelect selected=u.role />
                                        <label>
                                            <input type="checkbox" name="disabled" value="on" checked=u.disabled />
                                            " disabled"
                                        </label>
                                        <button type="submit">"Save"</button>
                                    </form>
                                </td>
                                <td>
                                    <form class="inline" method="post" action="/api/users/reset-password">
                                        <input type="hidden" name="id" value=id />
                                        <input type="password" name="password" placeholder="temporary password" minlength="12" required autocomplete="new-password" />
                                        <button type="submit">"Reset"</button>
                                    </form>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
