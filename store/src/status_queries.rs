//! The status-query fallback's rows: what a query needs to know of its
//! dispute and connection, claims (one query per dispute per minute, asked
//! for as a job; and reconciliation's batches, which replicas never share),
//! and each query's record with the event it produced and what it changed,
//! in one transaction.

use dispute_core::{
    domain::{Effect, JobKind, ProviderKind, Stage, Status, ZoneName},
    providers::query::{weigh, Pulled},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    jobs::{enqueue_on, NewJob},
    people::append_audit,
    record::{record_event_in, EventSource, Recorded},
    Actor, AuditEntry, Named, Store, StoreError,
};
use jiff_sqlx::ToSqlx;

/// A dispute with what asking its provider needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuerySubject {
    pub dispute_id: i64,
    pub dispute_ref: String,
    pub stage: Option<Stage>,
    pub opened_at: jiff::Timestamp,
    pub connection_id: i64,
    pub connection_slug: String,
    pub provider: ProviderKind,
    pub enabled: bool,
    pub account_id: Option<String>,
    pub app_id: Option<String>,
    pub timezone: ZoneName,
    pub query_base_url: Option<String>,
}

/// How a query ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryOutcome {
    /// The provider answered with the dispute's state.
    Found,
    /// The provider does not know the dispute.
    NotFound,
    /// The provider refused or failed.
    Failed,
    /// The answer was not signed by the provider, or could not be read: it
    /// is kept, and changed nothing.
    Refused,
    /// No answer: the network, a timeout, or the address guard.
    Unreachable,
    /// The connection cannot be asked (no address, no key).
    NotConfigured,
}

impl QueryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryOutcome::Found => "found",
            QueryOutcome::NotFound => "not_found",
            QueryOutcome::Failed => "failed",
            QueryOutcome::Refused => "refused",
            QueryOutcome::Unreachable => "unreachable",
            QueryOutcome::NotConfigured => "not_configured",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            QueryOutcome::Found => "answered",
            QueryOutcome::NotFound => "not found",
            QueryOutcome::Failed => "provider error",
            QueryOutcome::Refused => "answer refused",
            QueryOutcome::Unreachable => "no answer",
            QueryOutcome::NotConfigured => "not configured",
        }
    }
}

/// A stored outcome this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown query outcome {0:?}")]
pub struct UnknownOutcome(String);

impl std::str::FromStr for QueryOutcome {
    type Err = UnknownOutcome;

    fn from_str(text: &str) -> Result<Self, UnknownOutcome> {
        [
            QueryOutcome::Found,
            QueryOutcome::NotFound,
            QueryOutcome::Failed,
            QueryOutcome::Refused,
            QueryOutcome::Unreachable,
            QueryOutcome::NotConfigured,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
        .ok_or_else(|| UnknownOutcome(text.to_owned()))
    }
}

/// A query to record.
#[derive(Debug)]
pub struct QueryRecord<'a> {
    pub subject: &'a QuerySubject,
    /// `None`: reconciliation asked.
    pub asked_by: Option<&'a Actor>,
    pub asked_at: jiff::Timestamp,
    /// Why it was asked, in words.
    pub why: &'a str,
    pub outcome: QueryOutcome,
    pub detail: &'a str,
    /// The provider's answer as received (bounded by the caller).
    pub answer: Option<&'a str>,
    /// The answer's event, when the provider found the dispute.
    pub pulled: Option<Pulled>,
    pub took_ms: i32,
}

/// What asking for a status query did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryRequested {
    /// The question is asked of this provider.
    Asking(ProviderKind),
    /// It was asked less than the interval ago: it may be asked again then.
    TooSoon(jiff::Timestamp),
    NoSuchDispute,
}

/// Where the provider's answer and what was known before it disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryConflict {
    pub known_stage: Option<Stage>,
    pub known_status: Option<Status>,
    pub provider_stage: Stage,
    pub provider_status: Status,
    pub asked_at: jiff::Timestamp,
    pub summary: String,
}

impl QueryConflict {
    /// Whether the provider's answer told of an outcome the notifications
    /// never did, and the dispute (at `status`) now has it: something to
    /// know, not something to act on.
    pub fn is_recovered_outcome(&self, status: Option<Status>) -> bool {
        self.provider_status.is_final() && status == Some(self.provider_status)
    }
}

/// What recording a query did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryRecorded {
    pub id: i64,
    pub event_id: Option<i64>,
    pub conflict: Option<QueryConflict>,
    pub before: (Option<Stage>, Option<Status>),
    pub after: (Option<Stage>, Option<Status>),
}

/// One query as ops reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusQueryEntry {
    pub id: i64,
    pub dispute_id: i64,
    pub dispute_ref: String,
    pub connection_slug: String,
    pub asked_by: Option<String>,
    pub asked_at: jiff::Timestamp,
    pub why: String,
    pub outcome: QueryOutcome,
    pub detail: String,
    pub before: (Option<Stage>, Option<Status>),
    pub after: (Option<Stage>, Option<Status>),
    pub took_ms: i32,
}

/// Which disputes reconciliation asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconcileRules {
    /// A deadline this close…
    pub deadline_within: jiff::SignedDuration,
    /// …and nothing heard for this long.
    pub quiet_for: jiff::SignedDuration,
    /// Under review with nothing heard for this long: the decision is
    /// overdue.
    pub review_overdue: jiff::SignedDuration,
    /// Never the same dispute again sooner than this.
    pub requery_after: jiff::SignedDuration,
    /// A connection silent this long (unless it sets its own) widens
    /// reconciliation to all its open disputes.
    pub silence_after: jiff::SignedDuration,
}

#[derive(sqlx::FromRow)]
struct SubjectRow {
    dispute_id: i64,
    dispute_ref: String,
    stage: Option<Named<Stage>>,
    opened_at: jiff_sqlx::Timestamp,
    connection_id: i64,
    connection_slug: String,
    provider: Named<ProviderKind>,
    enabled: bool,
    account_id: Option<String>,
    app_id: Option<String>,
    timezone: String,
    query_base_url: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    dispute_id: i64,
    dispute_ref: String,
    connection_slug: String,
    asked_by: Option<String>,
    asked_at: jiff_sqlx::Timestamp,
    why: String,
    outcome: Named<QueryOutcome>,
    detail: String,
    stage_before: Option<Named<Stage>>,
    status_before: Option<Named<Status>>,
    stage_after: Option<Named<Stage>>,
    status_after: Option<Named<Status>>,
    took_ms: i32,
}

type State = (Option<Named<Stage>>, Option<Named<Status>>);

fn state((stage, status): State) -> (Option<Stage>, Option<Status>) {
    (stage.map(|s| s.0), status.map(|s| s.0))
}

fn secs(d: jiff::SignedDuration) -> f64 {
    d.as_secs_f64()
}

impl Store {
    /// The dispute and its connection, as a query needs them.
    pub async fn query_subject(&self, dispute_id: i64) -> Result<Option<QuerySubject>, StoreError> {
        let row: Option<SubjectRow> = sqlx::query_as(
            "select d.id as dispute_id, d.dispute_ref, d.stage, d.opened_at,
                    c.id as connection_id, c.slug as connection_slug, c.provider, c.enabled,
                    c.account_id, c.app_id, c.timezone, c.query_base_url
             from disputes d join connections c on c.id = d.connection_id
             where d.id = $1",
        )
        .bind(dispute_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(QuerySubject {
                dispute_id: r.dispute_id,
                dispute_ref: r.dispute_ref,
                stage: r.stage.map(|s| s.0),
                opened_at: r.opened_at.to_jiff(),
                connection_id: r.connection_id,
                connection_slug: r.connection_slug,
                provider: r.provider.0,
                enabled: r.enabled,
                account_id: r.account_id,
                app_id: r.app_id,
                timezone: ZoneName::parse(&r.timezone).map_err(StoreError::corrupt)?,
                query_base_url: r.query_base_url,
            })
        })
        .transpose()
    }

    /// Asks for a status query of the dispute by `asked_by` (a job: the
    /// query runs off the request, so a browser that goes away does not
    /// stop it), unless it was asked about less than `interval` ago. The
    /// claim and the job in one transaction.
    pub async fn request_query(
        &self,
        dispute_id: i64,
        interval: jiff::SignedDuration,
        asked_by: &Actor,
    ) -> Result<QueryRequested, StoreError> {
        let mut tx = self.pool.begin().await?;
        let claimed: Option<(jiff_sqlx::Timestamp, Named<ProviderKind>)> = sqlx::query_as(
            "update disputes d set last_queried_at = now()
             from connections c
             where d.id = $1 and c.id = d.connection_id
               and (d.last_queried_at is null
                    or d.last_queried_at <= now() - make_interval(secs => $2))
             returning d.last_queried_at, c.provider",
        )
        .bind(dispute_id)
        .bind(secs(interval))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((asked_at, provider)) = claimed else {
            let last: Option<Option<jiff_sqlx::Timestamp>> =
                sqlx::query_scalar("select last_queried_at from disputes where id = $1")
                    .bind(dispute_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Ok(match last {
                None => QueryRequested::NoSuchDispute,
                Some(last) => QueryRequested::TooSoon(
                    last.map_or_else(jiff::Timestamp::now, |t| t.to_jiff() + interval),
                ),
            });
        };
        let job = NewJob {
            kind: JobKind::StatusQuery,
            key: format!("{dispute_id}:{}", asked_at.to_jiff().as_microsecond()),
            dispute_id: Some(dispute_id),
            payload: json!({ "asked_by": asked_by, "why": "asked by an analyst" }),
            run_at: None,
            // A network failure is retried inside the attempt; another try
            // is for the database having been away.
            max_attempts: 3,
        };
        enqueue_on(&mut tx, &job, None).await?;
        tx.commit().await?;
        Ok(QueryRequested::Asking(provider.0))
    }

    /// Claims up to `limit` disputes that reconciliation should ask about,
    /// each with why, the soonest deadline first. Rows another replica is
    /// claiming are skipped, and a claimed dispute is not claimable again
    /// for `requery_after`, so no two workers ask about the same one.
    pub async fn claim_reconciliation(
        &self,
        rules: &ReconcileRules,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let claimed: Vec<(i64, String)> = sqlx::query_as(
            "with silent as (
                 select c.id from connections c
                 where c.enabled and c.query_base_url is not null
                   and exists (select from notifications n
                               where n.connection_id = c.id and n.verdict = 'valid')
                   and not exists (
                       select from notifications n
                       where n.connection_id = c.id and n.verdict in ('valid', 'duplicate')
                         and n.received_at > now() - make_interval(
                             secs => coalesce(c.silence_after_minutes * 60, $5)))
             ), due as (
                 select d.id,
                        case
                            when d.status = 'needs_response' and d.deadline < now()
                                then 'still open past its deadline'
                            when d.status = 'needs_response'
                                 and d.deadline < now() + make_interval(secs => $1)
                                 and heard.at < now() - make_interval(secs => $2)
                                then 'deadline near and nothing heard for a while'
                            when d.status in ('under_review', 'responded')
                                 and heard.at < now() - make_interval(secs => $3)
                                then 'decision overdue'
                            else 'its connection has gone silent'
                        end as why
                 from disputes d
                 join connections c on c.id = d.connection_id
                 -- What the provider last pushed: the answers to earlier
                 -- queries, and the merchant's own decisions, do not make
                 -- a dispute any less quiet.
                 cross join lateral (
                     select max(e.occurred_at) as at from dispute_events e
                     where e.dispute_id = d.id and e.source not in ('status_query', 'response')
                 ) heard
                 where c.enabled and c.query_base_url is not null
                   and d.status in ('needs_response', 'under_review', 'responded')
                   and (d.last_queried_at is null
                        or d.last_queried_at < now() - make_interval(secs => $4))
                   and ((d.status = 'needs_response'
                         and d.deadline < now() + make_interval(secs => $1)
                         and (d.deadline < now()
                              or heard.at < now() - make_interval(secs => $2)))
                        or (d.status in ('under_review', 'responded')
                            and heard.at < now() - make_interval(secs => $3))
                        or d.connection_id in (select id from silent))
                 order by coalesce(d.deadline, 'infinity'), d.id
                 limit $6
                 for update of d skip locked
             )
             update disputes d set last_queried_at = now()
             from due where d.id = due.id
             returning d.id, due.why",
        )
        .bind(secs(rules.deadline_within))
        .bind(secs(rules.quiet_for))
        .bind(secs(rules.review_overdue))
        .bind(secs(rules.requery_after))
        .bind(secs(rules.silence_after))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(claimed)
    }

    /// Records a query, its event weighed against what was known
    /// (`query::weigh`: an agreeing answer changes nothing; a disagreeing
    /// one is folded like any event and flags the dispute), and for a
    /// person's query the audit line, in one transaction.
    pub async fn record_status_query(
        &self,
        record: QueryRecord<'_>,
    ) -> Result<QueryRecorded, StoreError> {
        let subject = record.subject;
        let mut tx = self.pool.begin().await?;
        let before: State =
            sqlx::query_as("select stage, status from disputes where id = $1 for update")
                .bind(subject.dispute_id)
                .fetch_one(&mut *tx)
                .await?;
        let before = state(before);
        let mut event_id = None;
        let mut conflict = None;
        // Unless a new event is recorded, the query leaves the dispute's
        // stage and status as they were.
        let mut after = before;
        if let Some(pulled) = record.pulled {
            let weighed = weigh(before, &pulled);
            let mut event = pulled.event;
            if let (true, Effect::Sets(stage, status)) = (weighed.disagrees, event.effect) {
                conflict = Some(QueryConflict {
                    known_stage: before.0,
                    known_status: before.1,
                    provider_stage: stage,
                    provider_status: status,
                    asked_at: record.asked_at,
                    summary: record.detail.to_owned(),
                });
            }
            event.effect = weighed.effect;
            let source = EventSource::StatusQuery {
                by: record.asked_by.and_then(|a| a.user_id),
                asked_at: record.asked_at,
                answer: record.answer.unwrap_or_default().to_owned(),
            };
            if let (Recorded::New { id }, Some(written)) =
                record_event_in(&mut tx, subject.connection_id, &source, &event).await?
            {
                event_id = Some(id);
                after = written;
            }
            if weighed.speaks {
                sqlx::query("update disputes set query_conflict = $2 where id = $1")
                    .bind(subject.dispute_id)
                    .bind(conflict.as_ref().map(sqlx::types::Json))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let name = |s: Option<Stage>| s.map(|s| s.as_str());
        let word = |s: Option<Status>| s.map(|s| s.as_str());
        let id: i64 = sqlx::query_scalar(
            "insert into status_queries
                 (dispute_id, connection_id, asked_by, asked_at, why, outcome, detail, answer,
                  event_id, stage_before, status_before, stage_after, status_after, took_ms)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             returning id",
        )
        .bind(subject.dispute_id)
        .bind(subject.connection_id)
        .bind(record.asked_by.and_then(|a| a.user_id))
        .bind(record.asked_at.to_sqlx())
        .bind(record.why)
        .bind(record.outcome.as_str())
        .bind(record.detail)
        .bind(record.answer)
        .bind(event_id)
        .bind(name(before.0))
        .bind(word(before.1))
        .bind(name(after.0))
        .bind(word(after.1))
        .bind(record.took_ms)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(actor) = record.asked_by {
            let subject_text = format!("{}/{}", subject.connection_slug, subject.dispute_ref);
            let entry = AuditEntry {
                action: "dispute.status_query",
                subject: &subject_text,
                details: json!({
                    "query": id,
                    "outcome": record.outcome.as_str(),
                    "changed": before != after,
                }),
            };
            append_audit(&mut tx, actor, &entry).await?;
        }
        tx.commit().await?;
        Ok(QueryRecorded {
            id,
            event_id,
            conflict,
            before,
            after,
        })
    }

    /// Queries newest first, of one dispute or of all; `before` is the id
    /// the previous page ended at.
    pub async fn status_queries(
        &self,
        dispute_id: Option<i64>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StatusQueryEntry>, StoreError> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "select q.id, q.dispute_id, d.dispute_ref, c.slug as connection_slug,
                    u.display_name as asked_by, q.asked_at, q.why, q.outcome, q.detail,
                    q.stage_before, q.status_before, q.stage_after, q.status_after, q.took_ms
             from status_queries q
             join disputes d on d.id = q.dispute_id
             join connections c on c.id = q.connection_id
             left join users u on u.id = q.asked_by
             where ($1::bigint is null or q.dispute_id = $1)
               and ($2::bigint is null or q.id < $2)
             order by q.id desc
             limit $3",
        )
        .bind(dispute_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| StatusQueryEntry {
                id: r.id,
                dispute_id: r.dispute_id,
                dispute_ref: r.dispute_ref,
                connection_slug: r.connection_slug,
                asked_by: r.asked_by,
                asked_at: r.asked_at.to_jiff(),
                why: r.why,
                outcome: r.outcome.0,
                detail: r.detail,
                before: state((r.stage_before, r.status_before)),
                after: state((r.stage_after, r.status_after)),
                took_ms: r.took_ms,
            })
            .collect())
    }

    /// The connections that usually hear from their provider and have heard
    /// nothing for longer than their threshold: (slug, last heard).
    pub async fn silent_connections(
        &self,
        default_after: jiff::SignedDuration,
    ) -> Result<Vec<(String, jiff::Timestamp)>, StoreError> {
        let rows: Vec<(String, jiff_sqlx::Timestamp)> = sqlx::query_as(
            "select c.slug, heard.at
             from connections c
             cross join lateral (
                 select max(n.received_at) as at from notifications n
                 where n.connection_id = c.id and n.verdict in ('valid', 'duplicate')
             ) heard
             where c.enabled and heard.at is not null
               and heard.at < now() - make_interval(
                   secs => coalesce(c.silence_after_minutes * 60, $1))
             order by c.slug",
        )
        .bind(secs(default_after))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(s, t)| (s, t.to_jiff())).collect())
    }
}
