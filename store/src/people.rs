//! Accounts, sign-in attempts, setup tokens and the audit log. Every change
//! made by a person is written with its audit entry in one transaction.

use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;

use super::{Store, StoreError};
use dispute_core::domain::{user::Failures, DisplayName, Email, Role, ZoneName};

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

/// Where a page of the audit log ended: the last entry's time and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditKey {
    pub at: jiff::Timestamp,
    pub id: i64,
}

impl AuditRecord {
    pub fn key(&self) -> AuditKey {
        AuditKey {
            at: self.at,
            id: self.id,
        }
    }
}

/// Narrows the audit log; every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
}

/// Failed sign-ins of one account from one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInFailureRecord {
    pub email: String,
    pub address: String,
    pub failures: i64,
    pub first_at: jiff::Timestamp,
    pub last_at: jiff::Timestamp,
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
    /// Sessions opened in an earlier epoch have ended.
    pub session_epoch: i64,
    /// Where the person's times are also shown.
    pub timezone: ZoneName,
}

/// Who picked a zone: the person, or their browser at sign-in (which never
/// overrides the person).
#[derive(Clone, Copy)]
enum Chosen {
    ByThePerson,
    FromTheBrowser,
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
    session_epoch: i64,
    timezone: String,
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
            session_epoch: self.session_epoch,
            // A zone the time zone database no longer knows shows times in
            // UTC rather than locking the person out.
            timezone: ZoneName::parse(&self.timezone).unwrap_or_default(),
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
     disabled_at is not null as disabled, session_epoch, timezone";

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
        // A new role or a disabled account ends the person's sessions.
        sqlx::query(
            "update users set role = $2,
                 disabled_at = case when $3 then coalesce(disabled_at, now()) else null end,
                 session_epoch = session_epoch
                     + case when role <> $2 or ($3 and disabled_at is null) then 1 else 0 end,
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

    /// Sets a new password hash and ends the person's sessions; returns the
    /// new session epoch (`None`: no such account). `must_change` forces a
    /// change at the next sign-in (an admin's reset).
    pub async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change: bool,
        actor: &Actor,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed: Option<(String, i64)> = sqlx::query_as(
            "update users set password_hash = $2, must_change_password = $3,
                 session_epoch = session_epoch + 1, updated_at = now()
             where id = $1 returning email, session_epoch",
        )
        .bind(id)
        .bind(password_hash)
        .bind(must_change)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((email, epoch)) = changed else {
            return Ok(None);
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
        Ok(Some(epoch))
    }

    /// Sets the time zone `id`'s pages show times in, as the person chose
    /// it; false: no such account.
    pub async fn set_timezone(
        &self,
        id: i64,
        zone: &ZoneName,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        self.write_timezone(id, zone, actor, Chosen::ByThePerson)
            .await
    }

    /// Takes the browser's zone for `id` at sign-in, unless the person has
    /// chosen one; true when it was taken (a zone the account already has
    /// is not taken, so nothing is said).
    pub async fn adopt_browser_timezone(
        &self,
        id: i64,
        zone: &ZoneName,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        self.write_timezone(id, zone, actor, Chosen::FromTheBrowser)
            .await
    }

    async fn write_timezone(
        &self,
        id: i64,
        zone: &ZoneName,
        actor: &Actor,
        chosen: Chosen,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed: Option<(String, String)> = sqlx::query_as(
            "update users u set timezone = $2, timezone_chosen = true, updated_at = now()
             from (select timezone from users where id = $1) before
             where u.id = $1 and ($3 or (not u.timezone_chosen and u.timezone <> $2))
             returning u.email, before.timezone",
        )
        .bind(id)
        .bind(zone.as_str())
        .bind(matches!(chosen, Chosen::ByThePerson))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((email, before)) = changed else {
            return Ok(false);
        };
        let entry = AuditEntry {
            action: "user.timezone",
            subject: &email,
            details: match chosen {
                Chosen::ByThePerson => {
                    serde_json::json!({ "before": before, "after": zone.as_str() })
                }
                Chosen::FromTheBrowser => serde_json::json!({
                    "before": before, "after": zone.as_str(), "from": "browser"
                }),
            },
        };
        append_audit(&mut tx, actor, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A successful sign-in: its audit entry, and the account's failures
    /// from this address forgotten.
    pub async fn record_sign_in(&self, actor: &Actor, email: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("delete from sign_in_failures where email = $1 and address = $2")
            .bind(email)
            .bind(actor.address.as_deref().unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            actor,
            &AuditEntry {
                action: "session.signed_in",
                subject: email,
                details: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts a failed sign-in for (`email`, `address`); failures older than
    /// `forget_after` start the count again. Not audited: strangers could
    /// fill the audit log with them.
    pub async fn record_sign_in_failure(
        &self,
        email: &str,
        address: &str,
        forget_after: jiff::SignedDuration,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into sign_in_failures as f (email, address, failures) values ($1, $2, 1)
             on conflict on constraint sign_in_failures_key do update set
                 failures = case when f.last_failure_at < now() - make_interval(secs => $3)
                                 then 1 else f.failures + 1 end,
                 first_failure_at = case when f.last_failure_at < now() - make_interval(secs => $3)
                                         then now() else f.first_failure_at end,
                 last_failure_at = now()",
        )
        .bind(email)
        .bind(address)
        .bind(forget_after.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The failures within `memory` of `email` from `address`, and of
    /// `address` over every account.
    pub async fn sign_in_failures(
        &self,
        email: &str,
        address: &str,
        memory: jiff::SignedDuration,
    ) -> Result<(Option<Failures>, Option<Failures>), StoreError> {
        let (account_count, account_last, address_count, address_last): (
            i64,
            Option<jiff_sqlx::Timestamp>,
            i64,
            Option<jiff_sqlx::Timestamp>,
        ) = sqlx::query_as(
            "select coalesce(sum(failures) filter (where email = $1), 0)::bigint,
                    max(last_failure_at) filter (where email = $1),
                    coalesce(sum(failures), 0)::bigint,
                    max(last_failure_at)
             from sign_in_failures
             where address = $2 and last_failure_at > now() - make_interval(secs => $3)",
        )
        .bind(email)
        .bind(address)
        .bind(memory.as_secs_f64())
        .fetch_one(&self.pool)
        .await?;
        let failures = |count, last: Option<jiff_sqlx::Timestamp>| {
            last.map(|last| Failures {
                count,
                last_at: last.to_jiff(),
            })
        };
        Ok((
            failures(account_count, account_last),
            failures(address_count, address_last),
        ))
    }

    /// Failed sign-ins whose latest failure is after `since`, the latest
    /// first: for the users page and the audit page's summary.
    pub async fn recent_sign_in_failures(
        &self,
        since: jiff::Timestamp,
        limit: i64,
    ) -> Result<Vec<SignInFailureRecord>, StoreError> {
        let rows: Vec<(
            String,
            String,
            i32,
            jiff_sqlx::Timestamp,
            jiff_sqlx::Timestamp,
        )> = sqlx::query_as(
            "select email, address, failures, first_failure_at, last_failure_at
                 from sign_in_failures where last_failure_at > $1
                 order by last_failure_at desc, email, address limit $2",
        )
        .bind(since.to_sqlx())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(email, address, failures, first, last)| SignInFailureRecord {
                    email,
                    address,
                    failures: i64::from(failures),
                    first_at: first.to_jiff(),
                    last_at: last.to_jiff(),
                },
            )
            .collect())
    }

    /// Forgets every failed sign-in of the account (an admin's unlock), with
    /// its audit entry; false when there is no such account.
    pub async fn unlock_sign_in(&self, id: i64, actor: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let email: Option<String> = sqlx::query_scalar("select email from users where id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(email) = email else {
            return Ok(false);
        };
        let forgotten = sqlx::query("delete from sign_in_failures where email = $1")
            .bind(&email)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        append_audit(
            &mut tx,
            actor,
            &AuditEntry {
                action: "user.sign_in_unlocked",
                subject: &email,
                details: serde_json::json!({ "addresses": forgotten }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
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

    /// The audit log, newest first, narrowed by `filter`, from just after
    /// the entry `after` (the last one of the previous page): a keyset, so
    /// new entries never push an older one off the pages.
    pub async fn audit_log(
        &self,
        filter: &AuditFilter,
        after: Option<AuditKey>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "select id, at, actor_email, address, action, subject, details from audit_log
             where ($1::text is null or actor_email = $1)
               and ($2::text is null or action = $2 or action like $2 || '.%')
               and ($3::timestamptz is null or at >= $3)
               and ($4::timestamptz is null or at < $4)
               and ($6::timestamptz is null or (at, id) < ($6, $7))
             order by at desc, id desc
             limit $5",
        )
        .bind(&filter.actor)
        .bind(&filter.action)
        .bind(filter.since.map(|t| t.to_sqlx()))
        .bind(filter.until.map(|t| t.to_sqlx()))
        .bind(limit)
        .bind(after.map(|k| k.at.to_sqlx()))
        .bind(after.map(|k| k.id))
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
