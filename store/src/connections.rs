//! Provider connections (one row per provider account) and their keys.
//! A connection's settings, its keys and the audit entries for them are
//! saved in one transaction.

use dispute_core::domain::{
    ConnectionDraft, ConnectionSettings, ConnectionSlug, ProviderKind, SourceAllowlist, Verdict,
    ZoneName,
};
use serde::{Deserialize, Serialize};

use super::{
    people::{append_audit, Actor, AuditEntry},
    Named, Store, StoreError,
};

/// A connection as the connections list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSummary {
    pub slug: String,
    pub provider: ProviderKind,
    pub display_name: String,
    pub enabled: bool,
    pub timezone: String,
}

/// What intake needs to judge a request to a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntakeConnection {
    pub id: i64,
    pub provider: ProviderKind,
    pub enabled: bool,
    pub timezone: ZoneName,
    pub account_id: Option<String>,
    pub source_allowlist: SourceAllowlist,
}

/// The channel `announce_connection_change()` notifies.
const CHANGES_CHANNEL: &str = "dispute_desk_connections";

/// A subscription to connection changes.
pub struct ConnectionChanges {
    listener: sqlx::postgres::PgListener,
}

impl ConnectionChanges {
    /// Waits for the next change. An error means the subscription was lost
    /// and changes may have been missed meanwhile.
    pub async fn next(&mut self) -> Result<(), StoreError> {
        match self.listener.try_recv().await? {
            Some(_) => Ok(()),
            None => Err(StoreError::Database(sqlx::Error::Io(
                std::io::Error::other("the connection listening for connection changes was lost"),
            ))),
        }
    }
}

/// What a key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Verifies notifications: a PingPong salt or a provider's public key.
    Verify,
    /// Signs status queries: the merchant's private key.
    Sign,
}

/// Current, or the next one during a rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySlot {
    Current,
    Next,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Verify => "verify",
            KeyPurpose::Sign => "sign",
        }
    }

    /// Binds a sealed secret to its connection and purpose.
    pub fn seal_context(self, connection_id: i64) -> String {
        format!("connection:{connection_id}:{}", self.as_str())
    }
}

impl KeySlot {
    pub fn as_str(self) -> &'static str {
        match self {
            KeySlot::Current => "current",
            KeySlot::Next => "next",
        }
    }
}

/// Key material as stored: public keys in the clear, secrets sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredKeyMaterial {
    PublicDer(Vec<u8>),
    Sealed(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    pub material: StoredKeyMaterial,
    pub fingerprint: String,
}

/// Whether saving created the row or changed an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    Created,
    Updated,
    Unchanged,
}

/// What saving a connection may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saving {
    /// Add a new connection; a taken slug is refused.
    Create,
    /// Change an existing connection.
    Update,
    /// Add it or bring it up to date (the import).
    CreateOrUpdate,
}

/// A key to put in a connection's slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewKey {
    pub purpose: KeyPurpose,
    pub slot: KeySlot,
    pub key: StoredKey,
}

/// What saving a connection changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedConnection {
    pub id: i64,
    pub settings: Saved,
    /// Each key given: where it went, its fingerprint, what changed.
    pub keys: Vec<(KeyPurpose, KeySlot, String, Saved)>,
}

/// Why a connection was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("a connection named {0} exists already")]
    SlugTaken(String),
    #[error("there is no connection named {0}")]
    NoSuchConnection(String),
    #[error("the provider of a connection cannot change")]
    ProviderDiffers,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SaveError {
    fn from(e: sqlx::Error) -> Self {
        SaveError::Store(e.into())
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    public_der: Option<Vec<u8>>,
    sealed_secret: Option<Vec<u8>>,
    fingerprint: String,
}

#[derive(sqlx::FromRow)]
struct IntakeRow {
    id: i64,
    provider: Named<ProviderKind>,
    enabled: bool,
    timezone: String,
    account_id: Option<String>,
    source_allowlist: Vec<String>,
}

impl Store {
    /// Saves a connection's settings and the keys `keys` makes for its id
    /// (sealing binds a secret to the connection), with their audit entries,
    /// in one transaction. Intake reloads the connection when it changed.
    pub async fn save_connection(
        &self,
        settings: &ConnectionSettings,
        saving: Saving,
        keys: impl FnOnce(i64) -> Vec<NewKey>,
        actor: &Actor,
    ) -> Result<SavedConnection, SaveError> {
        let slug = settings.slug.as_str();
        let mut tx = self.pool.begin().await?;
        let before: Option<(i64, Named<ProviderKind>)> =
            sqlx::query_as("select id, provider from connections where slug = $1 for update")
                .bind(slug)
                .fetch_optional(&mut *tx)
                .await?;
        let (id, saved) = match (before, saving) {
            (Some(_), Saving::Create) => return Err(SaveError::SlugTaken(slug.to_owned())),
            (None, Saving::Update) => return Err(SaveError::NoSuchConnection(slug.to_owned())),
            (Some((_, provider)), _) if provider.0 != settings.provider => {
                return Err(SaveError::ProviderDiffers)
            }
            (Some((id, _)), _) => (id, update_settings(&mut tx, id, settings, actor).await?),
            (None, _) => (
                insert_settings(&mut tx, settings, actor).await?,
                Saved::Created,
            ),
        };
        let mut saved_keys = Vec::new();
        for NewKey { purpose, slot, key } in keys(id) {
            let saved = put_key(&mut tx, id, purpose, slot, &key, actor).await?;
            saved_keys.push((purpose, slot, key.fingerprint, saved));
        }
        tx.commit().await?;
        self.note_connections_changed();
        Ok(SavedConnection {
            id,
            settings: saved,
            keys: saved_keys,
        })
    }

    /// Puts a key in a slot, replacing what was there; a key with the same
    /// fingerprint is left as it is. Any change makes intake reload the
    /// connection's keys.
    pub async fn set_key(
        &self,
        connection_id: i64,
        purpose: KeyPurpose,
        slot: KeySlot,
        key: &StoredKey,
        actor: &Actor,
    ) -> Result<Saved, StoreError> {
        let mut tx = self.pool.begin().await?;
        let saved = put_key(&mut tx, connection_id, purpose, slot, key, actor).await?;
        tx.commit().await?;
        self.note_connections_changed();
        Ok(saved)
    }

    /// Announcements that connections or their keys changed, from any
    /// process (a database trigger announces every change).
    pub async fn connection_changes(&self) -> Result<ConnectionChanges, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        Ok(ConnectionChanges { listener })
    }

    /// The connection behind `/webhooks/{slug}`, if there is one.
    pub async fn intake_connection(
        &self,
        slug: &ConnectionSlug,
    ) -> Result<Option<IntakeConnection>, StoreError> {
        let row: Option<IntakeRow> = sqlx::query_as(
            "select id, provider, enabled, timezone, account_id, source_allowlist
             from connections where slug = $1",
        )
        .bind(slug.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(IntakeConnection {
                id: r.id,
                provider: r.provider.0,
                enabled: r.enabled,
                timezone: ZoneName::parse(&r.timezone).map_err(StoreError::corrupt)?,
                account_id: r.account_id,
                source_allowlist: SourceAllowlist::parse(&r.source_allowlist, &[])
                    .map_err(StoreError::corrupt)?,
            })
        })
        .transpose()
    }

    /// Sealed verification secrets whose fingerprint was made before
    /// secrets were fingerprinted with a key: (connection, sealed, old
    /// fingerprint).
    pub async fn unkeyed_secret_fingerprints(
        &self,
    ) -> Result<Vec<(i64, Vec<u8>, String)>, StoreError> {
        Ok(sqlx::query_as(
            "select connection_id, sealed_secret, fingerprint from connection_keys
             where purpose = 'verify' and sealed_secret is not null
               and fingerprint like 'sha256:%'",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Renames a secret's fingerprint on its key and on the notifications it
    /// verified. (The audit log keeps the old name: it is append-only.)
    pub async fn replace_fingerprint(
        &self,
        connection_id: i64,
        old: &str,
        new: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "update connection_keys set fingerprint = $3
             where connection_id = $1 and fingerprint = $2",
            "update notifications set key_fingerprint = $3
             where connection_id = $1 and key_fingerprint = $2",
        ] {
            sqlx::query(sql)
                .bind(connection_id)
                .bind(old)
                .bind(new)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.note_connections_changed();
        Ok(())
    }

    /// A connection's keys for one purpose, the current one first.
    pub async fn keys(
        &self,
        connection_id: i64,
        purpose: KeyPurpose,
    ) -> Result<Vec<StoredKey>, StoreError> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "select public_der, sealed_secret, fingerprint from connection_keys
             where connection_id = $1 and purpose = $2
             order by slot = 'current' desc",
        )
        .bind(connection_id)
        .bind(purpose.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |KeyRow {
                     public_der,
                     sealed_secret,
                     fingerprint,
                 }| {
                    let material = match (public_der, sealed_secret) {
                        (Some(der), None) => StoredKeyMaterial::PublicDer(der),
                        (None, Some(sealed)) => StoredKeyMaterial::Sealed(sealed),
                        _ => return Err(StoreError::corrupt("a key row has no single material")),
                    };
                    Ok(StoredKey {
                        material,
                        fingerprint,
                    })
                },
            )
            .collect()
    }

    /// Moves the next key into the current slot (the old current one is
    /// dropped); nothing happens when there is no next key.
    pub async fn promote_next_key(
        &self,
        connection_id: i64,
        purpose: KeyPurpose,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let fingerprints = slot_fingerprints(&mut tx, connection_id, purpose).await?;
        let Some(next) = fingerprints.next else {
            return Ok(false);
        };
        for sql in [
            "delete from connection_keys where connection_id = $1 and purpose = $2 and slot = 'current'",
            "update connection_keys set slot = 'current' where connection_id = $1 and purpose = $2 and slot = 'next'",
        ] {
            sqlx::query(sql)
                .bind(connection_id)
                .bind(purpose.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let slug = touch(&mut tx, connection_id).await?;
        append_audit(
            &mut tx,
            actor,
            &AuditEntry {
                action: "connection.key_promoted",
                subject: &slug,
                details: serde_json::json!({
                    "purpose": purpose.as_str(),
                    "before": fingerprints.current,
                    "after": next,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        self.note_connections_changed();
        Ok(true)
    }

    /// Drops the next key without using it.
    pub async fn discard_next_key(
        &self,
        connection_id: i64,
        purpose: KeyPurpose,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let discarded: Option<String> = sqlx::query_scalar(
            "delete from connection_keys
             where connection_id = $1 and purpose = $2 and slot = 'next'
             returning fingerprint",
        )
        .bind(connection_id)
        .bind(purpose.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(fingerprint) = discarded else {
            return Ok(false);
        };
        let slug = touch(&mut tx, connection_id).await?;
        append_audit(
            &mut tx,
            actor,
            &AuditEntry {
                action: "connection.key_discarded",
                subject: &slug,
                details: serde_json::json!({"purpose": purpose.as_str(), "before": fingerprint}),
            },
        )
        .await?;
        tx.commit().await?;
        self.note_connections_changed();
        Ok(true)
    }

    /// One connection with its keys' fingerprints, for its page.
    pub async fn connection_detail(
        &self,
        slug: &ConnectionSlug,
    ) -> Result<Option<ConnectionDetail>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(row) = sqlx::query_as::<_, SettingsRow>(&format!(
            "select id, {SETTINGS_COLUMNS} from connections where slug = $1"
        ))
        .bind(slug.as_str())
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        let id = row.id;
        let provider = row.provider.0;
        let verification = slot_fingerprints(&mut conn, id, KeyPurpose::Verify).await?;
        let signing = slot_fingerprints(&mut conn, id, KeyPurpose::Sign).await?;
        Ok(Some(ConnectionDetail {
            id,
            provider,
            settings: row.into_draft(),
            verification,
            signing,
        }))
    }

    /// Every connection with its last delivery, for the connections list.
    pub async fn connections_overview(&self) -> Result<Vec<ConnectionOverview>, StoreError> {
        let rows: Vec<OverviewRow> = sqlx::query_as(
            "select c.slug, c.provider, c.display_name, c.enabled, c.timezone,
                    n.received_at as last_received_at, n.verdict as last_verdict
             from connections c
             left join lateral (
                 select received_at, verdict from notifications
                 where connection_id = c.id
                 order by received_at desc, id desc limit 1
             ) n on true
             order by c.slug",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ConnectionOverview {
                summary: ConnectionSummary {
                    slug: r.slug,
                    provider: r.provider.0,
                    display_name: r.display_name,
                    enabled: r.enabled,
                    timezone: r.timezone,
                },
                last_received_at: r.last_received_at.map(|t| t.to_jiff()),
                last_verdict: r.last_verdict.map(|v| v.0),
            })
            .collect())
    }
}

/// The current and next key of one purpose, by fingerprint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotFingerprints {
    pub current: Option<String>,
    pub next: Option<String>,
}

/// A connection's settings and its keys' fingerprints (never the keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionDetail {
    pub id: i64,
    pub provider: ProviderKind,
    /// The settings as the form shows them.
    pub settings: ConnectionDraft,
    pub verification: SlotFingerprints,
    pub signing: SlotFingerprints,
}

/// A connection in the list, with the last request it received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionOverview {
    pub summary: ConnectionSummary,
    pub last_received_at: Option<jiff::Timestamp>,
    pub last_verdict: Option<Verdict>,
}

#[derive(sqlx::FromRow)]
struct OverviewRow {
    slug: String,
    provider: Named<ProviderKind>,
    display_name: String,
    enabled: bool,
    timezone: String,
    last_received_at: Option<jiff_sqlx::Timestamp>,
    last_verdict: Option<Named<Verdict>>,
}

const SETTINGS_COLUMNS: &str = "slug, provider, display_name, account_id, app_id, timezone,
     query_base_url, source_allowlist, enabled, silence_after_minutes";

#[derive(sqlx::FromRow)]
struct SettingsRow {
    id: i64,
    slug: String,
    provider: Named<ProviderKind>,
    display_name: String,
    account_id: Option<String>,
    app_id: Option<String>,
    timezone: String,
    query_base_url: Option<String>,
    source_allowlist: Vec<String>,
    enabled: bool,
    silence_after_minutes: Option<i32>,
}

impl SettingsRow {
    fn into_draft(self) -> ConnectionDraft {
        ConnectionDraft {
            slug: self.slug,
            provider: self.provider.0.as_str().to_owned(),
            display_name: self.display_name,
            account_id: self.account_id.unwrap_or_default(),
            app_id: self.app_id.unwrap_or_default(),
            timezone: self.timezone,
            query_base_url: self.query_base_url.unwrap_or_default(),
            source_allowlist: self.source_allowlist,
            enabled: self.enabled,
            silence_after_minutes: self
                .silence_after_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
        }
    }
}

/// Adds a connection; a slug taken meanwhile is refused by its constraint.
async fn insert_settings(
    tx: &mut sqlx::PgConnection,
    settings: &ConnectionSettings,
    actor: &Actor,
) -> Result<i64, SaveError> {
    let inserted = sqlx::query_scalar(
        "insert into connections
             (slug, provider, display_name, enabled, timezone, account_id, app_id,
              query_base_url, source_allowlist, silence_after_minutes)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning id",
    )
    .bind(settings.slug.as_str())
    .bind(settings.provider.as_str())
    .bind(&settings.display_name)
    .bind(settings.enabled)
    .bind(settings.timezone.as_str())
    .bind(&settings.account_id)
    .bind(&settings.app_id)
    .bind(settings.query_base_url.as_ref().map(|u| u.as_str()))
    .bind(settings.source_allowlist.entries())
    .bind(settings.silence_after_minutes.map(|m| m as i32))
    .fetch_one(&mut *tx)
    .await;
    let id = match inserted.map_err(StoreError::from) {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => {
            return Err(SaveError::SlugTaken(settings.slug.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    audit_settings(tx, actor, "connection.created", None, settings).await?;
    Ok(id)
}

/// Changes a connection's settings when they differ from what is stored.
async fn update_settings(
    tx: &mut sqlx::PgConnection,
    id: i64,
    settings: &ConnectionSettings,
    actor: &Actor,
) -> Result<Saved, StoreError> {
    let before: SettingsRow = sqlx::query_as(&format!(
        "select id, {SETTINGS_COLUMNS} from connections where id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let before = before.into_draft();
    if before == settings.draft() {
        return Ok(Saved::Unchanged);
    }
    sqlx::query(
        "update connections set display_name = $2, enabled = $3, timezone = $4, account_id = $5,
             app_id = $6, query_base_url = $7, source_allowlist = $8,
             silence_after_minutes = $9, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(&settings.display_name)
    .bind(settings.enabled)
    .bind(settings.timezone.as_str())
    .bind(&settings.account_id)
    .bind(&settings.app_id)
    .bind(settings.query_base_url.as_ref().map(|u| u.as_str()))
    .bind(settings.source_allowlist.entries())
    .bind(settings.silence_after_minutes.map(|m| m as i32))
    .execute(&mut *tx)
    .await?;
    audit_settings(tx, actor, "connection.updated", Some(&before), settings).await?;
    Ok(Saved::Updated)
}

async fn audit_settings(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    action: &str,
    before: Option<&ConnectionDraft>,
    settings: &ConnectionSettings,
) -> Result<(), StoreError> {
    append_audit(
        tx,
        actor,
        &AuditEntry {
            action,
            subject: settings.slug.as_str(),
            details: serde_json::json!({ "before": before, "after": settings.draft() }),
        },
    )
    .await
}

/// Puts a key in its slot with its audit entry, unless the same key is
/// there already.
async fn put_key(
    tx: &mut sqlx::PgConnection,
    connection_id: i64,
    purpose: KeyPurpose,
    slot: KeySlot,
    key: &StoredKey,
    actor: &Actor,
) -> Result<Saved, StoreError> {
    let (public_der, sealed) = match &key.material {
        StoredKeyMaterial::PublicDer(der) => (Some(der.as_slice()), None),
        StoredKeyMaterial::Sealed(bytes) => (None, Some(bytes.as_slice())),
    };
    let saved: Option<bool> = sqlx::query_scalar(
        "insert into connection_keys as k
             (connection_id, purpose, slot, public_der, sealed_secret, fingerprint)
         values ($1, $2, $3, $4, $5, $6)
         on conflict on constraint connection_keys_slot_key do update set
             public_der = excluded.public_der,
             sealed_secret = excluded.sealed_secret,
             fingerprint = excluded.fingerprint,
             created_at = now()
         where k.fingerprint <> excluded.fingerprint
         returning xmax = 0",
    )
    .bind(connection_id)
    .bind(purpose.as_str())
    .bind(slot.as_str())
    .bind(public_der)
    .bind(sealed)
    .bind(&key.fingerprint)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(created) = saved else {
        return Ok(Saved::Unchanged);
    };
    let slug = touch(tx, connection_id).await?;
    append_audit(
        tx,
        actor,
        &AuditEntry {
            action: "connection.key_set",
            subject: &slug,
            details: serde_json::json!({
                "purpose": purpose.as_str(),
                "slot": slot.as_str(),
                "after": key.fingerprint,
            }),
        },
    )
    .await?;
    Ok(if created {
        Saved::Created
    } else {
        Saved::Updated
    })
}

async fn slot_fingerprints(
    conn: &mut sqlx::PgConnection,
    connection_id: i64,
    purpose: KeyPurpose,
) -> Result<SlotFingerprints, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select slot, fingerprint from connection_keys where connection_id = $1 and purpose = $2",
    )
    .bind(connection_id)
    .bind(purpose.as_str())
    .fetch_all(conn)
    .await?;
    let of = |slot: &str| rows.iter().find(|(s, _)| s == slot).map(|(_, f)| f.clone());
    Ok(SlotFingerprints {
        current: of("current"),
        next: of("next"),
    })
}

/// Marks the connection changed, so intake reloads its keys; returns its slug.
async fn touch(conn: &mut sqlx::PgConnection, connection_id: i64) -> Result<String, StoreError> {
    Ok(
        sqlx::query_scalar(
            "update connections set updated_at = now() where id = $1 returning slug",
        )
        .bind(connection_id)
        .fetch_one(conn)
        .await?,
    )
}
