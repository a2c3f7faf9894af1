//! Round trips to the database for one dispute page view and one "Query
//! status now", counted in PostgreSQL's own statement log
//! (`log_statement = all`): the lost-notification story is played into the
//! release server, PingPong's query API is the simulator's, and an admin
//! looks at PPLOST001 and asks about it. Statements the server also makes
//! while nobody asks anything (its job pollers) are measured in a quiet
//! window first and left out.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use simulator::{notifications::Keys, queries, scenario, sender};
use sqlx::PgPool;

use crate::environment::{Environment, STORM_EMAIL, STORM_PASSWORD};

pub async fn round_trips() -> anyhow::Result<()> {
    let mut env = Environment::prepare().await?;
    let story = scenario::builtin("lost-notification").context("built in")?;
    let start = story.start_ending_now();
    let world = Arc::new(queries::World::new(
        story.clone(),
        start,
        Keys::load(&test_support::fixtures().join("keys"))?,
        Duration::from_secs(30),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let simulator = format!("http://{}/pingpong", listener.local_addr()?);
    tokio::spawn(queries::serve(listener, world.clone()));
    env.start_server_with(&[("QUERY_ALLOW_LOCAL", "true"), ("RECONCILE_EVERY_SECS", "0")])
        .await?;
    let base = env.server().base.clone();
    let pool = env.pool(1).await?;
    sqlx::query("update connections set query_base_url = $1 where slug = 'pingpong-main'")
        .bind(&simulator)
        .execute(&pool)
        .await?;
    let how = sender::Play {
        intake: base.clone(),
        time_scale: 0.00001,
        timeout: Duration::from_secs(10),
    };
    sender::play(&story, world.keys(), start, &how).await?;
    let dispute: i64 =
        sqlx::query_scalar("select id from disputes where dispute_ref = 'PPLOST001'")
            .fetch_one(&pool)
            .await?;

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    client
        .post(format!("{base}/api/login"))
        .header("origin", &base)
        .form(&[("email", STORM_EMAIL), ("password", STORM_PASSWORD)])
        .send()
        .await?;

    let log = Log::start(&env, &pool).await?;
    let idle = log
        .statements_during(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            anyhow::Ok(())
        })
        .await?;
    let background: BTreeSet<String> = idle.into_keys().collect();
    let page = log
        .statements_during(async {
            client
                .get(format!("{base}/disputes/{dispute}"))
                .send()
                .await?
                .text()
                .await
                .map_err(anyhow::Error::from)
        })
        .await?;
    let asked = log
        .statements_during(async {
            client
                .post(format!("{base}/api/disputes/query"))
                .header("origin", &base)
                .form(&[("dispute", dispute.to_string())])
                .send()
                .await?;
            recorded(&pool, dispute).await
        })
        .await?;

    println!("Round trips (statements in PostgreSQL's log; BEGIN and COMMIT count):\n");
    println!("| action | statements | distinct statements |");
    println!("|---|---|---|");
    for (action, seen) in [
        ("one dispute page view (PPLOST001)", &page),
        (
            "one \"Query status now\", until its answer is recorded",
            &asked,
        ),
    ] {
        let ours: BTreeMap<&String, &usize> = seen
            .iter()
            .filter(|(text, _)| !background.contains(*text))
            .collect();
        let total: usize = ours.values().copied().sum();
        println!("| {action} | {total} | {} |", ours.len());
    }
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        for (text, n) in page.iter().chain(asked.iter()) {
            println!("{n} × {text}");
        }
    }
    env.stop_server().await?;
    Ok(())
}

/// Waits until the dispute's status query is recorded.
async fn recorded(pool: &PgPool, dispute: i64) -> anyhow::Result<()> {
    for _ in 0..200 {
        let asked: i64 =
            sqlx::query_scalar("select count(*) from status_queries where dispute_id = $1")
                .bind(dispute)
                .fetch_one(pool)
                .await?;
        if asked > 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the status query was not recorded within 10 s")
}

/// The cluster's statement log, from where a window starts.
struct Log<'a> {
    path: std::path::PathBuf,
    pool: &'a PgPool,
}

impl<'a> Log<'a> {
    /// Turns every statement's logging on, except the benchmark's own.
    async fn start(env: &Environment, pool: &'a PgPool) -> anyhow::Result<Self> {
        sqlx::query("alter system set log_statement = 'all'")
            .execute(pool)
            .await?;
        sqlx::query("select pg_reload_conf()").execute(pool).await?;
        sqlx::query("set log_statement = 'none'")
            .execute(pool)
            .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Self {
            path: env.database_log(),
            pool,
        })
    }

    /// The statements logged while `during` ran (and a moment after), by
    /// their text, each with how often.
    async fn statements_during<T, E>(
        &self,
        during: impl std::future::Future<Output = Result<T, E>>,
    ) -> anyhow::Result<BTreeMap<String, usize>>
    where
        E: Into<anyhow::Error>,
    {
        // The pool's one connection keeps its own statements out.
        sqlx::query("select 1").execute(self.pool).await?;
        let from = std::fs::metadata(&self.path)?.len();
        during.await.map_err(Into::into)?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        statements(&self.path, from)
    }
}

/// The statements in the log at `path` after byte `from`. An entry starts
/// with its time (`log_line_prefix` is `%m [%p] `); a statement's further
/// lines follow it.
fn statements(path: &Path, from: u64) -> anyhow::Result<BTreeMap<String, usize>> {
    let text = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&text[from as usize..]);
    let mut entries: Vec<String> = Vec::new();
    for line in text.lines() {
        match (
            line.starts_with(|c: char| c.is_ascii_digit()),
            entries.last_mut(),
        ) {
            (false, Some(entry)) => {
                entry.push(' ');
                entry.push_str(line);
            }
            _ => entries.push(line.to_owned()),
        }
    }
    let mut seen = BTreeMap::new();
    for entry in entries {
        let Some((_, rest)) = entry.split_once("LOG:  ") else {
            continue;
        };
        let statement = rest.strip_prefix("statement: ").or_else(|| {
            rest.split_once(": ")
                .filter(|(head, _)| head.starts_with("execute"))
                .map(|(_, statement)| statement)
        });
        if let Some(statement) = statement {
            let text = statement.split_whitespace().collect::<Vec<_>>().join(" ");
            *seen.entry(text).or_default() += 1;
        }
    }
    Ok(seen)
}
