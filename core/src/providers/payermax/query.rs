//! PayerMax's `caseSearch`: one case by its `caseId`, in the gateway's
//! wrapper, signed with the merchant's private key in the `sign` header; a
//! successful answer is signed with PayerMax's key in its own.

use http::HeaderMap;
use jiff::Timestamp;
use serde::Deserialize;

use super::{effect_of, PayerMax};
use crate::{
    domain::{time, Effect, ProviderTime, Stage, Status},
    providers::{
        query::{
            provider_words, Answer, Finding, QueryContext, QueryRequest, QueryTarget,
            QueryUnavailable,
        },
        verify_rsa,
        wire::{from_json, money, Text},
        Refusal,
    },
};

pub const CASE_PATH: &str = "/aggregate-pay/api/gateway/caseSearch";

impl PayerMax {
    pub fn query_requests(
        &self,
        ctx: &QueryContext<'_>,
        target: &QueryTarget<'_>,
        now: Timestamp,
    ) -> Result<Vec<QueryRequest>, QueryUnavailable> {
        let key = ctx.merchant_key.ok_or(QueryUnavailable::Missing(
            "merchant private key",
            "PayerMax",
        ))?;
        let app_id = ctx
            .app_id
            .ok_or(QueryUnavailable::Missing("app id", "PayerMax"))?;
        let body = serde_json::to_vec(&serde_json::json!({
            "version": "1.5",
            "keyVersion": "1",
            // PayerMax refuses a request time more than two minutes off.
            "requestTime": now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "appId": app_id,
            "merchantNo": ctx.account_id,
            "data": {"caseId": target.reference.as_str()},
        }))
        .expect("JSON values serialize");
        Ok(vec![QueryRequest {
            path: CASE_PATH,
            headers: vec![
                ("content-type", "application/json".into()),
                ("sign", key.sign(&body)),
            ],
            body,
        }])
    }

    /// PayerMax signs its successful answers (its SDKs check the signature
    /// only then); a refusal is read without one, but a signature that is
    /// there must verify.
    pub fn read_answer(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        target: &QueryTarget<'_>,
        ctx: &QueryContext<'_>,
    ) -> Result<Answer, Refusal> {
        let signed = headers.contains_key("sign");
        if signed {
            verify_rsa(&self.keys, headers, body)?;
        }
        let answer: CaseAnswer = from_json(body)?;
        let code = answer.code.get();
        if code != Some("APPLY_SUCCESS") {
            let words = provider_words(code, answer.msg.get());
            return Ok(Answer::Failed(match code {
                Some("SIGN_VERIFY_FAILED") => format!(
                    "PayerMax could not verify our signature; check the connection's merchant private key and that PayerMax holds its public half: {words}"
                ),
                Some("MERCHANT_INVALID" | "MERCHANT_APP_INVALID") => format!(
                    "PayerMax does not accept the merchant number or app id; check the connection: {words}"
                ),
                Some("SYSTEM_ERROR" | "REQUEST_TIMEOUT" | "UNEXPECTED_ERROR") => {
                    format!("PayerMax had an error of its own; try again later: {words}")
                }
                _ => format!("PayerMax refused the case query: {words}"),
            }));
        }
        if !signed {
            return Err(Refusal::MissingSignature(
                "PayerMax's answer has no sign header".into(),
            ));
        }
        let case = answer
            .data
            .filter(|c| c.case_id.get() == Some(target.reference.as_str()));
        let Some(case) = case else {
            return Ok(Answer::NotFound(format!(
                "PayerMax returned no case {}",
                target.reference.as_str()
            )));
        };
        let status = case.status.get().unwrap_or("");
        let result = case.case_result.get();
        let fraud = target.stage == Some(Stage::FraudAlert);
        let effect = effect_of(status, result, fraud);
        let deadline = match case.expiration_date.get() {
            Some(text) if effect.status() == Some(Status::NeedsResponse) => Some(ProviderTime {
                at: time::end_of_local_day(text, ctx.zone)
                    .map_err(|e| Refusal::Malformed(e.to_string()))?,
                text: text.to_owned(),
            }),
            _ => None,
        };
        let amount = money(&case.amount, &case.currency)?;
        let word = match result {
            Some(r) => format!("{status} {r}"),
            None => status.to_owned(),
        };
        let summary = match effect {
            Effect::Sets(stage, status) => {
                format!(
                    "PayerMax says: {}, {} ({word})",
                    stage.label(),
                    status.label()
                )
            }
            _ => format!(
                "PayerMax answered {word:?}, which Dispute Desk does not know; nothing changed"
            ),
        };
        Ok(Answer::Found(Finding {
            kind: status.to_owned(),
            effect,
            deadline,
            amount,
            provider_status: Some(word),
            summary,
            decisive: true,
        }))
    }
}

#[derive(Debug, Deserialize)]
struct CaseAnswer {
    #[serde(default)]
    code: Text,
    #[serde(default)]
    msg: Text,
    data: Option<CaseData>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaseData {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::DisputeRef,
        providers::{
            keys::{decode_base64, SigningKey},
            test_support::{key, key_file},
        },
    };
    use http::HeaderValue;
    use jiff::tz::TimeZone;
    use secrecy::SecretString;
    use serde_json::json;

    static UTC: TimeZone = TimeZone::UTC;
    const PAYERMAX: &str = "provider-side/payermax-private.b64";

    fn signing(name: &str) -> SigningKey {
        SigningKey::parse(&SecretString::from(key_file(name))).unwrap()
    }

    fn connector() -> PayerMax {
        PayerMax::new(vec![key("payermax-public.b64")])
    }

    fn reference() -> DisputeRef {
        DisputeRef::parse("C1").unwrap()
    }

    fn target(reference: &DisputeRef, stage: Option<Stage>) -> QueryTarget<'_> {
        QueryTarget {
            reference,
            stage,
            opened_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn ctx<'a>(merchant: Option<&'a SigningKey>, app_id: Option<&'a str>) -> QueryContext<'a> {
        QueryContext {
            account_id: "SDP01010114524460",
            app_id,
            merchant_key: merchant,
            zone: &UTC,
        }
    }

    fn read(
        value: serde_json::Value,
        signer: Option<&str>,
        stage: Option<Stage>,
    ) -> Result<Answer, Refusal> {
        let body = serde_json::to_vec(&value).unwrap();
        let mut headers = HeaderMap::new();
        if let Some(name) = signer {
            headers.insert(
                "sign",
                HeaderValue::from_str(&signing(name).sign(&body)).unwrap(),
            );
        }
        let reference = reference();
        connector().read_answer(
            &headers,
            &body,
            &target(&reference, stage),
            &ctx(None, None),
        )
    }

    fn case(status: &str, result: Option<&str>) -> serde_json::Value {
        json!({"code": "APPLY_SUCCESS", "msg": "Success.", "data": {"caseId": "C1", "status": status,
            "caseResult": result, "expirationDate": "2026-12-09", "amount": "75.5", "currency": "AED"}})
    }

    #[test]
    fn the_case_query_is_signed_with_the_merchants_key() {
        let merchant = signing("payermax-merchant-private.b64");
        let now: Timestamp = "2026-12-01T10:00:00.5Z".parse().unwrap();
        let reference = reference();
        let target = target(&reference, None);
        let requests = connector()
            .query_requests(&ctx(Some(&merchant), Some("APP")), &target, now)
            .unwrap();
        let [request] = &requests[..] else {
            panic!("one request");
        };
        assert_eq!(request.path, CASE_PATH);
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["requestTime"], "2026-12-01T10:00:00.500Z");
        assert_eq!(body["version"], "1.5");
        assert_eq!(body["appId"], "APP");
        assert_eq!(body["merchantNo"], "SDP01010114524460");
        assert_eq!(body["data"]["caseId"], "C1");
        let sign = &request
            .headers
            .iter()
            .find(|(n, _)| *n == "sign")
            .unwrap()
            .1;
        assert!(key("provider-side/payermax-merchant-public.b64")
            .verifies(&request.body, &decode_base64(sign).unwrap()));
        for (merchant, app) in [(None, Some("APP")), (Some(&merchant), None)] {
            assert!(connector()
                .query_requests(&ctx(merchant, app), &target, now)
                .is_err());
        }
    }

    #[test]
    fn a_signed_case_maps_as_its_notification_would() {
        use Status::*;
        for (status, result, expected) in [
            ("DISPUTE_INQUIRY", None, NeedsResponse),
            ("DISPUTE_RECEIVED", None, UnderReview),
            ("DISPUTE_END", Some("WIN"), Won),
            ("CASE_CLOSED", Some("FAIL"), Lost),
            ("CASE_CANCEL", None, Cancelled),
        ] {
            let Answer::Found(found) = read(case(status, result), Some(PAYERMAX), None).unwrap()
            else {
                panic!("{status} found");
            };
            assert_eq!(
                found.effect,
                Effect::Sets(Stage::Chargeback, expected),
                "{status}"
            );
            assert_eq!(found.deadline.is_some(), expected == NeedsResponse);
        }
        let Answer::Found(inquiry) =
            read(case("DISPUTE_INQUIRY", None), Some(PAYERMAX), None).unwrap()
        else {
            panic!("found");
        };
        assert_eq!(
            inquiry.deadline.unwrap().at,
            "2026-12-09T23:59:59Z".parse().unwrap()
        );
        assert_eq!(inquiry.amount.unwrap().normalized(), "75.50");
        let Answer::Found(fraud) = read(
            case("DISPUTE_INQUIRY", None),
            Some(PAYERMAX),
            Some(Stage::FraudAlert),
        )
        .unwrap() else {
            panic!("found");
        };
        assert_eq!(fraud.effect, Effect::Sets(Stage::FraudAlert, NeedsResponse));
        let Answer::Found(odd) = read(case("SOMETHING_NEW", None), Some(PAYERMAX), None).unwrap()
        else {
            panic!("found");
        };
        assert_eq!(odd.effect, Effect::None);
        let other =
            json!({"code": "APPLY_SUCCESS", "data": {"caseId": "C2", "status": "CASE_CANCEL"}});
        assert!(matches!(
            read(other, Some(PAYERMAX), None),
            Ok(Answer::NotFound(_))
        ));
    }

    #[test]
    fn an_unsigned_or_forged_success_is_refused() {
        assert!(matches!(
            read(case("DISPUTE_END", Some("WIN")), None, None),
            Err(Refusal::MissingSignature(_))
        ));
        assert!(matches!(
            read(
                case("DISPUTE_END", Some("WIN")),
                Some("provider-side/unrelated-private.pem"),
                None
            ),
            Err(Refusal::BadSignature(_))
        ));
    }

    #[test]
    fn each_documented_error_code_is_a_sentence() {
        for (code, words) in [
            ("SIGN_VERIFY_FAILED", "merchant private key"),
            ("MERCHANT_INVALID", "merchant number or app id"),
            ("MERCHANT_APP_INVALID", "merchant number or app id"),
            ("SYSTEM_ERROR", "try again later"),
            ("PARAMS_INVALID", "refused the case query"),
        ] {
            let refusal = json!({"code": code, "msg": "The provider's words."});
            let Ok(Answer::Failed(sentence)) = read(refusal, None, None) else {
                panic!("{code} failed");
            };
            assert!(sentence.contains(words), "{sentence}");
            assert!(sentence.contains(&format!("The provider's words. ({code})")));
        }
    }
}
