use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_says_alive() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), r#"{"status":"alive"}"#);
}

#[tokio::test]
async fn readyz_is_ready_once_migrations_are_applied() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), r#"{"status":"ready"}"#);
}

#[tokio::test]
async fn readyz_answers_503_while_the_database_is_down_and_200_when_it_is_back() {
    let app = spawn_app().await;
    app.take_database_down().await;

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"status":"database unavailable"}"#
    );

    app.bring_database_back().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn readyz_answers_503_when_a_migration_is_missing() {
    let app = spawn_app().await;
    sqlx::query("delete from _sqlx_migrations")
        .execute(&app.pool)
        .await
        .unwrap();

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"status":"migrations pending"}"#
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id(&first).len(), 36);
    assert_ne!(id(&first), id(&second));
}
