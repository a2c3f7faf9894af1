//! The simulator's query APIs over real HTTP on loopback, asked the way
//! Dispute Desk asks (requests written and answers read by `dispute-core`):
//! the answers verify with the merchant side's keys, and the simulator's
//! own checks refuse tampered, unknown and malformed requests with each
//! provider's error answer.

use std::{path::PathBuf, sync::Arc, time::Duration};

use dispute_core::{
    domain::{DisputeRef, Effect, ProviderKind, Stage, Status},
    providers::{
        keys::{FingerprintKey, Salt, SigningKey, VerificationKey},
        query::{Answer, QueryContext, QueryRequest, QueryTarget},
        Connector, Refusal,
    },
};
use jiff::tz::TimeZone;
use secrecy::SecretString;
use simulator::{
    notifications::Keys,
    queries::{self, World},
    scenario::Scenario,
};

fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/providers/keys")
}

fn key_text(name: &str) -> String {
    std::fs::read_to_string(keys_dir().join(name)).unwrap()
}

const SCENARIO: &str = r#"{
 "name": "queries",
 "accounts": {"pp": "2022102018024210348882", "bm": "200000003232", "pm": "SDP01010114524460"},
 "app_ids": {"pm": "6666c8b036a24579974497c2f9a33333"},
 "disputes": [
  {"provider": "pingpong", "connection": "pp", "reference": "PP1", "amount": "640.00",
   "currency": "USD", "events": [
    {"kind": "REQUEST_FOR_INFORMATION", "happened_minutes": 0, "deadline_days": 10},
    {"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 120, "deadline_days": 14,
     "misbehave": ["drop"]}],
   "expect": {"stage": "inquiry", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pp", "reference": "PP2", "amount": "10.00",
   "currency": "USD", "events": [{"kind": "REQUEST_FOR_INFORMATION", "happened_minutes": 60,
   "deadline_days": 5}], "expect": {"stage": "inquiry", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pp", "reference": "PPENDED", "amount": "10.00",
   "currency": "USD", "events": [{"kind": "NOTIFICATION_OF_CHARGEBACK", "happened_minutes": 0,
   "deadline_hours": 1}], "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "pingpong", "connection": "pp", "reference": "PPFORGED", "amount": "10.00",
   "currency": "USD", "events": [{"kind": "CHARGEBACK_REVERSED", "happened_minutes": 60}],
   "query_misbehave": ["corrupt_signature"],
   "expect": {"stage": "chargeback", "status": "won"}},
  {"provider": "botim_money", "connection": "bm", "reference": "BM1", "amount": "200.00",
   "currency": "AED", "events": [{"kind": "CHARGEBACK", "happened_minutes": 30}],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "botim_money", "connection": "bm", "reference": "BMFORGED", "amount": "1.00",
   "currency": "AED", "events": [{"kind": "CHARGEBACK", "happened_minutes": 30}],
   "query_misbehave": ["corrupt_signature"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "payermax", "connection": "pm", "reference": "PM1", "amount": "75.5",
   "currency": "AED", "events": [
    {"kind": "DISPUTE_INQUIRY", "happened_minutes": 10, "deadline_days": 7},
    {"kind": "DISPUTE_END", "result": "WIN", "happened_minutes": 90, "misbehave": ["drop"]}],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "payermax", "connection": "pm", "reference": "PMSLOW", "amount": "5.00",
   "currency": "AED", "events": [{"kind": "DISPUTE_INQUIRY", "happened_minutes": 10}],
   "query_misbehave": ["slow_answer"],
   "expect": {"stage": "chargeback", "status": "needs_response"}},
  {"provider": "payermax", "connection": "pm", "reference": "PMFORGED", "amount": "5.00",
   "currency": "AED", "events": [{"kind": "CASE_CANCEL", "happened_minutes": 10}],
   "query_misbehave": ["corrupt_signature"],
   "expect": {"stage": "chargeback", "status": "cancelled"}}
 ]
}"#;

/// How late a `slow_answer` comes.
const SLOW: Duration = Duration::from_millis(1500);

/// The query APIs on a port of their own, and their world for the log.
async fn simulator() -> (String, Arc<World>) {
    let scenario: Scenario = serde_json::from_str(SCENARIO).unwrap();
    let start = scenario.start_ending_now();
    let world = Arc::new(World::new(
        scenario,
        start,
        Keys::load(&keys_dir()).unwrap(),
        SLOW,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(queries::serve(listener, world.clone()));
    (address, world)
}

/// What the merchant's connection holds at each provider.
struct Merchant {
    connector: Connector,
    prefix: &'static str,
    account: &'static str,
    app_id: Option<&'static str>,
    key: Option<SigningKey>,
}

static UTC: TimeZone = TimeZone::UTC;

impl Merchant {
    fn of(provider: ProviderKind) -> Self {
        let public = |name| VerificationKey::parse(&key_text(name)).unwrap();
        let private = |name| SigningKey::parse(&SecretString::from(key_text(name))).unwrap();
        match provider {
            ProviderKind::PingPong => Merchant {
                connector: Connector::new(
                    provider,
                    vec![Salt::parse(
                        &SecretString::from(key_text("pingpong-salt.txt")),
                        &FingerprintKey::new([7; 32]),
                    )
                    .unwrap()],
                    vec![],
                ),
                prefix: "/pingpong",
                account: "2022102018024210348882",
                app_id: None,
                key: None,
            },
            ProviderKind::BotimMoney => Merchant {
                connector: Connector::new(provider, vec![], vec![public("botim-money-public.pem")]),
                prefix: "/botim-money",
                account: "200000003232",
                app_id: None,
                key: Some(private("botim-money-merchant-private.pem")),
            },
            ProviderKind::PayerMax => Merchant {
                connector: Connector::new(provider, vec![], vec![public("payermax-public.b64")]),
                prefix: "/payermax",
                account: "SDP01010114524460",
                app_id: Some("6666c8b036a24579974497c2f9a33333"),
                key: Some(private("payermax-merchant-private.b64")),
            },
        }
    }

    fn ctx(&self) -> QueryContext<'_> {
        QueryContext {
            account_id: self.account,
            app_id: self.app_id,
            merchant_key: self.key.as_ref(),
            zone: &UTC,
        }
    }

    fn requests(&self, target: &QueryTarget<'_>) -> Vec<QueryRequest> {
        self.connector
            .query_requests(&self.ctx(), target, jiff::Timestamp::now())
            .unwrap()
    }

    /// Sends `request` and reads the answer as Dispute Desk would.
    async fn send(
        &self,
        base: &str,
        request: &QueryRequest,
        target: &QueryTarget<'_>,
    ) -> Result<Answer, Refusal> {
        let client = reqwest::Client::new();
        let mut post = client.post(format!("{base}{}{}", self.prefix, request.path));
        for (name, value) in &request.headers {
            post = post.header(*name, value);
        }
        let answer = post.body(request.body.clone()).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        let headers = answer.headers().clone();
        let body = answer.bytes().await.unwrap();
        self.connector
            .read_answer(request, &headers, &body, target, &self.ctx())
    }

    /// Every request of the query in turn, until one finds the dispute.
    async fn ask(&self, base: &str, target: &QueryTarget<'_>) -> Result<Answer, Refusal> {
        let mut last = None;
        for request in self.requests(target) {
            let answer = self.send(base, &request, target).await?;
            if !matches!(answer, Answer::NotFound(_)) {
                return Ok(answer);
            }
            last = Some(answer);
        }
        Ok(last.expect("at least one request"))
    }
}

fn target(reference: &DisputeRef, stage: Stage) -> QueryTarget<'_> {
    QueryTarget {
        reference,
        stage: Some(stage),
        opened_at: jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24),
    }
}

fn reference(text: &str) -> DisputeRef {
    DisputeRef::parse(text).unwrap()
}

fn found(answer: Result<Answer, Refusal>) -> dispute_core::providers::query::Finding {
    match answer {
        Ok(Answer::Found(f)) => f,
        other => panic!("expected a finding, got {other:?}"),
    }
}

#[tokio::test]
async fn each_providers_answer_verifies_with_the_merchants_keys_and_tells_what_was_dropped() {
    let (base, world) = simulator().await;

    // The dropped chargeback is known to PingPong's chargeback list.
    let pp1 = reference("PP1");
    let lost = found(
        Merchant::of(ProviderKind::PingPong)
            .ask(&base, &target(&pp1, Stage::Inquiry))
            .await,
    );
    assert_eq!(
        lost.effect,
        Effect::Sets(Stage::Chargeback, Status::NeedsResponse)
    );
    assert!(lost.deadline.is_some());

    // A request for information with nothing after it is only in the
    // retrieval list: the chargeback list is asked first, then that one.
    let pp2 = reference("PP2");
    let rfi = found(
        Merchant::of(ProviderKind::PingPong)
            .ask(&base, &target(&pp2, Stage::Inquiry))
            .await,
    );
    assert_eq!(
        rfi.effect,
        Effect::Sets(Stage::Inquiry, Status::NeedsResponse)
    );

    let bm1 = reference("BM1");
    let order = found(
        Merchant::of(ProviderKind::BotimMoney)
            .ask(&base, &target(&bm1, Stage::Chargeback))
            .await,
    );
    assert_eq!(
        order.effect,
        Effect::None,
        "Botim Money has no chargeback state"
    );
    assert_eq!(order.kind, "ORDER SETTLED");
    assert_eq!(order.amount.unwrap().normalized(), "200.00");

    let pm1 = reference("PM1");
    let won = found(
        Merchant::of(ProviderKind::PayerMax)
            .ask(&base, &target(&pm1, Stage::Chargeback))
            .await,
    );
    assert_eq!(won.effect, Effect::Sets(Stage::Chargeback, Status::Won));

    let codes: Vec<(Option<String>, String)> = world
        .log()
        .into_iter()
        .map(|a| (a.reference, a.code))
        .collect();
    let named = |r: &str, c: &str| (Some(r.to_owned()), c.to_owned());
    assert_eq!(
        codes,
        [
            named("PP1", "success"),
            named("PP2", "success"),
            named("PP2", "success"),
            named("BM1", "0"),
            named("PM1", "APPLY_SUCCESS"),
        ]
    );
}

#[tokio::test]
async fn a_tampered_request_is_refused_with_each_providers_error_answer() {
    let (base, world) = simulator().await;
    for (provider, reference_text, words) in [
        (ProviderKind::PingPong, "PP1", "refused the query"),
        (
            ProviderKind::BotimMoney,
            "BM1",
            "sign verify fail (SIGN_ERROR)",
        ),
        (
            ProviderKind::PayerMax,
            "PM1",
            "could not verify our signature",
        ),
    ] {
        let merchant = Merchant::of(provider);
        let dispute = reference(reference_text);
        let target = target(&dispute, Stage::Chargeback);
        let mut request = merchant.requests(&target).remove(0);
        // Someone on the way changes which dispute is asked about.
        let tampered = String::from_utf8(request.body.clone())
            .unwrap()
            .replace(reference_text, "PP2");
        request.body = tampered.into_bytes();
        match merchant.send(&base, &request, &target).await {
            Ok(Answer::Failed(sentence)) => assert!(sentence.contains(words), "{sentence}"),
            other => panic!("{provider:?}: expected a refusal, got {other:?}"),
        }
    }
    let codes: Vec<String> = world.log().into_iter().map(|a| a.code).collect();
    assert_eq!(codes, ["OtherError", "SIGN_ERROR", "SIGN_VERIFY_FAILED"]);
    assert!(world.log().iter().all(|a| a.reference.is_none()));
}

#[tokio::test]
async fn unknown_cases_wrong_accounts_and_malformed_requests_get_the_documented_errors() {
    let (base, world) = simulator().await;
    let nobody = reference("NO-SUCH-CASE");
    for provider in ProviderKind::ALL {
        let answer = Merchant::of(provider)
            .ask(&base, &target(&nobody, Stage::Chargeback))
            .await
            .unwrap();
        assert!(
            matches!(answer, Answer::NotFound(_) | Answer::Failed(_)),
            "{provider:?}: {answer:?}"
        );
    }
    for provider in [ProviderKind::PingPong, ProviderKind::PayerMax] {
        let mut merchant = Merchant::of(provider);
        merchant.account = "SOMEONE-ELSE";
        let pp1 = reference("PP1");
        let Ok(Answer::Failed(sentence)) =
            merchant.ask(&base, &target(&pp1, Stage::Chargeback)).await
        else {
            panic!("{provider:?} refuses another account");
        };
        assert!(
            sentence.contains("account") || sentence.contains("merchant"),
            "{sentence}"
        );
    }
    // Signed correctly, but not what the API takes.
    let client = reqwest::Client::new();
    let botim_key = SigningKey::parse(&SecretString::from(key_text(
        "botim-money-merchant-private.pem",
    )))
    .unwrap();
    let payermax_key = SigningKey::parse(&SecretString::from(key_text(
        "payermax-merchant-private.b64",
    )))
    .unwrap();
    for (path, key, body) in [
        (
            "/botim-money/sgs/api/acquire2/getOrder",
            &botim_key,
            &b"not json"[..],
        ),
        (
            "/botim-money/sgs/api/acquire2/getOrder",
            &botim_key,
            br#"{"requestTime": 1}"#,
        ),
        (
            "/payermax/aggregate-pay/api/gateway/caseSearch",
            &payermax_key,
            b"not json",
        ),
        (
            "/payermax/aggregate-pay/api/gateway/caseSearch",
            &payermax_key,
            br#"{"version": "1.5", "keyVersion": "1", "requestTime": "2001-01-01T00:00:00Z"}"#,
        ),
    ] {
        let answer = client
            .post(format!("{base}{path}"))
            .header("sign", key.sign(body))
            .header("partner-id", "200000003232")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let json: serde_json::Value =
            serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        assert!(
            json["head"]["code"] == "PARAM_ERROR" || json["code"] == "PARAMS_INVALID",
            "{path} {json}"
        );
    }
    let pingpong = client
        .post(format!("{base}/pingpong/dispute/getDisputeInfo"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&pingpong.bytes().await.unwrap()).unwrap();
    assert_eq!(json["success"], false);
    assert_eq!(json["errorCode"], "OtherError");

    let codes: Vec<String> = world.log().into_iter().map(|a| a.code).collect();
    assert_eq!(
        codes,
        [
            "CBNonExist",
            "ORDER_NOT_EXIST",
            "PARAMS_INVALID",
            "AccIdError",
            "MERCHANT_INVALID",
            "PARAM_ERROR",
            "PARAM_ERROR",
            "PARAMS_INVALID",
            "PARAMS_INVALID",
            "OtherError",
        ]
    );
}

#[tokio::test]
async fn a_corrupted_answer_signature_fails_closed_on_the_merchant_side() {
    let (base, _world) = simulator().await;
    for (provider, text) in [
        (ProviderKind::PingPong, "PPFORGED"),
        (ProviderKind::BotimMoney, "BMFORGED"),
        (ProviderKind::PayerMax, "PMFORGED"),
    ] {
        let dispute = reference(text);
        let answer = Merchant::of(provider)
            .ask(&base, &target(&dispute, Stage::Chargeback))
            .await;
        assert!(
            matches!(answer, Err(Refusal::BadSignature(_))),
            "{provider:?}: {answer:?}"
        );
    }
}

#[tokio::test]
async fn a_slow_answer_outlasts_the_clients_timeout() {
    let (base, world) = simulator().await;
    let merchant = Merchant::of(ProviderKind::PayerMax);
    let dispute = reference("PMSLOW");
    let request = merchant
        .requests(&target(&dispute, Stage::Chargeback))
        .remove(0);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut post = client.post(format!("{base}/payermax{}", request.path));
    for (name, value) in &request.headers {
        post = post.header(*name, value);
    }
    let began = std::time::Instant::now();
    let error = post.body(request.body).send().await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(began.elapsed() < Duration::from_millis(1200));
    // The simulator had its answer, and held it back.
    let answered = world.log();
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].code, "APPLY_SUCCESS");
    assert!(answered[0].delayed);
}

/// PingPong's `getDefenseReasons` asked as Dispute Desk asks it.
async fn checklist(
    base: &str,
    merchant: &Merchant,
    reference: &str,
) -> Result<dispute_core::providers::query::ChecklistAnswer, Refusal> {
    let request = merchant
        .connector
        .checklist_request(&merchant.ctx(), reference)
        .unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{base}{}{}", merchant.prefix, request.path))
        .header("content-type", "application/json")
        .body(request.body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    merchant
        .connector
        .read_checklist(&answer.bytes().await.unwrap())
}

#[tokio::test]
async fn pingpongs_checklist_verifies_and_names_the_documents_a_defence_needs() {
    use dispute_core::{
        domain::evidence::{DocumentKind, Requirement},
        providers::query::ChecklistAnswer,
    };
    let (base, world) = simulator().await;
    let merchant = Merchant::of(ProviderKind::PingPong);
    assert_eq!(
        checklist(&base, &merchant, "PP1").await.unwrap(),
        ChecklistAnswer::Needs {
            needs: vec![
                (DocumentKind::Invoice, Requirement::Mandatory),
                (DocumentKind::Other, Requirement::Optional),
            ],
            satisfied: false,
        }
    );
    match checklist(&base, &merchant, "NOPE").await.unwrap() {
        ChecklistAnswer::Failed(words) => {
            assert!(words.starts_with("PingPong has no such dispute"), "{words}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        checklist(&base, &merchant, "PPFORGED").await.is_err(),
        "a corrupted signature fails closed"
    );
    let others = [ProviderKind::BotimMoney, ProviderKind::PayerMax];
    for provider in others {
        let m = Merchant::of(provider);
        assert!(
            m.connector.checklist_request(&m.ctx(), "X").is_none(),
            "{provider:?}"
        );
    }
    let codes: Vec<String> = world
        .log()
        .into_iter()
        .filter(|a| a.path.ends_with("getDefenseReasons"))
        .map(|a| a.code)
        .collect();
    assert_eq!(codes, ["success", "CBNonExist", "success"]);
}

/// One of PingPong's response calls, written and read by `dispute-core`.
async fn respond(
    base: &str,
    merchant: &Merchant,
    reference: &str,
    call: dispute_core::providers::pingpong::respond::ResponseCall,
    documents: &[dispute_core::providers::submission::Supplied<'_>],
) -> dispute_core::providers::submission::StepAnswer {
    use dispute_core::providers::pingpong::respond::Documented;
    let Connector::PingPong(pingpong) = &merchant.connector else {
        panic!("a PingPong merchant");
    };
    let body = pingpong
        .response_request(&merchant.ctx(), reference, call, documents, None)
        .unwrap();
    let answer = reqwest::Client::new()
        .post(format!(
            "{base}{}{}",
            merchant.prefix,
            call.path(Documented::Sandbox)
        ))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    pingpong
        .read_response_answer(&answer.bytes().await.unwrap())
        .unwrap()
}

#[tokio::test]
async fn pingpong_takes_documents_then_one_defence_and_says_so_in_its_checklist() {
    use dispute_core::{
        domain::evidence::{DocumentKind, FileKind, Requirement},
        providers::{
            pingpong::respond::ResponseCall,
            query::ChecklistAnswer,
            submission::{StepAnswer as ResponseAnswer, Supplied},
        },
    };
    let (base, _world) = simulator().await;
    let merchant = Merchant::of(ProviderKind::PingPong);
    let invoice = [Supplied {
        document: DocumentKind::Invoice,
        format: FileKind::Pdf,
        bytes: b"%PDF-1.7 the invoice",
    }];
    assert_eq!(
        respond(&base, &merchant, "PP2", ResponseCall::Supply, &invoice).await,
        ResponseAnswer::Done
    );
    assert_eq!(
        checklist(&base, &merchant, "PP2").await.unwrap(),
        ChecklistAnswer::Needs {
            needs: vec![
                (DocumentKind::Invoice, Requirement::Mandatory),
                (DocumentKind::Other, Requirement::Optional),
            ],
            satisfied: true,
        },
        "the mandatory invoice is there"
    );
    assert_eq!(
        respond(&base, &merchant, "PP2", ResponseCall::Defend, &[]).await,
        ResponseAnswer::Done
    );
    for call in [
        ResponseCall::Defend,
        ResponseCall::Accept,
        ResponseCall::Supply,
    ] {
        match respond(&base, &merchant, "PP2", call, &invoice).await {
            ResponseAnswer::Refused { code, retry, .. } => {
                assert_eq!(code, "DefendExist", "{call:?}");
                assert!(!retry);
            }
            other => panic!("{call:?}: {other:?}"),
        }
    }
    match respond(&base, &merchant, "NOPE", ResponseCall::Accept, &[]).await {
        ResponseAnswer::Refused { code, words, .. } => {
            assert_eq!(code, "CBNonExist");
            assert!(words.starts_with("PingPong has no such dispute"), "{words}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        respond(&base, &merchant, "PP1", ResponseCall::Accept, &[]).await,
        ResponseAnswer::Done,
        "another dispute is its own"
    );
    let refused = |answer| match answer {
        ResponseAnswer::Refused { code, .. } => code,
        ResponseAnswer::Done => "done".to_owned(),
        ResponseAnswer::DecidedAlready(_) => "decided already".to_owned(),
    };
    assert_eq!(
        refused(respond(&base, &merchant, "PPENDED", ResponseCall::Defend, &[]).await),
        "DefendEnded",
        "its deadline has passed"
    );
    assert_eq!(
        refused(respond(&base, &merchant, "PPENDED", ResponseCall::Supply, &invoice).await),
        "DefendEnded"
    );
    assert_eq!(
        refused(respond(&base, &merchant, "PPFORGED", ResponseCall::Defend, &[]).await),
        "DefendDisputeStatusError",
        "it is won already"
    );
}
