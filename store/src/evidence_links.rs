//! The links a provider fetches a submitted response's files from: made
//! once per submission and file, read back only while their submission is
//! sending or sent (a refused one's files are not served), revoked by a
//! person (audited), and every fetch logged.

use dispute_core::domain::evidence::FileKind;
use jiff_sqlx::ToSqlx;
use serde_json::json;

use super::{people::append_audit, Actor, AuditEntry, Named, Store, StoreError};

/// A link as serving and the dispute page need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceLink {
    pub id: i64,
    pub submission_id: i64,
    pub file_id: i64,
    pub safe_name: String,
    /// The name people see.
    pub name: String,
    pub format: FileKind,
    pub size: u64,
    pub expires_at: jiff::Timestamp,
    pub revoked_at: Option<jiff::Timestamp>,
    /// Whether its submission is sending or sent: only then is it served.
    pub live: bool,
    pub fetches: i64,
    pub last_fetch: Option<LinkFetch>,
}

/// One fetch of a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkFetch {
    pub at: jiff::Timestamp,
    pub address: String,
    pub status: i16,
    pub bytes: i64,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    id: i64,
    submission_id: i64,
    file_id: i64,
    safe_name: String,
    name: String,
    format: Named<FileKind>,
    size: i64,
    expires_at: jiff_sqlx::Timestamp,
    revoked_at: Option<jiff_sqlx::Timestamp>,
    live: bool,
    fetches: i64,
    fetched_at: Option<jiff_sqlx::Timestamp>,
    fetched_from: Option<String>,
    fetched_status: Option<i16>,
    fetched_bytes: Option<i64>,
}

impl From<LinkRow> for EvidenceLink {
    fn from(r: LinkRow) -> Self {
        Self {
            id: r.id,
            submission_id: r.submission_id,
            file_id: r.file_id,
            safe_name: r.safe_name,
            name: r.name,
            format: r.format.0,
            size: r.size.unsigned_abs(),
            expires_at: r.expires_at.to_jiff(),
            revoked_at: r.revoked_at.map(|t| t.to_jiff()),
            live: r.live,
            fetches: r.fetches,
            last_fetch: r.fetched_at.map(|at| LinkFetch {
                at: at.to_jiff(),
                address: r.fetched_from.unwrap_or_default(),
                status: r.fetched_status.unwrap_or_default(),
                bytes: r.fetched_bytes.unwrap_or_default(),
            }),
        }
    }
}

/// Links with their file, whether their submission still stands, and
/// their fetches; a statement adds its `where`.
const SELECT_LINKS: &str = "select l.id, l.submission_id, l.file_id, f.safe_name, f.name, f.format,
    f.size, l.expires_at, l.revoked_at,
    (s.state in ('sending', 'done') and s.decision = 'defend') as live,
    (select count(*) from evidence_link_fetches x where x.link_id = l.id) as fetches,
    last.at as fetched_at, last.address as fetched_from, last.status as fetched_status,
    last.bytes as fetched_bytes
    from evidence_links l
    join evidence_files f on f.id = l.file_id
    join submissions s on s.id = l.submission_id
    left join lateral (
        select at, address, status, bytes from evidence_link_fetches x
        where x.link_id = l.id order by x.id desc limit 1
    ) last on true";

impl Store {
    /// The links of submission `id`'s response files, made now (expiring
    /// at `expires_at`) if not made before, in the files' order.
    pub async fn submission_links(
        &self,
        id: i64,
        expires_at: jiff::Timestamp,
    ) -> Result<Vec<EvidenceLink>, StoreError> {
        sqlx::query(
            "insert into evidence_links (submission_id, file_id, expires_at)
             select s.id, f.id, $2 from submissions s
             join evidence_files f on f.response_id = s.response_id
             where s.id = $1
             on conflict on constraint evidence_links_once do nothing",
        )
        .bind(id)
        .bind(expires_at.to_sqlx())
        .execute(&self.pool)
        .await?;
        let rows: Vec<LinkRow> = sqlx::query_as(&format!(
            "{SELECT_LINKS} where l.submission_id = $1 order by l.file_id"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn evidence_link(&self, id: i64) -> Result<Option<EvidenceLink>, StoreError> {
        let row: Option<LinkRow> = sqlx::query_as(&format!("{SELECT_LINKS} where l.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    /// A dispute's links, oldest first.
    pub async fn links_of_dispute(&self, dispute_id: i64) -> Result<Vec<EvidenceLink>, StoreError> {
        let rows: Vec<LinkRow> = sqlx::query_as(&format!(
            "{SELECT_LINKS} where s.dispute_id = $1 order by l.id"
        ))
        .bind(dispute_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn record_link_fetch(
        &self,
        link_id: i64,
        address: &str,
        status: u16,
        bytes: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into evidence_link_fetches (link_id, address, status, bytes)
             values ($1, $2, $3, $4)",
        )
        .bind(link_id)
        .bind(address)
        .bind(status as i16)
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Revokes link `id` of dispute `dispute_id`; false when it has no
    /// such link, or it was revoked already.
    pub async fn revoke_link(
        &self,
        id: i64,
        dispute_id: i64,
        actor: &Actor,
        subject: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let revoked: Option<String> = sqlx::query_scalar(
            "update evidence_links l set revoked_at = now(), revoked_by = $3
             from submissions s, evidence_files f
             where l.id = $1 and s.id = l.submission_id and s.dispute_id = $2
               and f.id = l.file_id and l.revoked_at is null
             returning f.safe_name",
        )
        .bind(id)
        .bind(dispute_id)
        .bind(actor.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(name) = revoked else {
            return Ok(false);
        };
        let entry = AuditEntry {
            action: "evidence_link.revoke",
            subject,
            details: json!({ "link": id, "file": name }),
        };
        append_audit(&mut tx, actor, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }
}
