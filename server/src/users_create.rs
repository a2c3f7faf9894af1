//! `dispute-desk users create --email … [--name …] [--role …]`, the password
//! read from standard input: for scripted installs and recovery.

use app::auth::password::Passwords;

use dispute_core::domain::{DisplayName, Email, NewPassword, Role};
use dispute_store::{Actor, NewUser, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    Invalid(String),
    #[error("an account with the email {0} exists already")]
    Taken(String),
    #[error(transparent)]
    Store(StoreError),
}

pub async fn create(
    store: &Store,
    passwords: &Passwords,
    email: &str,
    name: Option<&str>,
    role: &str,
    password: &str,
) -> Result<i64, CreateError> {
    let invalid = |e: &dyn std::fmt::Display| CreateError::Invalid(e.to_string());
    let email = Email::parse(email).map_err(|e| invalid(&e))?;
    let fallback = email
        .as_str()
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let name = DisplayName::parse(name.unwrap_or(&fallback)).map_err(|e| invalid(&e))?;
    let role: Role = role.parse().map_err(|e| invalid(&e))?;
    let password =
        NewPassword::parse(password.trim_end_matches(['\r', '\n'])).map_err(|e| invalid(&e))?;
    let user = NewUser {
        email: email.clone(),
        display_name: name,
        role,
        password_hash: passwords.hash(&password).await,
        must_change_password: false,
    };
    let by_command_line = Actor {
        address: Some("command line".into()),
        ..Actor::default()
    };
    store
        .create_user(&user, &by_command_line)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => CreateError::Taken(email.to_string()),
            other => CreateError::Store(other),
        })
}
