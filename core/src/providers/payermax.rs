//! PayerMax: chargeback notifications in two shapes — the old flat one and
//! the current one with the case under `data` — signed with RSASSA-PKCS1-v1_5
//! SHA-256 over the exact body in the `sign` header. Each shape has its own
//! acknowledgement.

pub mod query;
pub mod respond;

use http::HeaderMap;
use serde::Deserialize;

use super::{
    keys::VerificationKey,
    profile::{self, Field, Profile, QueryApi},
    verify_rsa,
    wire::{from_json, money, required, Text},
    Ack, Notification, ParseContext, Parsed, Refusal, Verified,
};
use crate::domain::evidence::FileKind;
use crate::domain::{
    time, DisputeRef, Effect, EventKey, NormalizedEvent, ProviderKind, ProviderTime, Stage, Status,
};

/// For the old, flat notifications.
pub const FLAT_ACK: Ack = Ack {
    content_type: Some("application/json"),
    body: r#"{"bizCode":"0000","message":"success"}"#,
};

/// For the current notifications, with the case under `data`.
pub const WRAPPED_ACK: Ack = Ack {
    content_type: Some("application/json"),
    body: r#"{"code":"SUCCESS","msg":"Success"}"#,
};

pub const PROFILE: Profile = Profile {
    kind: ProviderKind::PayerMax,
    account: Field {
        label: "Merchant number (merchantNo)",
        import_name: "merchant_no",
    },
    app_id: Some(Field {
        label: "App id (appId)",
        import_name: "app_id",
    }),
    verification_key: profile::RSA_PUBLIC_KEY,
    signs_queries: true,
    sender_presets: &[],
    query_api: QueryApi {
        production: "https://pay-gate.payermax.com",
        sandbox: "https://pay-gate-uat.payermax.com",
    },
    evidence_types: &[
        FileKind::Pdf,
        FileKind::Jpeg,
        FileKind::Png,
        FileKind::Zip,
        FileKind::Office97,
    ],
    lists_needs: false,
    takes_summary: true,
};

#[derive(Debug, Clone)]
pub struct PayerMax {
    keys: Vec<VerificationKey>,
}

impl PayerMax {
    pub fn new(keys: Vec<VerificationKey>) -> Self {
        Self { keys }
    }

    pub fn verify<'a>(&self, headers: &HeaderMap, body: &'a [u8]) -> Result<Verified<'a>, Refusal> {
        verify_rsa(&self.keys, headers, body)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wrapper {
    data: Option<Case>,
    #[serde(default)]
    merchant_no: Text,
    #[serde(default)]
    notify_time: Text,
    #[serde(default)]
    notify_type: Text,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    #[serde(default)]
    case_id: Text,
    #[serde(default)]
    status: Text,
    #[serde(default)]
    case_result: Text,
    #[serde(default)]
    expiration_date: Text,
    #[serde(default)]
    amount: Text,
    #[serde(default)]
    currency: Text,
    /// maxLength 64 and 512 in PayerMax's documents.
    #[serde(default)]
    reason_code: Text<64>,
    #[serde(default)]
    reason_message: Text<512>,
    #[serde(default)]
    out_trade_no: Text,
    #[serde(default)]
    trade_token: Text,
    #[serde(default)]
    merchant_no: Text,
}

fn malformed(what: impl std::fmt::Display) -> Refusal {
    Refusal::Malformed(what.to_string())
}

/// What a case's `status` (with `caseResult`) does; whether it is a fraud
/// report decides the stage of an inquiry.
fn effect_of(status: &str, result: Option<&str>, fraud: bool) -> Effect {
    use Status::*;
    let stage = Stage::Chargeback;
    match (status, result) {
        ("DISPUTE_INQUIRY", _) if fraud => Effect::Sets(Stage::FraudAlert, NeedsResponse),
        ("DISPUTE_INQUIRY", _) => Effect::Sets(stage, NeedsResponse),
        ("DISPUTE_RECEIVED", _) | ("DISPUTE_END", None) => Effect::Sets(stage, UnderReview),
        ("DISPUTE_END" | "CASE_CLOSED", Some("WIN")) => Effect::Sets(stage, Won),
        ("DISPUTE_END" | "CASE_CLOSED", Some("FAIL")) => Effect::Sets(stage, Lost),
        // Both spellings appear in PayerMax's documents.
        ("CASE_CANCEL" | "CASE_CANCELL", _) => Effect::Sets(stage, Cancelled),
        _ => Effect::None,
    }
}

pub fn parse(body: &[u8], ctx: &ParseContext) -> Result<Parsed, Refusal> {
    let wrapper: Wrapper = from_json(body)?;
    let (case, ack, occurred_at, fraud) = match wrapper.data {
        Some(case) => {
            ctx.check_account("merchantNo", wrapper.merchant_no.get())?;
            let occurred_at = match wrapper.notify_time.get() {
                Some(text) => Some(ProviderTime {
                    at: time::rfc3339(text).map_err(malformed)?,
                    text: text.to_owned(),
                }),
                None => None,
            };
            let fraud = wrapper.notify_type.get() == Some("FRAUD");
            (case, WRAPPED_ACK, occurred_at, fraud)
        }
        None => {
            let case: Case = from_json(body)?;
            ctx.check_account("merchantNo", case.merchant_no.get())?;
            // The flat shape carries no time of its own: the receipt time is used.
            (case, FLAT_ACK, None, false)
        }
    };
    let case_id = required("caseId", &case.case_id)?;
    let status = required("status", &case.status)?;
    let result = case.case_result.get();
    let effect = effect_of(status, result, fraud);
    let deadline = match case.expiration_date.get() {
        Some(text) if effect.status() == Some(Status::NeedsResponse) => Some(ProviderTime {
            at: time::end_of_local_day(text, &ctx.zone).map_err(malformed)?,
            text: text.to_owned(),
        }),
        _ => None,
    };
    let amount = money(&case.amount, &case.currency)?;
    let event = NormalizedEvent {
        dispute_ref: DisputeRef::parse(case_id).map_err(malformed)?,
        key: EventKey::from_parts(&[case_id, status, result.unwrap_or("")]),
        kind: status.to_owned(),
        effect,
        occurred_at,
        deadline,
        amount,
        reason: case.reason_message.into_inner(),
        reason_code: case.reason_code.into_inner(),
        provider_status: result
            .map(|r| format!("{status} {r}"))
            .or(Some(status.to_owned())),
        payment_reference: case.trade_token.into_inner(),
        merchant_reference: case.out_trade_no.into_inner(),
    };
    Ok(Parsed {
        notification: Notification::Dispute(event),
        ack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::Verdict,
        providers::test_support::{case, key},
    };
    use jiff::tz::TimeZone;

    fn connector() -> PayerMax {
        PayerMax::new(vec![key("payermax-public.b64")])
    }

    fn ctx() -> ParseContext {
        ParseContext {
            zone: TimeZone::UTC,
            account_id: Some("SDP01010114524460".into()),
        }
    }

    fn event(id: &str) -> (NormalizedEvent, Ack) {
        let (body, headers) = case(id);
        let verified = connector().verify(&headers, &body).unwrap();
        let parsed = parse(verified.body, &ctx()).unwrap();
        let Notification::Dispute(event) = parsed.notification else {
            panic!("a dispute")
        };
        (event, parsed.ack)
    }

    #[test]
    fn flat_and_wrapped_fixtures_verify() {
        for id in [
            "pm-inquiry-flat",
            "pm-closed-win-flat",
            "pm-inquiry-wrapped",
            "pm-received-wrapped",
            "pm-closed-fail-wrapped",
        ] {
            let (body, headers) = case(id);
            assert!(connector().verify(&headers, &body).is_ok(), "{id}");
        }
    }

    #[test]
    fn tampered_missing_and_other_connection_signatures_are_refused() {
        for (id, verdict) in [
            ("pm-tampered", Verdict::BadSignature),
            ("pm-missing-sign", Verdict::MissingSignature),
            ("pm-wrong-connection-key", Verdict::BadSignature),
        ] {
            let (body, headers) = case(id);
            assert_eq!(
                connector().verify(&headers, &body).unwrap_err().verdict(),
                verdict,
                "{id}"
            );
        }
    }

    #[test]
    fn a_signature_with_whitespace_in_its_base64_still_verifies() {
        let (body, mut headers) = case("pm-received-wrapped");
        let sign = headers["sign"].to_str().unwrap().to_owned();
        let (head, tail) = sign.split_at(76);
        headers.insert(
            "sign",
            http::HeaderValue::from_str(&format!(" {head}  {tail} ")).unwrap(),
        );
        assert!(connector().verify(&headers, &body).is_ok());
    }

    #[test]
    fn the_key_may_be_bare_der_or_pem_and_two_may_be_active() {
        let (body, headers) = case("pm-inquiry-wrapped");
        let bare = key("payermax-public.b64");
        let pem = VerificationKey::parse(&bare.to_pem()).unwrap();
        assert!(PayerMax::new(vec![pem]).verify(&headers, &body).is_ok());
        let rotating = PayerMax::new(vec![key("botim-money-public.pem"), bare.clone()]);
        assert_eq!(
            rotating.verify(&headers, &body).unwrap().key(),
            bare.fingerprint()
        );
        assert!(PayerMax::new(vec![]).verify(&headers, &body).is_err());
    }

    #[test]
    fn a_flat_inquiry_has_no_time_of_its_own_and_the_old_acknowledgement() {
        let (event, ack) = event("pm-inquiry-flat");
        assert_eq!(ack, FLAT_ACK);
        assert_eq!(event.dispute_ref.as_str(), "O20230412074414033194005231");
        assert_eq!(
            event.effect,
            Effect::Sets(Stage::Chargeback, Status::NeedsResponse)
        );
        assert_eq!(event.occurred_at, None);
        assert_eq!(
            event.deadline.unwrap().at.to_string(),
            "2023-04-26T23:59:59Z"
        );
        assert_eq!(event.amount.unwrap().normalized(), "20000.00");
        assert_eq!(event.reason_code.as_deref(), Some("13.3"));
    }

    #[test]
    fn a_wrapped_notification_has_the_current_acknowledgement_and_its_notify_time() {
        let (event, ack) = event("pm-closed-fail-wrapped");
        assert_eq!(ack, WRAPPED_ACK);
        assert_eq!(event.effect, Effect::Sets(Stage::Chargeback, Status::Lost));
        assert_eq!(
            event.occurred_at.unwrap().at.to_string(),
            "2023-06-02T08:30:00Z"
        );
        assert_eq!(event.deadline, None, "no deadline once decided");
        assert_eq!(
            event.key,
            EventKey::from_parts(&["O20230501010101000000000042", "CASE_CLOSED", "FAIL"])
        );
    }

    #[test]
    fn statuses_map_as_the_contract_says() {
        use Stage::*;
        use Status::*;
        let table = [
            (
                "DISPUTE_INQUIRY",
                None,
                false,
                Effect::Sets(Chargeback, NeedsResponse),
            ),
            (
                "DISPUTE_INQUIRY",
                None,
                true,
                Effect::Sets(FraudAlert, NeedsResponse),
            ),
            (
                "DISPUTE_RECEIVED",
                None,
                false,
                Effect::Sets(Chargeback, UnderReview),
            ),
            (
                "DISPUTE_END",
                None,
                false,
                Effect::Sets(Chargeback, UnderReview),
            ),
            (
                "DISPUTE_END",
                Some("WIN"),
                false,
                Effect::Sets(Chargeback, Won),
            ),
            (
                "CASE_CLOSED",
                Some("WIN"),
                false,
                Effect::Sets(Chargeback, Won),
            ),
            (
                "DISPUTE_END",
                Some("FAIL"),
                false,
                Effect::Sets(Chargeback, Lost),
            ),
            (
                "CASE_CLOSED",
                Some("FAIL"),
                false,
                Effect::Sets(Chargeback, Lost),
            ),
            (
                "CASE_CANCEL",
                None,
                false,
                Effect::Sets(Chargeback, Cancelled),
            ),
            (
                "CASE_CANCELL",
                None,
                false,
                Effect::Sets(Chargeback, Cancelled),
            ),
            ("CASE_CLOSED", None, false, Effect::None),
            ("SOMETHING_NEW", None, false, Effect::None),
        ];
        for (status, result, fraud, effect) in table {
            assert_eq!(
                effect_of(status, result, fraud),
                effect,
                "{status} {result:?}"
            );
        }
    }

    #[test]
    fn a_wrapped_inquiry_reported_as_fraud_is_a_fraud_alert() {
        let body = |notify_type: &str| {
            serde_json::json!({
                "merchantNo": "SDP01010114524460",
                "notifyTime": "2023-04-12T03:35:48.000Z",
                "notifyType": notify_type,
                "data": {"caseId": "C1", "status": "DISPUTE_INQUIRY"},
            })
            .to_string()
        };
        let stage = |notify_type: &str| match parse(body(notify_type).as_bytes(), &ctx())
            .unwrap()
            .notification
        {
            Notification::Dispute(event) => event.effect.stage(),
            Notification::Payment(_) => panic!("a dispute"),
        };
        assert_eq!(stage("FRAUD"), Some(Stage::FraudAlert));
        assert_eq!(stage("CHARGEBACK"), Some(Stage::Chargeback));
    }

    #[test]
    fn a_case_without_its_id_names_the_missing_field() {
        assert_eq!(
            parse(br#"{"status":"DISPUTE_INQUIRY"}"#, &ctx()).unwrap_err(),
            Refusal::Malformed("required field caseId is missing".into())
        );
        assert_eq!(
            parse(br#"{"data":{"caseId":"C1"}}"#, &ctx()).unwrap_err(),
            Refusal::Malformed("required field status is missing".into())
        );
    }
}
