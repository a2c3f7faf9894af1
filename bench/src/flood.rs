//! A flood of refused requests at a known connection's intake: 1 MiB
//! bodies that nobody signed, from `senders` tasks on one address, with the
//! server's default allowance. Prints what was answered and what it cost
//! the database (rows, body and header bytes, the table's growth).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use crate::environment::Environment;

pub async fn flood(duration: Duration, senders: usize, body_size: usize) -> anyhow::Result<()> {
    let mut env = Environment::prepare().await?;
    // The benchmark's own environment lifts the allowance for its sign-in
    // storm; the flood meets the default.
    env.start_server_with(&[("STRANGER_REQUESTS_PER_MINUTE", "30")])
        .await?;
    let pool = env.pool(2).await?;
    let size = "select pg_total_relation_size('notifications')";
    let table_before: i64 = sqlx::query_scalar(size).fetch_one(&pool).await?;

    let body = unsigned_body(body_size);
    let client = crate::load::client(senders);
    let base = env.server().base.clone();
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (client, base, body) = (client.clone(), base.clone(), body.clone());
            tokio::spawn(async move {
                let mut answers: BTreeMap<String, usize> = BTreeMap::new();
                while Instant::now() < deadline {
                    let answer = client
                        .post(format!("{base}/webhooks/pingpong-main"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    let status = match answer {
                        Ok(answer) => answer.status().as_u16().to_string(),
                        Err(_) => "no answer".to_owned(),
                    };
                    *answers.entry(status).or_default() += 1;
                }
                answers
            })
        })
        .collect();
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        for (status, n) in task.await? {
            *answers.entry(status).or_default() += n;
        }
    }
    // The refused requests' counts reach the database within 10 s.
    tokio::time::sleep(Duration::from_secs(11)).await;

    let (rows, body_bytes, header_bytes): (i64, i64, i64) = sqlx::query_as(
        "select count(*), coalesce(sum(octet_length(body)), 0)::bigint,
                coalesce(sum(pg_column_size(headers)), 0)::bigint
         from notifications",
    )
    .fetch_one(&pool)
    .await?;
    let counted: i64 =
        sqlx::query_scalar("select coalesce(sum(requests), 0)::bigint from throttled_requests")
            .fetch_one(&pool)
            .await?;
    let table_after: i64 = sqlx::query_scalar(size).fetch_one(&pool).await?;
    let sent: usize = answers.values().sum();
    println!(
        "Flood: {senders} senders on one address, {} s, {} KiB bodies nobody signed, at pingpong-main\n",
        duration.as_secs(),
        body_size / 1024
    );
    println!("| requests sent | answers | rows stored | body bytes stored | header bytes stored | counted only (429) | table growth |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {sent} | {} | {rows} | {body_bytes} | {header_bytes} | {counted} | {} bytes |",
        answers
            .iter()
            .map(|(status, n)| format!("{n} × {status}"))
            .collect::<Vec<_>>()
            .join(", "),
        table_after - table_before
    );
    pool.close().await;
    env.stop_server().await?;
    Ok(())
}

/// PingPong's chargeback fixture without its signature, padded with spaces
/// to `size` bytes: what a sender without the salt can post.
fn unsigned_body(size: usize) -> Vec<u8> {
    let mut fields: serde_json::Value =
        serde_json::from_slice(&test_support::fixture_body("pp-chargeback.json"))
            .expect("the fixture is JSON");
    if let Some(fields) = fields.as_object_mut() {
        fields.remove("sign");
    }
    let mut body = serde_json::to_vec(&fields).expect("JSON");
    body.resize(size, b' ');
    body
}
