//! What analysts do to a dispute: notes (kept, never edited), who owns
//! it, and clearing a disagreement flag they have reviewed. Each change is written with its audit entry in one transaction; the
//! database keeps both histories append-only.

use dispute_core::domain::{evidence::ResponseAction, NoteText};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{people::append_audit, Actor, AuditEntry, Person, QueryConflict, Store, StoreError};

/// One entry of a dispute's casework, beside its provider events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Casework {
    Note {
        at: jiff::Timestamp,
        author: Person,
        text: String,
    },
    /// `to: None`: the dispute was unassigned.
    Assignment {
        at: jiff::Timestamp,
        by: Person,
        to: Option<Person>,
    },
    /// A change to one of the dispute's responses.
    Response {
        at: jiff::Timestamp,
        by: Person,
        action: ResponseAction,
        detail: String,
    },
}

impl Casework {
    pub fn at(&self) -> jiff::Timestamp {
        match self {
            Casework::Note { at, .. }
            | Casework::Assignment { at, .. }
            | Casework::Response { at, .. } => *at,
        }
    }
}

/// Why an assignment was not made.
#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    #[error("there is no such dispute")]
    NoDispute,
    #[error("only an enabled person can own a dispute")]
    NotAssignable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(sqlx::FromRow)]
struct CaseworkRow {
    kind: String,
    at: jiff_sqlx::Timestamp,
    by_id: i64,
    by_name: String,
    text: Option<String>,
    to_id: Option<i64>,
    to_name: Option<String>,
}

impl Store {
    /// Adds `text` to the dispute's notes as `author`; `None` when there is
    /// no such dispute.
    pub async fn add_note(
        &self,
        dispute_id: i64,
        text: &NoteText,
        author: &Actor,
        subject: &str,
    ) -> Result<Option<i64>, StoreError> {
        let Some(author_id) = author.user_id else {
            return Ok(None);
        };
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "insert into dispute_notes (dispute_id, author_id, body)
             select id, $2, $3 from disputes where id = $1
             returning id",
        )
        .bind(dispute_id)
        .bind(author_id)
        .bind(text.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = id {
            let entry = AuditEntry {
                action: "dispute.note",
                subject,
                details: json!({ "note": id, "characters": text.as_str().chars().count() }),
            };
            append_audit(&mut tx, author, &entry).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Clears the dispute's "provider disagrees" flag once someone has
    /// looked at it: the one from the answer asked at `asked_at`, which
    /// the page showed (a newer one, recorded since, stays). The audit line
    /// keeps what the disagreement was. None: no such flag (reviewed
    /// already, replaced by a newer one, or no such dispute).
    pub async fn mark_conflict_reviewed(
        &self,
        dispute_id: i64,
        asked_at: jiff::Timestamp,
        by: &Actor,
        subject: &str,
    ) -> Result<Option<QueryConflict>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let cleared: Option<sqlx::types::Json<QueryConflict>> = sqlx::query_scalar(
            "update disputes d set query_conflict = null
             from (select id, query_conflict from disputes where id = $1 for update) before
             where d.id = before.id
               and before.query_conflict->>'asked_at' = $2
             returning before.query_conflict",
        )
        .bind(dispute_id)
        // As the flag keeps it (to the nanosecond, which a timestamptz
        // would round away).
        .bind(asked_at.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(sqlx::types::Json(conflict)) = cleared else {
            return Ok(None);
        };
        let entry = AuditEntry {
            action: "dispute.conflict_reviewed",
            subject,
            details: json!({
                "notifications_said": [conflict.known_stage, conflict.known_status],
                "provider_said": [conflict.provider_stage, conflict.provider_status],
                "asked_at": conflict.asked_at,
            }),
        };
        append_audit(&mut tx, by, &entry).await?;
        tx.commit().await?;
        Ok(Some(conflict))
    }

    /// Makes `assignee` (or no one) the owner of the dispute. Assigning
    /// the owner it already has changes nothing and writes nothing.
    pub async fn assign(
        &self,
        dispute_id: i64,
        assignee: Option<i64>,
        by: &Actor,
        subject: &str,
    ) -> Result<bool, AssignError> {
        let by_id = by.user_id.ok_or(AssignError::NotAssignable)?;
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let current: Option<Option<i64>> =
            sqlx::query_scalar("select assignee_id from disputes where id = $1 for update")
                .bind(dispute_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        let Some(current) = current else {
            return Err(AssignError::NoDispute);
        };
        if current == assignee {
            return Ok(false);
        }
        if let Some(person) = assignee {
            let enabled: bool = sqlx::query_scalar(
                "select exists (select from users where id = $1 and disabled_at is null)",
            )
            .bind(person)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            if !enabled {
                return Err(AssignError::NotAssignable);
            }
        }
        sqlx::query("update disputes set assignee_id = $2 where id = $1")
            .bind(dispute_id)
            .bind(assignee)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query(
            "insert into dispute_assignments (dispute_id, assignee_id, assigned_by)
             values ($1, $2, $3)",
        )
        .bind(dispute_id)
        .bind(assignee)
        .bind(by_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        let entry = AuditEntry {
            action: "dispute.assign",
            subject,
            details: json!({ "before": current, "after": assignee }),
        };
        append_audit(&mut tx, by, &entry).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(true)
    }

    /// A dispute's notes and assignments, oldest first.
    pub async fn casework(&self, dispute_id: i64) -> Result<Vec<Casework>, StoreError> {
        let rows: Vec<CaseworkRow> = sqlx::query_as(
            "select 'note' as kind, n.created_at as at, n.id, a.id as by_id,
                    a.display_name as by_name, n.body as text, null::bigint as to_id,
                    null::text as to_name
             from dispute_notes n join users a on a.id = n.author_id
             where n.dispute_id = $1
             union all
             select 'assignment', s.created_at, s.id, b.id, b.display_name, null, t.id,
                    t.display_name
             from dispute_assignments s join users b on b.id = s.assigned_by
             left join users t on t.id = s.assignee_id
             where s.dispute_id = $1
             union all
             select 'response', h.at, h.id, b.id, b.display_name, h.detail, null, h.action
             from response_history h join responses r on r.id = h.response_id
             join users b on b.id = h.by_id
             where r.dispute_id = $1
             order by at, kind, id",
        )
        .bind(dispute_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let by = Person {
                    id: r.by_id,
                    display_name: r.by_name,
                };
                match r.kind.as_str() {
                    "note" => Ok(Casework::Note {
                        at: r.at.to_jiff(),
                        author: by,
                        text: r.text.unwrap_or_default(),
                    }),
                    "assignment" => Ok(Casework::Assignment {
                        at: r.at.to_jiff(),
                        by,
                        to: r.to_id.map(|id| Person {
                            id,
                            display_name: r.to_name.unwrap_or_default(),
                        }),
                    }),
                    "response" => Ok(Casework::Response {
                        at: r.at.to_jiff(),
                        by,
                        action: r
                            .to_name
                            .unwrap_or_default()
                            .parse()
                            .map_err(StoreError::corrupt)?,
                        detail: r.text.unwrap_or_default(),
                    }),
                    other => Err(StoreError::corrupt(format!("casework kind {other:?}"))),
                }
            })
            .collect()
    }

    /// Everyone who can own a dispute: enabled accounts, by name.
    pub async fn assignable_people(&self) -> Result<Vec<Person>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "select id, display_name from users where disabled_at is null
             order by lower(display_name), id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, display_name)| Person { id, display_name })
            .collect())
    }
}
