//! Provider health: per connection, what it last received, its verdicts
//! over a day and a week, its hourly chart, and refused deliveries waiting
//! for a replay.

use dispute_core::domain::{Role, Verdict};

use crate::{
    helpers::spawn_app,
    provider_fixtures::{case_by_id, deliver, load},
};

#[tokio::test]
async fn each_connection_shows_its_verdicts_its_hours_and_what_waits_for_a_replay() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let cases = load("cases.json");
    for id in [
        "pp-rfi",
        "pp-chargeback",
        "pp-rfi",
        "pp-tampered",
        "botim-chargeback",
    ] {
        deliver(&app, case_by_id(&cases, id)).await;
    }
    // A refused one from last week still counts for the week.
    deliver(&app, case_by_id(&cases, "pp-wrong-salt")).await;
    sqlx::query(
        "update notifications set received_at = now() - interval '3 days'
         where id = (select max(id) from notifications)",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let health = app.store.provider_health().await.unwrap();
    let pingpong = health.iter().find(|h| h.slug == "pingpong-main").unwrap();
    assert_eq!(
        pingpong.verdicts,
        [
            (Verdict::BadSignature, 1, 2),
            (Verdict::Valid, 2, 2),
            (Verdict::Duplicate, 1, 1),
        ]
    );
    assert_eq!(pingpong.awaiting_replay, 2);
    assert_eq!(pingpong.hourly.len(), 24);
    assert_eq!(
        pingpong
            .hourly
            .last()
            .map(|(_, all, refused)| (*all, *refused)),
        Some((4, 1))
    );
    assert!(pingpong.last_accepted.is_some());
    let payermax = health.iter().find(|h| h.slug == "payermax-main").unwrap();
    assert_eq!(payermax.last_received, None);
    assert!(payermax.verdicts.is_empty());

    app.sign_in_as(Role::Ops).await;
    let (status, html) = app.get_page("/providers").await;
    assert_eq!(status, 200);
    assert!(html.contains("<code>pingpong-main</code>"));
    assert!(html.contains("<svg"), "the hourly chart is drawn");
    assert!(
        html.contains("<td>4</td><td>1</td>"),
        "and its numbers are in a table: {html}"
    );
    assert!(html.contains("/replays?connection=pingpong-main"));
    assert!(
        html.contains("<td>bad signature</td><td>1</td><td>2</td>"),
        "{html}"
    );
}
