//! The Users page (admin): accounts, their roles, password resets, and
//! disabling (accounts are never deleted: the audit log names them).

use leptos::{prelude::*, server_fn::ServerFn};

use super::{DataTable, PageHeading};
use crate::{
    error::{AppError, InternalErrorPage},
    flash::Flash,
};
use dispute_core::domain::Role;
use dispute_store::{SignInFailureRecord, UserSummary};

/// Sends the browser back to the users page saying what happened.
async fn back(flash: Flash) -> Result<(), AppError> {
    crate::flash::redirect("/users", flash).await
}

/// Every account, and the sign-in failures still remembered.
pub async fn list_users() -> Result<(Vec<UserSummary>, Vec<SignInFailureRecord>), AppError> {
    use dispute_core::domain::user::throttle;
    crate::auth::require(dispute_core::domain::Permission::ManageUsers)?;
    let state = expect_context::<crate::state::AppState>();
    let remembered = jiff::Timestamp::now() - throttle::MEMORY;
    Ok((
        state.store.list_users().await?,
        state
            .store
            .recent_sign_in_failures(remembered, 1000)
            .await?,
    ))
}

#[server(endpoint = "users/unlock")]
pub async fn unlock_user(id: i64) -> Result<(), AppError> {
    use crate::auth::{actor, require};
    use dispute_core::domain::Permission;
    let admin = require(Permission::ManageUsers)?;
    let state = expect_context::<crate::state::AppState>();
    if !state.store.unlock_sign_in(id, &actor(Some(&admin))).await? {
        return back(Flash::error("No such account")).await;
    }
    back(Flash::notice(
        "Sign-in failures forgotten: the account can sign in again from every address",
    ))
    .await
}

#[server(endpoint = "users/create")]
pub async fn create_user(
    email: String,
    display_name: String,
    role: String,
    password: String,
) -> Result<(), AppError> {
    use crate::auth::{actor, require};
    use dispute_core::domain::{DisplayName, Email, NewPassword, Permission};
    use dispute_store::{NewUser, StoreError};
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
        Err(message) => return back(Flash::error(message)).await,
    };
    let user = NewUser {
        email: email.clone(),
        display_name,
        role,
        password_hash: state.passwords.hash(&password).await,
        // The admin chose it: the person picks their own at first sign-in.
        must_change_password: true,
    };
    match state.store.create_user(&user, &actor(Some(&admin))).await {
        Ok(_) => {
            back(Flash::notice(format!(
                "{email} can now sign in with the temporary password"
            )))
            .await
        }
        Err(StoreError::Conflict(_)) => {
            back(Flash::error(format!(
                "An account with {email} exists already"
            )))
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[server(endpoint = "users/update")]
pub async fn update_user(id: i64, role: String, disabled: Option<String>) -> Result<(), AppError> {
    use crate::auth::{actor, require};
    use dispute_core::domain::Permission;
    let admin = require(Permission::ManageUsers)?;
    let state = expect_context::<crate::state::AppState>();
    let Ok(role) = role.parse::<Role>() else {
        return back(Flash::error("Unknown role")).await;
    };
    let disabled = disabled.is_some();
    if id == admin.id && (role != Role::Admin || disabled) {
        return back(Flash::error("You cannot remove your own admin access")).await;
    }
    if !state
        .store
        .update_user(id, role, disabled, &actor(Some(&admin)))
        .await?
    {
        return back(Flash::error("No such account")).await;
    }
    back(Flash::notice("Saved")).await
}

#[server(endpoint = "users/reset-password")]
pub async fn reset_password(id: i64, password: String) -> Result<(), AppError> {
    use crate::auth::{actor, require};
    use dispute_core::domain::{NewPassword, Permission};
    let admin = require(Permission::ManageUsers)?;
    let state = expect_context::<crate::state::AppState>();
    let password = match NewPassword::parse(&password) {
        Ok(p) => p,
        Err(e) => return back(Flash::error(e.to_string())).await,
    };
    let hash = state.passwords.hash(&password).await;
    if state
        .store
        .set_password(id, &hash, true, &actor(Some(&admin)))
        .await?
        .is_none()
    {
        return back(Flash::error("No such account")).await;
    }
    back(Flash::notice(
        "The password was reset; it must be changed at the next sign-in",
    ))
    .await
}

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <PageHeading title="Users" />
        <Suspense>
            {Suspend::new(async move {
                match list_users().await {
                    Ok((users, failures)) => view! { <UserTable users failures /> }.into_any(),
                    Err(_) => view! { <InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Add a person"</h2>
        <form class="panel form" method="post" action=CreateUser::PATH>
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

/// `label`: for a select without a visible label of its own (a table row's).
#[component]
fn RoleSelect(selected: Role, #[prop(optional)] label: Option<String>) -> impl IntoView {
    view! {
        <select name="role" aria-label=label>
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

/// Until when sign-in is paused for `email` from some address, if it is.
fn paused_until(email: &str, failures: &[SignInFailureRecord]) -> Option<jiff::Timestamp> {
    use dispute_core::domain::user::{throttle, Failures};
    let now = jiff::Timestamp::now();
    failures
        .iter()
        .filter(|f| f.email == email)
        .filter_map(|f| {
            throttle::closed_until(
                Failures {
                    count: f.failures,
                    last_at: f.last_at,
                },
                throttle::FREE_PER_ACCOUNT,
            )
        })
        .filter(|until| *until > now)
        .max()
}

#[component]
fn UserTable(users: Vec<UserSummary>, failures: Vec<SignInFailureRecord>) -> impl IntoView {
    view! {
        <DataTable>
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
                        let paused = paused_until(&u.email, &failures);
                        let failed = failures.iter().any(|f| f.email == u.email);
                        view! {
                            <tr>
                                <td>{u.display_name}</td>
                                <td>
                                    {u.email.clone()}
                                    {u.must_change_password.then(|| view! { <span class="badge">"must change password"</span> })}
                                    {paused.map(|until| view! { <span class="badge warn">{format!("sign-in paused until {}", super::when(until))}</span> })}
                                    {failed.then(|| view! {
                                        <form class="inline" method="post" action=UnlockUser::PATH>
                                            <input type="hidden" name="id" value=id.clone() />
                                            <button type="submit" class="secondary">"Forget failed sign-ins"</button>
                                        </form>
                                    })}
                                </td>
                                <td>
                                    <form class="inline" method="post" action=UpdateUser::PATH>
                                        <input type="hidden" name="id" value=id.clone() />
                                        <RoleSelect selected=u.role label=format!("Role of {}", u.email) />
                                        <label>
                                            <input type="checkbox" name="disabled" value="on" checked=u.disabled />
                                            " disabled"
                                        </label>
                                        <button type="submit" class="secondary">"Save"</button>
                                    </form>
                                </td>
                                <td>
                                    <form class="inline" method="post" action=ResetPassword::PATH>
                                        <input type="hidden" name="id" value=id />
                                        <input type="password" name="password" placeholder="temporary password" aria-label=format!("Temporary password for {}", u.email) minlength="12" required autocomplete="new-password" />
                                        <button type="submit" class="secondary">"Reset password"</button>
                                    </form>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
}
