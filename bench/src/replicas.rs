//! Two replicas on one database with short periods: how often each
//! periodic job ran in a window (counted in `jobs.runs`) against the
//! periods that window held; and a rebuild whose runner (the
//! `dispute-desk disputes rebuild` command) is killed mid-way, taken over
//! by a replica after its heartbeat fell silent and finished once.
//! Reconciliation asks the provider simulator's query APIs on loopback.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use simulator::{notifications::Keys, queries, scenario};
use sqlx::PgPool;

use crate::{
    environment::Environment,
    load::{self, Queue},
    notifications,
};

const DASHBOARD_SECS: u64 = 2;
const RECONCILE_SECS: u64 = 5;
/// The longest a taken-over rebuild may take to finish: a minute of
/// silence, then the rest of the work.
const TAKEOVER_LIMIT: Duration = Duration::from_secs(300);

pub async fn replicas(window: Duration, notifications: usize) -> anyhow::Result<()> {
    let env = Environment::prepare().await?;
    let story = scenario::builtin("lost-notification").context("built in")?;
    let world = Arc::new(queries::World::new(
        story.clone(),
        story.start_ending_now(),
        Keys::load(&test_support::fixtures().join("keys"))?,
        Duration::from_secs(30),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let simulator = format!("http://{}", listener.local_addr()?);
    tokio::spawn(queries::serve(listener, world));
    let pool = env.pool(2).await?;
    sqlx::query(
        "update connections set query_base_url = $1 || case slug
           when 'pingpong-main' then '/pingpong'
           when 'botim-main' then '/botim-money'
           else '/payermax' end",
    )
    .bind(&simulator)
    .execute(&pool)
    .await?;

    let settings = [
        ("QUERY_ALLOW_LOCAL", "true"),
        ("DASHBOARD_REFRESH_SECS", &DASHBOARD_SECS.to_string()),
        ("RECONCILE_EVERY_SECS", &RECONCILE_SECS.to_string()),
    ];
    let first = env.spawn_server(&settings).await?;
    let _second = env.spawn_server(&settings).await?;
    let sent = load::closed_loop(
        &first.base,
        &Queue::new(notifications::generate("replicas", notifications)),
        8,
        Duration::from_secs(600),
    )
    .await;
    if sent.failures > 0 {
        bail!("{} notifications were not acknowledged", sent.failures);
    }
    let disputes: i64 = sqlx::query_scalar("select count(*) from disputes")
        .fetch_one(&pool)
        .await?;
    println!(
        "two replicas, {} notifications into {disputes} disputes; dashboard every {DASHBOARD_SECS} s, reconciliation every {RECONCILE_SECS} s",
        sent.latencies.len()
    );

    let started = Instant::now();
    let before = runs(&pool).await?;
    let takeover = rebuild_killed_and_taken_over(&env, &pool, disputes).await?;
    tokio::time::sleep(window.saturating_sub(started.elapsed())).await;
    let after = runs(&pool).await?;
    let elapsed = started.elapsed().as_secs_f64();

    println!("\nperiodic jobs over {elapsed:.0} s:");
    println!("| job | period | periods in the window | runs |");
    println!("|---|---:|---:|---:|");
    for (kind, period) in [
        ("dashboard", DASHBOARD_SECS),
        ("reconcile", RECONCILE_SECS),
        ("retention", 3600),
        ("session_sweep", 3600),
    ] {
        let ran = after.get(kind).copied().unwrap_or(0) - before.get(kind).copied().unwrap_or(0);
        println!(
            "| {kind} | {period} s | {:.1} | {ran} |",
            elapsed / period as f64
        );
    }
    let asked: i64 = sqlx::query_scalar("select count(*) from status_queries")
        .fetch_one(&pool)
        .await?;
    println!("status queries reconciliation recorded: {asked}");
    println!("\n{takeover}");
    Ok(())
}

/// Every periodic job's runs so far, by kind.
async fn runs(pool: &PgPool) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select kind, runs from jobs where key = 'periodic'")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Runs `dispute-desk disputes rebuild`, kills it (SIGKILL) once it has
/// written progress, and waits for a replica to take its job over and
/// finish it; what happened, in words.
async fn rebuild_killed_and_taken_over(
    env: &Environment,
    pool: &PgPool,
    disputes: i64,
) -> anyhow::Result<String> {
    let mut command = env.command();
    let mut runner = command
        .args(["disputes", "rebuild"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let progress = loop {
        let row: Option<(i64, bool)> = sqlx::query_as(
            "select checked, finished_at is not null from rebuilds order by id desc limit 1",
        )
        .fetch_optional(pool)
        .await?;
        match row {
            Some((_, true)) => bail!("the rebuild finished before it could be killed: seed more"),
            Some((checked, false)) if checked > 0 => break checked,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    runner.start_kill()?;
    runner.wait().await?;
    let killed = Instant::now();

    let (id, total, checked, runs, state): (i64, i64, i64, i64, String) = loop {
        let row: (i64, i64, i64, bool, i64, String) = sqlx::query_as(
            "select r.id, r.total, r.checked, r.finished_at is not null, j.runs, j.state
             from rebuilds r join jobs j on j.kind = 'rebuild' and j.key = r.id::text
             order by r.id desc limit 1",
        )
        .fetch_one(pool)
        .await?;
        match row {
            (id, total, checked, true, runs, state) if state != "running" => {
                break (id, total, checked, runs, state)
            }
            _ if killed.elapsed() > TAKEOVER_LIMIT => {
                bail!("no replica finished the killed rebuild within {TAKEOVER_LIMIT:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let rebuilds: i64 = sqlx::query_scalar("select count(*) from rebuilds")
        .fetch_one(pool)
        .await?;
    if (state.as_str(), checked, total, runs, rebuilds) != ("done", disputes, disputes, 2, 1) {
        bail!(
            "the taken-over rebuild did not finish once: job {state} after {runs} runs, {checked} of {total} checked ({disputes} disputes), {rebuilds} rebuilds"
        );
    }
    Ok(format!(
        "rebuild {id}: its runner was killed after checking {progress} of {disputes} disputes; \
         a replica took the job over and finished it {:.0} s later (the job ran twice, \
         once per holder, and is done; {checked} of {total} disputes checked, each once)",
        killed.elapsed().as_secs_f64()
    ))
}
