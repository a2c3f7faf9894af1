//! PingPong's dispute queries: `getDisputeInfo` lists chargebacks and the
//! stages after them, `getRetrievalDispute` requests for information. Both
//! take flat JSON signed with the salt like a notification, and answer with
//! `data.detailList[]` signed the same way. The answer names no stage: the
//! endpoint does.

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::PingPong;
use crate::{
    domain::{time, Effect, ProviderTime, Stage, Status},
    providers::{
        query::{provider_words, Answer, Finding, QueryContext, QueryRequest, QueryTarget},
        wire::{from_json, money, Text},
        Refusal,
    },
};

pub const DISPUTE_PATH: &str = "/dispute/getDisputeInfo";
pub const RETRIEVAL_PATH: &str = "/dispute/getRetrievalDispute";

/// The time range asked about: the dispute's events happen after it opened,
/// and a day on either side allows for clocks and zones.
const MARGIN: SignedDuration = SignedDuration::from_hours(24);

impl PingPong {
    /// The requests for `target`, in the order to send them until one finds
    /// it: a request for information may have become a chargeback since, so
    /// the chargeback list is asked first. Signed with the current salt.
    pub fn query_requests(
        &self,
        ctx: &QueryContext<'_>,
        target: &QueryTarget<'_>,
        now: Timestamp,
    ) -> Option<Vec<QueryRequest>> {
        let salt = self.salts.first()?;
        let local = |at: Timestamp| {
            at.to_zoned(ctx.zone.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        };
        let fields = serde_json::json!({
            "accId": ctx.account_id,
            "eventDateStart": local(target.opened_at - MARGIN),
            "eventDateEnd": local(now + MARGIN),
            "disputePspReference": target.reference.as_str(),
            "pageNum": 1,
            "pageSize": 10,
            "signType": "SHA256",
            "version": "1.0",
        });
        let body = super::sign(salt.expose(), fields.as_object()?);
        let request = |path| QueryRequest {
            path,
            headers: vec![("content-type", "application/json".into())],
            body: body.clone(),
        };
        let mut requests = vec![request(DISPUTE_PATH)];
        if matches!(target.stage, None | Some(Stage::Inquiry)) {
            requests.push(request(RETRIEVAL_PATH));
        }
        Some(requests)
    }

    /// Verifies the answer's `sign` with the connection's salts, then reads
    /// the dispute's entry.
    pub fn read_answer(
        &self,
        request: &QueryRequest,
        body: &[u8],
        target: &QueryTarget<'_>,
        ctx: &QueryContext<'_>,
    ) -> Result<Answer, Refusal> {
        self.verify(body)?;
        let answer: QueryAnswer = from_json(body)?;
        super::answer_signed_with_sha256(&answer.sign_type)?;
        if answer.success.get() != Some("true") {
            let code = answer.error_code.get();
            let words = provider_words(code, answer.error_message.get());
            return Ok(match code {
                Some("CBNonExist") => Answer::NotFound(format!(
                    "PingPong has no such dispute at {}: {words}",
                    request.path
                )),
                Some("AccIdError") => Answer::Failed(format!(
                    "PingPong does not accept the account id {:?}; check the connection's account id: {words}",
                    ctx.account_id
                )),
                Some("QueryTimeError") => Answer::Failed(format!(
                    "PingPong refused the query's time range: {words}"
                )),
                Some("SystemError") => Answer::Failed(format!(
                    "PingPong had an error of its own; try again later: {words}"
                )),
                _ => Answer::Failed(format!("PingPong refused the query: {words}")),
            });
        }
        let entry = answer
            .data
            .and_then(|d| d.detail_list)
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.dispute_psp_reference.get() == Some(target.reference.as_str()));
        let Some(entry) = entry else {
            return Ok(Answer::NotFound(format!(
                "PingPong lists no dispute {} at {}",
                target.reference.as_str(),
                request.path
            )));
        };
        let stage = match (request.path, target.stage) {
            (RETRIEVAL_PATH, _) => Stage::Inquiry,
            (_, Some(later @ (Stage::PreArbitration | Stage::Arbitration))) => later,
            _ => Stage::Chargeback,
        };
        let status_text = entry.chargeback_status.get().unwrap_or("");
        let status = status_of(status_text);
        let deadline = match entry.defense_period_ends_at.get() {
            Some(text) if status == Some(Status::NeedsResponse) => Some(ProviderTime {
                at: time::local_date_time(text, ctx.zone)
                    .map_err(|e| Refusal::Malformed(e.to_string()))?,
                text: text.to_owned(),
            }),
            _ => None,
        };
        let amount = money(&entry.amount, &entry.currency)?;
        let summary = match status {
            Some(status) => format!(
                "PingPong says: {}, {} (chargebackStatus {status_text})",
                stage.label(),
                status.label()
            ),
            None => format!("PingPong answered chargebackStatus {status_text:?}, which Dispute Desk does not know; nothing changed"),
        };
        Ok(Answer::Found(Finding {
            kind: status_text.to_owned(),
            effect: status.map_or(Effect::None, |s| Effect::Sets(stage, s)),
            deadline,
            amount,
            provider_status: Some(status_text.to_owned()).filter(|s| !s.is_empty()),
            summary,
            // SPEC: PingPong's notifications carry PENDING on won and lost
            // events too, so PENDING alone does not say the dispute is open.
            decisive: status_text != "PENDING",
        }))
    }
}

/// PingPong's `chargebackStatus` (its `chargebackEnum`) as a status. A
/// reversal (`REVOKED`) is a win; a refund given instead of a defence is
/// accepting the dispute.
fn status_of(chargeback_status: &str) -> Option<Status> {
    match chargeback_status {
        "PENDING" => Some(Status::NeedsResponse),
        "PROCESSED" => Some(Status::UnderReview),
        "WON" | "REVOKED" => Some(Status::Won),
        "LOST" => Some(Status::Lost),
        "ACCEPTED" | "REFUNDED" => Some(Status::Accepted),
        "EXPIRED" => Some(Status::Expired),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryAnswer {
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    detail_list: Option<Vec<Entry>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    dispute_psp_reference: Text,
    #[serde(default)]
    chargeback_status: Text,
    #[serde(default)]
    defense_period_ends_at: Text,
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
        providers::test_support::{pingpong as connector, pingpong_salt as salt_text},
    };
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

    fn reference() -> DisputeRef {
        DisputeRef::parse("PD1").unwrap()
    }

    fn target(reference: &DisputeRef, stage: Option<Stage>) -> QueryTarget<'_> {
        QueryTarget {
            reference,
            stage,
            opened_at: "2026-11-20T08:00:00Z".parse().unwrap(),
        }
    }

    fn now() -> Timestamp {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    /// An answer as PingPong signs it.
    fn answer(mut fields: serde_json::Value) -> Vec<u8> {
        fields["signType"] = "SHA256".into();
        super::super::sign(&salt_text(), fields.as_object().unwrap())
    }

    fn entry(status: &str) -> serde_json::Value {
        json!({"accId": "2022102018024210348882", "success": true, "signType": "SHA256",
            "data": {"detailList": [{"disputePspReference": "PD1", "chargebackStatus": status,
                "defensePeriodEndsAt": "2026/12/05", "amount": "100.000000", "currency": "USD"}]}})
    }

    #[test]
    fn requests_are_signed_with_the_salt_and_cover_the_disputes_life() {
        let reference = reference();
        let requests = connector()
            .query_requests(&ctx(), &target(&reference, Some(Stage::Chargeback)), now())
            .unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].path, DISPUTE_PATH);
        connector().verify(&requests[0].body).unwrap();
        let fields: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
        assert_eq!(fields["eventDateStart"], "2026-11-19 08:00:00");
        assert_eq!(fields["eventDateEnd"], "2026-12-02 10:00:00");
        assert_eq!(fields["disputePspReference"], "PD1");
        assert_eq!(fields["version"], "1.0");
        let inquiry = connector()
            .query_requests(&ctx(), &target(&reference, Some(Stage::Inquiry)), now())
            .unwrap();
        let paths: Vec<_> = inquiry.iter().map(|r| r.path).collect();
        assert_eq!(paths, [DISPUTE_PATH, RETRIEVAL_PATH]);
        assert!(PingPong::new(vec![])
            .query_requests(&ctx(), &target(&reference, None), now())
            .is_none());
    }

    fn read(path: &'static str, stage: Option<Stage>, body: &[u8]) -> Result<Answer, Refusal> {
        let reference = reference();
        let request = QueryRequest {
            path,
            headers: vec![],
            body: vec![],
        };
        connector().read_answer(&request, body, &target(&reference, stage), &ctx())
    }

    #[test]
    fn every_chargeback_status_maps_to_a_state_at_the_endpoints_stage() {
        use Status::*;
        for (word, status) in [
            ("PENDING", NeedsResponse),
            ("PROCESSED", UnderReview),
            ("WON", Won),
            ("REVOKED", Won),
            ("LOST", Lost),
            ("ACCEPTED", Accepted),
            ("REFUNDED", Accepted),
            ("EXPIRED", Expired),
        ] {
            let Answer::Found(found) = read(DISPUTE_PATH, None, &answer(entry(word))).unwrap()
            else {
                panic!("{word} is found");
            };
            assert_eq!(
                found.effect,
                Effect::Sets(Stage::Chargeback, status),
                "{word}"
            );
            assert_eq!(found.deadline.is_some(), status == NeedsResponse, "{word}");
            assert_eq!(found.provider_status.as_deref(), Some(word));
        }
        let Answer::Found(found) = read(RETRIEVAL_PATH, None, &answer(entry("PENDING"))).unwrap()
        else {
            panic!("found");
        };
        assert_eq!(
            found.effect,
            Effect::Sets(Stage::Inquiry, Status::NeedsResponse)
        );
        let deadline = found.deadline.unwrap();
        assert_eq!(deadline.at, "2026-12-05T23:59:59Z".parse().unwrap());
        assert_eq!(deadline.text, "2026/12/05");
        assert_eq!(found.amount.unwrap().normalized(), "100.00");
        let Answer::Found(found) = read(
            DISPUTE_PATH,
            Some(Stage::PreArbitration),
            &answer(entry("WON")),
        )
        .unwrap() else {
            panic!("found");
        };
        assert_eq!(found.effect, Effect::Sets(Stage::PreArbitration, Won));
        assert!(
            found.summary.contains("Pre-arbitration, Won"),
            "{}",
            found.summary
        );
    }

    #[test]
    fn an_unknown_status_is_found_but_changes_nothing() {
        let Answer::Found(found) = read(DISPUTE_PATH, None, &answer(entry("NEW_THING"))).unwrap()
        else {
            panic!("found");
        };
        assert_eq!(found.effect, Effect::None);
        assert!(found.summary.contains("does not know"));
    }

    #[test]
    fn errors_and_absence_are_sentences() {
        let error = |code: &str| {
            answer(
                json!({"success": false, "errorCode": code, "errorMessage": "no", "signType": "SHA256"}),
            )
        };
        assert!(matches!(
            read(DISPUTE_PATH, None, &error("CBNonExist")),
            Ok(Answer::NotFound(_))
        ));
        let Ok(Answer::Failed(words)) = read(DISPUTE_PATH, None, &error("AccIdError")) else {
            panic!("failed");
        };
        assert!(words.contains("account id"), "{words}");
        let Ok(Answer::Failed(words)) = read(DISPUTE_PATH, None, &error("SystemError")) else {
            panic!("failed");
        };
        assert!(words.contains("try again later"), "{words}");
        let empty = answer(json!({"success": "true", "data": {"detailList": []}}));
        assert!(matches!(
            read(DISPUTE_PATH, None, &empty),
            Ok(Answer::NotFound(_))
        ));
        let other = answer(
            json!({"success": true, "data": {"detailList": [{"disputePspReference": "PD2", "chargebackStatus": "WON"}]}}),
        );
        assert!(matches!(
            read(DISPUTE_PATH, None, &other),
            Ok(Answer::NotFound(_))
        ));
    }

    #[test]
    fn an_answer_that_is_not_signed_with_the_salt_is_refused() {
        let forged = super::super::sign("not-the-salt", entry("WON").as_object().unwrap());
        assert!(matches!(
            read(DISPUTE_PATH, None, &forged),
            Err(Refusal::BadSignature(_))
        ));
        let tampered = String::from_utf8(answer(entry("LOST")))
            .unwrap()
            .replace("LOST", "WON");
        assert!(matches!(
            read(DISPUTE_PATH, None, tampered.as_bytes()),
            Err(Refusal::BadSignature(_))
        ));
        // Signed with the salt, but with MD5.
        let mut fields: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_value(entry("WON")).unwrap();
        fields.insert(
            "signType".into(),
            serde_json::value::RawValue::from_string("\"MD5\"".into()).unwrap(),
        );
        let digest = super::super::digest_hex(
            super::super::SignType::Md5,
            &salt_text(),
            &super::super::signed_content(&fields),
        );
        fields.insert(
            "sign".into(),
            serde_json::value::RawValue::from_string(format!("\"{digest}\"")).unwrap(),
        );
        let md5 = serde_json::to_vec(&fields).unwrap();
        connector().verify(&md5).expect("a valid MD5 signature");
        assert!(matches!(
            read(DISPUTE_PATH, None, &md5),
            Err(Refusal::BadSignature(_))
        ));
        let unsigned = serde_json::to_vec(&entry("WON")).unwrap();
        assert!(matches!(
            read(DISPUTE_PATH, None, &unsigned),
            Err(Refusal::MissingSignature(_))
        ));
    }
}
