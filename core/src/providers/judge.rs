//! Judging one delivery, as data: the checks before any signature (complete,
//! size, connection, enabled, sender), the signature over the exact bytes,
//! the parse, and the answer the provider gets. Pure CPU: intake judges a
//! request as it arrives, replay judges stored bytes again, and both hand
//! the judgement to the store to record.

use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::{keys::Fingerprint, Ack, Connector, Notification, ParseContext, Refusal};
use crate::domain::{Sender, SourceAllowlist, Verdict};

/// Bodies larger than this are refused (413).
pub const MAX_BODY: usize = 1024 * 1024;

/// A request to `/webhooks/{slug}`, as received or as stored.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The path segment after `/webhooks/`, as received (percent-encoded).
    pub slug: &'a str,
    pub sender: Sender,
    pub headers: &'a HeaderMap,
    /// The whole body, or its first bytes when it was over `MAX_BODY`.
    pub body: &'a [u8],
    /// The true length of the body.
    pub body_length: u64,
    /// False when the body ended before the length its sender declared, or
    /// its stream broke.
    pub complete: bool,
}

/// A connection as judging needs it: its state and rules, and its provider
/// with its keys.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    pub enabled: bool,
    pub source_allowlist: &'a SourceAllowlist,
    pub context: &'a ParseContext,
    pub connector: &'a Connector,
}

/// What became of a delivery.
// One judgement per request, moved once or twice: boxing the larger variant
// would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Verified and read: an event or payment to record, and the provider's
    /// acknowledgement (owed to a duplicate too).
    Accepted {
        key: Fingerprint,
        notification: Notification,
        ack: Ack,
    },
    Refused(Refused),
}

/// Why a delivery was refused: the verdict, the reason in words for ops,
/// the key that matched when the signature was good, and what the sender is
/// told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub verdict: Verdict,
    pub reason: String,
    pub key: Option<Fingerprint>,
    pub answer: &'static str,
}

impl Refused {
    /// A refusal with the answer its verdict gives.
    pub fn new(verdict: Verdict, reason: impl Into<String>, key: Option<Fingerprint>) -> Self {
        Self {
            verdict,
            reason: reason.into(),
            key,
            answer: answer_for(verdict),
        }
    }
}

/// The HTTP answer a provider gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<&'static str>,
    pub body: String,
}

impl Reply {
    /// An error as `{"error": message}`.
    pub fn error(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            content_type: Some("application/json"),
            body: json!({ "error": message }).to_string(),
        }
    }

    /// The answer when the request could not be stored at all: the
    /// provider retries.
    pub fn unavailable() -> Self {
        Self::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the notification could not be stored; retry later",
        )
    }
}

impl Judgement {
    /// The answer the provider gets for this judgement.
    pub fn reply(&self) -> Reply {
        match self {
            Judgement::Accepted { ack, .. } => Reply {
                status: StatusCode::OK,
                content_type: ack.content_type,
                body: ack.body.to_owned(),
            },
            Judgement::Refused(refused) => {
                Reply::error(status_for(refused.verdict), refused.answer)
            }
        }
    }
}

fn refused(verdict: Verdict, reason: impl Into<String>) -> Judgement {
    Judgement::Refused(Refused::new(verdict, reason, None))
}

impl From<(Refusal, Option<Fingerprint>)> for Judgement {
    fn from((refusal, key): (Refusal, Option<Fingerprint>)) -> Self {
        Judgement::Refused(Refused::new(refusal.verdict(), refusal.to_string(), key))
    }
}

/// Judges `delivery` sent to `connection` (`None`: its slug names no
/// connection).
pub fn judge(delivery: &Delivery<'_>, connection: Option<Judge<'_>>) -> Judgement {
    if !delivery.complete {
        let declared = delivery
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" of the {v} declared"))
            .unwrap_or_default();
        return Judgement::Refused(Refused {
            answer: "the body ended early",
            ..Refused::new(
                Verdict::Malformed,
                format!(
                    "the body ended early: {} bytes arrived{declared}",
                    delivery.body_length
                ),
                None,
            )
        });
    }
    if delivery.body_length > MAX_BODY as u64 {
        return refused(
            Verdict::TooLarge,
            format!(
                "the body has {} bytes; at most {MAX_BODY} are accepted",
                delivery.body_length
            ),
        );
    }
    let Some(connection) = connection else {
        return refused(
            Verdict::UnknownConnection,
            format!("there is no connection named {:?}", delivery.slug),
        );
    };
    if !connection.enabled {
        return refused(Verdict::Disabled, "the connection is disabled");
    }
    if !connection.source_allowlist.admits(delivery.sender) {
        return refused(
            Verdict::ForbiddenSource,
            format!(
                "{} is not on the connection's source allowlist",
                delivery.sender
            ),
        );
    }
    let verified = match connection.connector.verify(delivery.headers, delivery.body) {
        Ok(verified) => verified,
        Err(refusal) => return (refusal, None).into(),
    };
    let key = verified.key().clone();
    match connection.connector.parse(&verified, connection.context) {
        Ok(parsed) => Judgement::Accepted {
            key,
            notification: parsed.notification,
            ack: parsed.ack,
        },
        Err(refusal) => (refusal, Some(key)).into(),
    }
}

fn status_for(verdict: Verdict) -> StatusCode {
    match verdict {
        Verdict::BadSignature | Verdict::MissingSignature => StatusCode::UNAUTHORIZED,
        Verdict::Malformed => StatusCode::BAD_REQUEST,
        Verdict::UnknownConnection => StatusCode::NOT_FOUND,
        Verdict::ForbiddenSource => StatusCode::FORBIDDEN,
        Verdict::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        // Stored for replay; the provider retries until the connection is on.
        Verdict::Disabled => StatusCode::SERVICE_UNAVAILABLE,
        Verdict::Failed | Verdict::Received | Verdict::Valid | Verdict::Duplicate => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn answer_for(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::BadSignature => "the signature is not valid",
        Verdict::MissingSignature => "the request is not signed",
        Verdict::Malformed => "the notification could not be read",
        Verdict::UnknownConnection => "no such connection",
        Verdict::ForbiddenSource => "this sender is not allowed",
        Verdict::TooLarge => "the body is larger than 1 MiB",
        Verdict::Disabled => "this connection is disabled",
        Verdict::Failed => "the notification could not be recorded; it is kept for review",
        Verdict::Received | Verdict::Valid | Verdict::Duplicate => {
            "the notification was not judged"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{
        keys::{FingerprintKey, Salt},
        test_support::{case, key_file},
    };

    fn connector() -> Connector {
        let salt = Salt::parse(
            &key_file("pingpong-salt.txt").into(),
            &FingerprintKey::new([3; 32]),
        )
        .unwrap();
        Connector::new(crate::domain::ProviderKind::PingPong, vec![salt], vec![])
    }

    fn context() -> ParseContext {
        ParseContext {
            zone: jiff::tz::TimeZone::UTC,
            account_id: Some("2022102018024210348882".into()),
        }
    }

    fn delivery<'a>(body: &'a [u8], headers: &'a HeaderMap) -> Delivery<'a> {
        Delivery {
            slug: "pingpong-main",
            sender: "127.0.0.1".parse().unwrap(),
            headers,
            body,
            body_length: body.len() as u64,
            complete: true,
        }
    }

    fn judged(delivery: &Delivery<'_>, enabled: bool, allowlist: &[&str]) -> Judgement {
        let connector = connector();
        let allowlist = SourceAllowlist::parse(allowlist, &[]).unwrap();
        let context = context();
        judge(
            delivery,
            Some(Judge {
                enabled,
                source_allowlist: &allowlist,
                context: &context,
                connector: &connector,
            }),
        )
    }

    fn refusal(judgement: &Judgement) -> (Verdict, u16, &str) {
        match judgement {
            Judgement::Refused(r) => (r.verdict, judgement.reply().status.as_u16(), r.answer),
            Judgement::Accepted { .. } => panic!("accepted"),
        }
    }

    #[test]
    fn a_signed_notification_is_accepted_with_its_key_event_and_acknowledgement() {
        let (body, headers) = case("pp-rfi");
        let judgement = judged(&delivery(&body, &headers), true, &[]);
        let Judgement::Accepted {
            key, notification, ..
        } = &judgement
        else {
            panic!("{judgement:?}")
        };
        assert!(key.as_str().starts_with("hmac:"));
        assert!(
            matches!(notification, Notification::Dispute(e) if e.kind == "REQUEST_FOR_INFORMATION")
        );
        let reply = judgement.reply();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, ""));
    }

    #[test]
    fn the_checks_before_the_signature_come_in_order() {
        let (body, headers) = case("pp-rfi");
        let cut_short = Delivery {
            complete: false,
            ..delivery(&body, &headers)
        };
        assert_eq!(
            refusal(&judged(&cut_short, true, &[])),
            (Verdict::Malformed, 400, "the body ended early")
        );
        let huge = Delivery {
            body_length: MAX_BODY as u64 + 1,
            ..delivery(&body, &headers)
        };
        assert_eq!(refusal(&judged(&huge, true, &[])).0, Verdict::TooLarge);
        assert_eq!(MAX_BODY, 1_048_576);
        let a_mebibyte = Delivery {
            body_length: MAX_BODY as u64,
            ..delivery(&body, &headers)
        };
        assert!(matches!(
            judged(&a_mebibyte, true, &[]),
            Judgement::Accepted { .. }
        ));
        assert_eq!(
            refusal(&judge(&delivery(&body, &headers), None)),
            (Verdict::UnknownConnection, 404, "no such connection")
        );
        assert_eq!(
            refusal(&judged(&delivery(&body, &headers), false, &[])),
            (Verdict::Disabled, 503, "this connection is disabled")
        );
        assert_eq!(
            refusal(&judged(&delivery(&body, &headers), true, &["10.0.0.0/8"])),
            (Verdict::ForbiddenSource, 403, "this sender is not allowed")
        );
    }

    #[test]
    fn a_bad_signature_names_no_key_and_a_good_one_that_reads_badly_names_its_key() {
        let (tampered, headers) = case("pp-tampered");
        let Judgement::Refused(bad) = judged(&delivery(&tampered, &headers), true, &[]) else {
            panic!()
        };
        assert_eq!((bad.verdict, bad.key), (Verdict::BadSignature, None));
        let (other_account, _) = case("pp-rfi");
        let ctx = ParseContext {
            account_id: Some("another".into()),
            ..context()
        };
        let connector = connector();
        let allowlist = SourceAllowlist::default();
        let Judgement::Refused(malformed) = judge(
            &delivery(&other_account, &headers),
            Some(Judge {
                enabled: true,
                source_allowlist: &allowlist,
                context: &ctx,
                connector: &connector,
            }),
        ) else {
            panic!()
        };
        assert_eq!(malformed.verdict, Verdict::Malformed);
        assert!(malformed.key.is_some());
        assert!(malformed.reason.contains("accId"), "{}", malformed.reason);
    }

    #[test]
    fn every_verdict_has_its_status_and_answer() {
        let table = [
            (Verdict::BadSignature, 401),
            (Verdict::MissingSignature, 401),
            (Verdict::Malformed, 400),
            (Verdict::UnknownConnection, 404),
            (Verdict::ForbiddenSource, 403),
            (Verdict::TooLarge, 413),
            (Verdict::Disabled, 503),
            (Verdict::Failed, 500),
            (Verdict::Received, 500),
            (Verdict::Valid, 500),
            (Verdict::Duplicate, 500),
        ];
        assert_eq!(table.len(), Verdict::ALL.len());
        for (verdict, status) in table {
            let reply = Judgement::Refused(Refused::new(verdict, "why", None)).reply();
            assert_eq!(reply.status.as_u16(), status, "{verdict}");
            let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(body["error"], answer_for(verdict));
            assert_eq!(reply.content_type, Some("application/json"));
        }
        assert_eq!(Reply::unavailable().status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
