//! What a form's answer says after its redirect: a message the server chose,
//! and for a refused form the values that were typed. Both travel in the
//! signed-in person's session, never in the address, so nobody can put
//! words on our pages with a link. The guard takes the flash out of the
//! session when the next page is rendered (`take_from`), and the layout
//! shows it.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::AppError;

const SESSION_KEY: &str = "flash";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlashKind {
    Notice,
    Error,
}

/// One message for the next page, with the refused form's values if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
    /// What was typed into a refused form (secrets left out), for the page
    /// that shows the form again.
    pub form: Option<serde_json::Value>,
}

impl Flash {
    pub fn notice(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Notice,
            message: message.into(),
            form: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Error,
            message: message.into(),
            form: None,
        }
    }

    pub fn with_form(mut self, form: &impl Serialize) -> Self {
        self.form = serde_json::to_value(form).ok();
        self
    }

    /// The refused form's values, read back as the type that was stored.
    pub fn form<T: for<'de> Deserialize<'de>>(&self) -> Option<T> {
        self.form
            .clone()
            .and_then(|value| serde_json::from_value(value).ok())
    }
}

/// Puts `flash` in the caller's session and sends the browser to `path`.
pub async fn redirect(path: &str, flash: Flash) -> Result<(), AppError> {
    let session: Session = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Internal)?;
    session
        .insert(SESSION_KEY, flash)
        .await
        .map_err(|e| AppError::internal(&e))?;
    leptos_axum::redirect(path);
    Ok(())
}

/// Puts `flash` in `session` for the next page (from a handler outside
/// Leptos, which answers with its own redirect).
pub async fn put(session: &Session, flash: Flash) -> Result<(), tower_sessions::session::Error> {
    session.insert(SESSION_KEY, flash).await
}

/// Removes the waiting flash from `session`, for the page about to render.
pub async fn take_from(session: &Session) -> Result<Option<Flash>, tower_sessions::session::Error> {
    session.remove::<Flash>(SESSION_KEY).await
}

/// The flash the guard took for this page, if any.
pub fn current() -> Option<Flash> {
    leptos::prelude::use_context::<http::request::Parts>()?
        .extensions
        .get::<Flash>()
        .cloned()
}
