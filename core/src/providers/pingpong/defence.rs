//! PingPong's `getDefenseReasons`: which documents a dispute's defence
//! needs (`defenseDocList[{defenseDocumentTypeCode, requirementLevel,
//! available}]`) and whether the set is complete (`satisfied`). Flat JSON
//! signed with the salt like its other dispute calls; the answer is signed
//! the same way and verified before it is read.

use serde::Deserialize;

use super::{document_kind, PingPong};
use crate::{
    domain::evidence::Requirement,
    providers::{
        query::{provider_words, ChecklistAnswer, QueryContext, QueryRequest},
        wire::{from_json, Text},
        Refusal,
    },
};

pub const DEFENSE_REASONS_PATH: &str = "/dispute/getDefenseReasons";

impl PingPong {
    /// The signed request for `reference`'s checklist; `None` without a
    /// salt.
    pub fn checklist_request(
        &self,
        ctx: &QueryContext<'_>,
        reference: &str,
    ) -> Option<QueryRequest> {
        let salt = self.salts.first()?;
        let fields = serde_json::json!({
            "accId": ctx.account_id,
            "disputePspReference": reference,
            "signType": "SHA256",
            "version": "1.0",
        });
        Some(QueryRequest {
            path: DEFENSE_REASONS_PATH,
            headers: vec![("content-type", "application/json".into())],
            body: super::sign(salt.expose(), fields.as_object()?),
        })
    }

    /// Verifies the answer's `sign`, then reads the checklist. A code
    /// PingPong may add later is refused rather than guessed at.
    pub fn read_checklist(&self, body: &[u8]) -> Result<ChecklistAnswer, Refusal> {
        self.verify(body)?;
        let answer: Answer = from_json(body)?;
        super::answer_signed_with_sha256(&answer.sign_type)?;
        if answer.success.get() != Some("true") {
            let code = answer.error_code.get();
            let words = provider_words(code, answer.error_message.get());
            return Ok(ChecklistAnswer::Failed(match code {
                Some("CBNonExist") => format!("PingPong has no such dispute: {words}"),
                Some("AccIdError") => {
                    format!("PingPong does not accept the connection's account id: {words}")
                }
                Some("SystemError") => {
                    format!("PingPong had an error of its own; try again later: {words}")
                }
                _ => format!("PingPong refused the question: {words}"),
            }));
        }
        let data = answer.data.unwrap_or_default();
        let mut needs = Vec::new();
        for doc in data.defense_doc_list.unwrap_or_default() {
            let code = doc.defense_document_type_code.get().unwrap_or_default();
            let kind = document_kind(code).ok_or_else(|| {
                Refusal::Malformed(format!("unknown defenseDocumentTypeCode {code:?}"))
            })?;
            let level = doc.requirement_level.get().unwrap_or_default();
            let requirement = match level {
                "Mandatory" => Requirement::Mandatory,
                "Conditional" => Requirement::Conditional,
                "Optional" => Requirement::Optional,
                other => {
                    return Err(Refusal::Malformed(format!(
                        "unknown requirementLevel {other:?}"
                    )))
                }
            };
            if !needs.iter().any(|(k, _)| *k == kind) {
                needs.push((kind, requirement));
            }
        }
        Ok(ChecklistAnswer::Needs {
            needs,
            satisfied: data.satisfied.get() == Some("true"),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    sign_type: Text,
    #[serde(default)]
    success: Text,
    #[serde(default)]
    error_code: Text,
    #[serde(default)]
    error_message: Text,
    data: Option<Data>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    defense_doc_list: Option<Vec<Doc>>,
    #[serde(default)]
    satisfied: Text,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    #[serde(default)]
    defense_document_type_code: Text,
    #[serde(default)]
    requirement_level: Text,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::evidence::DocumentKind;
    use crate::providers::test_support::{pingpong as connector, pingpong_salt as salt_text};
    use jiff::tz::TimeZone;
    use serde_json::json;

    fn signed(value: serde_json::Value) -> Vec<u8> {
        super::super::sign(&salt_text(), value.as_object().unwrap())
    }

    #[test]
    fn the_request_is_signed_flat_json_naming_the_dispute() {
        static UTC: TimeZone = TimeZone::UTC;
        let ctx = QueryContext {
            account_id: "2022102018024210348882",
            app_id: None,
            merchant_key: None,
            zone: &UTC,
        };
        let request = connector().checklist_request(&ctx, "PD1").unwrap();
        assert_eq!(request.path, "/dispute/getDefenseReasons");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["disputePspReference"], "PD1");
        assert_eq!(body["accId"], "2022102018024210348882");
        assert_eq!(body["version"], "1.0");
        connector()
            .verify(&request.body)
            .expect("signed as PingPong signs");
        assert!(PingPong::new(vec![])
            .checklist_request(&ctx, "PD1")
            .is_none());
    }

    #[test]
    fn a_signed_answer_reads_as_the_documents_needed() {
        let body = signed(json!({
            "accId": "2022102018024210348882",
            "success": true,
            "signType": "SHA256",
            "data": {
                "disputeType": "NO_RECEIVED",
                "satisfied": false,
                "defenseDocList": [
                    {"defenseDocumentTypeCode": "TIDorInvoice", "requirementLevel": "Mandatory", "available": true},
                    {"defenseDocumentTypeCode": "LogisticInfo", "requirementLevel": "Mandatory", "available": false},
                    {"defenseDocumentTypeCode": "ImageofGoodDeliverd", "requirementLevel": "Optional", "available": false}
                ]
            }
        }));
        assert_eq!(
            connector().read_checklist(&body).unwrap(),
            ChecklistAnswer::Needs {
                needs: vec![
                    (DocumentKind::Invoice, Requirement::Mandatory),
                    (DocumentKind::Shipping, Requirement::Mandatory),
                    (DocumentKind::DeliveryPhoto, Requirement::Optional),
                ],
                satisfied: false,
            }
        );
    }

    #[test]
    fn refusals_unknown_codes_and_bad_signatures_are_told_apart() {
        let refused = signed(json!({
            "success": false, "signType": "SHA256",
            "errorCode": "CBNonExist", "errorMessage": "no such dispute <b>x</b>"
        }));
        match connector().read_checklist(&refused).unwrap() {
            ChecklistAnswer::Failed(words) => {
                assert!(words.starts_with("PingPong has no such dispute"), "{words}")
            }
            other => panic!("{other:?}"),
        }
        let unknown = signed(json!({
            "success": true, "signType": "SHA256",
            "data": {"defenseDocList": [{"defenseDocumentTypeCode": "Telepathy", "requirementLevel": "Mandatory"}]}
        }));
        assert!(matches!(
            connector().read_checklist(&unknown),
            Err(Refusal::Malformed(_))
        ));
        let mut tampered = signed(json!({"success": true, "signType": "SHA256", "data": {}}));
        let at = tampered.iter().position(|b| *b == b't').unwrap();
        tampered[at] = b'T';
        assert!(connector().read_checklist(&tampered).is_err());
    }
}
