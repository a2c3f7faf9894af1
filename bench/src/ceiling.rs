//! The ceiling intake is measured against: the least a durable intake can
//! do for one notification — store the raw request, upsert its dispute,
//! insert its event, in one committed transaction — driven straight at the
//! same PostgreSQL with the same number of clients, prepared statements,
//! no HTTP and no judging.

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
