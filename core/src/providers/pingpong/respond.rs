//! PingPong's response calls as data: supplying defence documents,
//! deleting one, defending and accepting a dispute. Each is flat JSON
//! signed with the salt like PingPong's other dispute calls, and each
//! answer is signed the same way and verified before it is read.
//!
//! `supplyDefenseDocument`'s request is not documented (its page repeats
//! `getDisputeInfo`'s table); it is built here, and only here, in the shape
//! of Adyen's dispute service, which PingPong's follows:
//! `defenseDocuments: [{content (Base64), contentType, defenseDocumentTypeCode}]`.

use serde::Deserialize;

use super::{document_code, PingPong};
use crate::{
    domain::{
        evidence::{DocumentKind, FileKind},
        submission::Step,
    },
    providers::{
        keys::encode_base64,
        query::{provider_words, ChecklistAnswer, QueryContext, QueryRequest},
        submission::{StepAnswer, Supplied, Unsendable},
        wire::{from_json, Text},
        Refusal,
    },
};

/// The calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseCall {
    Supply,
    Delete,
    Defend,
    Accept,
}

/// Which of PingPong's documents a connection's address follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Documented {
    Sandbox,
    Production,
}

impl Documented {
    /// The sandbox's when the connection's base address is the sandbox's;
    /// production's otherwise (a provider's other hosts follow production).
    pub fn of(base: &str) -> Self {
        match base.trim_end_matches('/') == super::PROFILE.query_api.sandbox {
            true => Documented::Sandbox,
            false => Documented::Production,
        }
    }
}

impl ResponseCall {
    /// The path under the connection's base address. PingPong's sandbox
    /// documents put every call under `/dispute/`; its production documents
    /// put defend and accept under `/v4/dispute/` (RESPONDING.md). Which is
    /// right is not known, so each address gets the paths its documents
    /// give.
    pub fn path(self, documented: Documented) -> &'static str {
        match (self, documented) {
            (ResponseCall::Supply, _) => "/dispute/supplyDefenseDocument",
            (ResponseCall::Delete, _) => "/dispute/deleteDefenseDocument",
            (ResponseCall::Defend, Documented::Sandbox) => "/dispute/defendDispute",
            (ResponseCall::Accept, Documented::Sandbox) => "/dispute/acceptDispute",
            (ResponseCall::Defend, Documented::Production) => "/v4/dispute/defendDispute",
            (ResponseCall::Accept, Documented::Production) => "/v4/dispute/acceptDispute",
        }
    }
}

/// The content types PingPong (as Adyen) takes.
fn content_type(format: FileKind) -> Result<&'static str, Unsendable> {
    match format {
        FileKind::Pdf | FileKind::Jpeg | FileKind::Tiff => Ok(format.content_type()),
        other => Err(Unsendable::Format(other.label())),
    }
}

impl PingPong {
    /// The signed body of `call` for dispute `reference`; `documents` for a
    /// supply, `deleted` for a delete.
    pub fn response_request(
        &self,
        ctx: &QueryContext<'_>,
        reference: &str,
        call: ResponseCall,
        documents: &[Supplied<'_>],
        deleted: Option<DocumentKind>,
    ) -> Result<Vec<u8>, Unsendable> {
        let salt = self.salts.first().ok_or(Unsendable::NoSalt)?;
        let mut fields = serde_json::json!({
            "accId": ctx.account_id,
            "disputePspReference": reference,
            "signType": "SHA256",
            "version": "1.0",
        });
        let object = fields.as_object_mut().expect("an object");
        match call {
            ResponseCall::Supply => {
                let documents = documents
                    .iter()
                    .map(|d| {
                        Ok(serde_json::json!({
                            "content": encode_base64(d.bytes),
                            "contentType": content_type(d.format)?,
                            "defenseDocumentTypeCode": document_code(d.document),
                        }))
                    })
                    .collect::<Result<Vec<_>, Unsendable>>()?;
                object.insert("defenseDocuments".into(), documents.into());
            }
            ResponseCall::Delete => {
                if let Some(kind) = deleted {
                    object.insert("defenseDocumentTypeCode".into(), document_code(kind).into());
                }
            }
            ResponseCall::Defend | ResponseCall::Accept => {}
        }
        Ok(super::sign(salt.expose(), object))
    }

    /// The signed request for one step of a submission for dispute
    /// `reference`, at the paths `documented` gives; `documents` are the
    /// step's files (a supply's).
    pub fn step_request(
        &self,
        ctx: &QueryContext<'_>,
        reference: &str,
        documented: Documented,
        step: Step,
        documents: &[Supplied<'_>],
    ) -> Result<QueryRequest, Unsendable> {
        let call = match step {
            Step::Supply(_) => ResponseCall::Supply,
            Step::Defend => ResponseCall::Defend,
            Step::Accept => ResponseCall::Accept,
            Step::Check => {
                return self
                    .checklist_request(ctx, reference)
                    .ok_or(Unsendable::NoSalt)
            }
            Step::Replay => return Err(Unsendable::NotThisProvider("PingPong Checkout")),
        };
        Ok(QueryRequest {
            path: call.path(documented),
            headers: vec![("content-type", "application/json".into())],
            body: self.response_request(ctx, reference, call, documents, None)?,
        })
    }

    /// Verifies and reads the answer to `step`: a check is done only when
    /// PingPong says the documents it holds are complete.
    pub fn read_step_answer(&self, step: Step, body: &[u8]) -> Result<StepAnswer, Refusal> {
        if step != Step::Check {
            return Ok(match self.read_response_answer(body)? {
                StepAnswer::Refused { code, words, .. }
                    if code == "DefendExist" && matches!(step, Step::Defend | Step::Accept) =>
                {
                    StepAnswer::DecidedAlready(words)
                }
                other => other,
            });
        }
        match self.read_checklist(body)? {
            ChecklistAnswer::Needs {
                satisfied: true, ..
            } => Ok(StepAnswer::Done),
            ChecklistAnswer::Needs { needs, .. } => {
                let required: Vec<String> = needs
                    .iter()
                    .filter(|(_, level)| *level == crate::domain::evidence::Requirement::Mandatory)
                    .map(|(document, _)| document.label().to_lowercase())
                    .collect();
                Ok(StepAnswer::Refused {
                    code: "NotSatisfied".into(),
                    words: format!(
                        "PingPong says the documents it holds are not enough to defend the dispute; it requires: {}",
                        required.join(", ")
                    ),
                    retry: false,
                })
            }
            // Its refusal in the words (and with the retry) of any other
            // dispute call's.
            ChecklistAnswer::Failed(_) => self.read_response_answer(body),
        }
    }

    /// Verifies the answer's `sign`, then reads whether the call was done.
    pub fn read_response_answer(&self, body: &[u8]) -> Result<StepAnswer, Refusal> {
        self.verify(body)?;
        let answer: Answer = from_json(body)?;
        super::answer_signed_with_sha256(&answer.sign_type)?;
        if answer.success.get() == Some("true") {
            return Ok(StepAnswer::Done);
        }
        let code = answer.error_code.get().unwrap_or_default().to_owned();
        let said = provider_words(Some(&code), answer.error_message.get());
        let (words, retry) = match code.as_str() {
            "CBNonExist" => ("PingPong has no such dispute", false),
            "DefendDisputeStatusError" => {
                ("PingPong says the dispute cannot be defended now", false)
            }
            "DefendEnded" => (
                "PingPong says the time to defend the dispute is over",
                false,
            ),
            "DefendExist" => (
                "PingPong says the dispute was defended or accepted already",
                false,
            ),
            "UploadFileNameError" => ("PingPong refused a document's name", false),
            "UploadFileTypeError" => ("PingPong refused a document's type", false),
            "ContentCodeError" => ("PingPong found no content type on a document", false),
            "AccIdError" => (
                "PingPong does not accept the connection's account id",
                false,
            ),
            "UploadFileError" => (
                "PingPong could not store a document; it will be sent again",
                true,
            ),
            "SystemError" => (
                "PingPong had an error of its own; it will be asked again",
                true,
            ),
            _ => ("PingPong refused the call", false),
        };
        Ok(StepAnswer::Refused {
            words: format!("{words}: {said}"),
            code,
            retry,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::test_support::{pingpong as connector, pingpong_salt};
    use jiff::tz::TimeZone;
    use serde_json::json;

    static UTC: TimeZone = TimeZone::UTC;

    fn ctx() -> QueryContext<'static> {
        QueryContext {
            account_id: "2022102018024210348882",
            app_id: None,
            merchant_key: None,
            zone: &UTC,
        }
    }

    fn signed(value: serde_json::Value) -> Vec<u8> {
        super::super::sign(&pingpong_salt(), value.as_object().unwrap())
    }

    #[test]
    fn a_supply_carries_each_document_in_adyens_shape_and_is_signed() {
        let documents = [
            Supplied {
                document: DocumentKind::Invoice,
                format: FileKind::Pdf,
                bytes: b"%PDF-1.7 invoice",
            },
            Supplied {
                document: DocumentKind::Shipping,
                format: FileKind::Jpeg,
                bytes: &[0xFF, 0xD8, 0xFF, 0xD9],
            },
        ];
        let body = connector()
            .response_request(&ctx(), "PD1", ResponseCall::Supply, &documents, None)
            .unwrap();
        connector().verify(&body).expect("signed as PingPong signs");
        let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["disputePspReference"], "PD1");
        assert_eq!(sent["version"], "1.0");
        assert_eq!(
            sent["defenseDocuments"],
            json!([
                {"content": "JVBERi0xLjcgaW52b2ljZQ==", "contentType": "application/pdf", "defenseDocumentTypeCode": "TIDorInvoice"},
                {"content": "/9j/2Q==", "contentType": "image/jpeg", "defenseDocumentTypeCode": "LogisticInfo"}
            ])
        );
        let png = [Supplied {
            document: DocumentKind::Other,
            format: FileKind::Png,
            bytes: b"png",
        }];
        assert_eq!(
            connector().response_request(&ctx(), "PD1", ResponseCall::Supply, &png, None),
            Err(Unsendable::Format("PNG"))
        );
        assert_eq!(
            PingPong::new(vec![]).response_request(&ctx(), "PD1", ResponseCall::Defend, &[], None),
            Err(Unsendable::NoSalt)
        );
    }

    #[test]
    fn delete_names_its_document_and_defend_and_accept_name_only_the_dispute() {
        let delete = connector()
            .response_request(
                &ctx(),
                "PD1",
                ResponseCall::Delete,
                &[],
                Some(DocumentKind::RefundPolicy),
            )
            .unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&delete).unwrap();
        assert_eq!(sent["defenseDocumentTypeCode"], "CancelRefundPolicy");
        for call in [ResponseCall::Defend, ResponseCall::Accept] {
            let body = connector()
                .response_request(&ctx(), "PD1", call, &[], None)
                .unwrap();
            let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let mut names: Vec<&String> = sent.as_object().unwrap().keys().collect();
            names.sort();
            assert_eq!(
                names,
                [
                    "accId",
                    "disputePspReference",
                    "sign",
                    "signType",
                    "version"
                ]
            );
        }
        let sandbox = Documented::of("https://sandbox-acquirer-payment.pingpongx.com/");
        assert_eq!(sandbox, Documented::Sandbox);
        assert_eq!(ResponseCall::Defend.path(sandbox), "/dispute/defendDispute");
        assert_eq!(ResponseCall::Accept.path(sandbox), "/dispute/acceptDispute");
        let production = Documented::of("https://acquirer-payment.pingpongx.com");
        assert_eq!(production, Documented::Production);
        assert_eq!(
            ResponseCall::Defend.path(production),
            "/v4/dispute/defendDispute"
        );
        assert_eq!(
            ResponseCall::Supply.path(production),
            "/dispute/supplyDefenseDocument"
        );
    }

    #[test]
    fn a_decision_pingpong_holds_already_is_told_apart_for_defend_and_accept_only() {
        let exists = signed(json!({
            "success": false, "signType": "SHA256",
            "errorCode": "DefendExist", "errorMessage": "exists"
        }));
        for step in [Step::Defend, Step::Accept] {
            assert!(matches!(
                connector().read_step_answer(step, &exists),
                Ok(StepAnswer::DecidedAlready(_))
            ));
        }
        assert!(matches!(
            connector().read_step_answer(Step::Supply(DocumentKind::Invoice), &exists),
            Ok(StepAnswer::Refused { .. })
        ));
        let unknown = signed(json!({
            "success": false, "signType": "SHA256", "errorCode": "CBNonExist"
        }));
        assert!(
            matches!(
                connector().read_step_answer(Step::Check, &unknown),
                Ok(StepAnswer::Refused { retry: false, .. })
            ),
            "a check PingPong refuses for good is not tried again"
        );
        let busy = signed(json!({
            "success": false, "signType": "SHA256", "errorCode": "SystemError"
        }));
        assert!(matches!(
            connector().read_step_answer(Step::Check, &busy),
            Ok(StepAnswer::Refused { retry: true, .. })
        ));
    }

    #[test]
    fn answers_say_done_or_why_not_and_whether_to_try_again() {
        let done = signed(json!({"success": true, "signType": "SHA256", "accId": "x"}));
        assert_eq!(
            connector().read_response_answer(&done),
            Ok(StepAnswer::Done)
        );
        let ended = signed(json!({
            "success": false, "signType": "SHA256",
            "errorCode": "DefendEnded", "errorMessage": "defense period ended"
        }));
        match connector().read_response_answer(&ended).unwrap() {
            StepAnswer::Refused { code, words, retry } => {
                assert_eq!(code, "DefendEnded");
                assert!(
                    words.starts_with("PingPong says the time to defend the dispute is over"),
                    "{words}"
                );
                assert!(!retry);
            }
            other => panic!("{other:?}"),
        }
        let busy =
            signed(json!({"success": false, "signType": "SHA256", "errorCode": "SystemError"}));
        assert!(matches!(
            connector().read_response_answer(&busy),
            Ok(StepAnswer::Refused { retry: true, .. })
        ));
        let md5 = signed(json!({"success": true, "signType": "MD5"}));
        assert!(
            connector().read_response_answer(&md5).is_err(),
            "SHA256 only"
        );
        let mut forged = done.clone();
        let at = forged.iter().position(|b| *b == b'x').unwrap();
        forged[at] = b'y';
        assert!(connector().read_response_answer(&forged).is_err());
    }
}
