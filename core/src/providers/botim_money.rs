//! Botim Money: one kind of chargeback notification, signed with
//! RSASSA-PKCS1-v1_5 SHA-256 over the exact body in the `sign` header,
//! deduplicated by `notify_id`. The acknowledgement is
//! `{"response":"SUCCESS"}`.

pub mod query;

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

pub const ACK: Ack = Ack {
    content_type: Some("application/json; charset=UTF-8"),
    body: r#"{"response":"SUCCESS"}"#,
};

pub const PROFILE: Profile = Profile {
    kind: ProviderKind::BotimMoney,
    account: Field {
        label: "Partner id",
        import_name: "partner_id",
    },
    app_id: None,
    verification_key: profile::RSA_PUBLIC_KEY,
    signs_queries: true,
    sender_presets: &[],
    query_api: QueryApi {
        production: "https://api.payby.com",
        sandbox: "https://uat.test2pay.com",
    },
    evidence_types: &[FileKind::Pdf, FileKind::Jpeg, FileKind::Png, FileKind::Tiff],
    lists_needs: false,
    takes_summary: false,
};

#[derive(Debug, Clone)]
pub struct BotimMoney {
    keys: Vec<VerificationKey>,
}

impl BotimMoney {
    pub fn new(keys: Vec<VerificationKey>) -> Self {
        Self { keys }
    }

    pub fn verify<'a>(&self, headers: &HeaderMap, body: &'a [u8]) -> Result<Verified<'a>, Refusal> {
        verify_rsa(&self.keys, headers, body)
    }
}

#[derive(Debug, Deserialize)]
struct Notice {
    #[serde(default)]
    notify_id: Text,
    #[serde(rename = "acquireChargeback")]
    chargeback: Option<Chargeback>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chargeback {
    #[serde(default)]
    chargeback_time: Text,
    /// String(64) in Botim Money's documents, as are the others' limits.
    #[serde(default)]
    merchant_order_no: Text<64>,
    #[serde(default)]
    order_no: Text<32>,
    pay_amount: Option<Amount>,
    chargeback_amount: Option<Amount>,
    #[serde(default)]
    case_type: Text<200>,
    #[serde(default)]
    partner_id: Text<200>,
}

/// Botim Money's `Money`: the amount is a JSON number, read as written.
#[derive(Debug, Deserialize)]
struct Amount {
    #[serde(default)]
    amount: Text,
    #[serde(default)]
    currency: Text,
}

fn malformed(what: impl std::fmt::Display) -> Refusal {
    Refusal::Malformed(what.to_string())
}

pub fn parse(body: &[u8], ctx: &ParseContext) -> Result<Parsed, Refusal> {
    let notice: Notice = from_json(body)?;
    let notify_id = required("notify_id", &notice.notify_id)?;
    let chargeback = notice
        .chargeback
        .ok_or_else(|| malformed("required field acquireChargeback is missing"))?;
    ctx.check_account("acquireChargeback.partnerId", chargeback.partner_id.get())?;
    let order = required("acquireChargeback.orderNo", &chargeback.order_no)?;
    let time_text = required(
        "acquireChargeback.chargebackTime",
        &chargeback.chargeback_time,
    )?;
    let millis: i64 = time_text
        .parse()
        .map_err(|_| malformed(format!("chargebackTime {time_text:?} is not milliseconds")))?;
    let amount = match chargeback.chargeback_amount.or(chargeback.pay_amount) {
        Some(Amount { amount, currency }) => money(&amount, &currency)?,
        None => None,
    };
    let event = NormalizedEvent {
        dispute_ref: DisputeRef::parse(order).map_err(malformed)?,
        key: EventKey::from_parts(&[notify_id]),
        kind: "CHARGEBACK".into(),
        effect: Effect::Sets(Stage::Chargeback, Status::NeedsResponse),
        occurred_at: Some(ProviderTime {
            at: time::epoch_millis(millis).map_err(malformed)?,
            text: time_text.to_owned(),
        }),
        deadline: None,
        amount,
        reason: chargeback.case_type.into_inner(),
        reason_code: None,
        provider_status: None,
        payment_reference: Some(order.to_owned()),
        merchant_reference: chargeback.merchant_order_no.into_inner(),
    };
    Ok(Parsed {
        notification: Notification::Dispute(event),
        ack: ACK,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::Verdict,
        providers::test_support::{case, key},
    };
    use http::HeaderValue;
    use jiff::tz::TimeZone;

    fn connector() -> BotimMoney {
        BotimMoney::new(vec![key("botim-money-public.pem")])
    }

    fn ctx() -> ParseContext {
        ParseContext {
            zone: TimeZone::UTC,
            account_id: Some("200000003232".into()),
        }
    }

    #[test]
    fn the_valid_fixtures_verify_including_a_capitalized_header_and_unicode() {
        for id in [
            "botim-chargeback",
            "botim-chargeback-again",
            "botim-unicode",
        ] {
            let (body, headers) = case(id);
            let verified = connector()
                .verify(&headers, &body)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(verified.key(), key("botim-money-public.pem").fingerprint());
        }
    }

    #[test]
    fn tampered_wrong_key_missing_and_garbage_signatures_are_refused() {
        for (id, verdict) in [
            ("botim-tampered", Verdict::BadSignature),
            ("botim-wrong-key", Verdict::BadSignature),
            ("botim-missing-sign", Verdict::MissingSignature),
            ("botim-garbage-sign", Verdict::BadSignature),
        ] {
            let (body, headers) = case(id);
            let err = connector().verify(&headers, &body).unwrap_err();
            assert_eq!(err.verdict(), verdict, "{id}: {err}");
        }
    }

    #[test]
    fn one_changed_byte_or_a_reserialized_body_breaks_the_signature() {
        let (body, headers) = case("botim-chargeback");
        let mut flipped = body.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 1;
        assert!(connector().verify(&headers, &flipped).is_err());
        let reserialized =
            serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).unwrap())
                .unwrap();
        assert_ne!(reserialized, body, "200.00 becomes 200.0");
        assert!(connector().verify(&headers, &reserialized).is_err());
    }

    #[test]
    fn a_signature_broken_by_whitespace_still_verifies() {
        let (body, mut headers) = case("botim-chargeback");
        let sign = headers["sign"].to_str().unwrap().to_owned();
        let spaced: Vec<String> = sign
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        headers.insert("sign", HeaderValue::from_str(&spaced.join(" \t")).unwrap());
        assert!(connector().verify(&headers, &body).is_ok());
    }

    #[test]
    fn the_key_may_be_pem_or_bare_der() {
        let (body, headers) = case("botim-chargeback");
        let pem = key("botim-money-public.pem");
        let der =
            VerificationKey::parse(&crate::providers::keys::encode_base64(pem.spki_der())).unwrap();
        assert!(BotimMoney::new(vec![der]).verify(&headers, &body).is_ok());
    }

    #[test]
    fn during_rotation_either_key_verifies() {
        let (body, headers) = case("botim-chargeback");
        let other = key("payermax-public.b64");
        let both = BotimMoney::new(vec![other.clone(), key("botim-money-public.pem")]);
        assert!(both.verify(&headers, &body).is_ok());
        let err = BotimMoney::new(vec![other.clone()])
            .verify(&headers, &body)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the signature does not match key {}", other.fingerprint())
        );
    }

    #[test]
    fn a_chargeback_is_normalized_with_its_amount_as_written() {
        let (body, _) = case("botim-unicode");
        let parsed = parse(&body, &ctx()).unwrap();
        assert_eq!(parsed.ack.body, r#"{"response":"SUCCESS"}"#);
        assert_eq!(
            parsed.ack.content_type,
            Some("application/json; charset=UTF-8")
        );
        let Notification::Dispute(event) = parsed.notification else {
            panic!("a dispute")
        };
        assert_eq!(event.dispute_ref.as_str(), "O1001");
        assert_eq!(event.key, EventKey::from_parts(&["202303080001112233"]));
        assert_eq!(
            event.effect,
            Effect::Sets(Stage::Chargeback, Status::NeedsResponse)
        );
        let amount = event.amount.unwrap();
        assert_eq!(
            (amount.text(), amount.normalized().as_str()),
            ("75.5", "75.50")
        );
        assert_eq!(
            event.reason.as_deref(),
            Some("نزاع - duplicate transaction")
        );
        assert_eq!(
            event.occurred_at.unwrap().at.to_string(),
            "2023-03-08T19:00:00Z"
        );
        assert_eq!(event.merchant_reference.as_deref(), Some("S10001"));
    }

    #[test]
    fn missing_fields_are_named() {
        assert_eq!(
            parse(br#"{"notify_id":"1"}"#, &ctx()).unwrap_err(),
            Refusal::Malformed("required field acquireChargeback is missing".into())
        );
        assert_eq!(
            parse(br#"{"acquireChargeback":{}}"#, &ctx()).unwrap_err(),
            Refusal::Malformed("required field notify_id is missing".into())
        );
        assert!(matches!(
            parse(b"[1,2]", &ctx()),
            Err(Refusal::Malformed(_))
        ));
    }
}
