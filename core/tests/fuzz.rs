//! Fuzz targets, outside the normal test run: every provider's verify and
//! parse, PingPong's signing string and the fold, each fed generated inputs
//! (structured JSON near the providers' own, mutated fixture bodies, raw
//! bytes) that must never make them panic. Run with the README's command:
//!
//! `FUZZ_CASES=1000000 cargo test --release -p dispute-core --test fuzz -- --ignored --nocapture`

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
};

use dispute_core::{
    domain::{fold, Effect, EventKey, FoldEvent, Money, Stage, Status},
    providers::{
        botim_money::{self, BotimMoney},
        keys::{FingerprintKey, Salt, VerificationKey},
        payermax::{self, PayerMax},
        pingpong::{self, digest_hex, signed_content, PingPong, SignType},
        ParseContext,
    },
};
use http::{HeaderMap, HeaderValue};
use proptest::{prelude::*, test_runner::Config};
use serde_json::{value::RawValue, Map, Number, Value};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

fn config() -> Config {
    Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    }
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/providers")
}

fn fixture_bodies(prefix: &str) -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = std::fs::read_dir(fixtures().join("bodies"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    bodies.sort();
    bodies
}

fn key_text(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("keys").join(name)).unwrap()
}

fn context(account: &str) -> ParseContext {
    ParseContext {
        zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
        account_id: Some(account.to_owned()),
    }
}

/// Texts that break parsers: empty, numbers that are almost numbers,
/// dates that are almost dates, NUL and control characters, any Unicode,
/// and lengths either side of the limits.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ".{0,40}",
        2 => "[0-9.+eE-]{0,30}",
        2 => "[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?",
        1 => "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,12}(Z|[+-][0-9]{2}:[0-9]{2})?",
        1 => "[A-Z_]{0,30}",
        1 => "[\\x00-\\x1f]{1,4}",
        1 => prop::sample::select(vec![31usize, 32, 33, 63, 64, 65, 199, 200, 201, 511, 512, 513, 1023, 1024, 1025])
            .prop_map(|n| "é".repeat(n)),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        "[1-9][0-9]{0,40}\\.[0-9]{0,30}"
            .prop_filter_map("a JSON number", |t| serde_json::from_str::<Value>(&t).ok()),
    ]
}

/// JSON shaped like the provider's: its own field names (and others) at
/// every level, values of every kind.
fn json(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let key = prop_oneof![4 => prop::sample::select(fields).prop_map(str::to_owned), 1 => "[a-zA-Z_]{1,12}"];
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => number(),
        6 => text().prop_map(Value::String),
        2 => prop::sample::select(fields).prop_map(|f| Value::String(f.to_owned())),
    ];
    leaf.prop_recursive(3, 48, 12, move |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            4 => prop::collection::btree_map(key.clone(), inner, 0..12)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A fixture body with a few bytes changed, inserted or removed.
fn mutated(bodies: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(bodies),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|(mut body, edits)| {
            for (at, byte, how) in edits {
                if body.is_empty() {
                    body.push(byte);
                    continue;
                }
                let i = at.index(body.len());
                match how {
                    0 => body[i] = byte,
                    1 => body.insert(i, byte),
                    _ => {
                        body.remove(i);
                    }
                }
            }
            body
        })
}

/// Bodies of every kind for a provider.
fn bodies(fields: &'static [&'static str], prefix: &str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        5 => json(fields).prop_map(|v| serde_json::to_vec(&v).unwrap()),
        3 => mutated(fixture_bodies(prefix)),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// A `sign` header: none, Base64 of any bytes, of 256 bytes, or any text.
fn sign_header() -> impl Strategy<Value = HeaderMap> {
    use base64::Engine;
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    prop_oneof![
        1 => Just(None),
        2 => prop::collection::vec(any::<u8>(), 0..300).prop_map(move |b| Some(b64(b))),
        2 => prop::collection::vec(any::<u8>(), 256..=256).prop_map(move |b| Some(b64(b))),
        1 => "[ -~]{0,400}".prop_map(Some),
    ]
    .prop_map(|sign| {
        let mut headers = HeaderMap::new();
        if let Some(value) = sign.and_then(|s| HeaderValue::from_str(&s).ok()) {
            headers.insert("sign", value);
        }
        headers
    })
}

/// Counts inputs, and says how many there were when the target ends.
struct Tally(&'static str, AtomicU64);

impl Tally {
    fn new(name: &'static str) -> Self {
        Self(name, AtomicU64::new(0))
    }

    fn one(&self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        println!(
            "{}: {} inputs, no panic",
            self.0,
            self.1.load(Ordering::Relaxed)
        );
    }
}

const PINGPONG_FIELDS: &[&str] = &[
    "accId",
    "eventCode",
    "eventDate",
    "disputePspReference",
    "defensePeriodEndsAt",
    "amount",
    "currency",
    "reason",
    "chargebackReasonCode",
    "chargebackStatus",
    "originalReference",
    "merchantReference",
    "paymentMethod",
    "signType",
    "sign",
    "bizContent",
    "notifyType",
    "status",
    "transactionId",
    "refundId",
    "merchantTransactionId",
    "refundTime",
    "transactionTime",
    "REQUEST_FOR_INFORMATION",
    "DISPUTE_DEFENSE_PERIOD_ENDED",
    "REFUND",
    "2022102018024210348882",
    "SHA256",
    "MD5",
    "USD",
];

#[test]
#[ignore = "a fuzz target: run with the README's command"]
fn pingpong_verify_and_parse_never_panic() {
    let salt_text = key_text("pingpong-salt.txt");
    let salt = Salt::parse(&salt_text.clone().into(), &FingerprintKey::new([1; 32])).unwrap();
    let connector = PingPong::new(vec![salt]);
    let ctx = context("2022102018024210348882");
    let tally = Tally::new("pingpong verify + parse");
    // A body is also sent signed with the right salt, so that parsing runs
    // on verified bodies the way intake runs it.
    let signed = |body: &[u8]| -> Option<Vec<u8>> {
        let mut fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body).ok()?;
        let sign = digest_hex(SignType::Sha256, salt_text.trim(), &signed_content(&fields));
        fields.insert(
            "sign".into(),
            RawValue::from_string(format!("\"{sign}\"")).ok()?,
        );
        serde_json::to_vec(&fields).ok()
    };
    proptest!(config(), |(body in bodies(PINGPONG_FIELDS, "pp-"))| {
        tally.one();
        let _ = connector.verify(&body);
        let _ = pingpong::parse(&body, &ctx);
        if let Some(signed) = signed(&body) {
            if let Ok(verified) = connector.verify(&signed) {
                let _ = dispute_core::providers::Connector::PingPong(connector.clone()).parse(&verified, &ctx);
            }
        }
    });
}

#[test]
#[ignore = "a fuzz target: run with the README's command"]
fn pingpong_signing_string_is_total_and_ignores_field_order() {
    let tally = Tally::new("pingpong signing string");
    proptest!(config(), |(object in json(PINGPONG_FIELDS), sign_type in prop_oneof![Just(SignType::Sha256), Just(SignType::Md5)])| {
        tally.one();
        let Value::Object(map) = object else { return Ok(()); };
        let forwards: BTreeMap<String, Box<RawValue>> = map
            .iter()
            .map(|(k, v)| (k.clone(), RawValue::from_string(v.to_string()).unwrap()))
            .collect();
        let backwards: BTreeMap<String, Box<RawValue>> = map
            .iter()
            .rev()
            .map(|(k, v)| (k.clone(), RawValue::from_string(v.to_string()).unwrap()))
            .collect();
        let content = signed_content(&forwards);
        prop_assert_eq!(&content, &signed_content(&backwards));
        prop_assert!(!content.contains("sign="), "sign is never signed");
        let digest = digest_hex(sign_type, "SALTSALT", &content);
        prop_assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
    });
}

const BOTIM_FIELDS: &[&str] = &[
    "notify_id",
    "notify_timestamp",
    "acquireChargeback",
    "chargebackTime",
    "merchantOrderNo",
    "orderNo",
    "payAmount",
    "chargebackAmount",
    "amount",
    "currency",
    "caseType",
    "partnerId",
    "200000003232",
    "AED",
];

#[test]
#[ignore = "a fuzz target: run with the README's command"]
fn botim_money_verify_and_parse_never_panic() {
    let connector = BotimMoney::new(vec![VerificationKey::parse(&key_text(
        "botim-money-public.pem",
    ))
    .unwrap()]);
    let ctx = context("200000003232");
    let tally = Tally::new("botim money verify + parse");
    proptest!(config(), |(body in bodies(BOTIM_FIELDS, "botim-"), headers in sign_header())| {
        tally.one();
        let _ = connector.verify(&headers, &body);
        let _ = botim_money::parse(&body, &ctx);
    });
}

const PAYERMAX_FIELDS: &[&str] = &[
    "data",
    "merchantNo",
    "notifyTime",
    "notifyType",
    "caseId",
    "status",
    "caseResult",
    "expirationDate",
    "amount",
    "currency",
    "reasonCode",
    "reasonMessage",
    "outTradeNo",
    "tradeToken",
    "DISPUTE_INQUIRY",
    "DISPUTE_END",
    "CASE_CLOSED",
    "WIN",
    "FAIL",
    "FRAUD",
    "SDP01010114524460",
    "PHP",
];

#[test]
#[ignore = "a fuzz target: run with the README's command"]
fn payermax_verify_and_parse_never_panic() {
    let connector = PayerMax::new(vec![VerificationKey::parse(&key_text(
        "payermax-public.b64",
    ))
    .unwrap()]);
    let ctx = context("SDP01010114524460");
    let tally = Tally::new("payermax verify + parse");
    proptest!(config(), |(body in bodies(PAYERMAX_FIELDS, "pm-"), headers in sign_header())| {
        tally.one();
        let _ = connector.verify(&headers, &body);
        let _ = payermax::parse(&body, &ctx);
    });
}

fn fold_event() -> impl Strategy<Value = FoldEvent> {
    let effect = prop_oneof![
        6 => (prop::sample::select(Stage::ALL.to_vec()), prop::sample::select(Status::ALL.to_vec()))
            .prop_map(|(stage, status)| Effect::Sets(stage, status)),
        1 => Just(Effect::ExpiresCurrentStage),
        1 => Just(Effect::None),
    ];
    let instant = (-62_000_000_000i64..250_000_000_000)
        .prop_map(|s| jiff::Timestamp::from_second(s).unwrap());
    (
        "[a-c]{1,2}",
        effect,
        instant.clone(),
        prop::option::of(instant),
        prop::option::of(("[0-9]{1,20}(\\.[0-9]{1,8})?", "[A-Z]{3}")),
        prop::option::of(".{0,8}"),
        prop::option::of("[A-Z0-9]{0,8}"),
    )
        .prop_map(
            |(key, effect, occurred_at, deadline, amount, reason, reference)| FoldEvent {
                key: EventKey::from_parts(&[&key]),
                effect,
                occurred_at,
                received_seq: 0,
                deadline,
                amount: amount.and_then(|(a, c)| Money::parse(&a, &c).ok()),
                reason_code: reason.clone(),
                reason,
                merchant_reference: reference.clone(),
                payment_reference: reference,
            },
        )
}

/// Events as delivered: each receipt has its own place in the order.
fn deliveries() -> impl Strategy<Value = Vec<FoldEvent>> {
    prop::collection::vec(fold_event(), 0..16).prop_map(|events| {
        events
            .into_iter()
            .enumerate()
            .map(|(seq, event)| FoldEvent {
                received_seq: seq as i64,
                ..event
            })
            .collect()
    })
}

#[test]
#[ignore = "a fuzz target: run with the README's command"]
fn the_fold_never_panics_and_ignores_order() {
    let tally = Tally::new("fold");
    proptest!(config(), |(events in deliveries())| {
        tally.one();
        let state = fold(&events);
        let mut reversed = events.clone();
        reversed.reverse();
        prop_assert_eq!(&state, &fold(&reversed));
        if let Some(status) = state.status {
            prop_assert!(state.deadline.is_none() || status == Status::NeedsResponse);
        }
    });
}
