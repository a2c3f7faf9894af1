//! Sending a submission, from its job: each step not yet done, in order,
//! written by the provider's module (`dispute_core::providers::submission`),
//! recorded as sending, sent by the executor, its answer verified and read,
//! and recorded as it completes — so a job resumed after a restart or a
//! killed replica starts after the last completed step and sends nothing
//! done again. Only a call that went out unanswered is sent again, and a
//! provider that then says the decision is made already is believed.
//! A provider's refusal ends the submission in an analyst's words; no
//! answer, a 5xx or the provider's own failure is tried again (the job
//! system's backoff) until the deadline is too near.

use dispute_core::{
    domain::{
        evidence::FileKind,
        jobs::retry_after,
        links::Link,
        submission::{remaining, try_again_at, Step, StepOutcome, SubmissionState},
        text,
    },
    providers::{
        keys::SigningKey,
        query::QueryContext,
        submission::{sends_as, StepAnswer, StepInput, Supplied},
        Connector,
    },
};
use dispute_store::{Finished, QuerySubject, SentCall, Store, StoreError, SubmissionWork};
use futures_util::TryStreamExt;

use crate::{
    executor::{Call, Executor},
    keyring,
    vault::Vault,
};

/// The most of an answer kept with its step.
const ANSWER_KEPT: usize = 64 * 1024;
/// A request's string values longer than this are not kept with its step
/// (a document's Base64 contents: the file itself is kept).
const VALUE_KEPT: usize = 1024;
/// The most of a refusal's detail quoted.
const DETAIL_KEPT: usize = 300;

/// Sends submissions. Cheap to clone.
#[derive(Clone)]
pub struct Submissions {
    store: Store,
    vault: Vault,
    executor: Executor,
    links: LinkSettings,
}

/// Where the links a provider fetches files from point, and how long they
/// last.
#[derive(Clone, Debug)]
pub struct LinkSettings {
    /// `PUBLIC_URL`: how the provider reaches Dispute Desk.
    pub public_url: String,
    pub lifetime: jiff::SignedDuration,
}

/// How one attempt at a submission ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Done, refused or given up: nothing more to do.
    Finished,
    /// A step failed for now; the words say how. Its job tries again.
    TryAgain(String),
}

/// How one step ended.
enum StepEnd {
    Done,
    Refused(String),
    Failed(String),
}

impl Submissions {
    pub fn new(store: Store, vault: Vault, executor: Executor, links: LinkSettings) -> Self {
        Self {
            store,
            vault,
            executor,
            links,
        }
    }

    /// One attempt (the job's `attempt`th; `last` when no other will
    /// follow) at sending submission `id` from where it was left.
    pub async fn run(&self, id: i64, attempt: i32, last: bool) -> Result<Attempt, StoreError> {
        let Some(work) = self.store.submission_work(id).await? else {
            return Ok(Attempt::Finished);
        };
        if work.submission.state != SubmissionState::Sending {
            return Ok(Attempt::Finished);
        }
        for step in remaining(&work.submission.plan, &work.done) {
            match self.step(&work, step).await? {
                StepEnd::Done => {}
                StepEnd::Refused(words) => {
                    self.store
                        .finish_submission(id, &Finished::Refused(words))
                        .await?;
                    return Ok(Attempt::Finished);
                }
                StepEnd::Failed(words) => {
                    let next = jiff::Timestamp::now() + retry_after(attempt);
                    let why = match last {
                        true => "its attempts are used up",
                        false => "the deadline is too near",
                    };
                    if last || !try_again_at(next, work.deadline) {
                        let words = format!(
                            "{words}. It was tried {attempt} time{} and is not tried again: {why}.",
                            if attempt == 1 { "" } else { "s" }
                        );
                        self.store
                            .finish_submission(id, &Finished::GaveUp(words))
                            .await?;
                        return Ok(Attempt::Finished);
                    }
                    return Ok(Attempt::TryAgain(words));
                }
            }
        }
        self.store.finish_submission(id, &Finished::Done).await?;
        tracing::info!(submission = id, "a submission was sent");
        Ok(Attempt::Finished)
    }

    /// Sends `step` and records how it ended.
    async fn step(&self, work: &SubmissionWork, step: Step) -> Result<StepEnd, StoreError> {
        let id = work.submission.id;
        let (end, call) = self.send_step(work, step).await?;
        let (outcome, words) = match &end {
            StepEnd::Done => (StepOutcome::Done, format!("{}: done", step.label())),
            StepEnd::Refused(words) => (StepOutcome::Refused, words.clone()),
            StepEnd::Failed(words) => (StepOutcome::Failed, words.clone()),
        };
        self.store
            .record_step(id, step, outcome, &words, call.as_ref())
            .await?;
        tracing::info!(submission = id, step = %step.as_text(), outcome = outcome.as_str(), "a submission's step");
        Ok(end)
    }

    /// Writes, sends and reads one step; the call as sent, when it was.
    async fn send_step(
        &self,
        work: &SubmissionWork,
        step: Step,
    ) -> Result<(StepEnd, Option<SentCall>), StoreError> {
        let Some(subject) = self.store.query_subject(work.submission.dispute_id).await? else {
            return Ok((StepEnd::Refused("The dispute is gone".into()), None));
        };
        let unable = |words: String| Ok((StepEnd::Failed(words), None));
        if !subject.enabled {
            return unable(format!(
                "The connection {} is disabled; it will be tried again once it is enabled",
                subject.connection_slug
            ));
        }
        let Some(base) = subject.query_base_url.clone() else {
            return unable(format!(
                "The connection {} has no API address; it will be tried again once it has one",
                subject.connection_slug
            ));
        };
        let connector = keyring::connector(
            &self.store,
            &self.vault,
            subject.connection_id,
            subject.provider,
        )
        .await?;
        let files = match self.documents(work, step).await? {
            Ok(files) => files,
            Err(words) => return Ok((StepEnd::Refused(words), None)),
        };
        let supplied: Vec<Supplied<'_>> = files
            .iter()
            .map(|(document, format, bytes)| Supplied {
                document: *document,
                format: *format,
                bytes,
            })
            .collect();
        let merchant_key =
            keyring::merchant_key(&self.store, &self.vault, subject.connection_id).await?;
        let links = match step {
            Step::Replay => self.links(work.submission.id).await?,
            _ => Vec::new(),
        };
        let zone = subject.timezone.zone();
        let ctx = context(&subject, &zone, merchant_key.as_ref());
        let input = StepInput {
            documents: &supplied,
            summary: &work.summary,
            links: &links,
            customer: &work.merchant_reference,
            now: jiff::Timestamp::now(),
        };
        let request =
            match connector.step_request(&ctx, work.dispute_ref.as_str(), &base, step, &input) {
                Ok(request) => request,
                Err(unsendable) => {
                    return Ok((
                        StepEnd::Refused(format!("{} was not sent: {unsendable}", step.label())),
                        None,
                    ))
                }
            };
        let call = Call {
            connection_id: subject.connection_id,
            base: &base,
            path: request.path,
            headers: &request.headers,
            body: &request.body,
        };
        let address = call.address();
        let mut sent = SentCall {
            address: address.clone(),
            request: kept_request(&request.body),
            status: None,
            answer: None,
        };
        self.store
            .record_step(
                work.submission.id,
                step,
                StepOutcome::Sending,
                &format!("{}: sent, waiting for the answer", step.label()),
                Some(&sent),
            )
            .await?;
        let answered = match self.executor.send(&call).await? {
            Ok(answered) => answered,
            // Not let out: nothing reached the provider.
            Err(not @ crate::executor::NotAnswered::Refused(_)) => {
                return Ok((StepEnd::Failed(not.words(&address)), None))
            }
            Err(not) => return Ok((StepEnd::Failed(not.words(&address)), Some(sent))),
        };
        sent.status = Some(answered.status.as_u16() as i16);
        sent.answer = Some(kept(&answered.body));
        let provider = subject.provider.display_name();
        let end = if answered.status.is_server_error() {
            StepEnd::Failed(format!(
                "{provider} answered HTTP {}; it will be tried again",
                answered.status.as_u16()
            ))
        } else if !answered.status.is_success() {
            StepEnd::Refused(format!(
                "{provider} refused {} with HTTP {}",
                step.label().to_lowercase(),
                answered.status.as_u16()
            ))
        } else {
            read(
                &connector,
                step,
                &answered,
                work.dispute_ref.as_str(),
                provider,
                work.tried.contains(&step),
            )
        };
        Ok((end, Some(sent)))
    }

    /// The addresses the provider fetches submission `id`'s files from,
    /// made (to last `LinkSettings::lifetime`) the first time it is asked.
    async fn links(&self, id: i64) -> Result<Vec<String>, StoreError> {
        let expires = jiff::Timestamp::now() + self.links.lifetime;
        let key = self.vault.link_key();
        let base = self.links.public_url.trim_end_matches('/');
        Ok(self
            .store
            .submission_links(id, expires)
            .await?
            .into_iter()
            .map(|l| {
                let link = Link {
                    id: l.id,
                    expires: l.expires_at,
                };
                format!("{base}{}", link.path(&key, &l.safe_name))
            })
            .collect())
    }

    /// The files a step sends (a supply's: the response's files of its
    /// kind of document, each in a format the provider takes), or why they
    /// cannot be sent.
    async fn documents(
        &self,
        work: &SubmissionWork,
        step: Step,
    ) -> Result<
        Result<
            Vec<(
                dispute_core::domain::evidence::DocumentKind,
                FileKind,
                Vec<u8>,
            )>,
            String,
        >,
        StoreError,
    > {
        let Step::Supply(document) = step else {
            return Ok(Ok(Vec::new()));
        };
        let takes = sends_as(work.provider);
        let mut files = Vec::new();
        for (file_id, _) in work.files.iter().filter(|(_, kind)| *kind == document) {
            let Some(file) = self.store.evidence_file(*file_id).await? else {
                continue;
            };
            let bytes: Vec<u8> = self.store.evidence_bytes(*file_id).try_concat().await?;
            if takes.contains(&file.format) {
                files.push((document, file.format, bytes));
                continue;
            }
            match as_jpeg(bytes).await {
                Some(jpeg) => files.push((document, FileKind::Jpeg, jpeg)),
                None => {
                    return Ok(Err(format!(
                        "{} is a {} the provider does not take, and it could not be made a JPEG",
                        file.name,
                        file.format.label()
                    )))
                }
            }
        }
        Ok(Ok(files))
    }
}

/// A step's verified answer in words; an answer that does not verify is
/// refused and nothing is counted as done. `tried`: an earlier attempt at
/// this step went out, so the provider saying the decision is made
/// already means that attempt reached it.
fn read(
    connector: &Connector,
    step: Step,
    answered: &crate::executor::Answered,
    reference: &str,
    provider: &str,
    tried: bool,
) -> StepEnd {
    match connector.read_step_answer(step, &answered.headers, &answered.body, reference) {
        Ok(StepAnswer::Done) => StepEnd::Done,
        Ok(StepAnswer::DecidedAlready(_)) if tried => StepEnd::Done,
        Ok(StepAnswer::DecidedAlready(words)) => StepEnd::Refused(words),
        Ok(StepAnswer::Refused { words, retry, .. }) => match retry {
            true => StepEnd::Failed(words),
            false => StepEnd::Refused(words),
        },
        Err(refusal) => StepEnd::Refused(format!(
            "{provider}'s answer to {} was not accepted, so it is not counted as done ({}); check with {provider} before sending again",
            step.label().to_lowercase(),
            text::cut(&refusal.to_string(), DETAIL_KEPT)
        )),
    }
}

/// A picture the provider does not take as it is (a PNG), as a JPEG on
/// white; on the blocking pool.
async fn as_jpeg(bytes: Vec<u8>) -> Option<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let picture = image::load_from_memory(&bytes).ok()?;
        let rgba = picture.to_rgba8();
        let mut flat = image::RgbImage::new(rgba.width(), rgba.height());
        for (x, y, pixel) in rgba.enumerate_pixels() {
            let [r, g, b, a] = pixel.0;
            let on_white =
                |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
            flat.put_pixel(x, y, image::Rgb([on_white(r), on_white(g), on_white(b)]));
        }
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&flat)
            .ok()?;
        Some(jpeg)
    })
    .await
    .ok()
    .flatten()
}

fn context<'a>(
    subject: &'a QuerySubject,
    zone: &'a jiff::tz::TimeZone,
    merchant_key: Option<&'a SigningKey>,
) -> QueryContext<'a> {
    QueryContext {
        account_id: subject.account_id.as_deref().unwrap_or_default(),
        app_id: subject.app_id.as_deref(),
        merchant_key,
        zone,
    }
}

/// The answer as text to keep: at most `ANSWER_KEPT` bytes.
fn kept(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(ANSWER_KEPT)]).into_owned()
}

/// The request as kept with its step: a JSON body with every long string
/// (a document's contents) replaced by its length; anything else as text.
fn kept_request(body: &[u8]) -> String {
    fn shorten(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) if s.len() > VALUE_KEPT => {
                *s = format!("({} characters, not kept here)", s.len());
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(shorten),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(shorten),
            _ => {}
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value) => {
            shorten(&mut value);
            value.to_string()
        }
        Err(_) => kept(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_request_leaves_out_long_values_only() {
        let body = serde_json::json!({
            "accId": "A1",
            "defenseDocuments": [{"content": "x".repeat(5000), "contentType": "application/pdf"}],
        });
        let kept = kept_request(body.to_string().as_bytes());
        let read: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(read["accId"], "A1");
        assert_eq!(
            read["defenseDocuments"][0]["content"],
            "(5000 characters, not kept here)"
        );
        assert_eq!(
            read["defenseDocuments"][0]["contentType"],
            "application/pdf"
        );
        assert_eq!(kept_request(b"not json"), "not json");
    }

    #[tokio::test]
    async fn a_transparent_png_becomes_a_jpeg_on_white() {
        let mut png = Vec::new();
        let clear = image::RgbaImage::from_pixel(4, 4, image::Rgba([0, 0, 0, 0]));
        clear
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let jpeg = as_jpeg(png).await.unwrap();
        assert_eq!(FileKind::sniff(&jpeg), Some(FileKind::Jpeg));
        let back = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert!(
            back.pixels().all(|p| p.0.iter().all(|c| *c > 240)),
            "white, not black"
        );
        assert!(as_jpeg(b"not a picture".to_vec()).await.is_none());
    }
}
