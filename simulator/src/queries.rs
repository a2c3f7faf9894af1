//! The providers' status-query APIs on one port, a path prefix per
//! provider (`/pingpong`, `/botim-money`, `/payermax`), answering from the
//! scenario's disputes as the provider knows them: every event that has
//! happened, sent or dropped; and PingPong's defence calls, which keep
//! what was supplied and whether the dispute was defended or accepted. Each checks the merchant's signature and signs
//! its answer as its provider does; refusals are the provider's own error
//! answers (HTTP 200 with its error body, as these APIs answer).
//!
//! Where the providers do not document an error code (PingPong has none for
//! a bad signature, Botim Money documents none at all) the code used is
//! named here: PingPong `OtherError`, Botim Money `SIGN_ERROR`,
//! `PARAM_ERROR`, `ORDER_NOT_EXIST`.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    routing::post,
    Router,
};
use dispute_core::{
    domain::ProviderKind,
    providers::{
        keys::{decode_base64, FingerprintKey, Salt, SigningKey, VerificationKey},
        pingpong::{self, PingPong},
    },
};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{json, value::RawValue, Value};

use crate::{
    notifications::Keys,
    scenario::{
        AfterDefence, DisputeScript, QueryMisbehaviour, RespondMisbehaviour, Scenario, Step,
    },
};

/// PingPong's largest page.
const PAGE_SIZE_MAX: u64 = 1000;
/// How far Botim Money's `requestTime` may be from its clock.
const BOTIM_CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(15);
/// How far PayerMax's `requestTime` may be from its clock.
const PAYERMAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(2);

/// What the query APIs know and how they misbehave.
pub struct World {
    scenario: Scenario,
    /// When the scenario's minute 0 happened.
    start: Timestamp,
    keys: Keys,
    /// How long a `slow_answer` dispute's answer waits: past the client's
    /// timeout.
    slow_answer: Duration,
    log: Mutex<Vec<Answered>>,
    /// PingPong's side of each dispute's defence, by reference.
    defences: Mutex<std::collections::HashMap<String, Defence>>,
    /// Where outcomes decided after a defence are sent (none: not sent).
    outcomes: Mutex<Option<crate::sender::Play>>,
    /// PayerMax's replies taken, by case.
    replies: Mutex<std::collections::HashMap<String, Reply>>,
}

/// A reply PayerMax took: its summary as sent, and each file's address
/// with the bytes downloaded (or why not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub summary: String,
    pub fetched: Vec<(String, Result<usize, String>)>,
}

/// What PingPong holds of a dispute's defence.
#[derive(Debug, Clone, Default)]
struct Defence {
    /// The `defenseDocumentTypeCode`s supplied.
    documents: std::collections::BTreeSet<String>,
    /// `defended` or `accepted`, once.
    decided: Option<&'static str>,
    /// Response calls received, and supplies among them (misbehaviours
    /// count them).
    calls: usize,
    supplies: usize,
}

/// One query as the log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answered {
    pub provider: ProviderKind,
    pub path: String,
    /// The dispute asked about, when the request named one.
    pub reference: Option<String>,
    /// The provider's answer code (`success`, `CBNonExist`, `SUCCESS`,
    /// `APPLY_SUCCESS`, `SIGN_VERIFY_FAILED`…).
    pub code: String,
    /// Held back by `slow_answer`: a client that gave up never saw it.
    pub delayed: bool,
}

impl World {
    pub fn new(scenario: Scenario, start: Timestamp, keys: Keys, slow_answer: Duration) -> Self {
        Self {
            scenario,
            start,
            keys,
            slow_answer,
            log: Mutex::new(Vec::new()),
            defences: Mutex::new(std::collections::HashMap::new()),
            outcomes: Mutex::new(None),
            replies: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The reply PayerMax took for case `reference`, if any.
    pub fn reply(&self, reference: &str) -> Option<Reply> {
        self.replies
            .lock()
            .expect("the replies' lock")
            .get(reference)
            .cloned()
    }

    /// Sends each dispute's `after_defence` outcome to the Dispute Desk
    /// `how` names, once it is defended.
    pub fn send_outcomes_to(&self, how: crate::sender::Play) {
        *self.outcomes.lock().expect("the outcomes' lock") = Some(how);
    }

    /// PingPong's side of dispute `reference`'s defence, as it is now.
    fn defence(&self, reference: &str) -> Defence {
        self.defences
            .lock()
            .expect("the defences' lock")
            .get(reference)
            .cloned()
            .unwrap_or_default()
    }

    /// The provider-side keys it signs with.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Every query answered so far, in order.
    pub fn log(&self) -> Vec<Answered> {
        self.log.lock().expect("the log's lock").clone()
    }

    /// The dispute `reference` of `provider` at the connection whose
    /// account is `account`.
    fn dispute(
        &self,
        provider: ProviderKind,
        account: &str,
        reference: &str,
    ) -> Option<&DisputeScript> {
        self.scenario.disputes.iter().find(|d| {
            d.provider == provider
                && d.reference == reference
                && self
                    .scenario
                    .accounts
                    .get(&d.connection)
                    .map(String::as_str)
                    == Some(account)
        })
    }

    fn knows_account(&self, provider: ProviderKind, account: &str) -> bool {
        self.scenario.disputes.iter().any(|d| {
            d.provider == provider
                && self
                    .scenario
                    .accounts
                    .get(&d.connection)
                    .map(String::as_str)
                    == Some(account)
        })
    }

    /// The last dispute event that has happened by now: what the provider
    /// says the dispute is at.
    fn latest<'a>(&self, dispute: &'a DisputeScript) -> Option<(&'a Step, Timestamp)> {
        let now = Timestamp::now();
        dispute
            .events
            .iter()
            .filter(|e| !e.is_payment())
            .map(|e| (e, self.happened(e)))
            .filter(|(_, at)| *at <= now)
            .max_by_key(|(e, _)| e.happened_minutes)
    }

    fn happened(&self, step: &Step) -> Timestamp {
        self.start + SignedDuration::from_mins(i64::from(step.happened_minutes))
    }

    fn misbehaving(&self, dispute: Option<&DisputeScript>) -> Misbehaving {
        let has = |m| dispute.is_some_and(|d| d.query_misbehave.contains(&m));
        Misbehaving {
            corrupt: has(QueryMisbehaviour::CorruptSignature),
            slow: has(QueryMisbehaviour::SlowAnswer),
            pending: has(QueryMisbehaviour::PendingStatus),
        }
    }

    /// Logs the answer as decided, then holds it back if it is to be slow
    /// (a client that gives up meanwhile never gets it).
    async fn answering(
        &self,
        provider: ProviderKind,
        path: &str,
        reference: Option<&str>,
        code: &str,
        how: Misbehaving,
    ) {
        self.log.lock().expect("the log's lock").push(Answered {
            provider,
            path: path.to_owned(),
            reference: reference.map(str::to_owned),
            code: code.to_owned(),
            delayed: how.slow,
        });
        if how.slow {
            tokio::time::sleep(self.slow_answer).await;
        }
    }
}

/// How one answer misbehaves.
#[derive(Debug, Clone, Copy, Default)]
struct Misbehaving {
    corrupt: bool,
    slow: bool,
    pending: bool,
}

/// The three query APIs.
pub fn router(world: Arc<World>) -> Router {
    Router::new()
        .route(
            "/pingpong/dispute/getDisputeInfo",
            post(|w: State<Arc<World>>, b: Bytes| pingpong_query(w, b, false)),
        )
        .route(
            "/pingpong/dispute/getRetrievalDispute",
            post(|w: State<Arc<World>>, b: Bytes| pingpong_query(w, b, true)),
        )
        .route(
            "/pingpong/dispute/getDefenseReasons",
            post(pingpong_defense_reasons),
        )
        .route(
            "/pingpong/dispute/supplyDefenseDocument",
            post(|w: State<Arc<World>>, b: Bytes| {
                pingpong_respond(w.0, b, "/pingpong/dispute/supplyDefenseDocument")
            }),
        )
        .route(
            "/pingpong/dispute/deleteDefenseDocument",
            post(|w: State<Arc<World>>, b: Bytes| {
                pingpong_respond(w.0, b, "/pingpong/dispute/deleteDefenseDocument")
            }),
        )
        .route(
            "/pingpong/dispute/defendDispute",
            post(|w: State<Arc<World>>, b: Bytes| {
                pingpong_respond(w.0, b, "/pingpong/dispute/defendDispute")
            }),
        )
        .route(
            "/pingpong/dispute/acceptDispute",
            post(|w: State<Arc<World>>, b: Bytes| {
                pingpong_respond(w.0, b, "/pingpong/dispute/acceptDispute")
            }),
        )
        // PingPong's production documents put these two under /v4/.
        .route(
            "/pingpong/v4/dispute/defendDispute",
            post(|w: State<Arc<World>>, b: Bytes| {
                pingpong_respond(w.0, b, "/pingpong/v4/dispute/defendDispute")
            }),
        )
        .route(
            "/pingpong/v4/dispute/acceptDispute",
            post(|w: State<Arc<World>>, b: Bytes| {
                pingpong_respond(w.0, b, "/pingpong/v4/dispute/acceptDispute")
            }),
        )
        .route("/botim-money/sgs/api/acquire2/getOrder", post(botim_order))
        .route(
            "/payermax/aggregate-pay/api/gateway/caseSearch",
            post(payermax_case),
        )
        .route(
            "/payermax/aggregate-pay/api/gateway/caseReplay",
            post(payermax_reply),
        )
        .with_state(world)
}

/// Serves the query APIs on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, world: Arc<World>) -> std::io::Result<()> {
    axum::serve(listener, router(world)).await
}

/// PingPong's word for a dispute's state after `event_code`.
fn chargeback_status(event_code: &str) -> Option<&'static str> {
    Some(match event_code {
        "REQUEST_FOR_INFORMATION" | "NOTIFICATION_OF_CHARGEBACK" | "PREARBITRATION" => "PENDING",
        "ARBITRATION" => "PROCESSED",
        "CHARGEBACK_REVERSED" | "PREARBITRATION_WON" => "WON",
        "CHARGEBACK_RETURN" | "PREARBITRATION_LOST" => "LOST",
        "DISPUTE_DEFENSE_PERIOD_ENDED" => "EXPIRED",
        _ => return None,
    })
}

async fn pingpong_query(State(world): State<Arc<World>>, body: Bytes, retrieval: bool) -> Response {
    let path = match retrieval {
        true => "/pingpong/dispute/getRetrievalDispute",
        false => "/pingpong/dispute/getDisputeInfo",
    };
    let (answer, reference, how) = pingpong_answer(&world, &body, retrieval);
    pingpong_reply(&world, path, reference.as_deref(), answer, how).await
}

/// Logs PingPong's `answer` and sends it signed as PingPong signs (with
/// the wrong salt when the dispute misbehaves so).
async fn pingpong_reply(
    world: &World,
    path: &str,
    reference: Option<&str>,
    answer: Value,
    how: Misbehaving,
) -> Response {
    let code = match answer["success"] {
        Value::Bool(true) => "success".to_owned(),
        _ => answer["errorCode"].as_str().unwrap_or("").to_owned(),
    };
    world
        .answering(ProviderKind::PingPong, path, reference, &code, how)
        .await;
    let salt = match how.corrupt {
        true => format!("{}-not-the-salt", world.keys.salt),
        false => world.keys.salt.clone(),
    };
    let mut fields = answer.as_object().cloned().unwrap_or_default();
    fields.insert("signType".into(), "SHA256".into());
    json_response(pingpong::sign(&salt, &fields), None)
}

/// PingPong's answer, the dispute it names, and whether to corrupt its
/// signature.
fn pingpong_answer(
    world: &World,
    body: &[u8],
    retrieval: bool,
) -> (Value, Option<String>, Misbehaving) {
    let error = |code: &str, message: &str| json!({"success": false, "errorCode": code, "errorMessage": message});
    let salt = Salt::parse(
        &SecretString::from(world.keys.salt.clone()),
        &FingerprintKey::new([0; 32]),
    )
    .expect("the simulator's salt is a salt");
    if let Err(refusal) = PingPong::new(vec![salt]).verify(body) {
        return (
            error("OtherError", &refusal.to_string()),
            None,
            Misbehaving::default(),
        );
    }
    let Ok(fields) = serde_json::from_slice::<serde_json::Map<String, Value>>(body) else {
        return (
            error("OtherError", "the request is not JSON"),
            None,
            Misbehaving::default(),
        );
    };
    let text = |name: &str| match &fields.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let account = text("accId").unwrap_or_default();
    if !world.knows_account(ProviderKind::PingPong, &account) {
        return (
            error("AccIdError", "accId is invalid"),
            None,
            Misbehaving::default(),
        );
    }
    let number = |name: &str| text(name).and_then(|t| t.parse::<u64>().ok());
    let (Some(page), Some(size)) = (number("pageNum"), number("pageSize")) else {
        return (
            error("QueryPageError", "pageNum and pageSize are required"),
            None,
            Misbehaving::default(),
        );
    };
    if size > PAGE_SIZE_MAX {
        return (
            error("QueryPageMaxError", "pageSize is at most 1000"),
            None,
            Misbehaving::default(),
        );
    }
    if page == 0 || size == 0 {
        return (
            error("QueryPageError", "pageNum and pageSize start at 1"),
            None,
            Misbehaving::default(),
        );
    }
    let time = |name: &str| {
        text(name)
            .and_then(|t| jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &t).ok())
            .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    };
    let (Some(from), Some(to)) = (time("eventDateStart"), time("eventDateEnd")) else {
        return (
            error(
                "QueryTimeError",
                "eventDateStart and eventDateEnd are yyyy-MM-dd HH:mm:ss",
            ),
            None,
            Misbehaving::default(),
        );
    };
    if from > to {
        return (
            error("QueryTimeError", "eventDateStart is after eventDateEnd"),
            None,
            Misbehaving::default(),
        );
    }
    let reference = text("disputePspReference");
    let named = match &reference {
        Some(r) => match world.dispute(ProviderKind::PingPong, &account, r) {
            Some(d) => vec![d],
            None => {
                return (
                    error("CBNonExist", "the dispute does not exist"),
                    reference,
                    Misbehaving::default(),
                )
            }
        },
        None => world
            .scenario
            .disputes
            .iter()
            .filter(|d| {
                d.provider == ProviderKind::PingPong
                    && world.scenario.accounts.get(&d.connection) == Some(&account)
            })
            .collect(),
    };
    let how = world.misbehaving(named.first().copied().filter(|_| reference.is_some()));
    let listed: Vec<Value> = named
        .into_iter()
        .filter_map(|d| Some((d, world.latest(d)?)))
        .filter(|(_, (step, at))| {
            (step.kind == "REQUEST_FOR_INFORMATION") == retrieval && (from..=to).contains(at)
        })
        .filter_map(|(d, (step, at))| {
            let status = match how.pending {
                true => "PENDING",
                false => chargeback_status(&step.kind)?,
            };
            let deadline = step
                .deadline_after()
                .map(|after| (at + after).strftime("%Y/%m/%d").to_string());
            Some(json!({
                "accId": account,
                "amount": d.amount,
                "currency": d.currency,
                "chargebackReasonCode": d.reason_code,
                "chargebackSchemeCode": "VISA",
                "chargebackStatus": status,
                "defendable": status == "PENDING",
                "defensePeriodEndsAt": deadline,
                "disputePspReference": d.reference,
                "eventDate": at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                "merchantReference": format!("M-{}", d.reference),
                "originalReference": format!("PS-{}", d.reference),
            }))
        })
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .collect();
    let answer = json!({"accId": account, "success": true, "data": {"detailList": listed}});
    (answer, reference, how)
}

/// A PingPong dispute call as PingPong checks it: its signature, its
/// account, the dispute it names.
struct DisputeCall<'w> {
    fields: serde_json::Map<String, Value>,
    account: String,
    reference: String,
    dispute: &'w DisputeScript,
}

/// The call, or PingPong's error answer and the reference it named.
fn dispute_call<'w>(
    world: &'w World,
    body: &[u8],
) -> Result<DisputeCall<'w>, (Value, Option<String>)> {
    let error = |code: &str, message: &str| json!({"success": false, "errorCode": code, "errorMessage": message});
    let salt = Salt::parse(
        &SecretString::from(world.keys.salt.clone()),
        &FingerprintKey::new([0; 32]),
    )
    .expect("the simulator's salt is a salt");
    let fields = serde_json::from_slice::<serde_json::Map<String, Value>>(body).ok();
    let text = |name: &str| {
        fields
            .as_ref()
            .and_then(|f| f.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let account = text("accId").unwrap_or_default();
    let reference = text("disputePspReference");
    let Some(fields) = fields.filter(|_| PingPong::new(vec![salt]).verify(body).is_ok()) else {
        return Err((error("OtherError", "the signature does not verify"), None));
    };
    if !world.knows_account(ProviderKind::PingPong, &account) {
        return Err((error("AccIdError", "accId is invalid"), None));
    }
    match reference
        .as_deref()
        .and_then(|r| world.dispute(ProviderKind::PingPong, &account, r))
    {
        None => Err((error("CBNonExist", "the dispute does not exist"), reference)),
        Some(dispute) => Ok(DisputeCall {
            fields,
            account,
            reference: dispute.reference.clone(),
            dispute,
        }),
    }
}

/// PingPong's `getDefenseReasons`: the documents a dispute's defence
/// needs, by its `disputeType` (from its reason code, as PingPong groups
/// them), each `available` once supplied, `satisfied` once every
/// mandatory one is.
async fn pingpong_defense_reasons(State(world): State<Arc<World>>, body: Bytes) -> Response {
    let path = "/pingpong/dispute/getDefenseReasons";
    let (answer, reference, how) = match dispute_call(&world, &body) {
        Err((answer, reference)) => (answer, reference, Misbehaving::default()),
        Ok(call) => {
            let (dispute_type, documents) = defense_documents(call.dispute.reason_code.as_deref());
            let supplied = world.defence(&call.reference).documents;
            let list: Vec<Value> = documents
                .iter()
                .map(|(code, level)| {
                    json!({"defenseDocumentTypeCode": code, "requirementLevel": level, "available": supplied.contains(*code)})
                })
                .collect();
            let satisfied = documents
                .iter()
                .all(|(code, level)| *level != "Mandatory" || supplied.contains(*code));
            (
                json!({
                    "accId": call.account,
                    "success": true,
                    "data": {"disputeType": dispute_type, "defenseDocList": list, "satisfied": satisfied},
                }),
                Some(call.reference),
                world.misbehaving(Some(call.dispute)),
            )
        }
    };
    pingpong_reply(&world, path, reference.as_deref(), answer, how).await
}

/// PingPong's response calls, as their documents describe them (the
/// supply's body in Adyen's shape, as Dispute Desk assumes it): supplied
/// documents are kept by type, a dispute defended or accepted once, and
/// each documented refusal given when its condition holds — the defence
/// period over (`DefendEnded`), the dispute decided (`DefendDisputeStatusError`),
/// defended or accepted already (`DefendExist`).
async fn pingpong_respond(world: Arc<World>, body: Bytes, path: &'static str) -> Response {
    let op = path.rsplit('/').next().unwrap_or_default();
    let error = |code: &str, message: &str| json!({"success": false, "errorCode": code, "errorMessage": message});
    let mut how = Misbehaving::default();
    let mut outcome = None;
    let mut lose_answer = false;
    let mut hang_answer = false;
    let (answer, reference) = match dispute_call(&world, &body) {
        Err(refused) => refused,
        Ok(call) => {
            let misbehave = |m| call.dispute.respond_misbehave.contains(&m);
            how.corrupt = misbehave(RespondMisbehaviour::CorruptSignature);
            let (calls, supplies) = {
                let mut defences = world.defences.lock().expect("the defences' lock");
                let defence = defences.entry(call.reference.clone()).or_default();
                defence.calls += 1;
                defence.supplies += usize::from(op == "supplyDefenseDocument");
                (defence.calls, defence.supplies)
            };
            if misbehave(RespondMisbehaviour::FailTwice) && calls <= 2 {
                world
                    .answering(
                        ProviderKind::PingPong,
                        path,
                        Some(&call.reference),
                        "HTTP 500",
                        how,
                    )
                    .await;
                return (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "try again later",
                )
                    .into_response();
            }
            if misbehave(RespondMisbehaviour::HangThirdSupply)
                && op == "supplyDefenseDocument"
                && supplies == 3
            {
                std::future::pending::<()>().await;
            }
            let standing = world.latest(call.dispute);
            let decided = standing.is_some_and(|(step, _)| {
                matches!(
                    chargeback_status(&step.kind),
                    Some("WON" | "LOST" | "EXPIRED")
                )
            });
            let ended = standing
                .and_then(|(step, at)| step.deadline_after().map(|after| at + after))
                .is_some_and(|deadline| deadline <= Timestamp::now());
            let mut defences = world.defences.lock().expect("the defences' lock");
            let defence = defences.entry(call.reference.clone()).or_default();
            let answer = match (op, defence.decided) {
                (_, Some(_)) => error(
                    "DefendExist",
                    "the dispute was defended or accepted already",
                ),
                _ if decided => error(
                    "DefendDisputeStatusError",
                    "the dispute is not in a status that can be defended",
                ),
                ("supplyDefenseDocument" | "defendDispute", None) if ended => {
                    error("DefendEnded", "the defense period has ended")
                }
                ("supplyDefenseDocument", None) => supply(defence, &call.fields),
                ("deleteDefenseDocument", None) => {
                    let code = call
                        .fields
                        .get("defenseDocumentTypeCode")
                        .and_then(Value::as_str);
                    match code.map(|c| defence.documents.remove(c)) {
                        Some(true) => json!({"success": true}),
                        _ => error("OtherError", "no such document was supplied"),
                    }
                }
                ("defendDispute", None) => {
                    defence.decided = Some("defended");
                    lose_answer = misbehave(RespondMisbehaviour::LoseDefendAnswer);
                    hang_answer = misbehave(RespondMisbehaviour::HangDefendAnswer);
                    outcome = call
                        .dispute
                        .after_defence
                        .clone()
                        .map(|after| (call.dispute.clone(), after));
                    json!({"success": true})
                }
                (_, None) => {
                    defence.decided = Some("accepted");
                    json!({"success": true})
                }
            };
            let mut answer = answer;
            answer["accId"] = call.account.into();
            (answer, Some(call.reference))
        }
    };
    if let Some((dispute, after)) = outcome {
        world.clone().decide_later(dispute, after);
    }
    if hang_answer {
        std::future::pending::<()>().await;
    }
    if lose_answer {
        world
            .answering(
                ProviderKind::PingPong,
                path,
                reference.as_deref(),
                "HTTP 500",
                how,
            )
            .await;
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "try again later",
        )
            .into_response();
    }
    pingpong_reply(&world, path, reference.as_deref(), answer, how).await
}

impl World {
    /// Sends `dispute`'s outcome notification `after.after_seconds` from
    /// now, where outcomes go (nowhere when none was said).
    fn decide_later(self: Arc<Self>, dispute: DisputeScript, after: AfterDefence) {
        let Some(how) = self.outcomes.lock().expect("the outcomes' lock").clone() else {
            return;
        };
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::from(after.after_seconds))).await;
            let minutes = (Timestamp::now() - self.start)
                .total(jiff::Unit::Minute)
                .map_or(0, |m| m.max(0.0) as u32);
            let step = Step {
                kind: after.kind,
                result: None,
                happened_minutes: minutes,
                sent_minutes: None,
                deadline_days: None,
                deadline_hours: None,
                flat: false,
                misbehave: Vec::new(),
            };
            let index = dispute.events.len();
            match crate::notifications::build(
                &self.scenario,
                &dispute,
                index,
                &step,
                self.start,
                &self.keys,
            ) {
                Ok(request) => {
                    let sent = crate::sender::send_now(&how, &dispute, &step, request).await;
                    report_outcome(&sent);
                }
                Err(e) => eprintln!("cannot build the outcome of {}: {e:#}", dispute.reference),
            }
        });
    }
}

/// The outcome's attempts, on the simulator's standard error.
fn report_outcome(attempts: &[crate::sender::Attempt]) {
    for attempt in attempts {
        eprintln!(
            "outcome {} {} attempt {}: {:?}",
            attempt.reference, attempt.kind, attempt.attempt, attempt.status
        );
    }
}

/// Keeps each supplied document's type, or refuses the whole supply.
fn supply(defence: &mut Defence, fields: &serde_json::Map<String, Value>) -> Value {
    let error = |code: &str, message: &str| json!({"success": false, "errorCode": code, "errorMessage": message});
    let Some(documents) = fields.get("defenseDocuments").and_then(Value::as_array) else {
        return error("UploadFileError", "defenseDocuments is missing");
    };
    let mut codes = Vec::new();
    for document in documents {
        let field = |name: &str| document.get(name).and_then(Value::as_str);
        match field("contentType") {
            None => return error("ContentCodeError", "contentType is missing"),
            Some("application/pdf" | "image/jpeg" | "image/tiff") => {}
            Some(_) => return error("UploadFileTypeError", "PDF, JPEG or TIFF only"),
        }
        if field("content")
            .and_then(decode_base64)
            .is_none_or(|b| b.is_empty())
        {
            return error("UploadFileError", "the content is not Base64");
        }
        match field("defenseDocumentTypeCode") {
            Some(code) if pingpong::document_kind(code).is_some() => codes.push(code.to_owned()),
            _ => return error("UploadFileTypeError", "unknown defenseDocumentTypeCode"),
        }
    }
    defence.documents.extend(codes);
    json!({"success": true})
}

/// PingPong's `disputeType` for a Visa reason code, and the documents its
/// defence asks for with their `requirementLevel`, after Adyen's defence
/// reasons, which PingPong's dispute service follows.
fn defense_documents(
    reason_code: Option<&str>,
) -> (&'static str, &'static [(&'static str, &'static str)]) {
    match reason_code.unwrap_or_default() {
        "13.1" => (
            "NO_RECEIVED",
            &[
                ("TIDorInvoice", "Mandatory"),
                ("LogisticInfo", "Mandatory"),
                ("ImageofGoodDeliverd", "Optional"),
                ("CustomerContactInfo", "Optional"),
            ],
        ),
        "13.3" | "13.4" | "13.5" => (
            "WRONG_GOODS",
            &[
                ("TIDorInvoice", "Mandatory"),
                ("GoodsWereAsDescribed", "Mandatory"),
                ("CancelRefundPolicy", "Conditional"),
                ("CustomerContactInfo", "Optional"),
            ],
        ),
        code if code.starts_with("10.") => (
            "DUTY",
            &[
                ("TIDorInvoice", "Mandatory"),
                ("CardholderSignLetter", "Conditional"),
                ("CustomerContactInfo", "Conditional"),
                ("DefendMaterial", "Optional"),
            ],
        ),
        _ => (
            "OTHERS",
            &[
                ("TIDorInvoice", "Mandatory"),
                ("DefendMaterial", "Optional"),
            ],
        ),
    }
}

async fn botim_order(State(world): State<Arc<World>>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/botim-money/sgs/api/acquire2/getOrder";
    let fail = |code: &str, msg: &str| json!({"head": {"applyStatus": "FAIL", "code": code, "msg": msg, "traceCode": trace_code()}});
    let (answer, reference, how) = 'answer: {
        if !signed_by(&world.keys.botim_merchant, &headers, &body) {
            break 'answer (
                fail("SIGN_ERROR", "sign verify fail"),
                None,
                Misbehaving::default(),
            );
        }
        let Ok(request) = serde_json::from_slice::<Value>(&body) else {
            break 'answer (
                fail("PARAM_ERROR", "the request is not JSON"),
                None,
                Misbehaving::default(),
            );
        };
        let Some(sent) = request["requestTime"]
            .as_i64()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        else {
            break 'answer (
                fail("PARAM_ERROR", "requestTime is required"),
                None,
                Misbehaving::default(),
            );
        };
        if Timestamp::now().duration_since(sent).abs() > BOTIM_CLOCK_SKEW {
            break 'answer (
                fail("PARAM_ERROR", "requestTime is expired"),
                None,
                Misbehaving::default(),
            );
        }
        let partner = headers
            .get("partner-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let Some(order_no) = request["bizContent"]["orderNo"].as_str().map(str::to_owned) else {
            break 'answer (
                fail("PARAM_ERROR", "bizContent.orderNo is required"),
                None,
                Misbehaving::default(),
            );
        };
        let Some(dispute) = world.dispute(ProviderKind::BotimMoney, partner, &order_no) else {
            break 'answer (
                fail("ORDER_NOT_EXIST", "order not exist"),
                Some(order_no),
                Misbehaving::default(),
            );
        };
        let how = world.misbehaving(Some(dispute));
        let amount = RawValue::from_string(dispute.amount.clone()).ok();
        let answer = json!({
            "head": {"applyStatus": "SUCCESS", "code": "0", "msg": "SUCCESS", "traceCode": trace_code()},
            "body": {"acquireOrder": {
                "orderNo": dispute.reference,
                "merchantOrderNo": format!("M-{}", dispute.reference),
                "status": "SETTLED",
                "revoked": "false",
                "totalAmount": {"amount": amount, "currency": dispute.currency},
                "paySceneCode": "PAYPAGE",
            }},
        });
        (answer, Some(order_no), how)
    };
    let code = answer["head"]["code"].as_str().unwrap_or("").to_owned();
    world
        .answering(
            ProviderKind::BotimMoney,
            path,
            reference.as_deref(),
            &code,
            how,
        )
        .await;
    let body = serde_json::to_vec(&answer).expect("JSON serializes");
    let sign = sign_answer(&world.keys.botim, &body, how.corrupt);
    json_response(body, Some(sign))
}

async fn payermax_case(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/payermax/aggregate-pay/api/gateway/caseSearch";
    let error = |code: &str, msg: &str| json!({"code": code, "msg": msg});
    let (answer, reference, how) = 'answer: {
        let (request, merchant) = match payermax_envelope(&world, &headers, &body, "1.5") {
            Ok(checked) => checked,
            Err(refused) => break 'answer (refused, None, Misbehaving::default()),
        };
        let merchant = merchant.as_str();
        let Some(case_id) = request["data"]["caseId"].as_str().map(str::to_owned) else {
            break 'answer (
                error("PARAMS_INVALID", "data.caseId is required."),
                None,
                Misbehaving::default(),
            );
        };
        let found = world
            .dispute(ProviderKind::PayerMax, merchant, &case_id)
            .and_then(|d| Some((d, world.latest(d)?)));
        let Some((dispute, (step, at))) = found else {
            break 'answer (
                error("PARAMS_INVALID", "The case does not exist."),
                Some(case_id),
                Misbehaving::default(),
            );
        };
        let how = world.misbehaving(Some(dispute));
        let deadline = step
            .deadline_after()
            .map(|after| (at + after).strftime("%Y-%m-%d").to_string());
        let answer = json!({
            "code": "APPLY_SUCCESS",
            "msg": "Success.",
            "data": {
                "caseId": dispute.reference,
                "status": step.kind,
                "caseResult": step.result,
                "amount": dispute.amount,
                "currency": dispute.currency,
                "expirationDate": deadline,
                "outTradeNo": format!("M-{}", dispute.reference),
                "tradeToken": format!("PS-{}", dispute.reference),
            },
        });
        (answer, Some(case_id), how)
    };
    let code = answer["code"].as_str().unwrap_or("").to_owned();
    world
        .answering(
            ProviderKind::PayerMax,
            path,
            reference.as_deref(),
            &code,
            how,
        )
        .await;
    let body = serde_json::to_vec(&answer).expect("JSON serializes");
    // PayerMax signs what it accepted; its refusals come unsigned.
    let sign =
        (code == "APPLY_SUCCESS").then(|| sign_answer(&world.keys.payermax, &body, how.corrupt));
    json_response(body, sign)
}

/// PayerMax's gateway checks, shared by its calls: the merchant's
/// signature, JSON, `requestTime` within two minutes, `version`, the
/// merchant and its app; the request and the merchant, or the error.
fn payermax_envelope(
    world: &World,
    headers: &HeaderMap,
    body: &[u8],
    version: &str,
) -> Result<(Value, String), Value> {
    let error = |code: &str, msg: &str| json!({"code": code, "msg": msg});
    if !signed_by(&world.keys.payermax_merchant, headers, body) {
        return Err(error("SIGN_VERIFY_FAILED", "The signature verify failed."));
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Err(error("PARAMS_INVALID", "The request is not JSON."));
    };
    let sent = request["requestTime"]
        .as_str()
        .and_then(|t| t.parse::<Timestamp>().ok());
    match sent {
        Some(sent) if Timestamp::now().duration_since(sent).abs() <= PAYERMAX_CLOCK_SKEW => {}
        _ => {
            return Err(error(
                "PARAMS_INVALID",
                "requestTime is invalid or expired.",
            ))
        }
    }
    if request["version"] != version || request["keyVersion"] != "1" {
        return Err(error("PARAMS_INVALID", "version or keyVersion is invalid."));
    }
    let merchant = request["merchantNo"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !world.knows_account(ProviderKind::PayerMax, &merchant) {
        return Err(error("MERCHANT_INVALID", "The merchant has been offline."));
    }
    let app = request["appId"].as_str().unwrap_or_default();
    let app_ok = world
        .scenario
        .disputes
        .iter()
        .filter(|d| d.provider == ProviderKind::PayerMax)
        .filter(|d| world.scenario.accounts.get(&d.connection) == Some(&merchant))
        .all(|d| {
            world
                .scenario
                .app_ids
                .get(&d.connection)
                .is_none_or(|a| a == app)
        });
    if !app_ok {
        return Err(error(
            "MERCHANT_APP_INVALID",
            "Signature key is not configured.",
        ));
    }
    Ok((request, merchant))
}

/// PayerMax's `caseReplay`: the case's reply, its summary and the files
/// PayerMax downloads itself from each `representmentFile` address (no
/// redirect followed), each refused unless answered 200 with bytes of the
/// type its name says (PNG, JPG, ZIP, DOC, XLS, PDF); one reply a case.
async fn payermax_reply(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/payermax/aggregate-pay/api/gateway/caseReplay";
    let error = |code: &str, msg: &str| json!({"code": code, "msg": msg});
    let (answer, reference) = 'answer: {
        let (request, merchant) = match payermax_envelope(&world, &headers, &body, "1.4") {
            Ok(checked) => checked,
            Err(refused) => break 'answer (refused, None),
        };
        let data = &request["data"];
        let Some(case_id) = data["caseId"].as_str().map(str::to_owned) else {
            break 'answer (error("PARAMS_INVALID", "data.caseId is required."), None);
        };
        if world
            .dispute(ProviderKind::PayerMax, &merchant, &case_id)
            .is_none()
        {
            break 'answer (
                error("PARAMS_INVALID", "The case does not exist."),
                Some(case_id),
            );
        }
        let text = |name: &str, most: usize| {
            data[name]
                .as_str()
                .filter(|t| !t.is_empty() && t.chars().count() <= most)
                .map(str::to_owned)
        };
        let (Some(summary), Some(_)) = (text("responseContent", 256), text("outUserId", 64)) else {
            break 'answer (
                error("PARAMS_INVALID", "responseContent or outUserId is invalid."),
                Some(case_id),
            );
        };
        let files: Vec<String> = data["representmentFile"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let distinct: std::collections::BTreeSet<&String> = files.iter().collect();
        if files.is_empty() || files.len() > 1024 || distinct.len() != files.len() {
            break 'answer (
                error(
                    "PARAMS_INVALID",
                    "representmentFile must hold 1 to 1024 distinct files.",
                ),
                Some(case_id),
            );
        }
        let mut fetched = Vec::new();
        let mut failure = None;
        for url in &files {
            let got = download(url).await;
            if let (Err(why), None) = (&got, &failure) {
                failure = Some(why.clone());
            }
            fetched.push((url.clone(), got.map(|b| b.len())));
        }
        let taken = failure.is_none()
            && world
                .replies
                .lock()
                .expect("the replies' lock")
                .insert(case_id.clone(), Reply { summary, fetched })
                .is_none();
        let msg = match (&failure, taken) {
            (Some(why), _) => why.clone(),
            (None, false) => "The case was replied to already.".to_owned(),
            (None, true) => "Success.".to_owned(),
        };
        let (success, fail): (Vec<&str>, Vec<&str>) = match taken {
            true => (vec![&case_id], vec![]),
            false => (vec![], vec![&case_id]),
        };
        (
            json!({"code": "APPLY_SUCCESS", "msg": msg,
                   "data": {"successCaseIds": success, "failCaseIds": fail}}),
            Some(case_id),
        )
    };
    let code = answer["code"].as_str().unwrap_or("").to_owned();
    world
        .answering(
            ProviderKind::PayerMax,
            path,
            reference.as_deref(),
            &code,
            Misbehaving::default(),
        )
        .await;
    let body = serde_json::to_vec(&answer).expect("JSON serializes");
    let sign = (code == "APPLY_SUCCESS").then(|| sign_answer(&world.keys.payermax, &body, false));
    json_response(body, sign)
}

/// Downloads one representment file as PayerMax would: its bytes, or why
/// PayerMax would not take it.
async fn download(url: &str) -> Result<Vec<u8>, String> {
    let name = url.rsplit('/').next().unwrap_or_default();
    let extension = name
        .rsplit_once('.')
        .map(|(stem, ext)| (stem, ext.to_ascii_lowercase()));
    let Some((_, extension)) = extension.filter(|(stem, _)| {
        !stem.is_empty()
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    }) else {
        return Err(format!("{url} does not end in a file name PayerMax takes"));
    };
    let types: &[&str] = match extension.as_str() {
        "png" => &["image/png"],
        "jpg" | "jpeg" => &["image/jpeg"],
        "pdf" => &["application/pdf"],
        "zip" => &["application/zip"],
        "doc" | "xls" => &[
            "application/msword",
            "application/vnd.ms-excel",
            "application/x-ole-storage",
        ],
        _ => return Err(format!("{name}: PayerMax does not take .{extension} files")),
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let answer = client
        .get(url)
        .send()
        .await
        .map_err(|_| format!("{url} could not be fetched"))?;
    if answer.status() != reqwest::StatusCode::OK {
        return Err(format!("{url} answered HTTP {}", answer.status().as_u16()));
    }
    let declared = answer
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !types.iter().any(|t| declared.starts_with(t)) {
        return Err(format!("{name} came as {declared:?}, not as its name says"));
    }
    let bytes = answer
        .bytes()
        .await
        .map_err(|_| format!("{url} was cut off"))?;
    match bytes.is_empty() {
        true => Err(format!("{name} is empty")),
        false => Ok(bytes.to_vec()),
    }
}

/// Whether the `sign` header verifies `body` with the merchant's key.
fn signed_by(key: &VerificationKey, headers: &HeaderMap, body: &[u8]) -> bool {
    headers
        .get("sign")
        .and_then(|v| v.to_str().ok())
        .and_then(decode_base64)
        .is_some_and(|signature| key.verifies(body, &signature))
}

/// The answer's `sign` header; a corrupted one signs other bytes.
fn sign_answer(key: &SigningKey, body: &[u8], corrupt: bool) -> String {
    match corrupt {
        true => key.sign(&[body, b" "].concat()),
        false => key.sign(body),
    }
}

fn trace_code() -> String {
    format!("SIM{}", Timestamp::now().as_millisecond())
}

fn json_response(body: Vec<u8>, sign: Option<String>) -> Response {
    let mut response = (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Some(sign) = sign.and_then(|s| HeaderValue::from_str(&s).ok()) {
        response.headers_mut().insert("sign", sign);
    }
    response
}
