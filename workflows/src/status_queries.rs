//! Asking a provider where a dispute stands, the fallback for lost
//! notifications: the connection's requests (written by the provider's
//! module, signed with its secrets) sent by the executor, the answer
//! verified (fail closed) and read, and the outcome recorded with what it
//! changed. Claiming the dispute (one query per minute, reconciliation's
//! batches) is the caller's; so is running it in a job.

use std::time::Instant;

use dispute_core::{
    domain::{
        evidence::{usually_proves, Needed},
        text, DisputeRef,
    },
    providers::query::{Answer, ChecklistAnswer, QueryContext, QueryRequest, QueryTarget},
};
use http::HeaderMap;

use crate::{
    executor::{Call, Executor},
    keyring,
    metrics::Metrics,
    vault::Vault,
};

use dispute_store::{
    Actor, QueryOutcome, QueryRecord, QueryRecorded, QuerySubject, ReconcileRules, Store,
    StoreError,
};

/// The most of an answer that is kept with the query's record.
const ANSWER_KEPT: usize = 64 * 1024;
/// The most of a reason quoted from a refused answer.
const DETAIL_KEPT: usize = 300;

/// The answer as text to keep: at most `ANSWER_KEPT` bytes, without the NUL
/// characters PostgreSQL's text refuses.
fn kept(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(ANSWER_KEPT)]).replace('\0', "\u{fffd}")
}

/// Sends status queries and records their answers. Cheap to clone.
#[derive(Clone)]
pub struct StatusQueries {
    store: Store,
    vault: Vault,
    executor: Executor,
    metrics: Metrics,
}

/// A query's result, as the page that asked shows it.
#[derive(Clone, Debug)]
pub struct Asked {
    pub outcome: QueryOutcome,
    pub detail: String,
    pub recorded: QueryRecorded,
}

/// What one reconciliation run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub asked: usize,
    /// Disputes whose stage or status the answer moved.
    pub changed: usize,
    /// Queries that found nothing, failed or got no answer.
    pub unanswered: usize,
}

/// How a query ended, before it is recorded.
struct Ended {
    outcome: QueryOutcome,
    detail: String,
    answer: Option<String>,
    pulled: Option<dispute_core::providers::query::Pulled>,
}

impl Ended {
    fn without_answer(outcome: QueryOutcome, detail: impl Into<String>) -> Self {
        Self {
            outcome,
            detail: detail.into(),
            answer: None,
            pulled: None,
        }
    }
}

impl StatusQueries {
    pub fn new(store: Store, vault: Vault, executor: Executor, metrics: Metrics) -> Self {
        Self {
            metrics,
            store,
            vault,
            executor,
        }
    }

    /// Asks the dispute's provider about it and records the outcome;
    /// `None` when there is no such dispute.
    pub async fn ask(
        &self,
        dispute_id: i64,
        asked_by: Option<&Actor>,
        why: &str,
    ) -> Result<Option<Asked>, StoreError> {
        let Some(subject) = self.store.query_subject(dispute_id).await? else {
            return Ok(None);
        };
        let started = Instant::now();
        let asked_at = jiff::Timestamp::now();
        let ended = self.query(&subject, asked_at).await?;
        let took_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        self.metrics.status_query(subject.provider, ended.outcome);
        let recorded = self
            .store
            .record_status_query(QueryRecord {
                subject: &subject,
                asked_by,
                asked_at,
                why,
                outcome: ended.outcome,
                detail: &ended.detail,
                answer: ended.answer.as_deref(),
                pulled: ended.pulled,
                took_ms,
            })
            .await?;
        tracing::info!(
            dispute = dispute_id,
            connection = %subject.connection_slug,
            outcome = ended.outcome.as_str(),
            took_ms,
            "status query"
        );
        Ok(Some(Asked {
            outcome: ended.outcome,
            detail: ended.detail,
            recorded,
        }))
    }

    /// One reconciliation run: claims up to `batch` disputes the rules
    /// name (never one another replica holds) and asks about each in turn.
    pub async fn reconcile(
        &self,
        rules: &ReconcileRules,
        batch: i64,
    ) -> Result<Reconciled, StoreError> {
        let claimed = self.store.claim_reconciliation(rules, batch).await?;
        let mut run = Reconciled::default();
        for (dispute_id, why) in claimed {
            // One dispute that cannot be recorded does not stop the others.
            match self.ask(dispute_id, None, &why).await {
                Ok(Some(asked)) => {
                    run.asked += 1;
                    run.changed += usize::from(asked.recorded.before != asked.recorded.after);
                    run.unanswered += usize::from(asked.outcome != QueryOutcome::Found);
                }
                Ok(None) => {}
                Err(e) if e.is_outage() => return Err(e),
                Err(e) => {
                    tracing::error!(dispute = dispute_id, error = %crate::chain(&e), "a status query could not be recorded");
                }
            }
        }
        self.metrics.reconciliation_run(
            run.changed,
            run.asked.saturating_sub(run.changed + run.unanswered),
            run.unanswered,
        );
        if run.asked > 0 {
            tracing::info!(
                asked = run.asked,
                changed = run.changed,
                unanswered = run.unanswered,
                "reconciliation run"
            );
        }
        Ok(run)
    }

    async fn query(
        &self,
        subject: &QuerySubject,
        asked_at: jiff::Timestamp,
    ) -> Result<Ended, StoreError> {
        let provider = subject.provider.display_name();
        if !subject.enabled {
            return Ok(Ended::without_answer(
                QueryOutcome::NotConfigured,
                format!("the connection {} is disabled", subject.connection_slug),
            ));
        }
        let Some(base) = subject.query_base_url.as_deref() else {
            return Ok(Ended::without_answer(
                QueryOutcome::NotConfigured,
                format!(
                    "the connection {} has no query API address",
                    subject.connection_slug
                ),
            ));
        };
        let Ok(reference) = DisputeRef::parse(&subject.dispute_ref) else {
            return Ok(Ended::without_answer(
                QueryOutcome::NotConfigured,
                "the dispute's reference cannot be asked about",
            ));
        };
        let connector = self.connector(subject).await?;
        let merchant_key =
            keyring::merchant_key(&self.store, &self.vault, subject.connection_id).await?;
        let zone = subject.timezone.zone();
        let ctx = QueryContext {
            account_id: subject.account_id.as_deref().unwrap_or_default(),
            app_id: subject.app_id.as_deref(),
            merchant_key: merchant_key.as_ref(),
            zone: &zone,
        };
        let target = QueryTarget {
            reference: &reference,
            stage: subject.stage,
            opened_at: subject.opened_at,
        };
        let requests = match connector.query_requests(&ctx, &target, asked_at) {
            Ok(requests) => requests,
            Err(missing) => {
                return Ok(Ended::without_answer(
                    QueryOutcome::NotConfigured,
                    missing.to_string(),
                ))
            }
        };
        let mut ended = None;
        for request in &requests {
            let (headers, body) = match self.send(subject.connection_id, base, request).await? {
                Ok(answer) => answer,
                Err(ended) => return Ok(ended),
            };
            let answer = Some(kept(&body));
            let read = connector.read_answer(request, &headers, &body, &target, &ctx);
            let this = match read {
                Err(refusal) => Ended {
                    outcome: QueryOutcome::Refused,
                    detail: format!(
                        "{provider}'s answer was not accepted and changed nothing: {}",
                        text::cut(&refusal.to_string(), DETAIL_KEPT)
                    ),
                    answer,
                    pulled: None,
                },
                Ok(Answer::Found(finding)) => Ended {
                    outcome: QueryOutcome::Found,
                    detail: finding.summary.clone(),
                    answer,
                    pulled: Some(finding.into_pulled(&reference, asked_at)),
                },
                Ok(Answer::NotFound(words)) => Ended {
                    outcome: QueryOutcome::NotFound,
                    detail: words,
                    answer,
                    pulled: None,
                },
                Ok(Answer::Failed(words)) => Ended {
                    outcome: QueryOutcome::Failed,
                    detail: words,
                    answer,
                    pulled: None,
                },
            };
            let next = this.outcome == QueryOutcome::NotFound;
            ended = Some(this);
            if !next {
                break;
            }
        }
        Ok(ended.unwrap_or_else(|| {
            Ended::without_answer(
                QueryOutcome::NotConfigured,
                "the provider has no query for it",
            )
        }))
    }

    /// Asks the response's provider what the response needs and keeps the
    /// answer with it (a refusal or no answer is only noted: the list kept
    /// before stays); the words say how it went. `None` when there is no
    /// such response.
    pub async fn ask_checklist(
        &self,
        response_id: i64,
        asked_by: &Actor,
    ) -> Result<Option<String>, StoreError> {
        let Some(response) = self.store.response(response_id).await? else {
            return Ok(None);
        };
        let Some(subject) = self.store.query_subject(response.dispute_id).await? else {
            return Ok(None);
        };
        let audit = format!(
            "dispute {}/{}",
            subject.connection_slug, subject.dispute_ref
        );
        let (needs, words) = match self.checklist(&subject).await? {
            Ok(needs) => {
                let words = format!(
                    "{} lists {} documents",
                    subject.provider.display_name(),
                    needs.len()
                );
                (Some(needs), words)
            }
            Err(words) => (None, words),
        };
        self.store
            .record_checklist(response.id, needs.as_deref(), &words, asked_by, &audit)
            .await?;
        tracing::info!(response = response.id, connection = %subject.connection_slug, %words, "asked what a response needs");
        Ok(Some(words))
    }

    /// What the provider says the dispute needs, or why it did not say.
    async fn checklist(
        &self,
        subject: &QuerySubject,
    ) -> Result<Result<Vec<Needed>, String>, StoreError> {
        let provider = subject.provider.display_name();
        if !subject.enabled {
            return Ok(Err(format!(
                "the connection {} is disabled",
                subject.connection_slug
            )));
        }
        let Some(base) = subject.query_base_url.as_deref() else {
            return Ok(Err(format!(
                "the connection {} has no query API address",
                subject.connection_slug
            )));
        };
        let connector = self.connector(subject).await?;
        let zone = subject.timezone.zone();
        let ctx = QueryContext {
            account_id: subject.account_id.as_deref().unwrap_or_default(),
            app_id: subject.app_id.as_deref(),
            merchant_key: None,
            zone: &zone,
        };
        let Some(request) = connector.checklist_request(&ctx, &subject.dispute_ref) else {
            return Ok(Err(format!(
                "{provider} does not say what a response needs"
            )));
        };
        let body = match self.send(subject.connection_id, base, &request).await? {
            Ok((_, body)) => body,
            Err(ended) => return Ok(Err(ended.detail)),
        };
        Ok(match connector.read_checklist(&body) {
            Ok(ChecklistAnswer::Needs { needs, .. }) => Ok(needs
                .into_iter()
                .map(|(document, requirement)| Needed {
                    document,
                    requirement,
                    proves: usually_proves(document).to_owned(),
                })
                .collect()),
            Ok(ChecklistAnswer::Failed(words)) => Err(words),
            Err(refusal) => Err(format!(
                "{provider}'s answer was not accepted: {}",
                text::cut(&refusal.to_string(), DETAIL_KEPT)
            )),
        })
    }

    /// The connection's keys as they are now: read for each question, so a
    /// key changed a moment ago is used at once (questions are rare next to
    /// notifications).
    async fn connector(
        &self,
        subject: &QuerySubject,
    ) -> Result<dispute_core::providers::Connector, StoreError> {
        keyring::connector(
            &self.store,
            &self.vault,
            subject.connection_id,
            subject.provider,
        )
        .await
    }

    /// One request through the executor; the answer's headers and body, or
    /// how the query ended without one.
    async fn send(
        &self,
        connection_id: i64,
        base: &str,
        request: &QueryRequest,
    ) -> Result<Result<(HeaderMap, Vec<u8>), Ended>, StoreError> {
        let call = Call {
            connection_id,
            base,
            path: request.path,
            headers: &request.headers,
            body: &request.body,
        };
        let answered = match self.executor.send(&call).await? {
            Ok(answered) => answered,
            Err(not) => {
                let outcome = match not {
                    crate::executor::NotAnswered::TooLong => QueryOutcome::Failed,
                    _ => QueryOutcome::Unreachable,
                };
                return Ok(Err(Ended::without_answer(
                    outcome,
                    not.words(&call.address()),
                )));
            }
        };
        if !answered.status.is_success() {
            return Ok(Err(Ended {
                outcome: QueryOutcome::Failed,
                detail: format!(
                    "{} answered HTTP {}",
                    call.address(),
                    answered.status.as_u16()
                ),
                answer: Some(kept(&answered.body)),
                pulled: None,
            }));
        }
        Ok(Ok((answered.headers, answered.body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_bounded_and_without_nul_characters() {
        assert_eq!(kept(b"{\"a\":\"x\0y\"}"), "{\"a\":\"x\u{fffd}y\"}");
        assert_eq!(kept(&[b'a'; ANSWER_KEPT + 10]).len(), ANSWER_KEPT);
        assert_eq!(kept(&[0xff, b'a']), "\u{fffd}a");
    }
}
