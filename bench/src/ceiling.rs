//! The ceiling intake is measured against: the least a durable intake can
//! do for one notification — store the raw request, upsert its dispute,
//! insert its event, in one committed transaction — driven straight at the
//! same PostgreSQL with the same number of clients and prepared statements,
//! no HTTP and no judging: from this process with sqlx, and from pgbench (a
//! client process of its own, as intake's load generator is).

use std::time::{Duration, Instant};

use sqlx::{PgPool, Postgres, Transaction};

/// Transactions committed per second with `clients` clients for `duration`,
/// and how many were committed.
pub async fn transactions_per_second(
    pool: &PgPool,
    clients: usize,
    duration: Duration,
    run: &str,
) -> anyhow::Result<(f64, usize)> {
    let connection_id: i64 =
        sqlx::query_scalar("select id from connections where slug = 'pingpong-main'")
            .fetch_one(pool)
            .await?;
    let body = vec![b'x'; 700];
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (pool, body, run) = (pool.clone(), body.clone(), run.to_owned());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let key = format!("{run}-{client}-{done}");
                    let mut tx = pool.begin().await?;
                    one_notification(&mut tx, connection_id, &key, &body).await?;
                    tx.commit().await?;
                    done += 1;
                }
                anyhow::Ok(done)
            })
        })
        .collect();
    let mut committed = 0;
    for task in tasks {
        committed += task.await??;
    }
    Ok((
        committed as f64 / started.elapsed().as_secs_f64(),
        committed as usize,
    ))
}

async fn one_notification(
    tx: &mut Transaction<'_, Postgres>,
    connection_id: i64,
    key: &str,
    body: &[u8],
) -> anyhow::Result<()> {
    let notification: i64 = sqlx::query_scalar(
        "insert into notifications
             (connection_id, slug, remote_addr, headers, body, body_length, body_sha256,
              verdict, response_status, response_body, latency_us, judged_at)
         values ($1, 'pingpong-main', '127.0.0.1', '[]', $2, $3, $4, 'valid', 200, '', 1, now())
         returning id",
    )
    .bind(connection_id)
    .bind(body)
    .bind(body.len() as i64)
    .bind(&body[..32])
    .fetch_one(&mut **tx)
    .await?;
    let dispute: i64 = sqlx::query_scalar(
        "insert into disputes (connection_id, dispute_ref, stage, status, opened_at, last_event_at)
         values ($1, $2, 'chargeback', 'needs_response', now(), now())
         on conflict on constraint disputes_connection_ref_key
         do update set last_event_at = excluded.last_event_at
         returning id",
    )
    .bind(connection_id)
    .bind(key)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "insert into dispute_events
             (dispute_id, connection_id, notification_id, event_key, kind, effect, stage, status,
              occurred_at)
         values ($1, $2, $3, $4, 'NOTIFICATION_OF_CHARGEBACK', 'sets', 'chargeback',
                 'needs_response', now())",
    )
    .bind(dispute)
    .bind(connection_id)
    .bind(notification)
    .bind(key)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The same transaction as a pgbench script.
const PGBENCH_SCRIPT: &str = r"\set n random(1, 9000000000000000)
BEGIN;
INSERT INTO notifications (connection_id, slug, remote_addr, headers, body, body_length, body_sha256, verdict, response_status, response_body, latency_us, judged_at) VALUES (:connection, 'pingpong-main', '127.0.0.1', '[]', convert_to(repeat('x', 700), 'UTF8'), 700, '\x00', 'valid', 200, '', 1, now()) RETURNING id AS notification \gset
INSERT INTO disputes (connection_id, dispute_ref, stage, status, opened_at, last_event_at) VALUES (:connection, 'pgbench-' || :n, 'chargeback', 'needs_response', now(), now()) ON CONFLICT ON CONSTRAINT disputes_connection_ref_key DO UPDATE SET last_event_at = excluded.last_event_at RETURNING id AS dispute \gset
INSERT INTO dispute_events (dispute_id, connection_id, notification_id, event_key, kind, effect, stage, status, occurred_at) VALUES (:dispute, :connection, :notification, 'pgbench-' || :n, 'NOTIFICATION_OF_CHARGEBACK', 'sets', 'chargeback', 'needs_response', now()) ON CONFLICT ON CONSTRAINT dispute_events_key DO NOTHING;
END;
";

/// Transactions per second pgbench commits with `clients` clients.
pub async fn pgbench_tps(
    env: &crate::environment::Environment,
    pool: &PgPool,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let connection_id: i64 =
        sqlx::query_scalar("select id from connections where slug = 'pingpong-main'")
            .fetch_one(pool)
            .await?;
    let script = env.scratch_file("ceiling.pgbench", PGBENCH_SCRIPT)?;
    let output = tokio::process::Command::new(env.postgres_program("pgbench")?)
        .args(["-n", "-M", "prepared", "-D"])
        .arg(format!("connection={connection_id}"))
        .arg("-f")
        .arg(&script)
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
        ])
        .args(["-T", &duration.as_secs().to_string()])
        .args(env.pgbench_connection())
        .output()
        .await?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "pgbench gave no figure: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}
