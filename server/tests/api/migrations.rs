use dispute_store::ConnectionSummary;

use crate::helpers::spawn_app;

async fn insert_connection(
    app: &crate::helpers::TestApp,
    slug: &str,
    provider: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into connections (slug, provider) values ($1, $2)")
        .bind(slug)
        .bind(provider)
        .execute(&app.pool)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn the_migrations_create_the_connections_table_with_its_rules() {
    let app = spawn_app().await;

    insert_connection(&app, "pingpong-main", "pingpong")
        .await
        .unwrap();

    let duplicate = insert_connection(&app, "pingpong-main", "pingpong").await;
    let bad_slug = insert_connection(&app, "PingPong Main", "pingpong").await;
    let bad_provider = insert_connection(&app, "stripe-main", "stripe").await;
    let constraint = |r: Result<(), sqlx::Error>| {
        r.unwrap_err()
            .as_database_error()
            .and_then(|e| e.constraint().map(str::to_owned))
    };
    assert_eq!(
        constraint(duplicate).as_deref(),
        Some("connections_slug_key")
    );
    assert_eq!(
        constraint(bad_slug).as_deref(),
        Some("connections_slug_format")
    );
    assert_eq!(
        constraint(bad_provider).as_deref(),
        Some("connections_provider_known")
    );
}

#[tokio::test]
async fn the_store_lists_connections_by_slug() {
    let app = spawn_app().await;
    insert_connection(&app, "payermax-main", "payermax")
        .await
        .unwrap();
    insert_connection(&app, "botim-main", "botim_money")
        .await
        .unwrap();

    let listed = dispute_store::Store::new(app.pool.clone())
        .connections_overview()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.summary)
        .collect::<Vec<_>>();

    let summary = |slug: &str, provider: &str| ConnectionSummary {
        slug: slug.into(),
        provider: provider.parse().unwrap(),
        display_name: String::new(),
        enabled: true,
        timezone: "UTC".into(),
    };
    assert_eq!(
        listed,
        vec![
            summary("botim-main", "botim_money"),
            summary("payermax-main", "payermax")
        ]
    );
}
