//! Submissions: the merchant's decision for a dispute's stage (defend or
//! accept), asked for with a one-time token from its confirmation page,
//! then sent through the provider by a job, step by step, or recorded at
//! once when the provider has no call for it. At most one submission per
//! stage is sending or sent (a unique index): two tabs, a double click or
//! two replicas make one. Each step is recorded as it completes, so a
//! resumed job skips what is done; once every step is done the decision
//! is folded into the dispute as an event of its own (`response`).

use dispute_core::{
    domain::{
        evidence::{DocumentKind, ResponseState},
        submission::{
            blocked_because, Channel, Decision, OutsideMethod, Step, StepOutcome, SubmissionState,
        },
        DisputeRef, EventKey, JobKind, NormalizedEvent, ProviderKind, ProviderTime, Stage, Status,
    },
    providers::submission::{not_sendable, plan},
};
use jiff_sqlx::ToSqlx;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    people::append_audit,
    record::{record_event_in, EventSource},
    Actor, AuditEntry, Named, NewJob, Person, Store, StoreError,
};

/// How long a confirmation page's token may be used.
const TOKEN_LIFETIME_MINUTES: i32 = 30;
/// Attempts a submission's job may make: with the job system's backoff
/// (10 s doubling to an hour) about a day and a half, and the submission
/// itself stops before its deadline.
const SUBMISSION_ATTEMPTS: i32 = 40;

/// A response recorded as sent outside the desk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outside {
    pub at: jiff::Timestamp,
    pub method: OutsideMethod,
    /// What was sent (the packet, which files), in the analyst's words.
    pub sent: String,
    pub note: String,
}

/// A submission as the dispute's page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmissionRecord {
    pub id: i64,
    pub dispute_id: i64,
    pub stage: Stage,
    pub decision: Decision,
    pub channel: Channel,
    pub state: SubmissionState,
    pub response_id: Option<i64>,
    pub plan: Vec<Step>,
    /// Why it was refused or given up.
    pub words: Option<String>,
    pub outside: Option<Outside>,
    pub requested_by: Person,
    pub requested_at: jiff::Timestamp,
    pub finished_at: Option<jiff::Timestamp>,
}

/// One attempt at a step, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    pub id: i64,
    pub submission_id: i64,
    pub step: Step,
    pub outcome: StepOutcome,
    pub words: String,
    /// The call as sent and answered, when it was sent (ops and admins see
    /// it).
    pub call: Option<SentCall>,
    pub at: jiff::Timestamp,
}

/// A step's call: where it went, the request (files' contents left out),
/// the answer's status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentCall {
    pub address: String,
    pub request: String,
    pub status: Option<i16>,
    pub answer: Option<String>,
}

/// What a submission needs to be sent: its dispute as the provider knows
/// it, and the response's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmissionWork {
    pub submission: SubmissionRecord,
    pub connection_id: i64,
    pub provider: ProviderKind,
    pub dispute_ref: DisputeRef,
    pub deadline: Option<jiff::Timestamp>,
    /// The steps done already, in any order.
    pub done: Vec<Step>,
    /// Steps whose call went out in an earlier attempt: the provider may
    /// have acted on it, whatever was (or was not) recorded of its answer.
    pub tried: Vec<Step>,
    /// Every file of the response: (id, its kind of document).
    pub files: Vec<(i64, DocumentKind)>,
    /// The response's summary (empty without one).
    pub summary: String,
    /// The merchant's reference for the order (empty when unknown).
    pub merchant_reference: String,
}

/// What a confirmation page shows, which its token is bound to.
#[derive(Clone, Copy, Debug)]
pub struct Confirming {
    pub dispute_id: i64,
    pub stage: Stage,
    pub decision: Decision,
    /// It records a response sent outside the desk.
    pub outside: bool,
    /// The stage's response's last change, as shown (a defence's).
    pub response_updated_at: Option<jiff::Timestamp>,
}

/// A decision asked for from a confirmation page.
#[derive(Clone, Debug)]
pub struct SubmitRequest<'a> {
    pub dispute_id: i64,
    pub decision: Decision,
    pub token: &'a str,
    /// `Some`: a response (or an acceptance) made outside the desk.
    pub outside: Option<Outside>,
    pub actor: &'a Actor,
    pub subject: &'a str,
}

/// What asking did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// A job is sending it.
    Sending { id: i64 },
    /// It was recorded; the provider has no call to make.
    Recorded { id: i64 },
}

/// Why a decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum SubmitRefusal {
    #[error("the confirmation has expired or was used already; open the page again")]
    Token,
    /// The words say why.
    #[error("{0}")]
    Blocked(String),
    /// The stage has a submission sending or sent already.
    #[error("{} was asked for already, by {} ({})", .0.decision.label(), .0.requested_by.display_name, .0.state.label().to_lowercase())]
    Already(Box<SubmissionRecord>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SubmitRefusal {
    fn from(e: sqlx::Error) -> Self {
        SubmitRefusal::Store(e.into())
    }
}

/// How a submission ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    Done,
    Refused(String),
    GaveUp(String),
}

#[derive(sqlx::FromRow)]
struct SubmissionRow {
    id: i64,
    dispute_id: i64,
    stage: Named<Stage>,
    decision: Named<Decision>,
    channel: Named<Channel>,
    state: Named<SubmissionState>,
    response_id: Option<i64>,
    plan: Vec<String>,
    words: Option<String>,
    outside_at: Option<jiff_sqlx::Timestamp>,
    outside_method: Option<Named<OutsideMethod>>,
    outside_sent: Option<String>,
    outside_note: Option<String>,
    requested_by: i64,
    requested_by_name: String,
    requested_at: jiff_sqlx::Timestamp,
    finished_at: Option<jiff_sqlx::Timestamp>,
}

impl TryFrom<SubmissionRow> for SubmissionRecord {
    type Error = StoreError;

    fn try_from(r: SubmissionRow) -> Result<Self, StoreError> {
        let plan = r
            .plan
            .iter()
            .map(|s| Step::from_text(s).ok_or_else(|| StoreError::corrupt(format!("step {s:?}"))))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            id: r.id,
            dispute_id: r.dispute_id,
            stage: r.stage.0,
            decision: r.decision.0,
            channel: r.channel.0,
            state: r.state.0,
            response_id: r.response_id,
            plan,
            words: r.words,
            outside: r
                .outside_at
                .zip(r.outside_method)
                .map(|(at, method)| Outside {
                    at: at.to_jiff(),
                    method: method.0,
                    sent: r.outside_sent.unwrap_or_default(),
                    note: r.outside_note.unwrap_or_default(),
                }),
            requested_by: Person {
                id: r.requested_by,
                display_name: r.requested_by_name,
            },
            requested_at: r.requested_at.to_jiff(),
            finished_at: r.finished_at.map(|t| t.to_jiff()),
        })
    }
}

/// Submissions with who asked; a statement adds its `where`.
const SELECT_SUBMISSIONS: &str = "select s.id, s.dispute_id, s.stage, s.decision, s.channel,
    s.state, s.response_id, s.plan, s.words, s.outside_at, s.outside_method, s.outside_sent,
    s.outside_note, s.requested_by, u.display_name as requested_by_name, s.requested_at,
    s.finished_at
    from submissions s join users u on u.id = s.requested_by";

#[derive(sqlx::FromRow)]
struct StepRow {
    id: i64,
    submission_id: i64,
    step: String,
    outcome: Named<StepOutcome>,
    words: String,
    address: Option<String>,
    request: Option<String>,
    status: Option<i16>,
    answer: Option<String>,
    at: jiff_sqlx::Timestamp,
}

impl TryFrom<StepRow> for StepRecord {
    type Error = StoreError;

    fn try_from(r: StepRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.id,
            submission_id: r.submission_id,
            step: Step::from_text(&r.step)
                .ok_or_else(|| StoreError::corrupt(format!("step {:?}", r.step)))?,
            outcome: r.outcome.0,
            words: r.words,
            call: r.address.map(|address| SentCall {
                address,
                request: r.request.unwrap_or_default(),
                status: r.status,
                answer: r.answer,
            }),
            at: r.at.to_jiff(),
        })
    }
}

/// The dispute locked for a decision.
#[derive(sqlx::FromRow)]
struct LockedDispute {
    stage: Option<Named<Stage>>,
    status: Option<Named<Status>>,
    deadline: Option<jiff_sqlx::Timestamp>,
    provider: Named<ProviderKind>,
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

impl Store {
    /// A one-time token for `user_id` to confirm `decision` for the
    /// dispute's `stage`, valid for half an hour, bound to what the page
    /// showed: whether it records a response sent `outside` the desk, and
    /// the response as of its last change (`response_updated_at`). Only
    /// its hash is kept.
    pub async fn issue_confirm_token(
        &self,
        confirming: &Confirming,
        user_id: i64,
    ) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        // A person's tokens older than a day go as they take a new one.
        sqlx::query(
            "with gone as (
                 delete from confirm_tokens
                 where user_id = $5 and created_at < now() - interval '1 day'
             )
             insert into confirm_tokens
                 (token_sha256, dispute_id, stage, decision, user_id, outside,
                  response_updated_at)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash(&token))
        .bind(confirming.dispute_id)
        .bind(confirming.stage.as_str())
        .bind(confirming.decision.as_str())
        .bind(user_id)
        .bind(confirming.outside)
        .bind(confirming.response_updated_at.map(|t| t.to_sqlx()))
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// Takes `request`'s decision: the token used up, the dispute locked
    /// and checked (still at the token's stage, not decided, not
    /// responded to, a defence in time and ready), the stage's one
    /// submission made, and its job enqueued or, when the provider has no
    /// call for it, the decision folded in at once; audited.
    pub async fn submit(&self, request: &SubmitRequest<'_>) -> Result<Submitted, SubmitRefusal> {
        let user_id = request
            .actor
            .user_id
            .ok_or_else(|| StoreError::corrupt("a decision by no one"))?;
        let mut tx = self.pool.begin().await?;
        let confirmed: Option<(Named<Stage>, Option<jiff_sqlx::Timestamp>)> =
            sqlx::query_as(&format!(
                "update confirm_tokens set used_at = now()
                 where token_sha256 = $1 and used_at is null and dispute_id = $2
                   and decision = $3 and user_id = $4 and outside = $5
                   and created_at > now() - make_interval(mins => {TOKEN_LIFETIME_MINUTES})
                 returning stage, response_updated_at"
            ))
            .bind(token_hash(request.token))
            .bind(request.dispute_id)
            .bind(request.decision.as_str())
            .bind(user_id)
            .bind(request.outside.is_some())
            .fetch_optional(&mut *tx)
            .await?;
        let Some((Named(stage), shown)) = confirmed else {
            return Err(SubmitRefusal::Token);
        };
        let dispute: LockedDispute = sqlx::query_as(
            "select d.stage, d.status, d.deadline, c.provider
             from disputes d join connections c on c.id = d.connection_id
             where d.id = $1
             for update of d",
        )
        .bind(request.dispute_id)
        .fetch_one(&mut *tx)
        .await?;
        let now_at = dispute.stage.as_ref().map(|s| s.0);
        if now_at != Some(stage) {
            return Err(SubmitRefusal::Blocked(format!(
                "The dispute has moved on to the {} since the page was opened; look again before deciding.",
                now_at.map_or("unknown stage", Stage::label).to_lowercase()
            )));
        }
        let held: Option<SubmissionRow> = sqlx::query_as(&format!(
            "{SELECT_SUBMISSIONS} where s.dispute_id = $1 and s.stage = $2
               and s.state in ('sending', 'done')"
        ))
        .bind(request.dispute_id)
        .bind(stage.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(held) = held {
            return Err(SubmitRefusal::Already(Box::new(held.try_into()?)));
        }
        let response: Option<(i64, Named<ResponseState>, jiff_sqlx::Timestamp)> = sqlx::query_as(
            "select id, state, updated_at from responses
             where dispute_id = $1 and stage = $2 for update",
        )
        .bind(request.dispute_id)
        .bind(stage.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let sends_response = request.decision == Decision::Defend && request.outside.is_none();
        if sends_response
            && response.as_ref().map(|(_, _, at)| at.to_jiff()) != shown.map(|at| at.to_jiff())
        {
            return Err(SubmitRefusal::Blocked(
                "The response changed since the page was opened: open it again to see what will be sent.".to_owned(),
            ));
        }
        let ready = request.outside.is_some()
            || response
                .as_ref()
                .is_some_and(|(_, state, _)| state.0 == ResponseState::Ready);
        let now = jiff::Timestamp::now();
        // A response sent outside the desk says when it was sent: recorded
        // after the deadline, it may still have been in time.
        let deadline = dispute
            .deadline
            .as_ref()
            .map(|d| d.to_jiff())
            .filter(|_| request.outside.is_none());
        if let Some(why) = blocked_because(
            request.decision,
            (now_at, dispute.status.as_ref().map(|s| s.0)),
            deadline,
            ready,
            now,
        ) {
            return Err(SubmitRefusal::Blocked(why));
        }
        let documents: Vec<Named<DocumentKind>> = match &response {
            Some((id, _, _)) if request.decision == Decision::Defend => {
                sqlx::query_scalar(
                    "select document from evidence_files where response_id = $1 order by id",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
            }
            _ => Vec::new(),
        };
        let documents: Vec<DocumentKind> = documents.into_iter().map(|d| d.0).collect();
        let (channel, steps) = match &request.outside {
            Some(_) => (Channel::Outside, Vec::new()),
            None => plan(dispute.provider.0, request.decision, &documents)
                .ok_or_else(|| SubmitRefusal::Blocked(not_sendable(dispute.provider.0)))?,
        };
        let response_id = response
            .as_ref()
            .filter(|_| request.decision == Decision::Defend)
            .map(|(id, _, _)| *id);
        let plan_text: Vec<String> = steps.iter().map(|s| s.as_text()).collect();
        let outside = request.outside.as_ref();
        let id: i64 = sqlx::query_scalar(
            "insert into submissions
                 (dispute_id, stage, decision, channel, state, response_id, plan, outside_at,
                  outside_method, outside_sent, outside_note, requested_by)
             values ($1, $2, $3, $4, 'sending', $5, $6, $7, $8, $9, $10, $11)
             returning id",
        )
        .bind(request.dispute_id)
        .bind(stage.as_str())
        .bind(request.decision.as_str())
        .bind(channel.as_str())
        .bind(response_id)
        .bind(&plan_text)
        .bind(
            outside
                .filter(|_| request.decision == Decision::Defend)
                .map(|o| o.at.to_sqlx()),
        )
        .bind(outside.map(|o| o.method.as_str()))
        .bind(outside.map(|o| o.sent.as_str()))
        .bind(outside.map(|o| o.note.as_str()))
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            // The dispute's lock makes this rare: a decision committed
            // between the check above and this insert.
            true => SubmitRefusal::Blocked(
                "Another decision for this stage was taken at the same moment.".to_owned(),
            ),
            false => e.into(),
        })?;
        if let Some(response_id) = response_id {
            sqlx::query(
                "update responses set state = 'submitted', updated_at = now() where id = $1",
            )
            .bind(response_id)
            .execute(&mut *tx)
            .await?;
        }
        let submitted = if steps.is_empty() {
            finish_in(&mut tx, id, &Finished::Done).await?;
            Submitted::Recorded { id }
        } else {
            let job = NewJob {
                kind: JobKind::Submission,
                key: id.to_string(),
                dispute_id: Some(request.dispute_id),
                payload: json!({ "submission": id }),
                run_at: None,
                max_attempts: SUBMISSION_ATTEMPTS,
            };
            super::jobs::enqueue_on(&mut tx, &job, None).await?;
            Submitted::Sending { id }
        };
        let action = match (request.decision, channel) {
            (Decision::Defend, Channel::Provider) => "dispute.defend",
            (Decision::Defend, Channel::Outside) => "dispute.responded_outside",
            (Decision::Accept, _) => "dispute.accept",
        };
        let entry = AuditEntry {
            action,
            subject: request.subject,
            details: json!({
                "submission": id,
                "stage": stage.as_str(),
                "channel": channel.as_str(),
                "steps": plan_text,
            }),
        };
        append_audit(&mut tx, request.actor, &entry).await?;
        tx.commit().await?;
        Ok(submitted)
    }

    pub async fn submission(&self, id: i64) -> Result<Option<SubmissionRecord>, StoreError> {
        let row: Option<SubmissionRow> =
            sqlx::query_as(&format!("{SELECT_SUBMISSIONS} where s.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(TryInto::try_into).transpose()
    }

    /// A dispute's submissions, oldest first.
    pub async fn submissions_of_dispute(
        &self,
        dispute_id: i64,
    ) -> Result<Vec<SubmissionRecord>, StoreError> {
        let rows: Vec<SubmissionRow> = sqlx::query_as(&format!(
            "{SELECT_SUBMISSIONS} where s.dispute_id = $1 order by s.id"
        ))
        .bind(dispute_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Every step attempt of a dispute's submissions, oldest first; a call
    /// recorded as sending shows only until its answer is recorded.
    pub async fn submission_steps_of_dispute(
        &self,
        dispute_id: i64,
    ) -> Result<Vec<StepRecord>, StoreError> {
        let rows: Vec<StepRow> = sqlx::query_as(
            "select t.id, t.submission_id, t.step, t.outcome, t.words, t.address, t.request,
                    t.status, t.answer, t.at
             from submission_steps t join submissions s on s.id = t.submission_id
             where s.dispute_id = $1
               and not (t.outcome = 'sending' and exists (
                   select from submission_steps later
                   where later.submission_id = t.submission_id and later.step = t.step
                     and later.id > t.id))
             order by t.id",
        )
        .bind(dispute_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// What sending submission `id` needs, with the steps done so far.
    pub async fn submission_work(&self, id: i64) -> Result<Option<SubmissionWork>, StoreError> {
        let Some(submission) = self.submission(id).await? else {
            return Ok(None);
        };
        let (connection_id, provider, dispute_ref, deadline, merchant_reference, summary): (
            i64,
            Named<ProviderKind>,
            String,
            Option<jiff_sqlx::Timestamp>,
            Option<String>,
            Option<String>,
        ) = sqlx::query_as(
            "select d.connection_id, c.provider, d.dispute_ref, d.deadline,
                    d.merchant_reference, r.summary
             from disputes d join connections c on c.id = d.connection_id
             left join responses r on r.id = $2
             where d.id = $1",
        )
        .bind(submission.dispute_id)
        .bind(submission.response_id)
        .fetch_one(&self.pool)
        .await?;
        let done: Vec<String> = sqlx::query_scalar(
            "select step from submission_steps where submission_id = $1 and outcome = 'done'",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let tried: Vec<String> = sqlx::query_scalar(
            "select distinct step from submission_steps
             where submission_id = $1 and outcome = 'sending'",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let files: Vec<(i64, Named<DocumentKind>)> = sqlx::query_as(
            "select id, document from evidence_files where response_id = $1 order by id",
        )
        .bind(submission.response_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(SubmissionWork {
            connection_id,
            provider: provider.0,
            dispute_ref: DisputeRef::parse(&dispute_ref).map_err(StoreError::corrupt)?,
            deadline: deadline.map(|d| d.to_jiff()),
            done: done.iter().filter_map(|s| Step::from_text(s)).collect(),
            tried: tried.iter().filter_map(|s| Step::from_text(s)).collect(),
            files: files.into_iter().map(|(id, d)| (id, d.0)).collect(),
            summary: summary.unwrap_or_default(),
            merchant_reference: merchant_reference.unwrap_or_default(),
            submission,
        }))
    }

    /// Records one attempt at `step` of submission `id`; a step done twice
    /// (a runner taken over mid-step) is kept once.
    pub async fn record_step(
        &self,
        id: i64,
        step: Step,
        outcome: StepOutcome,
        words: &str,
        call: Option<&SentCall>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into submission_steps
                 (submission_id, step, outcome, words, address, request, status, answer)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (submission_id, step) where outcome = 'done' do nothing",
        )
        .bind(id)
        .bind(step.as_text())
        .bind(outcome.as_str())
        .bind(words)
        .bind(call.map(|c| c.address.as_str()))
        .bind(call.map(|c| c.request.replace('\0', "\u{fffd}")))
        .bind(call.and_then(|c| c.status))
        .bind(call.and_then(|c| c.answer.as_deref().map(|a| a.replace('\0', "\u{fffd}"))))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends submission `id` (a second end changes nothing): done folds its
    /// decision into the dispute and marks its response answered; refused
    /// or given up puts the response back to ready, so it can be fixed and
    /// sent again.
    pub async fn finish_submission(&self, id: i64, finished: &Finished) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        finish_in(&mut tx, id, finished).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Ends a sending submission within the caller's transaction.
async fn finish_in(
    tx: &mut sqlx::PgConnection,
    id: i64,
    finished: &Finished,
) -> Result<(), StoreError> {
    let row: Option<SubmissionRow> = sqlx::query_as(&format!(
        "{SELECT_SUBMISSIONS} where s.id = $1 and s.state = 'sending' for update of s"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(submission) = row.map(SubmissionRecord::try_from).transpose()? else {
        return Ok(());
    };
    let (state, words, response_state) = match finished {
        Finished::Done => (SubmissionState::Done, None, ResponseState::Answered),
        Finished::Refused(words) => (SubmissionState::Refused, Some(words), ResponseState::Ready),
        Finished::GaveUp(words) => (SubmissionState::GaveUp, Some(words), ResponseState::Ready),
    };
    let event_id = match finished {
        Finished::Done => Some(fold_decision(tx, &submission).await?),
        Finished::Refused(_) | Finished::GaveUp(_) => None,
    };
    sqlx::query(
        "update submissions set state = $2, words = $3, event_id = $4, finished_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(words)
    .bind(event_id.flatten())
    .execute(&mut *tx)
    .await?;
    if let Some(response_id) = submission.response_id {
        sqlx::query(
            "update responses set state = $2, updated_at = now()
             where id = $1 and state = 'submitted'",
        )
        .bind(response_id)
        .bind(response_state.as_str())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Records the submission's decision as its dispute's event (`response`),
/// refolding the dispute; the event's id (none when it was recorded
/// before).
async fn fold_decision(
    tx: &mut sqlx::PgConnection,
    submission: &SubmissionRecord,
) -> Result<Option<i64>, StoreError> {
    let (connection_id, dispute_ref): (i64, String) =
        sqlx::query_as("select connection_id, dispute_ref from disputes where id = $1")
            .bind(submission.dispute_id)
            .fetch_one(&mut *tx)
            .await?;
    let at = submission
        .outside
        .as_ref()
        .map_or_else(jiff::Timestamp::now, |o| o.at);
    let event = NormalizedEvent {
        dispute_ref: DisputeRef::parse(&dispute_ref).map_err(StoreError::corrupt)?,
        key: EventKey::from_parts(&["response", &submission.id.to_string()]),
        kind: submission
            .decision
            .event_kind(submission.channel)
            .to_owned(),
        effect: submission.decision.effect(submission.stage),
        occurred_at: Some(ProviderTime {
            at,
            text: at.to_string(),
        }),
        deadline: None,
        amount: None,
        reason: None,
        reason_code: None,
        provider_status: None,
        payment_reference: None,
        merchant_reference: None,
    };
    let (recorded, _) =
        record_event_in(tx, connection_id, &EventSource::Response { at }, &event).await?;
    Ok(match recorded {
        super::Recorded::New { id } => Some(id),
        super::Recorded::Duplicate { .. } | super::Recorded::Refused => None,
    })
}

fn unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}
