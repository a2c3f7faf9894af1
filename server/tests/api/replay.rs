//! Replay: a delivery refused for a wrong key becomes valid once the key is
//! corrected and it is replayed, producing exactly one event; replaying it
//! again, or replaying a valid one, changes nothing; the preview says what
//! the run then does; the original verdict stays and every replay is kept
//! and audited.

use dispute_core::domain::Role;
use dispute_store::{KeyPurpose, KeySlot, StoredKey, StoredKeyMaterial};
use secrecy::SecretString;
use test_support::{fixture_body, fixture_sign};

use crate::helpers::{spawn_app, when_finished as finished, TestApp};

async fn events(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from dispute_events")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn replay(app: &TestApp, id: i64) -> String {
    let answer = app
        .post_form(
            &app.client,
            "/api/deliveries/replay",
            &[("id", &id.to_string())],
        )
        .await;
    app.follow(&app.client, answer).await.1
}

/// Puts on botim-main the key the fixtures' wrong-key deliveries are
/// signed with, as an admin fixing it would; returns it.
async fn fix_botim_key(app: &TestApp) -> dispute_core::providers::keys::VerificationKey {
    let key = dispute_core::providers::keys::SigningKey::parse(&SecretString::from(
        std::fs::read_to_string(
            test_support::fixtures().join("keys/provider-side/unrelated-private.pem"),
        )
        .unwrap(),
    ))
    .unwrap()
    .verification_key();
    let connection: i64 =
        sqlx::query_scalar("select id from connections where slug = 'botim-main'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    app.store
        .set_key(
            connection,
            KeyPurpose::Verify,
            KeySlot::Current,
            &StoredKey {
                material: StoredKeyMaterial::PublicDer(key.spki_der().to_vec()),
                fingerprint: key.fingerprint().to_string(),
            },
            &Default::default(),
        )
        .await
        .unwrap();
    key
}

#[tokio::test]
async fn a_delivery_refused_for_a_wrong_key_is_valid_once_the_key_is_fixed_and_replayed() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    // Botim Money signed with a key the connection does not have yet.
    let sign = fixture_sign("botim-wrong-key");
    let headers = [
        ("content-type", "application/json"),
        ("sign", sign.as_str()),
    ];
    let refused = app
        .post_webhook("botim-main", &headers, fixture_body("botim-wrong-key.json"))
        .await;
    assert_eq!(refused.status(), 401);
    let original = app.store.notifications().await.unwrap().remove(0);
    assert_eq!(events(&app).await, 0);

    app.sign_in_as(Role::Ops).await;
    let page = format!("/deliveries/{}", original.id);
    let (_, html) = app.get_page(&page).await;
    assert!(html.contains("Not replayed."));
    assert!(
        html.contains("bad signature: the signature does not match key"),
        "{html}"
    );
    assert!(html.contains("nothing would be recorded"));

    // Replayed before the fix: still refused, kept as such.
    let html = replay(&app, original.id).await;
    assert!(html.contains("Replayed: still refused"), "{html}");
    assert_eq!(events(&app).await, 0);

    // The admin puts the key Botim Money now signs with on the connection.
    let key = fix_botim_key(&app).await;

    // The preview says what the replay will do…
    let (_, html) = app.get_page(&page).await;
    assert!(
        html.contains(&format!("valid (key {})", key.fingerprint())),
        "{html}"
    );
    assert!(
        html.contains("it would record CHARGEBACK (Chargeback · Needs response): a new dispute at Chargeback · Needs response"),
        "{html}"
    );

    // …and it does: one event, the original verdict unchanged.
    let html = replay(&app, original.id).await;
    assert!(
        html.contains("Replayed: valid: its event was recorded"),
        "{html}"
    );
    assert_eq!(events(&app).await, 1);
    let source: String = sqlx::query_scalar("select source from dispute_events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(source, "replay");
    let again = app.store.notification(original.id).await.unwrap().unwrap();
    assert_eq!(
        again.verdict, original.verdict,
        "the original's verdict stays"
    );

    // The preview now says nothing would change; a second replay agrees.
    let (_, html) = app.get_page(&page).await;
    assert!(html.contains("its event is recorded already: nothing would change"));
    let html = replay(&app, original.id).await;
    assert!(html.contains("recorded before, nothing changed"), "{html}");
    assert_eq!(events(&app).await, 1);

    let replays = app.store.replays(original.id).await.unwrap();
    let outcomes: Vec<&str> = replays.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["refused", "new_event", "already_recorded"]);
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'delivery.replay'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn replaying_a_valid_delivery_changes_nothing_and_analysts_may_not_replay() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let sign = fixture_sign("botim-chargeback");
    let headers = [
        ("content-type", "application/json"),
        ("sign", sign.as_str()),
    ];
    let accepted = app
        .post_webhook(
            "botim-main",
            &headers,
            fixture_body("botim-chargeback.json"),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let original = app.store.notifications().await.unwrap().remove(0);
    let before = app.store.dispute("botim-main", "O1000").await.unwrap();

    app.sign_in_as(Role::Analyst).await;
    let refused = app
        .post_form(
            &app.client,
            "/api/deliveries/replay",
            &[("id", &original.id.to_string())],
        )
        .await;
    assert_eq!(refused.status(), 403);

    let ops = crate::helpers::browser_client();
    let (_, email) = app.create_user(Role::Ops).await;
    app.sign_in_with(&ops, &email, crate::helpers::PASSWORD)
        .await;
    let answer = app
        .post_form(
            &ops,
            "/api/deliveries/replay",
            &[("id", &original.id.to_string())],
        )
        .await;
    let (_, html) = app.follow(&ops, answer).await;
    assert!(html.contains("recorded before, nothing changed"), "{html}");
    assert_eq!(events(&app).await, 1);
    assert_eq!(
        app.store.dispute("botim-main", "O1000").await.unwrap(),
        before
    );
}

#[tokio::test]
async fn a_bulk_replay_previews_exactly_what_its_run_then_does() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    for case in ["botim-wrong-key", "botim-tampered"] {
        let sign = fixture_sign(case);
        let headers = [
            ("content-type", "application/json"),
            ("sign", sign.as_str()),
        ];
        let refused = app
            .post_webhook(
                "botim-main",
                &headers,
                fixture_body(&format!("{case}.json")),
            )
            .await;
        assert_eq!(refused.status(), 401, "{case}");
    }
    fix_botim_key(&app).await;
    app.sign_in_as(Role::Ops).await;

    let (status, html) = app.get_page("/replays?connection=botim-main").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("2 refused deliveries match; replayed now, 1 would be valid and 1 disputes would change."),
        "{html}"
    );
    assert!(html.contains("a new dispute at Chargeback · Needs response"));
    assert_eq!(events(&app).await, 0, "a preview changes nothing");

    let answer = app
        .post_form(
            &app.client,
            "/api/deliveries/replay-matching",
            &[("query", "connection=botim-main")],
        )
        .await;
    let (target, html) = app.follow(&app.client, answer).await;
    assert_eq!(target, "/replays/runs/1");
    assert!(html.contains("Replaying 2 deliveries"), "{html}");
    let html = finished(&app, &target).await;
    assert!(html.contains("replayed all 2, finished"), "{html}");
    assert!(html.contains("<li>1 still refused</li>"), "{html}");
    assert!(
        html.contains("<li>1 valid: its event was recorded</li>"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/deliveries?connection=botim-main\""),
        "{html}"
    );
    assert_eq!(events(&app).await, 1);
    // Each replay names its run and is audited as the person who asked.
    let (run_replays, audited): (i64, i64) = sqlx::query_as(
        "select (select count(*) from delivery_replays where run_id = 1),
                (select count(*) from audit_log
                 where action = 'delivery.replay' and actor_email is not null)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((run_replays, audited), (2, 2));

    // A runner that stopped before writing its progress: the one that
    // takes over counts what was done, and replays nothing again.
    sqlx::query("update replay_runs set done = 0, tally = '{}', finished_at = null")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "update jobs set state = 'running', heartbeat = now() - interval '2 minutes'
         where kind = 'bulk_replay'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let html = finished(&app, "/replays/runs/1").await;
    assert!(html.contains("<li>1 still refused</li>"), "{html}");
    assert!(
        html.contains("<li>1 valid: its event was recorded</li>"),
        "{html}"
    );
    let replays: i64 = sqlx::query_scalar("select count(*) from delivery_replays")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(replays, 2);
    let (_, html) = app.get_page("/replays").await;
    assert!(
        html.contains("Bulk replay 1</a> · replayed all 2"),
        "{html}"
    );
    // Asked again, only the one still refused is left.
    let (_, html) = app.get_page("/replays?connection=botim-main").await;
    assert!(
        html.contains("1 refused deliveries match; replayed now, 0 would be valid and 0 disputes would change."),
        "{html}"
    );
}

#[tokio::test]
async fn a_body_not_kept_whole_is_not_judged_again() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let huge = vec![b'x'; 2 * 1024 * 1024];
    assert_eq!(
        app.post_webhook("botim-main", &[], huge).await.status(),
        413
    );
    let original = app.store.notifications().await.unwrap().remove(0);
    app.sign_in_as(Role::Ops).await;
    let html = replay(&app, original.id).await;
    assert!(
        html.contains("not kept whole, so it cannot be judged again"),
        "{html}"
    );
    let replays = app.store.replays(original.id).await.unwrap();
    assert_eq!(replays[0].verdict.as_str(), "too_large");
    assert_eq!(replays[0].outcome.as_str(), "refused");
}
