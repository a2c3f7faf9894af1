//! Retention: strangers' deliveries (unknown connections, oversized bodies)
//! and rate-limited counts go once they are older than the setting, refused
//! deliveries no provider signed once older than theirs; every delivery a
//! provider signed stays. (It runs as a periodic job: once per cluster.)

use jiff::{SignedDuration, Timestamp};
use test_support::fixture_body;

use crate::helpers::spawn_app;

#[tokio::test]
async fn old_strangers_deliveries_go_then_old_unsigned_refusals_and_signed_deliveries_stay() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let json = [("content-type", "application/json")];
    let accepted = app
        .post_webhook("pingpong-main", &json, fixture_body("pp-chargeback.json"))
        .await;
    assert_eq!(accepted.status(), 200);
    let forged = app
        .post_webhook("pingpong-main", &json, fixture_body("pp-wrong-salt.json"))
        .await;
    assert_eq!(forged.status(), 401);
    let mut unreadable: serde_json::Value =
        serde_json::from_slice(&fixture_body("pp-chargeback.json")).unwrap();
    unreadable.as_object_mut().unwrap().remove("sign");
    unreadable["merchantReference"] = "a\u{0}b".into();
    let signed_but_unreadable = app
        .post_webhook(
            "pingpong-main",
            &json,
            test_support::pingpong_signed(&unreadable),
        )
        .await;
    assert_eq!(signed_but_unreadable.status(), 400);
    assert_eq!(
        app.post_webhook("nobody", &json, b"{}".to_vec())
            .await
            .status(),
        404
    );
    let huge = vec![b'x'; 2 * 1024 * 1024];
    assert_eq!(
        app.post_webhook("pingpong-main", &[], huge).await.status(),
        413
    );
    sqlx::query("update notifications set received_at = now() - interval '40 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into throttled_requests (sender, minute, requests, last_slug) values
         ('192.0.2.1', now() - interval '40 days', 12, 'nobody'),
         ('192.0.2.1', date_trunc('minute', now()), 3, 'nobody')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // A stranger from today stays.
    assert_eq!(
        app.post_webhook("nobody", &json, b"{}".to_vec())
            .await
            .status(),
        404
    );

    let month_ago = Timestamp::now() - SignedDuration::from_hours(30 * 24);
    let quarter_ago = Timestamp::now() - SignedDuration::from_hours(90 * 24);
    let purged = app
        .store
        .purge_expired(month_ago, quarter_ago)
        .await
        .unwrap();
    assert_eq!(
        (purged.deliveries, purged.refused, purged.throttled_counts),
        (2, 0, 1)
    );
    let left: Vec<(String, bool)> = sqlx::query_as(
        "select verdict, received_at > now() - interval '1 day' from notifications order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        left,
        [
            ("valid".to_owned(), false),
            ("bad_signature".to_owned(), false),
            ("malformed".to_owned(), false),
            ("unknown_connection".to_owned(), true),
        ]
    );
    let throttled: i64 = sqlx::query_scalar("select count(*) from throttled_requests")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(throttled, 1);
    let again = app
        .store
        .purge_expired(month_ago, quarter_ago)
        .await
        .unwrap();
    assert_eq!(again, dispute_store::Purged::default());

    // A quarter on, the forged one goes; what PingPong signed stays.
    sqlx::query("update notifications set received_at = now() - interval '100 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let later = app
        .store
        .purge_expired(month_ago, quarter_ago)
        .await
        .unwrap();
    assert_eq!((later.deliveries, later.refused), (1, 1));
    let left: Vec<String> = sqlx::query_scalar("select verdict from notifications order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, ["valid", "malformed"]);
}
