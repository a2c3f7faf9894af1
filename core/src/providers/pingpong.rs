//! PingPong Checkout: flat dispute notifications keyed by `eventCode`, and
//! wrapped transaction, refund and pre-authorization notifications (fields
//! under a `bizContent` JSON string). Both are signed inside the body: `sign`
//! is the hex SHA-256 (or MD5) of the salt followed by the other fields as
//! sorted `k=v` pairs joined by `&`. The acknowledgement is HTTP 200 with an
//! empty body.

pub mod defence;
pub mod query;
pub mod respond;

use std::collections::BTreeMap;

use md5::Md5;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    keys::Salt,
    profile::{self, Field, Profile, QueryApi},
    wire::{from_json, from_json_in, money, required, text_of, Text},
    Ack, Notification, ParseContext, Parsed, Refusal, Verified,
};
use crate::domain::evidence::{DocumentKind, FileKind};
use crate::domain::{
    time, AddressPreset, DisputeRef, Effect, EventKey, NormalizedEvent, PaymentEvent, ProviderKind,
    ProviderTime, Stage, Status,
};

pub const ACK: Ack = Ack {
    content_type: None,
    body: "",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignType {
    Sha256,
    Md5,
}

pub const PROFILE: Profile = Profile {
    kind: ProviderKind::PingPong,
    account: Field {
        label: "Account id (accId)",
        import_name: "acc_id",
    },
    app_id: None,
    verification_key: profile::SALT,
    signs_queries: false,
    sender_presets: &[
        // PingPong Checkout's documented notification servers.
        AddressPreset {
            name: "pingpong-production",
            addresses: &[
                "3.125.243.2",
                "3.126.196.22",
                "18.195.199.34",
                "188.239.12.25",
            ],
        },
        AddressPreset {
            name: "pingpong-sandbox",
            addresses: &["52.76.198.228"],
        },
    ],
    query_api: QueryApi {
        production: "https://acquirer-payment.pingpongx.com",
        sandbox: "https://sandbox-acquirer-payment.pingpongx.com",
    },
    evidence_types: &[FileKind::Pdf, FileKind::Jpeg, FileKind::Png, FileKind::Tiff],
    lists_needs: true,
    takes_summary: false,
};

/// An answer to one of our requests, which asked for SHA-256, may not pick
/// the weaker digest that notifications still accept.
fn answer_signed_with_sha256(sign_type: &Text) -> Result<(), Refusal> {
    if sign_type
        .get()
        .is_some_and(|t| t.eq_ignore_ascii_case("SHA256"))
    {
        Ok(())
    } else {
        Err(Refusal::BadSignature(
            "the answer is not signed with SHA256".into(),
        ))
    }
}

/// PingPong's code for a kind of document (its `CBDocTypeCodeEnum`, which
/// follows Adyen's `defenseDocumentTypeCode`), and back.
pub fn document_code(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Invoice => "TIDorInvoice",
        DocumentKind::Shipping => "LogisticInfo",
        DocumentKind::ProductDescription => "GoodsWereAsDescribed",
        DocumentKind::DeliveryPhoto => "ImageofGoodDeliverd",
        DocumentKind::CardholderLetter => "CardholderSignLetter",
        DocumentKind::CustomerCommunication => "CustomerContactInfo",
        DocumentKind::RefundPolicy => "CancelRefundPolicy",
        DocumentKind::Other => "DefendMaterial",
    }
}

/// The kind of document PingPong's code names, if it is one of its codes.
pub fn document_kind(code: &str) -> Option<DocumentKind> {
    DocumentKind::ALL
        .iter()
        .copied()
        .find(|kind| document_code(*kind) == code)
}

#[derive(Debug, Clone)]
pub struct PingPong {
    salts: Vec<Salt>,
}

impl PingPong {
    pub fn new(salts: Vec<Salt>) -> Self {
        Self { salts }
    }

    /// Checks `sign` against every salt of the connection.
    pub fn verify<'a>(&self, body: &'a [u8]) -> Result<Verified<'a>, Refusal> {
        let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body)
            .map_err(|e| Refusal::Malformed(format!("the body is not a JSON object: {e}")))?;
        let given = fields
            .get("sign")
            .and_then(|v| text_of(v))
            .ok_or_else(|| Refusal::MissingSignature("the body has no sign field".into()))?;
        let sign_type = match fields.get("signType").and_then(|v| text_of(v)) {
            None => SignType::Sha256,
            Some(t) if t.eq_ignore_ascii_case("SHA256") => SignType::Sha256,
            Some(t) if t.eq_ignore_ascii_case("MD5") => SignType::Md5,
            Some(other) => {
                return Err(Refusal::BadSignature(format!(
                    "signType {other:?} is neither SHA256 nor MD5"
                )))
            }
        };
        let content = signed_content(&fields);
        let given = given.trim().to_ascii_lowercase();
        self.salts
            .iter()
            .find(|salt| {
                let expected = digest_hex(sign_type, salt.expose(), &content).to_ascii_lowercase();
                bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
            })
            .map(|salt| Verified::new(body, salt.fingerprint()))
            .ok_or_else(|| {
                Refusal::tried(
                    &self
                        .salts
                        .iter()
                        .map(|s| s.fingerprint())
                        .collect::<Vec<_>>(),
                )
            })
    }
}

/// A JSON object signed as PingPong signs its notifications and its query
/// answers, and as the merchant signs status queries: the object's fields
/// with `sign` set to the SHA-256 of the salt and the signed content.
/// (Numbers are written as `serde_json` writes them: `12.50` becomes `12.5`,
/// so amounts that must keep their text go in as strings, as PingPong's do.)
pub fn sign(salt: &str, fields: &serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    let mut raw: BTreeMap<String, Box<RawValue>> = fields
        .iter()
        .filter(|(name, _)| name.as_str() != "sign")
        .map(|(name, value)| {
            let json = RawValue::from_string(value.to_string()).expect("a JSON value is JSON");
            (name.clone(), json)
        })
        .collect();
    let sign = digest_hex(SignType::Sha256, salt, &signed_content(&raw));
    raw.insert(
        "sign".into(),
        RawValue::from_string(format!("\"{sign}\"")).expect("hex is a JSON string"),
    );
    serde_json::to_vec(&raw).expect("raw JSON values serialize")
}

/// The string PingPong signs (after the salt): every field but `sign`,
/// sorted by name, null and empty values left out, strings as they are and
/// other values as their JSON text.
pub fn signed_content(fields: &BTreeMap<String, Box<RawValue>>) -> String {
    fields
        .iter()
        .filter(|(name, _)| name.as_str() != "sign")
        .filter_map(|(name, value)| text_of(value).map(|text| format!("{name}={text}")))
        .collect::<Vec<_>>()
        .join("&")
}

/// Upper-case hex digest of salt + content, as PingPong writes it.
pub fn digest_hex(sign_type: SignType, salt: &str, content: &str) -> String {
    let bytes = match sign_type {
        SignType::Sha256 => Sha256::new()
            .chain_update(salt)
            .chain_update(content)
            .finalize()
            .to_vec(),
        SignType::Md5 => Md5::new()
            .chain_update(salt)
            .chain_update(content)
            .finalize()
            .to_vec(),
    };
    hex::encode_upper(bytes)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notice {
    #[serde(default)]
    acc_id: Text,
    #[serde(default)]
    event_code: Text,
    /// A whole payment notification as a JSON string; its fields are
    /// bounded one by one when it is read.
    #[serde(default)]
    biz_content: Text<65536>,
    #[serde(default)]
    dispute_psp_reference: Text,
    #[serde(default)]
    merchant_reference: Text,
    #[serde(default)]
    original_reference: Text,
    #[serde(default)]
    chargeback_status: Text,
    #[serde(default)]
    currency: Text,
    #[serde(default)]
    amount: Text,
    #[serde(default)]
    event_date: Text,
    #[serde(default)]
    reason: Text,
    #[serde(default)]
    chargeback_reason_code: Text,
    #[serde(default)]
    defense_period_ends_at: Text,
}

/// The fields of a transaction, refund, capture or void notification.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentNotice {
    #[serde(default)]
    notify_type: Text,
    #[serde(default)]
    status: Text,
    #[serde(default)]
    transaction_id: Text,
    #[serde(default)]
    merchant_transaction_id: Text,
    #[serde(default)]
    amount: Text,
    #[serde(default)]
    currency: Text,
    #[serde(default)]
    transaction_time: Text,
    #[serde(default)]
    refund_time: Text,
    #[serde(default)]
    capture_time: Text,
    #[serde(default)]
    void_time: Text,
    #[serde(default)]
    refund_id: Text,
    #[serde(default)]
    merchant_refund_id: Text,
    #[serde(default)]
    merchant_capture_id: Text,
    #[serde(default)]
    merchant_void_id: Text,
}

/// What each `eventCode` does, and whether its `defensePeriodEndsAt` is a
/// deadline.
fn effect_of(event_code: &str) -> (Effect, bool) {
    use Stage::*;
    use Status::*;
    match event_code {
        "NOTIFICATION_OF_FRAUD" => (Effect::Sets(FraudAlert, NeedsResponse), false),
        "REQUEST_FOR_INFORMATION" => (Effect::Sets(Inquiry, NeedsResponse), true),
        "NOTIFICATION_OF_CHARGEBACK" => (Effect::Sets(Chargeback, NeedsResponse), true),
        "CHARGEBACK_RETURN" => (Effect::Sets(Chargeback, Lost), false),
        "CHARGEBACK_REVERSED" => (Effect::Sets(Chargeback, Won), false),
        "PREARBITRATION" => (Effect::Sets(PreArbitration, NeedsResponse), true),
        "PREARBITRATION_WON" => (Effect::Sets(PreArbitration, Won), false),
        "PREARBITRATION_LOST" => (Effect::Sets(PreArbitration, Lost), false),
        "ARBITRATION" => (Effect::Sets(Arbitration, UnderReview), false),
        "DISPUTE_DEFENSE_PERIOD_ENDED" => (Effect::ExpiresCurrentStage, false),
        _ => (Effect::None, false),
    }
}

fn malformed(what: impl std::fmt::Display) -> Refusal {
    Refusal::Malformed(what.to_string())
}

pub fn parse(body: &[u8], ctx: &ParseContext) -> Result<Parsed, Refusal> {
    let notice: Notice = from_json(body)?;
    ctx.check_account("accId", notice.acc_id.get())?;
    let notification = if notice.event_code.get().is_some() {
        Notification::Dispute(dispute_event(notice, ctx)?)
    } else if let Some(biz_content) = notice.biz_content.get() {
        Notification::Payment(payment_event(biz_content)?)
    } else {
        return Err(malformed(
            "the body has neither eventCode (a dispute) nor bizContent (a payment)",
        ));
    };
    Ok(Parsed {
        notification,
        ack: ACK,
    })
}

fn dispute_event(notice: Notice, ctx: &ParseContext) -> Result<NormalizedEvent, Refusal> {
    let reference = required("disputePspReference", &notice.dispute_psp_reference)?;
    let code = required("eventCode", &notice.event_code)?;
    let date = required("eventDate", &notice.event_date)?;
    let (effect, has_deadline) = effect_of(code);
    let occurred_at = time::local_date_time(date, &ctx.zone).map_err(malformed)?;
    let deadline = match notice.defense_period_ends_at.get().filter(|_| has_deadline) {
        Some(text) => Some(ProviderTime {
            at: time::local_date_time(text, &ctx.zone).map_err(malformed)?,
            text: text.to_owned(),
        }),
        None => None,
    };
    Ok(NormalizedEvent {
        dispute_ref: DisputeRef::parse(reference).map_err(malformed)?,
        key: EventKey::from_parts(&[reference, code, date]),
        kind: code.to_owned(),
        effect,
        occurred_at: Some(ProviderTime {
            at: occurred_at,
            text: date.to_owned(),
        }),
        deadline,
        amount: money(&notice.amount, &notice.currency)?,
        reason: notice.reason.into_inner(),
        reason_code: notice.chargeback_reason_code.into_inner(),
        provider_status: notice.chargeback_status.into_inner(),
        payment_reference: notice.original_reference.into_inner(),
        merchant_reference: notice.merchant_reference.into_inner(),
    })
}

fn payment_event(biz_content: &str) -> Result<PaymentEvent, Refusal> {
    let p: PaymentNotice = from_json_in("bizContent", biz_content.as_bytes())?;
    let kind = required("bizContent.notifyType", &p.notify_type)?.to_owned();
    let status = required("bizContent.status", &p.status)?.to_owned();
    let transaction = required("bizContent.transactionId", &p.transaction_id)?.to_owned();
    let operation = [
        &p.refund_id,
        &p.merchant_refund_id,
        &p.merchant_capture_id,
        &p.merchant_void_id,
    ]
    .into_iter()
    .find_map(|t| t.get().map(str::to_owned));
    let occurred_at = [
        &p.refund_time,
        &p.capture_time,
        &p.void_time,
        &p.transaction_time,
    ]
    .into_iter()
    .find_map(|t| t.get())
    .and_then(|text| {
        let at = match text.parse::<i64>() {
            Ok(millis) => time::epoch_millis(millis).ok(),
            Err(_) => time::rfc3339(text).ok(),
        };
        at.map(|at| ProviderTime {
            at,
            text: text.to_owned(),
        })
    });
    Ok(PaymentEvent {
        key: EventKey::from_parts(&[
            &kind,
            &transaction,
            operation.as_deref().unwrap_or(""),
            &status,
        ]),
        amount: money(&p.amount, &p.currency)?,
        kind,
        status,
        payment_reference: transaction,
        merchant_reference: p.merchant_transaction_id.into_inner(),
        operation_reference: operation,
        occurred_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::test_support::{case, key_file};
    use jiff::tz::TimeZone;
    use secrecy::SecretString;

    fn salt(text: &str) -> Salt {
        Salt::parse(
            &SecretString::from(text),
            &crate::providers::keys::tests::test_fingerprints(),
        )
        .unwrap()
    }

    fn fixture_salt() -> Salt {
        salt(&key_file("pingpong-salt.txt"))
    }

    fn connector() -> PingPong {
        PingPong::new(vec![fixture_salt()])
    }

    fn ctx() -> ParseContext {
        ParseContext {
            zone: TimeZone::UTC,
            account_id: Some("2022102018024210348882".into()),
        }
    }

    #[test]
    fn what_sign_signs_verifies_with_the_same_salt_only() {
        let fields = serde_json::json!({"accId": "1", "amount": 12.50, "sign": "stale"});
        let body = sign("SALTSALT", fields.as_object().unwrap());
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.contains(r#""amount":12.5"#), "{text}");
        assert!(!text.contains("stale"));
        assert!(PingPong::new(vec![salt("SALTSALT")]).verify(&body).is_ok());
        assert!(PingPong::new(vec![salt("OTHERSALT")])
            .verify(&body)
            .is_err());
    }

    fn resign(body: &[u8], salt: &str, transform: impl Fn(String) -> String) -> Vec<u8> {
        let mut fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body).unwrap();
        let sign = transform(digest_hex(SignType::Sha256, salt, &signed_content(&fields)));
        fields.insert(
            "sign".into(),
            RawValue::from_string(format!("\"{sign}\"")).unwrap(),
        );
        serde_json::to_vec(&fields).unwrap()
    }

    #[test]
    fn every_valid_fixture_verifies_with_the_salt() {
        for id in [
            "pp-rfi",
            "pp-chargeback",
            "pp-reversed",
            "pp-prearbitration",
            "pp-prearbitration-lost",
            "pp-fraud-alert",
            "pp-arbitration",
            "pp-unknown-event",
        ] {
            let (body, _) = case(id);
            let verified = connector()
                .verify(&body)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(verified.key(), fixture_salt().fingerprint());
        }
    }

    #[test]
    fn a_known_answer() {
        let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_str(
            r#"{"b":"2","a":"x y","n":12.50,"t":true,"e":"","z":null,"sign":"ignored"}"#,
        )
        .unwrap();
        assert_eq!(signed_content(&fields), "a=x y&b=2&n=12.50&t=true");
        // Computed independently: sha256 and md5 of "SALTa=x y&b=2&n=12.50&t=true".
        assert_eq!(
            digest_hex(SignType::Sha256, "SALT", &signed_content(&fields)),
            "B6BC53564C5FA893DE2566BB8FDC351735DACDFFCB6FB8436844375EA6946C6F"
        );
        assert_eq!(
            digest_hex(SignType::Md5, "SALT", &signed_content(&fields)),
            "222C53BFE9BF6626777EDA21A4709902"
        );
    }

    #[test]
    fn tampered_wrong_salt_and_missing_sign_fixtures_are_refused() {
        for (id, verdict) in [
            ("pp-tampered", crate::domain::Verdict::BadSignature),
            ("pp-wrong-salt", crate::domain::Verdict::BadSignature),
            ("pp-missing-sign", crate::domain::Verdict::MissingSignature),
            ("pp-broken-json", crate::domain::Verdict::Malformed),
        ] {
            let (body, _) = case(id);
            assert_eq!(
                connector().verify(&body).unwrap_err().verdict(),
                verdict,
                "{id}"
            );
        }
    }

    #[test]
    fn one_changed_byte_breaks_the_signature() {
        let (body, _) = case("pp-rfi");
        let text = String::from_utf8(body).unwrap().replace("129.90", "129.91");
        let err = connector().verify(text.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            Refusal::BadSignature(format!(
                "the signature does not match key {}",
                fixture_salt().fingerprint()
            ))
        );
    }

    #[test]
    fn the_sign_may_be_lower_case_or_padded_with_spaces() {
        let (body, _) = case("pp-rfi");
        let salt = key_file("pingpong-salt.txt");
        let lower = resign(&body, salt.trim(), |s| s.to_ascii_lowercase());
        let padded = resign(&body, salt.trim(), |s| format!(" {s} "));
        assert!(connector().verify(&lower).is_ok());
        assert!(connector().verify(&padded).is_ok());
        // The fixture pp-reversed carries the provider's trailing space.
        assert!(connector().verify(&case("pp-reversed").0).is_ok());
    }

    #[test]
    fn md5_signatures_are_accepted_when_sign_type_says_md5() {
        let body = br#"{"accId":"1","eventCode":"X","signType":"MD5"}"#;
        let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body).unwrap();
        let sign = digest_hex(SignType::Md5, "SALTSALT", &signed_content(&fields));
        let signed = format!(r#"{{"accId":"1","eventCode":"X","signType":"MD5","sign":"{sign}"}}"#);
        assert!(PingPong::new(vec![salt("SALTSALT")])
            .verify(signed.as_bytes())
            .is_ok());
        // Signed as MD5 would sign it, but naming another algorithm.
        let sha1 = br#"{"accId":"1","eventCode":"X","signType":"SHA1"}"#;
        let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(sha1).unwrap();
        let sign = digest_hex(SignType::Md5, "SALTSALT", &signed_content(&fields));
        let unknown =
            format!(r#"{{"accId":"1","eventCode":"X","signType":"SHA1","sign":"{sign}"}}"#);
        assert_eq!(
            PingPong::new(vec![salt("SALTSALT")])
                .verify(unknown.as_bytes())
                .unwrap_err(),
            Refusal::BadSignature("signType \"SHA1\" is neither SHA256 nor MD5".into())
        );
    }

    #[test]
    fn during_rotation_either_salt_verifies() {
        let (body, _) = case("pp-rfi");
        let next = salt("NEXTSALT0000000000000000");
        let rotating = PingPong::new(vec![next.clone(), fixture_salt()]);
        assert_eq!(
            rotating.verify(&body).unwrap().key(),
            fixture_salt().fingerprint()
        );
        let err = PingPong::new(vec![next]).verify(&body).unwrap_err();
        assert!(matches!(err, Refusal::BadSignature(_)));
    }

    #[test]
    fn without_a_salt_everything_is_refused() {
        let (body, _) = case("pp-rfi");
        assert_eq!(
            PingPong::new(Vec::new()).verify(&body).unwrap_err(),
            Refusal::BadSignature("the connection has no verification key configured".into())
        );
    }

    #[test]
    fn a_retrieval_request_is_normalized() {
        let (body, _) = case("pp-rfi");
        let verified = connector().verify(&body).unwrap();
        let parsed = parse(verified.body, &ctx()).unwrap();
        assert_eq!(parsed.ack, ACK);
        let Notification::Dispute(event) = parsed.notification else {
            panic!("a dispute")
        };
        assert_eq!(event.dispute_ref.as_str(), "202303071954574059");
        assert_eq!(event.kind, "REQUEST_FOR_INFORMATION");
        assert_eq!(
            event.effect,
            Effect::Sets(Stage::Inquiry, Status::NeedsResponse)
        );
        assert_eq!(
            event.occurred_at.unwrap().at.to_string(),
            "2023-03-07T19:54:58Z"
        );
        let deadline = event.deadline.unwrap();
        assert_eq!(deadline.at.to_string(), "2023-03-17T23:59:59Z");
        assert_eq!(deadline.text, "2023-03-17 23:59:59");
        assert_eq!(event.amount.unwrap().normalized(), "129.90");
        assert_eq!(event.reason.as_deref(), Some("Merchandise Not Received"));
        assert_eq!(event.reason_code.as_deref(), Some("13.1"));
        assert_eq!(event.provider_status.as_deref(), Some("PENDING"));
        assert_eq!(
            event.payment_reference.as_deref(),
            Some("PS23030716214681886")
        );
        assert_eq!(
            event.merchant_reference.as_deref(),
            Some("PShop20230307162139KX")
        );
    }

    #[test]
    fn every_event_code_maps_as_the_contract_says() {
        use Stage::*;
        use Status::*;
        let table = [
            (
                "NOTIFICATION_OF_FRAUD",
                Effect::Sets(FraudAlert, NeedsResponse),
            ),
            (
                "REQUEST_FOR_INFORMATION",
                Effect::Sets(Inquiry, NeedsResponse),
            ),
            (
                "NOTIFICATION_OF_CHARGEBACK",
                Effect::Sets(Chargeback, NeedsResponse),
            ),
            ("CHARGEBACK_RETURN", Effect::Sets(Chargeback, Lost)),
            ("CHARGEBACK_REVERSED", Effect::Sets(Chargeback, Won)),
            (
                "PREARBITRATION",
                Effect::Sets(PreArbitration, NeedsResponse),
            ),
            ("PREARBITRATION_WON", Effect::Sets(PreArbitration, Won)),
            ("PREARBITRATION_LOST", Effect::Sets(PreArbitration, Lost)),
            ("ARBITRATION", Effect::Sets(Arbitration, UnderReview)),
            ("DISPUTE_DEFENSE_PERIOD_ENDED", Effect::ExpiresCurrentStage),
            ("ISSUER_COMMENTS", Effect::None),
        ];
        for (code, effect) in table {
            assert_eq!(effect_of(code).0, effect, "{code}");
        }
    }

    #[test]
    fn local_times_are_read_in_the_connections_zone() {
        let (body, _) = case("pp-rfi");
        let zoned = ParseContext {
            zone: TimeZone::get("Asia/Shanghai").unwrap(),
            ..ctx()
        };
        let Notification::Dispute(event) = parse(&body, &zoned).unwrap().notification else {
            panic!()
        };
        assert_eq!(
            event.occurred_at.unwrap().at.to_string(),
            "2023-03-07T11:54:58Z"
        );
    }

    #[test]
    fn another_accounts_notification_is_refused() {
        let (body, _) = case("pp-rfi");
        let other = ParseContext {
            account_id: Some("999".into()),
            ..ctx()
        };
        assert!(matches!(parse(&body, &other), Err(Refusal::Malformed(m)) if m.contains("accId")));
    }

    #[test]
    fn a_dispute_without_its_reference_names_the_missing_field() {
        let body = br#"{"eventCode":"PREARBITRATION","eventDate":"2023-01-01 00:00:00"}"#;
        assert_eq!(
            parse(body, &ctx()).unwrap_err(),
            Refusal::Malformed("required field disputePspReference is missing".into())
        );
    }

    #[test]
    fn a_refund_notification_is_a_payment_event() {
        let biz = r#"{"amount":"10.00","refundTime":"1678215600000","merchantTransactionId":"PShop1","transactionId":"PS1","refundId":"R1","currency":"USD","notifyType":"REFUND","status":"SUCCESS"}"#;
        let body = serde_json::json!({"accId": "2022102018024210348882", "bizContent": biz, "signType": "SHA256"});
        let parsed = parse(body.to_string().as_bytes(), &ctx()).unwrap();
        assert_eq!(parsed.ack, ACK);
        let Notification::Payment(payment) = parsed.notification else {
            panic!("a payment")
        };
        assert_eq!(payment.kind, "REFUND");
        assert_eq!(payment.status, "SUCCESS");
        assert_eq!(payment.payment_reference, "PS1");
        assert_eq!(payment.merchant_reference.as_deref(), Some("PShop1"));
        assert_eq!(payment.operation_reference.as_deref(), Some("R1"));
        assert_eq!(payment.amount.unwrap().normalized(), "10.00");
        assert_eq!(
            payment.occurred_at.unwrap().at.to_string(),
            "2023-03-07T19:00:00Z"
        );
    }

    #[test]
    fn a_wrapped_notification_is_verified_over_the_biz_content_string() {
        let biz = r#"{"transactionId":"PS1","notifyType":"RECHARGE","status":"SUCCESS"}"#;
        let mut fields: BTreeMap<String, Box<RawValue>> = BTreeMap::new();
        for (k, v) in [("accId", "\"1\""), ("signType", "\"SHA256\"")] {
            fields.insert(k.into(), RawValue::from_string(v.into()).unwrap());
        }
        fields.insert(
            "bizContent".into(),
            RawValue::from_string(serde_json::to_string(biz).unwrap()).unwrap(),
        );
        assert!(signed_content(&fields).contains(&format!("bizContent={biz}")));
        let body = resign(&serde_json::to_vec(&fields).unwrap(), "SALTSALT", |s| s);
        assert!(PingPong::new(vec![salt("SALTSALT")]).verify(&body).is_ok());
    }

    #[test]
    fn every_kind_of_document_has_its_own_code() {
        for kind in DocumentKind::ALL {
            assert_eq!(document_kind(document_code(*kind)), Some(*kind));
        }
        assert_eq!(document_kind("TIDorInvoice"), Some(DocumentKind::Invoice));
        assert_eq!(document_kind("tidorinvoice"), None);
    }
}
