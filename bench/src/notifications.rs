//! Fresh notifications for the three providers, signed the way each
//! provider signs (PingPong with the salt, Botim Money and PayerMax with
//! their private keys, all from the fixtures), for disputes with one to
//! four events each. Signed before a run starts, so the load generator
//! spends its time sending.

use dispute_core::providers::{keys::SigningKey, pingpong};
use serde_json::json;

/// One request ready to post.
#[derive(Debug, Clone)]
pub struct Signed {
    pub slug: &'static str,
    pub sign: Option<String>,
    pub body: Vec<u8>,
}

struct Keys {
    salt: String,
    botim: SigningKey,
    payermax: SigningKey,
}

const PINGPONG_EVENTS: [&str; 4] = [
    "REQUEST_FOR_INFORMATION",
    "NOTIFICATION_OF_CHARGEBACK",
    "PREARBITRATION",
    "PREARBITRATION_WON",
];
const PAYERMAX_EVENTS: [(&str, &str); 4] = [
    ("DISPUTE_INQUIRY", ""),
    ("DISPUTE_RECEIVED", ""),
    ("DISPUTE_END", ""),
    ("CASE_CLOSED", "WIN"),
];

/// `count` notifications (`run` keeps runs apart: each run's disputes are
/// new), the providers taking turns dispute by dispute, in the order a
/// provider would send them. Signed on every core.
pub fn generate(run: &str, count: usize) -> Vec<Signed> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let keys = Keys {
                        salt: test_support::fixture_salt(),
                        botim: test_support::provider_key("botim-money-private.pem"),
                        payermax: test_support::provider_key("payermax-private.b64"),
                    };
                    let mut signed = Vec::with_capacity(per_thread);
                    let mut dispute = 0usize;
                    while signed.len() < per_thread {
                        let events = 1 + (dispute * 7 + t) % 4;
                        let id = format!("{run}-{t}-{dispute}");
                        for event in 0..events {
                            signed.push(match dispute % 3 {
                                0 => pingpong_event(&keys, &id, event),
                                1 => botim_event(&keys, &id, event),
                                _ => payermax_event(&keys, &id, event),
                            });
                        }
                        dispute += 1;
                    }
                    signed.truncate(per_thread);
                    signed
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("signing does not panic"))
            .take(count)
            .collect()
    })
}

fn pingpong_event(keys: &Keys, dispute: &str, event: usize) -> Signed {
    let fields = json!({
        "accId": "2022102018024210348882",
        "eventCode": PINGPONG_EVENTS[event],
        "eventDate": format!("2023-03-07 19:5{event}:58"),
        "disputePspReference": format!("PP{dispute}"),
        "defensePeriodEndsAt": "2023-03-17 23:59:59",
        "amount": "129.90",
        "currency": "USD",
        "reason": "Merchandise Not Received",
        "chargebackReasonCode": "13.1",
        "chargebackStatus": "PENDING",
        "originalReference": format!("PS{dispute}"),
        "merchantReference": format!("PShop{dispute}"),
        "paymentMethod": "VISA",
        "signType": "SHA256",
    });
    Signed {
        slug: "pingpong-main",
        sign: None,
        body: pingpong::sign(&keys.salt, fields.as_object().expect("an object")),
    }
}

fn botim_event(keys: &Keys, dispute: &str, event: usize) -> Signed {
    let body = serde_json::to_vec(&json!({
        "notify_id": format!("N{dispute}-{event}"),
        "notify_timestamp": 1586849271877_i64,
        "acquireChargeback": {
            "chargebackTime": 1581493898000_i64 + event as i64 * 3_600_000,
            "merchantOrderNo": format!("S{dispute}"),
            "orderNo": format!("O{dispute}"),
            "payAmount": {"amount": 200.00, "currency": "AED"},
            "chargebackAmount": {"amount": 200.00, "currency": "AED"},
            "caseType": "fraud",
            "partnerId": "200000003232",
        },
    }))
    .expect("JSON");
    Signed {
        slug: "botim-main",
        sign: Some(keys.botim.sign(&body)),
        body,
    }
}

fn payermax_event(keys: &Keys, dispute: &str, event: usize) -> Signed {
    let (status, result) = PAYERMAX_EVENTS[event];
    let body = serde_json::to_vec(&json!({
        "merchantNo": "SDP01010114524460",
        "notifyTime": format!("2023-04-1{event}T03:35:48.000Z"),
        "notifyType": "CHARGEBACK",
        "data": {
            "caseId": format!("C{dispute}"),
            "status": status,
            "caseResult": result,
            "expirationDate": "2023-04-26",
            "amount": "20000.00",
            "currency": "PHP",
            "reasonCode": "13.3",
            "reasonMessage": "Cardholder Dispute Defective/Not as Described",
            "outTradeNo": format!("out{dispute}"),
            "tradeToken": format!("T{dispute}"),
            "merchantNo": "SDP01010114524460",
        },
    }))
    .expect("JSON");
    Signed {
        slug: "payermax-main",
        sign: Some(keys.payermax.sign(&body)),
        body,
    }
}
