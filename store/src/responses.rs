//! Responses to disputes and their evidence: one response per dispute and
//! stage, its letter and summary, its files (bytes streamed in and out a
//! chunk at a time, never whole), its history, and the cover letters admins
//! keep. Every change is checked against the response's row, locked, so
//! two analysts at one response change it one after the other; each comes
//! with its history line and audit entry in one transaction.

use dispute_core::domain::{
    evidence::{
        read_only_because, Defence, DocumentKind, FileKind, Letter, LetterTemplate, Needed,
        ResponseAction, ResponseState, Summary,
    },
    JobKind, Stage, Status,
};
use futures_core::Stream;
use serde_json::json;
use sqlx::{Postgres, Transaction};

use super::{people::append_audit, Actor, AuditEntry, Named, NewJob, Person, Store, StoreError};

/// The bytes of a file are written and read in pieces of this size.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// A response as its page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseRecord {
    pub id: i64,
    pub dispute_id: i64,
    pub stage: Stage,
    pub state: ResponseState,
    pub letter: String,
    pub summary: String,
    pub created_by: Person,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
    /// What the provider said the response needs, and when it said so.
    pub provider_checklist: Option<(Vec<Needed>, jiff::Timestamp)>,
}

/// One evidence file, without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceFile {
    pub id: i64,
    pub response_id: i64,
    pub document: DocumentKind,
    pub name: String,
    pub safe_name: String,
    pub format: FileKind,
    pub size: u64,
    pub sha256: String,
    pub pages: Option<u32>,
    pub uploaded_by: Person,
    pub uploaded_at: jiff::Timestamp,
}

/// What a file was, once all of it arrived and was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvidence {
    pub document: DocumentKind,
    pub name: String,
    pub safe_name: String,
    pub format: FileKind,
    pub size: u64,
    pub sha256: [u8; 32],
    pub pages: Option<u32>,
}

/// Why a change to a response was not made.
#[derive(Debug, thiserror::Error)]
pub enum ResponseRefusal {
    #[error("there is no such response")]
    NoResponse,
    /// The response cannot change now; the words say why.
    #[error("{0}")]
    ReadOnly(String),
    /// The file is attached already, under this name.
    #[error("the same file is attached already as {0}")]
    Duplicate(String),
    /// The response's files would be over its limit: (its files' bytes
    /// now, the limit).
    #[error("the response's files would be over their limit")]
    Full { held: u64, limit: u64 },
    /// Its state is not the one the change starts from.
    #[error("the response is {0:?}")]
    NotIn(ResponseState),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ResponseRefusal {
    fn from(e: sqlx::Error) -> Self {
        ResponseRefusal::Store(e.into())
    }
}

#[derive(sqlx::FromRow)]
struct ResponseRow {
    id: i64,
    dispute_id: i64,
    stage: Named<Stage>,
    state: Named<ResponseState>,
    letter: String,
    summary: String,
    created_by: i64,
    created_by_name: String,
    created_at: jiff_sqlx::Timestamp,
    updated_at: jiff_sqlx::Timestamp,
    provider_checklist: Option<sqlx::types::Json<Vec<Needed>>>,
    provider_checklist_at: Option<jiff_sqlx::Timestamp>,
}

impl From<ResponseRow> for ResponseRecord {
    fn from(r: ResponseRow) -> Self {
        Self {
            id: r.id,
            dispute_id: r.dispute_id,
            stage: r.stage.0,
            state: r.state.0,
            letter: r.letter,
            summary: r.summary,
            created_by: Person {
                id: r.created_by,
                display_name: r.created_by_name,
            },
            created_at: r.created_at.to_jiff(),
            updated_at: r.updated_at.to_jiff(),
            provider_checklist: r
                .provider_checklist
                .zip(r.provider_checklist_at)
                .map(|(list, at)| (list.0, at.to_jiff())),
        }
    }
}

/// Responses with who prepared them; a statement adds its `where`.
const SELECT_RESPONSES: &str = "select r.id, r.dispute_id, r.stage, r.state, r.letter, r.summary,
    r.created_by, u.display_name as created_by_name, r.created_at, r.updated_at,
    r.provider_checklist, r.provider_checklist_at
    from responses r join users u on u.id = r.created_by";

#[derive(sqlx::FromRow)]
struct FileRow {
    id: i64,
    response_id: i64,
    document: Named<DocumentKind>,
    name: String,
    safe_name: String,
    format: Named<FileKind>,
    size: i64,
    sha256: Vec<u8>,
    pages: Option<i32>,
    uploaded_by: i64,
    uploaded_by_name: String,
    uploaded_at: jiff_sqlx::Timestamp,
}

impl From<FileRow> for EvidenceFile {
    fn from(r: FileRow) -> Self {
        Self {
            id: r.id,
            response_id: r.response_id,
            document: r.document.0,
            name: r.name,
            safe_name: r.safe_name,
            format: r.format.0,
            size: r.size.unsigned_abs(),
            sha256: hex::encode(r.sha256),
            pages: r.pages.map(i32::unsigned_abs),
            uploaded_by: Person {
                id: r.uploaded_by,
                display_name: r.uploaded_by_name,
            },
            uploaded_at: r.uploaded_at.to_jiff(),
        }
    }
}

/// Evidence files with who uploaded them; a statement adds its `where`.
const SELECT_FILES: &str = "select f.id, f.response_id, f.document, f.name, f.safe_name, f.format,
    f.size, f.sha256, f.pages, f.uploaded_by, u.display_name as uploaded_by_name, f.uploaded_at
    from evidence_files f join users u on u.id = f.uploaded_by";

/// The response row locked for a change, with where its dispute stands.
#[derive(sqlx::FromRow)]
struct Locked {
    state: Named<ResponseState>,
    stage: Named<Stage>,
    dispute_stage: Option<Named<Stage>>,
    dispute_status: Option<Named<Status>>,
}

impl Locked {
    fn read_only_because(&self) -> Option<String> {
        read_only_because(
            self.state.0,
            self.stage.0,
            (
                self.dispute_stage.as_ref().map(|s| s.0),
                self.dispute_status.as_ref().map(|s| s.0),
            ),
        )
    }
}

async fn lock(tx: &mut sqlx::PgConnection, response_id: i64) -> Result<Option<Locked>, StoreError> {
    Ok(sqlx::query_as(
        "select r.state, r.stage, d.stage as dispute_stage, d.status as dispute_status
         from responses r join disputes d on d.id = r.dispute_id
         where r.id = $1
         for update of r",
    )
    .bind(response_id)
    .fetch_optional(tx)
    .await?)
}

/// Writes a history line and its audit entry.
async fn record(
    tx: &mut sqlx::PgConnection,
    response_id: i64,
    action: ResponseAction,
    detail: &str,
    actor: &Actor,
    subject: &str,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    let by = actor
        .user_id
        .ok_or_else(|| StoreError::corrupt("a response changed by no one"))?;
    sqlx::query(
        "insert into response_history (response_id, action, detail, by_id) values ($1, $2, $3, $4)",
    )
    .bind(response_id)
    .bind(action.as_str())
    .bind(detail)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    sqlx::query("update responses set updated_at = now() where id = $1")
        .bind(response_id)
        .execute(&mut *tx)
        .await?;
    let entry = AuditEntry {
        action: action.audit_action(),
        subject,
        details,
    };
    append_audit(tx, actor, &entry).await
}

/// A file on its way in: its chunks are written as they arrive, in a
/// transaction that only `finish` commits, so a file refused part-way (too
/// large, the wrong kind, the browser gone) leaves nothing behind.
pub struct EvidenceUpload {
    tx: Transaction<'static, Postgres>,
    response_id: i64,
    file_id: i64,
    seq: i32,
}

impl EvidenceUpload {
    /// Appends the next piece of the file.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        sqlx::query("insert into evidence_chunks (file_id, seq, data) values ($1, $2, $3)")
            .bind(self.file_id)
            .bind(self.seq)
            .bind(bytes)
            .execute(&mut *self.tx)
            .await?;
        self.seq += 1;
        Ok(())
    }

    /// Keeps the file as `file` says it is, within the response's
    /// `response_limit` (bytes of all its files), unless the same bytes are
    /// attached already or the response cannot change.
    pub async fn finish(
        mut self,
        file: &NewEvidence,
        response_limit: u64,
        actor: &Actor,
        subject: &str,
    ) -> Result<EvidenceFile, ResponseRefusal> {
        let tx = &mut *self.tx;
        let locked = lock(tx, self.response_id)
            .await?
            .ok_or(ResponseRefusal::NoResponse)?;
        if let Some(why) = locked.read_only_because() {
            return Err(ResponseRefusal::ReadOnly(why));
        }
        let same: Option<String> = sqlx::query_scalar(
            "select name from evidence_files where response_id = $1 and sha256 = $2",
        )
        .bind(self.response_id)
        .bind(file.sha256.as_slice())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(name) = same {
            return Err(ResponseRefusal::Duplicate(name));
        }
        let held: i64 = sqlx::query_scalar(
            "select coalesce(sum(size), 0)::bigint from evidence_files where response_id = $1",
        )
        .bind(self.response_id)
        .fetch_one(&mut *tx)
        .await?;
        let held = held.unsigned_abs();
        if held + file.size > response_limit {
            return Err(ResponseRefusal::Full {
                held,
                limit: response_limit,
            });
        }
        sqlx::query(
            "insert into evidence_files
                 (id, response_id, document, name, safe_name, format, size, sha256, pages, uploaded_by)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(self.file_id)
        .bind(self.response_id)
        .bind(file.document.as_str())
        .bind(&file.name)
        .bind(&file.safe_name)
        .bind(file.format.as_str())
        .bind(i64::try_from(file.size).map_err(StoreError::corrupt)?)
        .bind(file.sha256.as_slice())
        .bind(file.pages.map(|p| i32::try_from(p).unwrap_or(i32::MAX)))
        .bind(actor.user_id)
        .execute(&mut *tx)
        .await?;
        let details = json!({
            "file": self.file_id,
            "document": file.document.as_str(),
            "format": file.format.as_str(),
            "size": file.size,
            "sha256": hex::encode(file.sha256),
        });
        record(
            tx,
            self.response_id,
            ResponseAction::FileAdded,
            &file.name,
            actor,
            subject,
            details,
        )
        .await?;
        let stored: FileRow = sqlx::query_as(&format!("{SELECT_FILES} where f.id = $1"))
            .bind(self.file_id)
            .fetch_one(&mut *tx)
            .await?;
        self.tx.commit().await?;
        Ok(stored.into())
    }
}

/// What `prepare_response` found or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    Made(i64),
    /// The stage has one already.
    Existing(i64),
    NoSuchDispute,
    /// The dispute has no stage to respond to.
    NoStage,
}

impl Store {
    /// The response to the dispute's current stage, made as a draft with
    /// `letter` unless the stage has one.
    pub async fn prepare_response(
        &self,
        dispute_id: i64,
        letter: &Letter,
        actor: &Actor,
        subject: &str,
    ) -> Result<Prepared, StoreError> {
        let mut tx = self.pool.begin().await?;
        let stage: Option<Option<Named<Stage>>> =
            sqlx::query_scalar("select stage from disputes where id = $1 for share")
                .bind(dispute_id)
                .fetch_optional(&mut *tx)
                .await?;
        let stage = match stage {
            None => return Ok(Prepared::NoSuchDispute),
            Some(None) => return Ok(Prepared::NoStage),
            Some(Some(stage)) => stage.0,
        };
        let made: Option<i64> = sqlx::query_scalar(
            "insert into responses (dispute_id, stage, letter, created_by)
             values ($1, $2, $3, $4)
             on conflict on constraint responses_one_per_stage do nothing
             returning id",
        )
        .bind(dispute_id)
        .bind(stage.as_str())
        .bind(letter.as_str())
        .bind(actor.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = made else {
            let id =
                sqlx::query_scalar("select id from responses where dispute_id = $1 and stage = $2")
                    .bind(dispute_id)
                    .bind(stage.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
            return Ok(Prepared::Existing(id));
        };
        record(
            &mut tx,
            id,
            ResponseAction::Prepared,
            stage.label(),
            actor,
            subject,
            json!({ "response": id, "stage": stage.as_str() }),
        )
        .await?;
        tx.commit().await?;
        Ok(Prepared::Made(id))
    }

    /// The dispute's responses, the latest stage's first.
    pub async fn responses_of_dispute(
        &self,
        dispute_id: i64,
    ) -> Result<Vec<ResponseRecord>, StoreError> {
        let rows: Vec<ResponseRow> = sqlx::query_as(&format!(
            "{SELECT_RESPONSES} where r.dispute_id = $1 order by r.created_at desc, r.id desc"
        ))
        .bind(dispute_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn response(&self, id: i64) -> Result<Option<ResponseRecord>, StoreError> {
        let row: Option<ResponseRow> =
            sqlx::query_as(&format!("{SELECT_RESPONSES} where r.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(Into::into))
    }

    /// A response's files in the order they were added (the packet's
    /// order).
    pub async fn evidence_files(&self, response_id: i64) -> Result<Vec<EvidenceFile>, StoreError> {
        let rows: Vec<FileRow> = sqlx::query_as(&format!(
            "{SELECT_FILES} where f.response_id = $1 order by f.uploaded_at, f.id"
        ))
        .bind(response_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn evidence_file(&self, id: i64) -> Result<Option<EvidenceFile>, StoreError> {
        let row: Option<FileRow> = sqlx::query_as(&format!("{SELECT_FILES} where f.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    /// Starts taking a file for `response_id`; nothing is kept until
    /// `EvidenceUpload::finish`.
    pub async fn begin_evidence(&self, response_id: i64) -> Result<EvidenceUpload, StoreError> {
        let mut tx = self.pool.begin().await?;
        let file_id: i64 =
            sqlx::query_scalar("select nextval(pg_get_serial_sequence('evidence_files', 'id'))")
                .fetch_one(&mut *tx)
                .await?;
        Ok(EvidenceUpload {
            tx,
            response_id,
            file_id,
            seq: 0,
        })
    }

    /// A file's bytes, a chunk at a time (one query per chunk, so a large
    /// file is never in memory whole).
    pub fn evidence_bytes(
        &self,
        file_id: i64,
    ) -> impl Stream<Item = Result<Vec<u8>, StoreError>> + Send + 'static {
        let pool = self.pool.clone();
        futures_util::stream::try_unfold(0i32, move |seq| {
            let pool = pool.clone();
            async move {
                let chunk: Option<Vec<u8>> = sqlx::query_scalar(
                    "select data from evidence_chunks where file_id = $1 and seq = $2",
                )
                .bind(file_id)
                .bind(seq)
                .fetch_optional(&pool)
                .await?;
                Ok(chunk.map(|bytes| (bytes, seq + 1)))
            }
        })
    }

    /// Removes a file from a draft; `Ok(None)` when there is no such file.
    pub async fn remove_evidence(
        &self,
        file_id: i64,
        actor: &Actor,
        subject: &str,
    ) -> Result<EvidenceFile, ResponseRefusal> {
        let file = self
            .evidence_file(file_id)
            .await?
            .ok_or(ResponseRefusal::NoResponse)?;
        let mut tx = self.pool.begin().await?;
        let locked = lock(&mut tx, file.response_id)
            .await?
            .ok_or(ResponseRefusal::NoResponse)?;
        if let Some(why) = locked.read_only_because() {
            return Err(ResponseRefusal::ReadOnly(why));
        }
        let gone = sqlx::query("delete from evidence_files where id = $1")
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(ResponseRefusal::NoResponse);
        }
        record(
            &mut tx,
            file.response_id,
            ResponseAction::FileRemoved,
            &file.name,
            actor,
            subject,
            json!({ "file": file.id, "sha256": file.sha256 }),
        )
        .await?;
        tx.commit().await?;
        Ok(file)
    }

    /// Saves a draft's letter and summary.
    pub async fn save_response_text(
        &self,
        response_id: i64,
        letter: &Letter,
        summary: &Summary,
        actor: &Actor,
        subject: &str,
    ) -> Result<(), ResponseRefusal> {
        let mut tx = self.pool.begin().await?;
        let locked = lock(&mut tx, response_id)
            .await?
            .ok_or(ResponseRefusal::NoResponse)?;
        if let Some(why) = locked.read_only_because() {
            return Err(ResponseRefusal::ReadOnly(why));
        }
        let before: (String, String) =
            sqlx::query_as("select letter, summary from responses where id = $1")
                .bind(response_id)
                .fetch_one(&mut *tx)
                .await?;
        if (before.0.as_str(), before.1.as_str()) == (letter.as_str(), summary.as_str()) {
            return Ok(());
        }
        sqlx::query("update responses set letter = $2, summary = $3 where id = $1")
            .bind(response_id)
            .bind(letter.as_str())
            .bind(summary.as_str())
            .execute(&mut *tx)
            .await?;
        let details = json!({
            "before": { "letter characters": before.0.chars().count(), "summary": before.1 },
            "after": { "letter characters": letter.as_str().chars().count(), "summary": summary.as_str() },
        });
        record(
            &mut tx,
            response_id,
            ResponseAction::TextSaved,
            "",
            actor,
            subject,
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a response from `from` to `to` (draft to ready, or back),
    /// after `check` (given the locked response's files' document kinds,
    /// letter and summary) finds nothing in the way; its words are the
    /// refusal.
    pub async fn move_response(
        &self,
        response_id: i64,
        from: ResponseState,
        to: ResponseState,
        check: impl FnOnce(&[DocumentKind], &ResponseRecord) -> Option<String>,
        actor: &Actor,
        subject: &str,
    ) -> Result<(), ResponseRefusal> {
        let mut tx = self.pool.begin().await?;
        let locked = lock(&mut tx, response_id)
            .await?
            .ok_or(ResponseRefusal::NoResponse)?;
        if locked.state.0 != from {
            return Err(ResponseRefusal::NotIn(locked.state.0));
        }
        let as_draft = Locked {
            state: Named(ResponseState::Draft),
            ..locked
        };
        if let Some(why) = as_draft.read_only_because() {
            return Err(ResponseRefusal::ReadOnly(why));
        }
        let row: ResponseRow = sqlx::query_as(&format!("{SELECT_RESPONSES} where r.id = $1"))
            .bind(response_id)
            .fetch_one(&mut *tx)
            .await?;
        let held: Vec<Named<DocumentKind>> =
            sqlx::query_scalar("select document from evidence_files where response_id = $1")
                .bind(response_id)
                .fetch_all(&mut *tx)
                .await?;
        let held: Vec<DocumentKind> = held.into_iter().map(|d| d.0).collect();
        if let Some(why) = check(&held, &row.into()) {
            return Err(ResponseRefusal::ReadOnly(why));
        }
        sqlx::query("update responses set state = $2 where id = $1")
            .bind(response_id)
            .bind(to.as_str())
            .execute(&mut *tx)
            .await?;
        let action = match to {
            ResponseState::Ready => ResponseAction::MarkedReady,
            _ => ResponseAction::BackToDraft,
        };
        record(
            &mut tx,
            response_id,
            action,
            "",
            actor,
            subject,
            json!({ "before": from.as_str(), "after": to.as_str() }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Asks, in a job, what the response's provider says it needs; false
    /// when such a question is already waiting or under way.
    pub async fn request_checklist(
        &self,
        response: &ResponseRecord,
        asked_by: &Actor,
    ) -> Result<bool, StoreError> {
        if self
            .job_pending(JobKind::Checklist, response.dispute_id)
            .await?
        {
            return Ok(false);
        }
        let job = NewJob {
            kind: JobKind::Checklist,
            key: format!(
                "{}:{}",
                response.id,
                jiff::Timestamp::now().as_microsecond()
            ),
            dispute_id: Some(response.dispute_id),
            payload: json!({ "response": response.id, "asked_by": asked_by }),
            run_at: None,
            // A network failure is retried inside the attempt; another try
            // is for the database having been away.
            max_attempts: 3,
        };
        self.enqueue(&job).await?;
        Ok(true)
    }

    /// Keeps what the provider said the response needs (`Some`), or only
    /// notes that asking did not tell (`None`: what was kept before
    /// stays); `words` say how it went, on the timeline and in the audit
    /// log.
    pub async fn record_checklist(
        &self,
        response_id: i64,
        needs: Option<&[Needed]>,
        words: &str,
        actor: &Actor,
        subject: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(needs) = needs {
            sqlx::query(
                "update responses set provider_checklist = $2, provider_checklist_at = now()
                 where id = $1",
            )
            .bind(response_id)
            .bind(sqlx::types::Json(needs))
            .execute(&mut *tx)
            .await?;
        }
        record(
            &mut tx,
            response_id,
            ResponseAction::ChecklistAsked,
            words,
            actor,
            subject,
            json!({ "response": response_id, "kept": needs.is_some(), "said": words }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the provider was last asked what the response needs, and what
    /// came of it, in words.
    pub async fn last_checklist_answer(
        &self,
        response_id: i64,
    ) -> Result<Option<(jiff::Timestamp, String)>, StoreError> {
        let row: Option<(jiff_sqlx::Timestamp, String)> = sqlx::query_as(
            "select at, detail from response_history
             where response_id = $1 and action = $2
             order by at desc, id desc limit 1",
        )
        .bind(response_id)
        .bind(ResponseAction::ChecklistAsked.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(at, words)| (at.to_jiff(), words)))
    }

    /// The admins' template for a kind of dispute, if they set one.
    pub async fn letter_template(&self, defence: Defence) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("select body from letter_templates where defence = $1")
                .bind(defence.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn save_letter_template(
        &self,
        defence: Defence,
        template: &LetterTemplate,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into letter_templates (defence, body, updated_by) values ($1, $2, $3)
             on conflict (defence) do update
             set body = excluded.body, updated_by = excluded.updated_by, updated_at = now()",
        )
        .bind(defence.as_str())
        .bind(template.as_str())
        .bind(actor.user_id)
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry {
            action: "letters.template_saved",
            subject: &format!("cover letter for {}", defence.as_str()),
            details: json!({ "characters": template.as_str().chars().count() }),
        };
        append_audit(&mut tx, actor, &entry).await?;
        tx.commit().await?;
        Ok(())
    }
}
