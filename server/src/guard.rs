//! The guard in front of every page and server function: sessions stored in
//! PostgreSQL, who is signed in, what their role reaches (the table in
//! `app::access`), and whether a form really comes from our own pages.
//! The webhook intake, health probes and the stylesheet are outside it.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use app::{
    access,
    auth::{
        AccessDenied, ClientAddress, CurrentUser, SESSION_EPOCH, SESSION_SIGNED_IN_AT,
        SESSION_USER_ID,
    },
    flash,
    pages::{account::ChangePassword, login::Logout},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Json,
};
use dispute_core::domain::SourceAllowlist;
use dispute_store::{Store, StoreError};
use leptos::server_fn::ServerFn;
use serde_json::json;
use tower_sessions::{cookie::SameSite, Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

use crate::sender;

/// What the guard needs; cheap to clone.
#[derive(Clone)]
pub struct Guard {
    store: Store,
    trusted_proxies: SourceAllowlist,
    /// Origins forms may come from, `scheme://host[:port]`.
    origins: Arc<Vec<String>>,
    absolute_timeout: Duration,
}

impl Guard {
    pub fn new(
        store: Store,
        trusted_proxies: SourceAllowlist,
        origins: Vec<String>,
        absolute_timeout: Duration,
    ) -> Self {
        Self {
            store,
            trusted_proxies,
            origins: Arc::new(origins),
            absolute_timeout,
        }
    }

    /// The signed-in person, ending the session when it has outlived the
    /// absolute timeout, the account was disabled, or its epoch moved on (a
    /// password or role changed since this session began).
    async fn current_user(&self, session: &Session) -> Result<Option<CurrentUser>, GuardError> {
        let id = session.get::<i64>(SESSION_USER_ID).await?;
        let signed_in_at = session.get::<i64>(SESSION_SIGNED_IN_AT).await?;
        let epoch = session.get::<i64>(SESSION_EPOCH).await?;
        let (Some(id), Some(signed_in_at), Some(epoch)) = (id, signed_in_at, epoch) else {
            return Ok(None);
        };
        let age = jiff::Timestamp::now().as_millisecond() - signed_in_at;
        let user = if age >= 0 && u128::from(age.unsigned_abs()) < self.absolute_timeout.as_millis()
        {
            self.store
                .user_by_id(id)
                .await?
                .filter(|u| !u.disabled && u.session_epoch == epoch)
        } else {
            None
        };
        if user.is_none() {
            let _ = session.flush().await;
        }
        Ok(user.map(CurrentUser::from))
    }

    /// A state-changing request must name one of our origins (`Origin`, or
    /// failing that `Referer`), on top of the SameSite cookie.
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        let claimed = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get(header::REFERER))
            .and_then(|v| v.to_str().ok());
        claimed.is_some_and(|claimed| {
            self.origins.iter().any(|origin| {
                claimed == origin
                    || claimed
                        .strip_prefix(origin.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        })
    }
}

/// The session table, created if missing.
pub async fn session_store(store: &Store) -> Result<PostgresStore, sqlx::Error> {
    let sessions = PostgresStore::new(store.pool().clone());
    sessions.migrate().await?;
    Ok(sessions)
}

/// The session or the account could not be read (the database is away).
#[derive(Debug, thiserror::Error)]
enum GuardError {
    #[error("session: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("account: {0}")]
    Store(#[from] StoreError),
}

/// Sessions in PostgreSQL, so replicas share them; HttpOnly, SameSite=Lax,
/// Secure behind https, ended after `idle` without a request.
pub fn session_layer(
    sessions: PostgresStore,
    secure: bool,
    idle: Duration,
) -> SessionManagerLayer<PostgresStore> {
    let idle = time::Duration::try_from(idle).unwrap_or(time::Duration::minutes(30));
    SessionManagerLayer::new(sessions)
        .with_name("dispute_desk_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(idle))
        // Each request pushes the idle deadline back.
        .with_always_save(true)
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The middleware: runs before every page and server function.
pub async fn guard(
    State(guard): State<Guard>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let sender = sender::address(peer.ip(), request.headers(), &guard.trusted_proxies);
    request.extensions_mut().insert(ClientAddress(sender));
    let path = request.uri().path().to_owned();
    let is_api = path.starts_with("/api/");
    if is_api && !access::is_server_function(&path) {
        return refusal(StatusCode::NOT_FOUND, "no such endpoint");
    }

    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe && !guard.same_origin(request.headers()) {
        tracing::warn!(?path, %sender, "refused a cross-origin form submission");
        return refusal(StatusCode::FORBIDDEN, "cross-origin requests are refused");
    }

    let user = match guard.current_user(&session).await {
        Ok(user) => user,
        Err(e) => {
            tracing::error!(error = ?e, "cannot read the signed-in user");
            return if is_api {
                refusal(StatusCode::SERVICE_UNAVAILABLE, "try again in a moment")
            } else {
                crate::error_page::error_page(StatusCode::SERVICE_UNAVAILABLE)
            };
        }
    };
    if let Some(user) = &user {
        request.extensions_mut().insert(user.clone());
        // A reset password must be replaced before anything else.
        let may_pass = [
            "/account/password",
            "/login",
            ChangePassword::PATH,
            Logout::PATH,
        ]
        .contains(&path.as_str());
        if user.must_change_password && !may_pass {
            return if is_api {
                refusal(StatusCode::FORBIDDEN, "change your password first")
            } else {
                Redirect::to("/account/password").into_response()
            };
        }
    }

    let needed = access::required(&path);
    if needed.allows(user.as_ref().map(|u| u.role)) {
        // A page shows the last form's outcome once; a form post leaves it
        // for the page it redirects to.
        if user.is_some() && *request.method() == Method::GET && access::is_page(&path) {
            match flash::take_from(&session).await {
                Ok(Some(flash)) => {
                    request.extensions_mut().insert(flash);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = ?e, "cannot read the flash message"),
            }
        }
        return next.run(request).await;
    }
    match (user, is_api) {
        (None, true) => refusal(StatusCode::UNAUTHORIZED, "sign in first"),
        (None, false) => {
            let wanted = request
                .uri()
                .path_and_query()
                .map_or(path.as_str(), |p| p.as_str())
                .to_owned();
            Redirect::to(&format!("/login?next={}", urlencoding::encode(&wanted))).into_response()
        }
        (Some(_), true) => refusal(StatusCode::FORBIDDEN, "your role does not allow this"),
        (Some(_), false) => {
            request.extensions_mut().insert(AccessDenied);
            next.run(request).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn guard() -> Guard {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://localhost/none")
            .unwrap();
        Guard::new(
            Store::new(pool),
            SourceAllowlist::default(),
            vec!["https://desk.example.com".into()],
            Duration::from_secs(60),
        )
    }

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[tokio::test]
    async fn forms_must_come_from_our_origin() {
        let g = guard();
        assert!(g.same_origin(&headers(header::ORIGIN, "https://desk.example.com")));
        assert!(g.same_origin(&headers(header::REFERER, "https://desk.example.com/users")));
        assert!(!g.same_origin(&headers(header::ORIGIN, "https://evil.example.com")));
        assert!(!g.same_origin(&headers(
            header::REFERER,
            "https://desk.example.com.evil.example/"
        )));
        assert!(!g.same_origin(&HeaderMap::new()));
    }
}
