//! Botim Money has no chargeback query: the fallback is its order query,
//! `getOrder`, whose answer says what became of the disputed payment and
//! nothing of the dispute. Requests are signed with the merchant's private
//! key in the `sign` header; answers with Botim Money's key in theirs.

use http::HeaderMap;
use jiff::Timestamp;
use serde::Deserialize;

use super::BotimMoney;
use crate::{
    domain::Effect,
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

pub const ORDER_PATH: &str = "/sgs/api/acquire2/getOrder";

impl BotimMoney {
    /// The order query for the disputed payment (the dispute's reference is
    /// its `orderNo`).
    pub fn query_requests(
        &self,
        ctx: &QueryContext<'_>,
        target: &QueryTarget<'_>,
        now: Timestamp,
    ) -> Result<Vec<QueryRequest>, QueryUnavailable> {
        let key = ctx.merchant_key.ok_or(QueryUnavailable::Missing(
            "merchant private key",
            "Botim Money",
        ))?;
        let body = serde_json::to_vec(&serde_json::json!({
            "requestTime": now.as_millisecond(),
            "bizContent": {"orderNo": target.reference.as_str()},
        }))
        .expect("JSON values serialize");
        Ok(vec![QueryRequest {
            path: ORDER_PATH,
            headers: vec![
                ("content-type", "application/json".into()),
                ("sign", key.sign(&body)),
                ("partner-id", ctx.account_id.to_owned()),
                ("api-version", "v1".into()),
            ],
            body,
        }])
    }

    /// A successful answer must carry Botim Money's signature; a refusal is
    /// read without one (it changes nothing), but a signature that is there
    /// must verify.
    pub fn read_answer(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        target: &QueryTarget<'_>,
    ) -> Result<Answer, Refusal> {
        let signed = headers.contains_key("sign");
        if signed {
            verify_rsa(&self.keys, headers, body)?;
        }
        let answer: OrderAnswer = from_json(body)?;
        let head = answer.head.unwrap_or_default();
        let succeeded = head.apply_status.get() == Some("SUCCESS") && head.code.get() == Some("0");
        if !succeeded {
            let words = provider_words(head.code.get(), head.msg.get());
            return Ok(Answer::Failed(format!(
                "Botim Money refused the order query ({}): {words}",
                head.apply_status.get().unwrap_or("no applyStatus")
            )));
        }
        if !signed {
            return Err(Refusal::MissingSignature(
                "Botim Money's answer has no sign header".into(),
            ));
        }
        let order = answer
            .body
            .and_then(|b| b.acquire_order)
            .filter(|o| o.order_no.get() == Some(target.reference.as_str()));
        let Some(order) = order else {
            return Ok(Answer::NotFound(format!(
                "Botim Money returned no order {}",
                target.reference.as_str()
            )));
        };
        let status = order.status.get().unwrap_or("unknown");
        let revoked = order.revoked.get() == Some("true");
        let amount = match order.total_amount {
            Some(t) => money(&t.amount, &t.currency)?,
            None => None,
        };
        Ok(Answer::Found(Finding {
            kind: format!("ORDER {status}"),
            effect: Effect::None,
            deadline: None,
            amount,
            provider_status: Some(status.to_owned()),
            summary: format!(
                "Botim Money has no chargeback query; the order is {status}{}. The dispute's state is unchanged",
                if revoked { ", revoked" } else { "" }
            ),
            decisive: true,
        }))
    }
}

#[derive(Debug, Deserialize)]
struct OrderAnswer {
    head: Option<Head>,
    body: Option<Body>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(default)]
    apply_status: Text,
    #[serde(default)]
    code: Text,
    #[serde(default)]
    msg: Text,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    acquire_order: Option<Order>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    #[serde(default)]
    order_no: Text,
    #[serde(default)]
    status: Text,
    #[serde(default)]
    revoked: Text,
    total_amount: Option<super::Amount>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::DisputeRef,
        providers::{keys::SigningKey, test_support::key_file},
    };
    use http::HeaderValue;
    use jiff::tz::TimeZone;
    use secrecy::SecretString;
    use serde_json::json;

    static UTC: TimeZone = TimeZone::UTC;

    fn signing(name: &str) -> SigningKey {
        SigningKey::parse(&SecretString::from(key_file(name))).unwrap()
    }

    fn connector() -> BotimMoney {
        BotimMoney::new(vec![crate::providers::test_support::key(
            "botim-money-public.pem",
        )])
    }

    fn reference() -> DisputeRef {
        DisputeRef::parse("BO1").unwrap()
    }

    fn target(reference: &DisputeRef) -> QueryTarget<'_> {
        QueryTarget {
            reference,
            stage: None,
            opened_at: Timestamp::UNIX_EPOCH,
        }
    }

    /// An answer as Botim Money signs it (or with another key's signature).
    fn answer(value: serde_json::Value, signer: Option<&str>) -> (HeaderMap, Vec<u8>) {
        let body = serde_json::to_vec(&value).unwrap();
        let mut headers = HeaderMap::new();
        if let Some(name) = signer {
            let sign = signing(name).sign(&body);
            headers.insert("sign", HeaderValue::from_str(&sign).unwrap());
        }
        (headers, body)
    }

    fn read(value: serde_json::Value, signer: Option<&str>) -> Result<Answer, Refusal> {
        let (headers, body) = answer(value, signer);
        connector().read_answer(&headers, &body, &target(&reference()))
    }

    const BOTIM: &str = "provider-side/botim-money-private.pem";

    #[test]
    fn the_order_query_is_signed_with_the_merchants_key() {
        let merchant = signing("botim-money-merchant-private.pem");
        let ctx = QueryContext {
            account_id: "200000003232",
            app_id: None,
            merchant_key: Some(&merchant),
            zone: &UTC,
        };
        let now: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let reference = reference();
        let requests = connector()
            .query_requests(&ctx, &target(&reference), now)
            .unwrap();
        let [request] = &requests[..] else {
            panic!("one request");
        };
        assert_eq!(request.path, ORDER_PATH);
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["requestTime"], now.as_millisecond());
        assert_eq!(body["bizContent"]["orderNo"], "BO1");
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(header("partner-id"), "200000003232");
        let merchant_public =
            crate::providers::test_support::key("provider-side/botim-money-merchant-public.pem");
        let sign = crate::providers::keys::decode_base64(&header("sign")).unwrap();
        assert!(merchant_public.verifies(&request.body, &sign));
        let without = QueryContext {
            merchant_key: None,
            ..ctx
        };
        assert!(connector()
            .query_requests(&without, &target(&reference), now)
            .is_err());
    }

    #[test]
    fn a_signed_order_is_shown_and_changes_nothing() {
        let order = json!({"head": {"applyStatus": "SUCCESS", "code": "0", "msg": "ok"},
            "body": {"acquireOrder": {"orderNo": "BO1", "status": "SETTLED", "revoked": "true",
                "totalAmount": {"amount": 200.00, "currency": "AED"}}}});
        let Answer::Found(found) = read(order.clone(), Some(BOTIM)).unwrap() else {
            panic!("found");
        };
        assert_eq!(found.effect, Effect::None);
        assert_eq!(found.kind, "ORDER SETTLED");
        assert!(
            found.summary.contains("no chargeback query"),
            "{}",
            found.summary
        );
        assert!(found.summary.contains("revoked"));
        assert_eq!(found.amount.unwrap().normalized(), "200.00");
        assert!(matches!(
            read(order.clone(), None),
            Err(Refusal::MissingSignature(_))
        ));
        assert!(matches!(
            read(order, Some("provider-side/unrelated-private.pem")),
            Err(Refusal::BadSignature(_))
        ));
    }

    #[test]
    fn a_refusal_is_a_sentence_signed_or_not() {
        let refusal =
            json!({"head": {"applyStatus": "FAIL", "code": "E100", "msg": "order not exist"}});
        for signer in [None, Some(BOTIM)] {
            let Ok(Answer::Failed(words)) = read(refusal.clone(), signer) else {
                panic!("failed");
            };
            assert!(words.contains("order not exist (E100)"), "{words}");
        }
        assert!(matches!(
            read(refusal, Some("provider-side/unrelated-private.pem")),
            Err(Refusal::BadSignature(_))
        ));
        let empty = json!({"head": {"applyStatus": "SUCCESS", "code": "0"}});
        assert!(matches!(read(empty, Some(BOTIM)), Ok(Answer::NotFound(_))));
        let another = json!({"head": {"applyStatus": "SUCCESS", "code": "0"},
            "body": {"acquireOrder": {"orderNo": "BO2", "status": "SETTLED"}}});
        assert!(matches!(
            read(another, Some(BOTIM)),
            Ok(Answer::NotFound(_))
        ));
    }
}
