//! PayerMax's `caseReplay`: the response to one case, its summary
//! (`responseContent`) and the addresses PayerMax downloads its files from
//! (`representmentFile`), in the gateway's wrapper signed with the
//! merchant's private key; PayerMax's answer, signed with its own key,
//! names the case among `successCaseIds` or `failCaseIds`.
//!
//! PayerMax's notifications carry no id of the buyer, which `outUserId`
//! asks for: the case's merchant order reference is sent (the case id when
//! there is none), an assumption kept here alone.

use http::HeaderMap;
use serde::Deserialize;

use super::PayerMax;
use crate::{
    domain::{submission::Step, text},
    providers::{
        query::{provider_words, QueryContext, QueryRequest},
        submission::{StepAnswer, StepInput, Unsendable},
        verify_rsa,
        wire::{from_json, Text},
        Refusal,
    },
};

pub const CASE_REPLAY_PATH: &str = "/aggregate-pay/api/gateway/caseReplay";
/// The most files one reply may name.
pub const MAX_FILES: usize = 1024;
/// The longest `outUserId` PayerMax takes.
const MAX_USER_ID: usize = 64;

impl PayerMax {
    /// The signed `caseReplay` request for case `reference`.
    pub fn step_request(
        &self,
        ctx: &QueryContext<'_>,
        reference: &str,
        step: Step,
        input: &StepInput<'_>,
    ) -> Result<QueryRequest, Unsendable> {
        if step != Step::Replay {
            return Err(Unsendable::NotThisProvider("PayerMax"));
        }
        let key = ctx
            .merchant_key
            .ok_or(Unsendable::Missing("a merchant private key"))?;
        let app_id = ctx.app_id.ok_or(Unsendable::Missing("an app id"))?;
        if ctx.account_id.is_empty() {
            return Err(Unsendable::Missing("merchant number (merchantNo)"));
        }
        if input.links.is_empty() || input.links.len() > MAX_FILES {
            return Err(Unsendable::Files(format!(
                "PayerMax takes 1 to {MAX_FILES} files, not {}",
                input.links.len()
            )));
        }
        let customer = match input.customer.trim() {
            "" => reference,
            given => given,
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "version": "1.4",
            "keyVersion": "1",
            "requestTime": input.now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "appId": app_id,
            "merchantNo": ctx.account_id,
            "data": {
                "caseId": reference,
                "outUserId": text::cut(customer, MAX_USER_ID),
                "responseContent": input.summary,
                "representmentFile": input.links,
            },
        }))
        .expect("JSON values serialize");
        Ok(QueryRequest {
            path: CASE_REPLAY_PATH,
            headers: vec![
                ("content-type", "application/json".into()),
                ("sign", key.sign(&body)),
            ],
            body,
        })
    }

    /// Verifies and reads the answer to case `reference`'s reply: done
    /// only when PayerMax names the case among those it took. A refusal
    /// may come unsigned (as PayerMax's errors do); a taking may not.
    pub fn read_step_answer(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        reference: &str,
    ) -> Result<StepAnswer, Refusal> {
        let signed = headers.contains_key("sign");
        if signed {
            verify_rsa(&self.keys, headers, body)?;
        }
        let answer: ReplayAnswer = from_json(body)?;
        let code = answer.code.get().unwrap_or_default().to_owned();
        let said = provider_words(Some(&code), answer.msg.get());
        if code != "APPLY_SUCCESS" {
            let (words, retry) = match code.as_str() {
                "SIGN_VERIFY_FAILED" => (
                    "PayerMax could not verify our signature; check the connection's merchant private key",
                    false,
                ),
                "MERCHANT_INVALID" | "MERCHANT_APP_INVALID" => (
                    "PayerMax does not accept the merchant number or app id; check the connection",
                    false,
                ),
                "SYSTEM_ERROR" | "REQUEST_TIMEOUT" | "UNEXPECTED_ERROR" => (
                    "PayerMax had an error of its own; it will be asked again",
                    true,
                ),
                _ => ("PayerMax refused the response", false),
            };
            return Ok(StepAnswer::Refused {
                words: format!("{words}: {said}"),
                code,
                retry,
            });
        }
        if !signed {
            return Err(Refusal::MissingSignature(
                "PayerMax's answer has no sign header".into(),
            ));
        }
        let data = answer.data.unwrap_or_default();
        let names = |ids: &[Text]| ids.iter().any(|id| id.get() == Some(reference));
        Ok(if names(&data.fail_case_ids) {
            StepAnswer::Refused {
                code: "failCaseIds".into(),
                words: format!("PayerMax did not take the response to case {reference}: {said}"),
                retry: false,
            }
        } else if names(&data.success_case_ids) {
            StepAnswer::Done
        } else {
            StepAnswer::Refused {
                code: "noCase".into(),
                words: format!(
                    "PayerMax's answer names neither a success nor a failure for case {reference}: {said}"
                ),
                retry: false,
            }
        })
    }
}

#[derive(Debug, Deserialize)]
struct ReplayAnswer {
    #[serde(default)]
    code: Text,
    #[serde(default)]
    msg: Text,
    data: Option<ReplayData>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReplayData {
    #[serde(default)]
    success_case_ids: Vec<Text>,
    #[serde(default)]
    fail_case_ids: Vec<Text>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{
        keys::SigningKey,
        test_support::{key, key_file},
    };
    use http::HeaderValue;
    use jiff::{tz::TimeZone, Timestamp};
    use secrecy::SecretString;
    use serde_json::json;

    static UTC: TimeZone = TimeZone::UTC;

    fn signing(name: &str) -> SigningKey {
        SigningKey::parse(&SecretString::from(key_file(name))).unwrap()
    }

    fn connector() -> PayerMax {
        PayerMax::new(vec![key("payermax-public.b64")])
    }

    fn input<'a>(links: &'a [String], customer: &'a str) -> StepInput<'a> {
        StepInput {
            documents: &[],
            summary: "Delivered <b>as described</b>",
            links,
            customer,
            now: "2026-12-01T10:00:00Z".parse::<Timestamp>().unwrap(),
        }
    }

    #[test]
    fn the_reply_carries_the_summary_and_the_links_and_is_signed_by_the_merchant() {
        let merchant = signing("payermax-merchant-private.b64");
        let ctx = QueryContext {
            account_id: "SDP01010114524460",
            app_id: Some("APP"),
            merchant_key: Some(&merchant),
            zone: &UTC,
        };
        let links = vec!["https://desk.example/evidence-links/1-2-ab/C1-invoice.pdf".to_owned()];
        let request = connector()
            .step_request(&ctx, "C1", Step::Replay, &input(&links, "ORDER-9"))
            .unwrap();
        assert_eq!(request.path, CASE_REPLAY_PATH);
        let sent: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent["version"], "1.4");
        assert_eq!(sent["appId"], "APP");
        assert_eq!(
            sent["data"],
            json!({"caseId": "C1", "outUserId": "ORDER-9",
                   "responseContent": "Delivered <b>as described</b>",
                   "representmentFile": links})
        );
        let sign = &request
            .headers
            .iter()
            .find(|(n, _)| *n == "sign")
            .unwrap()
            .1;
        let public = key("provider-side/payermax-merchant-public.b64");
        let mut headers = HeaderMap::new();
        headers.insert("sign", HeaderValue::from_str(sign).unwrap());
        assert!(verify_rsa(&[public], &headers, &request.body).is_ok());

        let no_customer = connector()
            .step_request(&ctx, "C1", Step::Replay, &input(&links, " "))
            .unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&no_customer.body).unwrap();
        assert_eq!(sent["data"]["outUserId"], "C1", "the case id stands in");
        assert!(matches!(
            connector().step_request(&ctx, "C1", Step::Replay, &input(&[], "x")),
            Err(Unsendable::Files(_))
        ));
        assert_eq!(
            connector().step_request(&ctx, "C1", Step::Defend, &input(&links, "x")),
            Err(Unsendable::NotThisProvider("PayerMax"))
        );
        let unsigned = QueryContext {
            merchant_key: None,
            ..ctx
        };
        assert_eq!(
            connector().step_request(&unsigned, "C1", Step::Replay, &input(&links, "x")),
            Err(Unsendable::Missing("a merchant private key"))
        );
    }

    fn answer(value: serde_json::Value, signer: Option<&str>) -> Result<StepAnswer, Refusal> {
        let body = serde_json::to_vec(&value).unwrap();
        let mut headers = HeaderMap::new();
        if let Some(name) = signer {
            headers.insert(
                "sign",
                HeaderValue::from_str(&signing(name).sign(&body)).unwrap(),
            );
        }
        connector().read_step_answer(&headers, &body, "C1")
    }

    #[test]
    fn the_answer_is_done_only_for_a_signed_success_naming_the_case() {
        const PAYERMAX: &str = "provider-side/payermax-private.b64";
        let took = json!({"code": "APPLY_SUCCESS", "msg": "", "data": {"successCaseIds": ["C1"], "failCaseIds": []}});
        assert_eq!(answer(took.clone(), Some(PAYERMAX)), Ok(StepAnswer::Done));
        assert!(
            answer(took.clone(), None).is_err(),
            "a taking must be signed"
        );
        assert!(
            answer(took, Some("payermax-merchant-private.b64")).is_err(),
            "signed by another key"
        );
        let failed = json!({"code": "APPLY_SUCCESS", "msg": "file not reachable",
                            "data": {"successCaseIds": [], "failCaseIds": ["C1"]}});
        match answer(failed, Some(PAYERMAX)).unwrap() {
            StepAnswer::Refused { code, words, retry } => {
                assert_eq!(code, "failCaseIds");
                assert!(words.contains("file not reachable"), "{words}");
                assert!(!retry);
            }
            other => panic!("{other:?}"),
        }
        let other_case = json!({"code": "APPLY_SUCCESS", "data": {"successCaseIds": ["C2"]}});
        assert!(matches!(
            answer(other_case, Some(PAYERMAX)),
            Ok(StepAnswer::Refused { retry: false, .. })
        ));
        let busy = json!({"code": "SYSTEM_ERROR", "msg": "busy"});
        assert!(matches!(
            answer(busy, None),
            Ok(StepAnswer::Refused { retry: true, .. })
        ));
        let invalid = json!({"code": "PARAMS_INVALID", "msg": "representmentFile"});
        assert!(matches!(
            answer(invalid, None),
            Ok(StepAnswer::Refused { retry: false, .. })
        ));
    }
}
