//! Accounts, sign-in attempts, setup tokens and the audit log. Every change
//! made by a person is written with its audit entry in one transaction.

use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;

use super::{Store, StoreError};
use crate::domain::{DisplayName, Email, Role};

/// Who made a change, and from where; `None` fields for the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub email: Option<String>,
    pub address: Option<String>,
}

/// One line of the audit log, before it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry<'a> {
    pub action: &'a str,
    pub subject: &'a str,
    /// What changed: `{"before": …, "after": …}` or the facts of the action.
    /// Secrets appear here only as fingerprints.
    pub details: Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: jiff::Timestamp,
    pub actor_email: Option<String>,
    pub address: Option<String>,
    pub action: String,
    pub subject: String,
    pub details: Value,
}

/// Narrows the audit log; every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
    pub disabled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub must_change_password: bool,
    pub disabled: bool,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    display_name: String,
    role: String,
    password_hash: String,
    must_change_password: bool,
    disabled: bool,
}

impl UserRow {
    fn into_record(self) -> Result<UserRecord, StoreError> {
        Ok(UserRecord {
            id: self.id,
            email: self.email,
            display_name: self.display_name,
            role: self.role.parse().map_err(StoreError::corrupt)?,
            password_hash: self.password_hash,
            must_change_password: self.must_change_password,
            disabled: self.disabled,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: jiff_sqlx::Timestamp,
    actor_email: Option<String>,
    address: Option<String>,
    action: String,
    subject: String,
    details: Json<Value>,
}

const USER_COLUMNS: &str = "id, email, display_name, role, password_hash, must_change_password,
     disabled_at is not null as disabled";

/// A new account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    pub email: Email,
    pub display_name: DisplayName,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
}

pub(super) async fn append_audit(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    entry: &AuditEntry<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into audit_log (actor_id, actor_email, address, action, subject, details)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor.user_id)
    .bind(&actor.email)
    .bind(&actor.address)
    .bind(entry.action)
    .bind(entry.subject)
    .bind(Json(&entry.details))
    .execute(tx)
    .await?;
    Ok(())
}

impl Store {
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("select count(*) from users")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Creates an account; `StoreError::Conflict` when the email is taken.
    pub async fn create_user(&self, user: &NewUser, actor: &Actor) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "insert into users (email, display_name, role, password_hash, must_change_password)
             values ($1, $2, $3, $4, $5) returning id",
        )
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(user.must_change_password)
        .fetch_one(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            &AuditEntry {
                action: "user.created",
                subject: user.email.as_str(),
                details: serde_json::json!({
                    "after": {"name": user.display_name.as_str(), "role": user.role.as_str()}
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "select {USER_COLUMNS} from users where email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.map(UserRow::into_record).transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> =
            sqlx::query_as(&format!("select {USER_COLUMNS} from users where id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(UserRow::into_record).transpose()
    }

    /// Every account, by email.
    pub async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError> {
        let rows: Vec<UserRow> =
            sqlx::query_as(&format!("select {USER_COLUMNS} from users order by email"))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|r| {
                r.into_record().map(|u| UserSummary {
                    id: u.id,
                    email: u.email,
                    display_name: u.display_name,
                    role: u.role,
                    must_change_password: u.must_change_password,
                    disabled: u.disabled,
                })
            })
            .collect()
    }

    /// Changes a person's role and whether the account is disabled.
    pub async fn update_user(
        &self,
        id: i64,
        role: Role,
        disabled: bool,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let before: Option<(String, String, bool)> = sqlx::query_as(
            "select email, role, disabled_at is not null from users where id = $1 for update",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((email, old_role, was_disabled)) = before else {
            return Ok(false);
        };
        sqlx::query(
            "update users set role = $2,
                 disabled_at = case when $3 then coalesce(disabled_at, now()) else null end,
                 updated_at = now()
             where id = $1",
        )
        .bind(id)
        .bind(role.as_str())
        .bind(disabled)
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            &AuditEntry {
                action: "user.updated",
                subject: &email,
                details: serde_json::json!({
                    "before": {"role": old_role, "disabled": was_disabled},
                    "after": {"role": role.as_str(), "disabled": disabled},
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sets a new password hash; `must_change` forces a change at the next
    /// sign-in (an admin's reset).
    pub async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change: bool,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let email: Option<String> = sqlx::query_scalar(
            "update users set password_hash = $2, must_change_password = $3, updated_at = now()
             where id = $1 returning email",
        )
        .bind(id)
        .bind(password_hash)
        .bind(must_change)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(email) = email else {
            return Ok(false);
        };
        let action = if must_change {
            "user.password_reset"
        } else {
            "user.password_changed"
        };
        append_audit(
            &mut tx,
            actor,
            &AuditEntry {
                action,
                subject: &email,
                details: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a sign-in attempt, with its audit entry.
    pub async fn record_sign_in(
        &self,
        email: &str,
        address: &str,
        succeeded: bool,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("insert into login_attempts (email, address, succeeded) values ($1, $2, $3)")
            .bind(email)
            .bind(address)
            .bind(succeeded)
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            actor,
            &AuditEntry {
                action: if succeeded {
                    "session.signed_in"
                } else {
                    "session.sign_in_failed"
                },
                subject: email,
                details: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Failed sign-ins in the last `minutes` for the account and from the
    /// address.
    pub async fn recent_sign_in_failures(
        &self,
        email: &str,
        address: &str,
        minutes: i64,
    ) -> Result<(i64, i64), StoreError> {
        Ok(sqlx::query_as(
            "select
                 count(*) filter (where email = $1),
                 count(*) filter (where address = $2)
             from login_attempts
             where not succeeded and at > now() - make_interval(mins => $3)
               and (email = $1 or address = $2)",
        )
        .bind(email)
        .bind(address)
        .bind(minutes as i32)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Writes an audit entry on its own (sign-outs, views that matter).
    pub async fn audit(&self, actor: &Actor, entry: &AuditEntry<'_>) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        append_audit(&mut conn, actor, entry).await
    }

    pub async fn create_setup_token(
        &self,
        token_sha256: &[u8],
        expires_at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("insert into setup_tokens (token_sha256, expires_at) values ($1, $2)")
            .bind(token_sha256)
            .bind(expires_at.to_sqlx())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether the token exists, is unused and has not expired.
    pub async fn setup_token_is_valid(&self, token_sha256: &[u8]) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "select exists (select 1 from setup_tokens
                            where token_sha256 = $1 and used_at is null and expires_at > now())",
        )
        .bind(token_sha256)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Creates the first admin with a setup token, once: the token is spent
    /// in the same transaction, and nothing happens if any account exists.
    pub async fn create_first_admin(
        &self,
        token_sha256: &[u8],
        user: &NewUser,
        address: &str,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Serializes concurrent setups: only one can find no account.
        sqlx::query("lock table users in share row exclusive mode")
            .execute(&mut *tx)
            .await?;
        let spent: Option<i64> = sqlx::query_scalar(
            "update setup_tokens set used_at = now()
             where token_sha256 = $1 and used_at is null and expires_at > now()
               and not exists (select 1 from users)
             returning id",
        )
        .bind(token_sha256)
        .fetch_optional(&mut *tx)
        .await?;
        if spent.is_none() {
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(
            "insert into users (email, display_name, role, password_hash)
             values ($1, $2, 'admin', $3) returning id",
        )
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(&user.password_hash)
        .fetch_one(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            &Actor {
                user_id: Some(id),
                email: Some(user.email.to_string()),
                address: Some(address.to_owned()),
            },
            &AuditEntry {
                action: "user.created",
                subject: user.email.as_str(),
                details: serde_json::json!({"after": {"role": "admin"}, "via": "setup token"}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// The audit log, newest first, narrowed by `filter`.
    pub async fn audit_log(
        &self,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "select id, at, actor_email, address, action, subject, details from audit_log
             where ($1::text is null or actor_email = $1)
               and ($2::text is null or action = $2 or action like $2 || '.%')
               and ($3::timestamptz is null or at >= $3)
               and ($4::timestamptz is null or at < $4)
             order by at desc, id desc
             limit $5",
        )
        .bind(&filter.actor)
        .bind(&filter.action)
        .bind(filter.since.map(|t| t.to_sqlx()))
        .bind(filter.until.map(|t| t.to_sqlx()))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRecord {
                id: r.id,
                at: r.at.to_jiff(),
                actor_email: r.actor_email,
                address: r.address,
                action: r.action,
                subject: r.subject,
                details: r.details.0,
            })
            .collect())
    }
}
