//! The one way Dispute Desk calls a provider: a request its module wrote
//! as data (`dispute_core::providers`), sent through the outbound guard
//! (`crate::outbound`) with the call's timeout and a bounded retry after a
//! network error, each attempt recorded (`provider_calls`) with what came
//! back or why nothing did. It is run from jobs (status queries now;
//! responses and evidence next), never inside a browser's request.

use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};

use crate::outbound::{OutboundPolicy, OutboundRefusal};

use dispute_store::{ProviderCall, Store, StoreError};

/// The most of an answer that is read; a longer one is refused.
const ANSWER_LIMIT: usize = 1024 * 1024;

/// How calls are sent.
#[derive(Clone, Copy, Debug)]
pub struct CallSettings {
    pub policy: OutboundPolicy,
    /// For each attempt, connecting included.
    pub timeout: Duration,
    /// Further attempts after a network error (not after a timeout: the
    /// provider may be slow, and waiting again helps no one).
    pub retries: u32,
}

/// One call: a request to `path` under a connection's API address.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    pub connection_id: i64,
    pub base: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'static str, String)],
    pub body: &'a [u8],
}

impl Call<'_> {
    pub fn address(&self) -> String {
        format!("{}{}", self.base.trim_end_matches('/'), self.path)
    }
}

/// What a provider answered (any HTTP status).
#[derive(Clone, Debug)]
pub struct Answered {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Why a call has no answer to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotAnswered {
    /// The outbound guard did not let it out.
    Refused(OutboundRefusal),
    TimedOut(Duration),
    /// The connection failed, `attempts` times (how is in the log: the
    /// page must not map the network for whoever reads it).
    Unreachable {
        attempts: u32,
    },
    CutOff,
    TooLong,
}

impl NotAnswered {
    /// In words, for the page and the record.
    pub fn words(&self, address: &str) -> String {
        match self {
            NotAnswered::Refused(refusal) => format!("{address} was not asked: {refusal}"),
            NotAnswered::TimedOut(after) => {
                format!("no answer from {address} within {} s", after.as_secs_f64())
            }
            NotAnswered::Unreachable { attempts } => format!(
                "{address} could not be reached after {attempts} attempts (the reason is in the server's log)"
            ),
            NotAnswered::CutOff => format!("the answer from {address} was cut off"),
            NotAnswered::TooLong => {
                format!("{address} answered with more than {ANSWER_LIMIT} bytes")
            }
        }
    }
}

/// Sends calls and records their attempts. Cheap to clone.
#[derive(Clone)]
pub struct Executor {
    store: Store,
    settings: CallSettings,
    client: reqwest::Client,
}

impl Executor {
    pub fn new(store: Store, settings: CallSettings) -> Self {
        Self {
            client: settings.policy.client(settings.timeout),
            store,
            settings,
        }
    }

    /// Sends `call`, again after a network error up to the retries
    /// allowed; every attempt is recorded. An error means an attempt could
    /// not be recorded.
    pub async fn send(&self, call: &Call<'_>) -> Result<Result<Answered, NotAnswered>, StoreError> {
        let address = call.address();
        let url = match self.settings.policy.check_url(&address) {
            Ok(url) => url,
            Err(refusal) => return Ok(Err(self.refused(&address, refusal))),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = jiff::Timestamp::now();
            let clock = Instant::now();
            let mut post = self.client.post(url.clone());
            for (name, value) in call.headers {
                post = post.header(*name, value);
            }
            let sent = match post.body(call.body.to_vec()).send().await {
                Ok(response) => read(response).await,
                Err(e) => Err(Failure::Http(e)),
            };
            let took = clock.elapsed();
            let outcome = match sent {
                Ok(answered) => Ok(answered),
                Err(Failure::TooLong) => Err(NotAnswered::TooLong),
                Err(Failure::Http(e)) => Err(self.failed(&address, attempt, &e)),
            };
            self.store
                .record_call(&ProviderCall {
                    connection_id: call.connection_id,
                    address: &address,
                    attempt: attempt as i32,
                    started_at: started,
                    took_ms: i32::try_from(took.as_millis()).unwrap_or(i32::MAX),
                    status: outcome.as_ref().ok().map(|a| a.status.as_u16() as i16),
                    answer: outcome.as_ref().ok().map(|a| a.body.as_slice()),
                    failure: outcome.as_ref().err().map(|n| n.words(&address)).as_deref(),
                })
                .await?;
            let retry = matches!(outcome, Err(NotAnswered::Unreachable { .. }))
                && attempt <= self.settings.retries;
            if !retry {
                return Ok(outcome);
            }
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
    }

    /// A call the outbound guard did not let out: its words for the page,
    /// its detail (what a name resolved to) for the log only.
    fn refused(&self, address: &str, refusal: OutboundRefusal) -> NotAnswered {
        tracing::warn!(%address, ?refusal, "the outbound guard refused a call");
        NotAnswered::Refused(refusal)
    }

    fn failed(&self, address: &str, attempt: u32, error: &reqwest::Error) -> NotAnswered {
        if let Some(refusal) = OutboundRefusal::behind(error) {
            return self.refused(address, refusal.clone());
        }
        if error.is_timeout() {
            return NotAnswered::TimedOut(self.settings.timeout);
        }
        if error.is_body() || error.is_decode() {
            tracing::warn!(%address, error = %crate::chain(error), "a provider's answer was cut off");
            return NotAnswered::CutOff;
        }
        tracing::warn!(%address, attempt, error = %crate::chain(error), "a call could not reach the provider");
        NotAnswered::Unreachable { attempts: attempt }
    }
}

enum Failure {
    Http(reqwest::Error),
    TooLong,
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Self {
        Failure::Http(e)
    }
}

/// The answer's status, headers and body (at most `ANSWER_LIMIT`).
async fn read(mut response: reqwest::Response) -> Result<Answered, Failure> {
    let status = response.status();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > ANSWER_LIMIT {
            return Err(Failure::TooLong);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answered {
        status,
        headers,
        body,
    })
}
