//! Opening the database: the pool that every part of Dispute Desk shares,
//! and on a private cluster the database itself.

use std::time::Duration;

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    ConnectOptions, Connection, PgPool,
};

/// Pool settings shared by the server, the tests and the benchmarks.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // Recycled connections re-plan their queries as tables grow, instead
        // of keeping plans made when the tables were empty.
        .max_lifetime(Duration::from_secs(30 * 60))
}

/// The application's pool on the database `options` names.
pub async fn connect(
    options: PgConnectOptions,
    max_connections: u32,
) -> Result<PgPool, sqlx::Error> {
    // JIT compilation costs 80-140 ms on queries the planner misjudges as
    // large (the health page's hourly series, the dashboard), which every
    // page here answers in milliseconds without it.
    pool_options(max_connections)
        .connect_with(options.options([("jit", "off")]))
        .await
}

/// Creates the database `name` on the server `server` reaches unless it
/// exists. `server` names a database that does exist (`postgres`).
pub async fn create_database_if_missing(
    server: &PgConnectOptions,
    name: &str,
) -> Result<(), sqlx::Error> {
    let mut conn = server.connect().await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        // An identifier cannot be bound; it is quoted instead.
        sqlx::query(&format!(
            "create database \"{}\"",
            name.replace('"', "\"\"")
        ))
        .execute(&mut conn)
        .await?;
    }
    conn.close().await
}
