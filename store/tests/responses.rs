//! Responses and their evidence in the store: one per dispute and stage,
//! files streamed in chunks and read back in order, a file kept only when
//! its upload finishes, the same bytes once, the response's limit, and
//! what a response that cannot change refuses; and decisions about them:
//! one-time confirmations, one decision per stage, steps kept once, the
//! decision folded once, and what a refusal gives back.

use dispute_core::domain::{
    evidence::{DocumentKind, FileKind, Letter, ResponseState, Summary},
    ConnectionDraft, DisplayName, DisputeRef, Effect, Email, EventKey, NormalizedEvent,
    ProviderKind, ProviderTime, Role, Stage, Status,
};
use dispute_store::{
    Actor, EventSource, NewEvidence, NewUser, Prepared, ResponseRefusal, Saving, Store, CHUNK_BYTES,
};
use futures::TryStreamExt;
use test_support::TestDatabase;

struct Setup {
    store: Store,
    _db: TestDatabase,
    connection: i64,
    dispute: i64,
    me: Actor,
}

fn event(key: &str, stage: Stage, status: Status) -> NormalizedEvent {
    let at: jiff::Timestamp = "2026-11-01T10:00:00Z".parse().unwrap();
    NormalizedEvent {
        dispute_ref: DisputeRef::parse("CB-1").unwrap(),
        key: EventKey::from_parts(&["CB-1", key]),
        kind: key.to_uppercase(),
        effect: Effect::Sets(stage, status),
        occurred_at: Some(ProviderTime {
            at,
            text: at.to_string(),
        }),
        deadline: None,
        amount: None,
        reason: Some("Merchandise not received".into()),
        reason_code: Some("13.1".into()),
        provider_status: None,
        payment_reference: None,
        merchant_reference: None,
    }
}

async fn setup() -> Setup {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool(4).await);
    store.migrate().await.unwrap();
    let settings = ConnectionDraft {
        slug: "pp".into(),
        provider: ProviderKind::PingPong.as_str().into(),
        timezone: "UTC".into(),
        enabled: true,
        ..ConnectionDraft::default()
    }
    .validate(&[])
    .unwrap();
    let connection = store
        .save_connection(&settings, Saving::Create, |_| vec![], &Actor::default())
        .await
        .unwrap()
        .id;
    let user = NewUser {
        email: Email::parse("analyst@example.com").unwrap(),
        display_name: DisplayName::parse("Analyst").unwrap(),
        role: Role::Analyst,
        password_hash: "not a hash".into(),
        must_change_password: false,
    };
    let id = store.create_user(&user, &Actor::default()).await.unwrap();
    let source = EventSource::StatusQuery {
        by: None,
        asked_at: jiff::Timestamp::now(),
        answer: "{}".into(),
    };
    store
        .record_event(
            connection,
            &source,
            &event("open", Stage::Chargeback, Status::NeedsResponse),
        )
        .await
        .unwrap();
    let dispute = store.dispute("pp", "CB-1").await.unwrap().unwrap().id;
    Setup {
        store,
        _db: db,
        connection,
        dispute,
        me: Actor {
            user_id: Some(id),
            ..Actor::default()
        },
    }
}

/// Records that the provider says the dispute is at `stage` and `status`
/// (as a status query's answer).
async fn heard(s: &Setup, key: &str, stage: Stage, status: Status) {
    let source = EventSource::StatusQuery {
        by: None,
        asked_at: jiff::Timestamp::now(),
        answer: "{}".into(),
    };
    s.store
        .record_event(s.connection, &source, &event(key, stage, status))
        .await
        .unwrap();
}

fn evidence(name: &str, bytes: &[u8], document: DocumentKind) -> NewEvidence {
    use sha2::Digest;
    NewEvidence {
        document,
        name: name.into(),
        safe_name: name.into(),
        format: FileKind::Pdf,
        size: bytes.len() as u64,
        sha256: sha2::Sha256::digest(bytes).into(),
        pages: Some(1),
    }
}

/// Streams `bytes` into the response in `CHUNK_BYTES` pieces and keeps it.
async fn add(
    s: &Setup,
    response: i64,
    name: &str,
    bytes: &[u8],
    limit: u64,
) -> Result<dispute_store::EvidenceFile, ResponseRefusal> {
    let mut upload = s.store.begin_evidence(response).await.unwrap();
    for chunk in bytes.chunks(CHUNK_BYTES) {
        upload.write(chunk).await.unwrap();
    }
    upload
        .finish(
            &evidence(name, bytes, DocumentKind::Invoice),
            limit,
            &s.me,
            "d",
        )
        .await
}

async fn counts(s: &Setup) -> (i64, i64) {
    let pool = s.store.pool();
    let files = sqlx::query_scalar("select count(*) from evidence_files")
        .fetch_one(pool)
        .await
        .unwrap();
    let chunks = sqlx::query_scalar("select count(*) from evidence_chunks")
        .fetch_one(pool)
        .await
        .unwrap();
    (files, chunks)
}

fn prepared(p: Prepared) -> i64 {
    match p {
        Prepared::Made(id) => id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_stage_has_one_response_and_a_later_stage_a_new_one() {
    let s = setup().await;
    let letter = Letter::parse("Dear provider").unwrap();
    let first = prepared(
        s.store
            .prepare_response(s.dispute, &letter, &s.me, "d")
            .await
            .unwrap(),
    );
    assert_eq!(
        s.store
            .prepare_response(s.dispute, &letter, &s.me, "d")
            .await
            .unwrap(),
        Prepared::Existing(first)
    );
    assert_eq!(
        s.store
            .prepare_response(i64::MAX, &letter, &s.me, "d")
            .await
            .unwrap(),
        Prepared::NoSuchDispute
    );
    let response = s.store.response(first).await.unwrap().unwrap();
    assert_eq!(
        (response.stage, response.state, response.letter.as_str()),
        (Stage::Chargeback, ResponseState::Draft, "Dear provider")
    );

    heard(&s, "prearb", Stage::PreArbitration, Status::NeedsResponse).await;
    let second = prepared(
        s.store
            .prepare_response(s.dispute, &letter, &s.me, "d")
            .await
            .unwrap(),
    );
    assert_ne!(first, second);
    let all = s.store.responses_of_dispute(s.dispute).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.stage).collect::<Vec<_>>(),
        [Stage::PreArbitration, Stage::Chargeback]
    );
    // The chargeback's response no longer changes: the dispute moved on.
    match add(&s, first, "late.pdf", b"%PDF-late", u64::MAX).await {
        Err(ResponseRefusal::ReadOnly(why)) => assert!(why.contains("moved on"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_file_streams_in_chunks_and_reads_back_byte_for_byte() {
    let s = setup().await;
    let response = prepared(
        s.store
            .prepare_response(s.dispute, &Letter::default(), &s.me, "d")
            .await
            .unwrap(),
    );
    let bytes: Vec<u8> = (0..CHUNK_BYTES * 2 + 1000)
        .map(|i| (i % 251) as u8)
        .collect();
    let file = add(&s, response, "big.pdf", &bytes, u64::MAX)
        .await
        .unwrap();
    assert_eq!(file.size, bytes.len() as u64);
    assert_eq!(counts(&s).await, (1, 3));
    let back: Vec<Vec<u8>> = s.store.evidence_bytes(file.id).try_collect().await.unwrap();
    assert_eq!(back.len(), 3);
    assert_eq!(back.concat(), bytes);
    assert_eq!(s.store.evidence_files(response).await.unwrap(), vec![file]);

    // The same bytes again are refused, by the name they were kept under.
    match add(&s, response, "again.pdf", &bytes, u64::MAX).await {
        Err(ResponseRefusal::Duplicate(name)) => assert_eq!(name, "big.pdf"),
        other => panic!("{other:?}"),
    }
    // Past the response's limit.
    match add(
        &s,
        response,
        "more.pdf",
        b"%PDF-more",
        bytes.len() as u64 + 5,
    )
    .await
    {
        Err(ResponseRefusal::Full { held, limit }) => {
            assert_eq!((held, limit), (bytes.len() as u64, bytes.len() as u64 + 5))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(counts(&s).await, (1, 3), "refused uploads leave nothing");

    // An upload dropped part-way (the browser gone) leaves nothing either.
    let mut upload = s.store.begin_evidence(response).await.unwrap();
    upload.write(&bytes[..1000]).await.unwrap();
    drop(upload);
    assert_eq!(counts(&s).await, (1, 3));
}

#[tokio::test]
async fn a_ready_response_refuses_changes_until_it_is_a_draft_again() {
    let s = setup().await;
    let response = prepared(
        s.store
            .prepare_response(s.dispute, &Letter::default(), &s.me, "d")
            .await
            .unwrap(),
    );
    let file = add(&s, response, "a.pdf", b"%PDF-a", u64::MAX)
        .await
        .unwrap();
    let letter = Letter::parse("Delivered.").unwrap();
    let summary = Summary::parse("Delivered on time").unwrap();
    s.store
        .save_response_text(response, &letter, &summary, &s.me, "d")
        .await
        .unwrap();

    // The check sees the locked response's documents and text.
    let refused = s
        .store
        .move_response(
            response,
            ResponseState::Draft,
            ResponseState::Ready,
            |held, now| {
                assert_eq!(held, [DocumentKind::Invoice]);
                assert_eq!(now.summary, "Delivered on time");
                Some("Not ready: the test says no.".into())
            },
            &s.me,
            "d",
        )
        .await;
    assert!(
        matches!(refused, Err(ResponseRefusal::ReadOnly(why)) if why == "Not ready: the test says no.")
    );
    s.store
        .move_response(
            response,
            ResponseState::Draft,
            ResponseState::Ready,
            |_, _| None,
            &s.me,
            "d",
        )
        .await
        .unwrap();
    assert!(matches!(
        s.store
            .move_response(
                response,
                ResponseState::Draft,
                ResponseState::Ready,
                |_, _| None,
                &s.me,
                "d"
            )
            .await,
        Err(ResponseRefusal::NotIn(ResponseState::Ready))
    ));
    for refusal in [
        s.store.remove_evidence(file.id, &s.me, "d").await.err(),
        s.store
            .save_response_text(
                response,
                &Letter::default(),
                &Summary::default(),
                &s.me,
                "d",
            )
            .await
            .err(),
        add(&s, response, "b.pdf", b"%PDF-b", u64::MAX).await.err(),
    ] {
        match refusal {
            Some(ResponseRefusal::ReadOnly(why)) => assert!(why.contains("back to draft"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
    s.store
        .move_response(
            response,
            ResponseState::Ready,
            ResponseState::Draft,
            |_, _| None,
            &s.me,
            "d",
        )
        .await
        .unwrap();
    let removed = s.store.remove_evidence(file.id, &s.me, "d").await.unwrap();
    assert_eq!(removed.name, "a.pdf");
    assert_eq!(counts(&s).await, (0, 0), "its chunks go with it");

    let history: Vec<String> = s
        .store
        .casework(s.dispute)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|w| match w {
            dispute_store::Casework::Response { action, detail, .. } => Some(action.words(&detail)),
            _ => None,
        })
        .collect();
    assert_eq!(
        history,
        [
            "Prepared a response to the chargeback",
            "Added evidence: a.pdf",
            "Edited the response's letter and summary",
            "Marked the response ready to send",
            "Put the response back to draft",
            "Removed evidence: a.pdf",
        ]
    );
}

#[tokio::test]
async fn an_admins_letter_template_replaces_the_desks_and_is_audited() {
    use dispute_core::domain::evidence::{Defence, LetterTemplate};
    let s = setup().await;
    assert_eq!(s.store.letter_template(Defence::Fraud).await.unwrap(), None);
    let template = LetterTemplate::parse("Dear {{provider}}").unwrap();
    s.store
        .save_letter_template(Defence::Fraud, &template, &s.me)
        .await
        .unwrap();
    let again = LetterTemplate::parse("Hello {{provider}}").unwrap();
    s.store
        .save_letter_template(Defence::Fraud, &again, &s.me)
        .await
        .unwrap();
    assert_eq!(
        s.store
            .letter_template(Defence::Fraud)
            .await
            .unwrap()
            .as_deref(),
        Some("Hello {{provider}}")
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'letters.template_saved'",
    )
    .fetch_one(s.store.pool())
    .await
    .unwrap();
    assert_eq!(audited, 2);
}

/// A confirmation for `decision` on the setup's dispute, by its analyst,
/// of the stage's response as it stands.
async fn token(s: &Setup, decision: dispute_core::domain::submission::Decision) -> String {
    let response = s
        .store
        .responses_of_dispute(s.dispute)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.stage == Stage::Chargeback);
    s.store
        .issue_confirm_token(
            &dispute_store::Confirming {
                dispute_id: s.dispute,
                stage: Stage::Chargeback,
                decision,
                outside: false,
                response_updated_at: response.map(|r| r.updated_at),
            },
            s.me.user_id.unwrap(),
        )
        .await
        .unwrap()
}

async fn submit(
    s: &Setup,
    decision: dispute_core::domain::submission::Decision,
    token: &str,
) -> Result<dispute_store::Submitted, dispute_store::SubmitRefusal> {
    s.store
        .submit(&dispute_store::SubmitRequest {
            dispute_id: s.dispute,
            decision,
            token,
            outside: None,
            actor: &s.me,
            subject: "d",
        })
        .await
}

#[tokio::test]
async fn a_confirmation_expires_belongs_to_its_analyst_and_its_stage() {
    use dispute_core::domain::submission::Decision::Accept;
    use dispute_store::SubmitRefusal;
    let s = setup().await;
    let old = token(&s, Accept).await;
    sqlx::query("update confirm_tokens set created_at = now() - interval '31 minutes'")
        .execute(s.store.pool())
        .await
        .unwrap();
    assert!(matches!(
        submit(&s, Accept, &old).await,
        Err(SubmitRefusal::Token)
    ));

    let someone_elses = token(&s, Accept).await;
    let stranger = Actor {
        user_id: Some(
            s.store
                .create_user(
                    &NewUser {
                        email: Email::parse("other@example.com").unwrap(),
                        display_name: DisplayName::parse("Other").unwrap(),
                        role: Role::Analyst,
                        password_hash: "not a hash".into(),
                        must_change_password: false,
                    },
                    &Actor::default(),
                )
                .await
                .unwrap(),
        ),
        ..Actor::default()
    };
    let theirs = s
        .store
        .submit(&dispute_store::SubmitRequest {
            dispute_id: s.dispute,
            decision: Accept,
            token: &someone_elses,
            outside: None,
            actor: &stranger,
            subject: "d",
        })
        .await;
    assert!(matches!(theirs, Err(SubmitRefusal::Token)));

    // The dispute moves on after the page was opened.
    let page = token(&s, Accept).await;
    s.store
        .record_event(
            s.connection,
            &EventSource::Response {
                at: jiff::Timestamp::now(),
            },
            &event("pre", Stage::PreArbitration, Status::NeedsResponse),
        )
        .await
        .unwrap();
    match submit(&s, Accept, &page).await {
        Err(SubmitRefusal::Blocked(why)) => assert!(why.contains("moved on"), "{why}"),
        other => panic!("{other:?}"),
    }
    let made: i64 = sqlx::query_scalar("select count(*) from submissions")
        .fetch_one(s.store.pool())
        .await
        .unwrap();
    assert_eq!(made, 0);
}

#[tokio::test]
async fn a_step_is_kept_once_and_a_decision_folds_once_and_a_refusal_gives_the_stage_back() {
    use dispute_core::domain::submission::{Decision, Step, StepOutcome, SubmissionState};
    use dispute_store::{Finished, Submitted};
    let s = setup().await;
    let response = prepared(
        s.store
            .prepare_response(s.dispute, &Default::default(), &s.me, "d")
            .await
            .unwrap(),
    );
    add(&s, response, "invoice.pdf", b"%PDF-1.7 invoice", u64::MAX)
        .await
        .unwrap();
    s.store
        .move_response(
            response,
            ResponseState::Draft,
            ResponseState::Ready,
            |_, _| None,
            &s.me,
            "d",
        )
        .await
        .unwrap();
    let first = token(&s, Decision::Defend).await;
    let Submitted::Sending { id } = submit(&s, Decision::Defend, &first).await.unwrap() else {
        panic!("PingPong's defence is sent by a job");
    };
    let response_state = || async { s.store.response(response).await.unwrap().unwrap().state };
    assert_eq!(response_state().await, ResponseState::Submitted);
    let work = s.store.submission_work(id).await.unwrap().unwrap();
    assert_eq!(
        work.submission.plan,
        [
            Step::Supply(DocumentKind::Invoice),
            Step::Check,
            Step::Defend
        ]
    );
    let supply = Step::Supply(DocumentKind::Invoice);
    s.store
        .record_step(id, supply, StepOutcome::Failed, "no answer", None)
        .await
        .unwrap();
    for _ in 0..2 {
        s.store
            .record_step(id, supply, StepOutcome::Done, "done", None)
            .await
            .unwrap();
    }
    let work = s.store.submission_work(id).await.unwrap().unwrap();
    assert_eq!(
        work.done,
        [supply],
        "a failed attempt is not done; a step done twice is kept once"
    );
    assert_eq!(
        s.store
            .submission_steps_of_dispute(s.dispute)
            .await
            .unwrap()
            .len(),
        2
    );

    s.store
        .finish_submission(
            id,
            &Finished::Refused("PingPong refused a document's type".into()),
        )
        .await
        .unwrap();
    s.store
        .finish_submission(id, &Finished::Done)
        .await
        .unwrap();
    let refused = s.store.submission(id).await.unwrap().unwrap();
    assert_eq!(
        refused.state,
        SubmissionState::Refused,
        "a second end changes nothing"
    );
    assert_eq!(response_state().await, ResponseState::Ready);
    let dispute = s.store.dispute_by_id(s.dispute).await.unwrap().unwrap();
    assert_eq!(dispute.status, Some(Status::NeedsResponse));

    // Refused, the stage is free for another decision.
    let again = token(&s, Decision::Defend).await;
    let Submitted::Sending { id: second } = submit(&s, Decision::Defend, &again).await.unwrap()
    else {
        panic!("sent by a job");
    };
    s.store
        .finish_submission(second, &Finished::Done)
        .await
        .unwrap();
    s.store
        .finish_submission(second, &Finished::Done)
        .await
        .unwrap();
    let dispute = s.store.dispute_by_id(s.dispute).await.unwrap().unwrap();
    assert_eq!(dispute.status, Some(Status::Responded));
    assert_eq!(dispute.deadline, None, "no deadline counts once responded");
    assert_eq!(response_state().await, ResponseState::Answered);
    let decisions: i64 =
        sqlx::query_scalar("select count(*) from dispute_events where source = 'response'")
            .fetch_one(s.store.pool())
            .await
            .unwrap();
    assert_eq!(decisions, 1);

    // The chargeback redelivered does not undo the response; the outcome
    // folds on top.
    heard(&s, "open-again", Stage::Chargeback, Status::NeedsResponse).await;
    let dispute = s.store.dispute_by_id(s.dispute).await.unwrap().unwrap();
    assert_eq!(dispute.status, Some(Status::Responded));
    heard(&s, "won", Stage::Chargeback, Status::Won).await;
    let dispute = s.store.dispute_by_id(s.dispute).await.unwrap().unwrap();
    assert_eq!(dispute.status, Some(Status::Won));
    let third = token(&s, Decision::Accept).await;
    assert!(
        submit(&s, Decision::Accept, &third).await.is_err(),
        "a decided dispute takes no decision"
    );
}
