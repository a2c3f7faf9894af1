//! Each provider's notification for one step of a dispute's script, as that
//! provider writes and signs it (PingPong with the salt inside the body,
//! Botim Money and PayerMax with their RSA keys in the `sign` header),
//! through the pure crate's signing.

use std::path::Path;

use anyhow::Context;
use dispute_core::{
    domain::ProviderKind,
    providers::{
        keys::{SigningKey, VerificationKey},
        pingpong,
    },
};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde_json::{json, value::RawValue};

use crate::scenario::{DisputeScript, Misbehaviour, Scenario, Step};

/// The provider-side keys: PingPong's salt, Botim Money's and PayerMax's
/// private keys, and the merchant's public keys their query APIs check
/// requests with.
pub struct Keys {
    pub(crate) salt: String,
    pub(crate) botim: SigningKey,
    pub(crate) payermax: SigningKey,
    pub(crate) botim_merchant: VerificationKey,
    pub(crate) payermax_merchant: VerificationKey,
}

impl Keys {
    /// Reads `pingpong-salt.txt` and `provider-side/{botim-money-private.pem,
    /// payermax-private.b64, botim-money-merchant-public.pem,
    /// payermax-merchant-public.b64}` from `dir` (the fixtures' key
    /// directory).
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .with_context(|| format!("cannot read {}", dir.join(name).display()))
        };
        let key = |name: &str| -> anyhow::Result<SigningKey> {
            Ok(SigningKey::parse(&SecretString::from(read(name)?))?)
        };
        let public = |name: &str| -> anyhow::Result<VerificationKey> {
            Ok(VerificationKey::parse(&read(name)?)?)
        };
        Ok(Self {
            salt: read("pingpong-salt.txt")?.trim().to_owned(),
            botim: key("provider-side/botim-money-private.pem")?,
            payermax: key("provider-side/payermax-private.b64")?,
            botim_merchant: public("provider-side/botim-money-merchant-public.pem")?,
            payermax_merchant: public("provider-side/payermax-merchant-public.b64")?,
        })
    }
}

/// A request the simulator sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `/webhooks/{connection}`
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The notification of `step` (the `index`th of the dispute), for a
/// scenario that started at `start`.
pub fn build(
    scenario: &Scenario,
    dispute: &DisputeScript,
    index: usize,
    step: &Step,
    start: Timestamp,
    keys: &Keys,
) -> anyhow::Result<Request> {
    let account = scenario
        .accounts
        .get(&dispute.connection)
        .with_context(|| format!("no account for connection {}", dispute.connection))?;
    let happened = start + SignedDuration::from_mins(i64::from(step.happened_minutes));
    let deadline = step.deadline_after().map(|after| happened + after);
    let corrupt = step.misbehave.contains(&Misbehaviour::CorruptSignature);
    let salt = match corrupt {
        true => format!("{}-not-the-salt", keys.salt),
        false => keys.salt.clone(),
    };
    let (headers, body) = match dispute.provider {
        ProviderKind::PingPong if step.is_payment() => {
            let payment = pingpong_payment(dispute, step, happened);
            let fields = json!({
                "accId": account,
                "bizContent": payment.to_string(),
                "signType": "SHA256",
            });
            let object = fields.as_object().context("a JSON object")?;
            (json_headers(), pingpong::sign(&salt, object))
        }
        ProviderKind::PingPong => {
            let mut fields = json!({
                "accId": account,
                "disputePspReference": dispute.reference,
                "eventCode": step.kind,
                "eventDate": utc_text(happened),
                "amount": dispute.amount,
                "currency": dispute.currency,
                "reason": "Scripted by the simulator",
                "chargebackReasonCode": dispute.reason_code,
                "chargebackSchemeCode": "VISA",
                "chargebackStatus": "PENDING",
                "paymentMethod": "VISA",
                "merchantReference": format!("M-{}", dispute.reference),
                "originalReference": format!("PS-{}", dispute.reference),
                "signType": "SHA256",
            });
            if let Some(at) = deadline {
                fields["defensePeriodEndsAt"] = utc_text(at).into();
            }
            let object = fields.as_object().context("a JSON object")?;
            (json_headers(), pingpong::sign(&salt, object))
        }
        ProviderKind::BotimMoney => {
            // Botim Money writes amounts as JSON numbers (`200.00`): kept as
            // their text, never through a float.
            let amount = RawValue::from_string(dispute.amount.clone())
                .context("Botim Money's amount is a JSON number")?;
            let money = BotimAmount {
                amount: &amount,
                currency: &dispute.currency,
            };
            let body = serde_json::to_vec(&BotimNotice {
                notify_id: format!("{}-{index}", dispute.reference),
                notify_timestamp: happened.as_millisecond(),
                acquire_chargeback: BotimChargeback {
                    chargeback_time: happened.as_millisecond(),
                    merchant_order_no: format!("M-{}", dispute.reference),
                    order_no: &dispute.reference,
                    pay_amount: &money,
                    chargeback_amount: &money,
                    case_type: "fraud",
                    partner_id: account,
                },
            })?;
            (rsa_headers(&keys.botim, &body, corrupt), body)
        }
        ProviderKind::PayerMax => {
            let case = json!({
                "caseId": dispute.reference,
                "status": step.kind,
                "caseResult": step.result.clone().unwrap_or_default(),
                "expirationDate": deadline.map(|at| at.strftime("%Y-%m-%d").to_string()),
                "amount": dispute.amount,
                "currency": dispute.currency,
                "reasonCode": dispute.reason_code,
                "reasonMessage": "Scripted by the simulator",
                "outTradeNo": format!("M-{}", dispute.reference),
                "tradeToken": format!("PS-{}", dispute.reference),
                "merchantNo": account,
            });
            // The old format is the case alone; the current one wraps it.
            let body = match step.flat {
                true => serde_json::to_vec(&case)?,
                false => serde_json::to_vec(&json!({
                    "merchantNo": account,
                    "notifyTime": happened.to_string(),
                    "notifyType": "CHARGEBACK",
                    "data": case,
                }))?,
            };
            (rsa_headers(&keys.payermax, &body, corrupt), body)
        }
    };
    Ok(Request {
        path: format!("/webhooks/{}", dispute.connection),
        headers,
        body,
    })
}

/// PingPong's transaction or refund notification for the disputed payment
/// (its `bizContent`), as the dispute notifications name that payment.
fn pingpong_payment(
    dispute: &DisputeScript,
    step: &Step,
    happened: Timestamp,
) -> serde_json::Value {
    let mut payment = json!({
        "transactionId": format!("PS-{}", dispute.reference),
        "merchantTransactionId": format!("M-{}", dispute.reference),
        "amount": dispute.amount,
        "currency": dispute.currency,
        "status": "SUCCESS",
    });
    let millis = happened.as_millisecond().to_string();
    if step.kind == "REFUND" {
        payment["notifyType"] = "REFUND".into();
        payment["refundId"] = format!("R-{}", dispute.reference).into();
        payment["refundTime"] = millis.into();
    } else {
        payment["notifyType"] = "RECHARGE".into();
        payment["transactionTime"] = millis.into();
    }
    payment
}

#[derive(serde::Serialize)]
struct BotimNotice<'a> {
    notify_id: String,
    notify_timestamp: i64,
    #[serde(rename = "acquireChargeback")]
    acquire_chargeback: BotimChargeback<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct BotimChargeback<'a> {
    chargeback_time: i64,
    merchant_order_no: String,
    order_no: &'a str,
    pay_amount: &'a BotimAmount<'a>,
    chargeback_amount: &'a BotimAmount<'a>,
    case_type: &'a str,
    partner_id: &'a str,
}

#[derive(serde::Serialize)]
struct BotimAmount<'a> {
    amount: &'a RawValue,
    currency: &'a str,
}

/// `2023-03-07 19:54:58`: PingPong's time, in the connection's zone (UTC).
fn utc_text(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

/// The `sign` header over the exact body; a corrupted one signs other bytes.
fn rsa_headers(key: &SigningKey, body: &[u8], corrupt: bool) -> Vec<(String, String)> {
    let signed = match corrupt {
        true => [body, b" "].concat(),
        false => body.to_vec(),
    };
    let mut headers = json_headers();
    headers.push(("sign".into(), key.sign(&signed)));
    headers
}
