//! Who is asking: the signed-in person the server's guard found for this
//! request, the address they came from, and the checks server functions
//! make before doing anything.

pub mod password;

use leptos::prelude::use_context;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

use dispute_core::domain::{Permission, Role, ZoneName};
use dispute_store::{Actor, UserRecord};

/// Session keys.
pub const SESSION_USER_ID: &str = "user_id";
/// When the person signed in (Unix milliseconds): the absolute timeout
/// counts from here, however active the session.
pub const SESSION_SIGNED_IN_AT: &str = "signed_in_at_ms";
/// The account's session epoch at sign-in; a later epoch ends the session.
pub const SESSION_EPOCH: &str = "epoch";

/// The signed-in person, put in the request's extensions by the guard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub must_change_password: bool,
    pub timezone: ZoneName,
}

impl From<UserRecord> for CurrentUser {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            role: u.role,
            must_change_password: u.must_change_password,
            timezone: u.timezone,
        }
    }
}

/// The sender's address, as the guard determined it (through trusted proxies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub dispute_core::domain::Sender);

/// Marks a page request whose caller lacks the role: the app renders the
/// 403 page instead of the page asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessDenied;

fn request_parts() -> Option<http::request::Parts> {
    use_context::<http::request::Parts>()
}

/// The signed-in person, if any.
pub fn current_user() -> Option<CurrentUser> {
    request_parts()?.extensions.get::<CurrentUser>().cloned()
}

pub fn client_address() -> Option<dispute_core::domain::Sender> {
    request_parts()?
        .extensions
        .get::<ClientAddress>()
        .map(|a| a.0)
}

pub fn access_denied() -> bool {
    request_parts().is_some_and(|p| p.extensions.get::<AccessDenied>().is_some())
}

/// The caller, if signed in and allowed `permission`.
pub fn require(permission: Permission) -> Result<CurrentUser, AppError> {
    let user = current_user().ok_or(AppError::Unauthorized)?;
    if user.role.may(permission) {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

pub fn require_signed_in() -> Result<CurrentUser, AppError> {
    current_user().ok_or(AppError::Unauthorized)
}

/// The caller as the audit log names them.
pub fn actor(user: Option<&CurrentUser>) -> Actor {
    Actor {
        user_id: user.map(|u| u.id),
        email: user.map(|u| u.email.clone()),
        address: client_address().map(|a| a.to_string()),
    }
}

/// Signs `user_id` in on this request's session: a new session id first,
/// so an id planted before sign-in cannot be ridden, then who, when (the
/// absolute timeout counts from here) and in which of the account's epochs.
pub async fn begin_session(user_id: i64, epoch: i64) -> Result<(), AppError> {
    let session: tower_sessions::Session = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Internal)?;
    let failed = |e: tower_sessions::session::Error| AppError::internal(&e);
    session.cycle_id().await.map_err(failed)?;
    session
        .insert(SESSION_USER_ID, user_id)
        .await
        .map_err(failed)?;
    session.insert(SESSION_EPOCH, epoch).await.map_err(failed)?;
    session
        .insert(
            SESSION_SIGNED_IN_AT,
            jiff::Timestamp::now().as_millisecond(),
        )
        .await
        .map_err(failed)
}

/// Keeps this request's session alive past a change that moved the
/// account's epoch on (its own password change), ending only the others.
pub async fn keep_session(epoch: i64) -> Result<(), AppError> {
    let session: tower_sessions::Session = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Internal)?;
    session
        .insert(SESSION_EPOCH, epoch)
        .await
        .map_err(|e| AppError::internal(&e))
}

/// Ends this request's session on the server, not only in the browser.
pub async fn end_session() -> Result<(), AppError> {
    let session: tower_sessions::Session = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Internal)?;
    session.flush().await.map_err(|e| AppError::internal(&e))
}

/// A fresh one-time setup token, and the digest that is stored in its place.
pub fn new_setup_token() -> (String, [u8; 32]) {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let digest = setup_token_digest(&token);
    (token, digest)
}

/// What the store keeps of a setup token: its SHA-256.
pub fn setup_token_digest(token: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.trim().as_bytes()).into()
}

/// Where to go after signing in: `next` when it is a path on this site —
/// one `/` followed by something other than `/` or `\`, no control
/// characters (browsers drop tabs and line breaks, and `/\t/host` becomes
/// `//host`) — `/` for anything else, the disputes when there is none.
pub fn safe_next(next: Option<&str>) -> &str {
    let local = |path: &str| {
        let mut chars = path.chars();
        chars.next() == Some('/')
            && !matches!(chars.next(), Some('/' | '\\'))
            && !path.chars().any(char::is_control)
            && path.len() <= 2048
    };
    match next {
        Some(path) if local(path) => path,
        Some(_) => "/",
        None => "/disputes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/deliveries?page=2")), "/deliveries?page=2");
        assert_eq!(safe_next(Some("/")), "/");
        assert_eq!(safe_next(None), "/disputes");
        for hostile in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "/\t/evil.example/x",
            "/\n/evil.example",
            "/x\r\nSet-Cookie: a=b",
            "/a\u{0}",
            "\t/disputes",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(3000)))), "/");
    }
}
