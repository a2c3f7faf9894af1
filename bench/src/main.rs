//! `dispute-desk-bench`: intake measured against the database's ceiling in
//! the same run, the crash and restart tests, and the pages at a million
//! disputes. Each command starts its
//! own PostgreSQL cluster and the release `dispute-desk` binary, and prints
//! its figures as Markdown for `bench/RESULTS.md`.
#![forbid(unsafe_code)]

mod ceiling;
mod environment;
mod evidence;
mod flood;
mod load;
mod notifications;
mod pages;
mod replicas;
mod resilience;
mod round_trips;

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use environment::Environment;
use load::{Queue, Run};

#[derive(Parser)]
#[command(name = "dispute-desk-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Intake throughput and latency at each concurrency and at a fixed
    /// rate, against the minimal durable transaction in the same run; the
    /// server's CPU per notification and peak memory; RSA verification's
    /// share; intake latency during a sign-in storm.
    Intake {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Senders for the closed-loop runs.
        #[arg(long, value_delimiter = ',', default_value = "8,32")]
        senders: Vec<usize>,
        /// Notifications a second for the open-loop run.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Concurrent sign-ins in the storm.
        #[arg(long, default_value_t = 200)]
        storm: usize,
    },
    /// Kills the server (SIGKILL) again and again under load and restarts
    /// it; then checks every acknowledged notification is stored with its
    /// event.
    Crash {
        #[arg(long, default_value_t = 10)]
        kills: u32,
    },
    /// Stops PostgreSQL under load and starts it again: no 2xx while it is
    /// down, recovery without restarting the server, nothing acknowledged
    /// missing.
    RestartDatabase,
    /// A flood of refused requests at a known connection's intake (1 MiB
    /// bodies nobody signed, from several senders on one address) with the
    /// default allowance: what was answered, and what it stored.
    Flood {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 4)]
        senders: usize,
        #[arg(long, default_value_t = 1024)]
        body_kib: usize,
    },
    /// Round trips to the database for one dispute page view and one
    /// "Query status now", from PostgreSQL's statement log.
    RoundTrips,
    /// Two replicas on one database with short periods for `seconds`:
    /// each periodic job's runs against the periods, and a rebuild whose
    /// runner is killed mid-way taken over and finished once.
    Replicas {
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        /// Notifications sent first (their disputes are what the rebuild
        /// checks and reconciliation asks about).
        #[arg(long, default_value_t = 60_000)]
        notifications: usize,
    },
    /// Evidence: a packet of 20 exhibits (10 PDFs, 10 photos of 12
    /// megapixels) built by the server, against reading the same files
    /// back, with the server's peak memory; then 8 uploads of 10 MB at
    /// once, with the server's resident memory sampled throughout.
    Evidence {
        /// Packets built.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// The analyst's pages over a database of `disputes` disputes: p50 and
    /// p95 of each, and the plans of their queries.
    Pages {
        #[arg(long, default_value_t = 1_000_000)]
        disputes: i64,
        /// Timed requests per page.
        #[arg(long, default_value_t = 40)]
        repeats: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Intake {
            seconds,
            senders,
            rate,
            storm,
        } => intake(Duration::from_secs(seconds), &senders, rate, storm).await,
        Command::Crash { kills } => resilience::crash(kills).await,
        Command::RestartDatabase => resilience::restart_database().await,
        Command::RoundTrips => round_trips::round_trips().await,
        Command::Evidence { repeats } => evidence::evidence(repeats).await,
        Command::Replicas {
            seconds,
            notifications,
        } => replicas::replicas(Duration::from_secs(seconds), notifications).await,
        Command::Flood {
            seconds,
            senders,
            body_kib,
        } => flood::flood(Duration::from_secs(seconds), senders, body_kib * 1024).await,
        Command::Pages { disputes, repeats } => pages::pages(disputes, repeats).await,
    }
}

async fn intake(
    duration: Duration,
    senders: &[usize],
    rate: u32,
    storm: usize,
) -> anyhow::Result<()> {
    let mut env = Environment::prepare().await?;
    println!("{}\n", machine(&env).await?);
    env.start_server().await?;
    let pool = env
        .pool(senders.iter().copied().max().unwrap_or(8) as u32)
        .await?;

    // Enough for the fastest run imaginable here, signed before any timing.
    let per_run = (duration.as_secs() as usize * 4000).max(1000);
    let started = Instant::now();
    let queue = Queue::new(notifications::generate(
        "bench",
        per_run * (senders.len() + 2),
    ));
    println!(
        "signed {} notifications in {:.1} s\n",
        per_run * (senders.len() + 2),
        started.elapsed().as_secs_f64()
    );
    // A first load fills the caches and the tables' statistics.
    load::closed_loop(&env.server().base, &queue, 8, Duration::from_secs(3)).await;
    sqlx::query("analyze").execute(&pool).await?;

    println!("| senders | Dispute Desk /s | p50 | p90 | p99 | max | failures | ceiling tps (sqlx) | ratio | ceiling tps (pgbench) | ratio | CPU per notification: server / PostgreSQL / load generator | PostgreSQL CPU per ceiling transaction |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut cpu_per_notification = Duration::ZERO;
    for &n in senders {
        let cpu = Cpu::now(&env)?;
        let run = load::closed_loop(&env.server().base, &queue, n, duration).await;
        let [server, database, generator] = cpu.since(&env, run.latencies.len())?;
        cpu_per_notification = server;
        let cpu = Cpu::now(&env)?;
        let (ceiling, committed) =
            ceiling::transactions_per_second(&pool, n, duration, &format!("ceiling-{n}")).await?;
        let [_, ceiling_database, _] = cpu.since(&env, committed)?;
        let pgbench = ceiling::pgbench_tps(&env, &pool, n, duration).await?;
        let p = percentiles(&run);
        println!(
            "| {n} | {:.0} | {} | {} | {} | {} | {} | {ceiling:.0} | {:.0} % | {pgbench:.0} | {:.0} % | {} / {} / {} µs | {} µs |",
            run.per_second(),
            p[0],
            p[1],
            p[2],
            p[3],
            run.failures,
            100.0 * run.per_second() / ceiling,
            100.0 * run.per_second() / pgbench,
            server.as_micros(),
            database.as_micros(),
            generator.as_micros(),
            ceiling_database.as_micros()
        );
    }

    let open_from = jiff::Timestamp::now();
    let run = load::open_loop(&env.server().base, &queue, rate, duration).await;
    eprintln!("open loop from {open_from} to {}", jiff::Timestamp::now());
    let p = percentiles(&run);
    println!(
        "\nOpen loop at {rate}/s for {} s (latency from the intended send time): {:.0}/s answered, p50 {}, p90 {}, p99 {}, max {}, {} failures",
        duration.as_secs(),
        run.per_second(),
        p[0],
        p[1],
        p[2],
        p[3],
        run.failures
    );
    println!(
        "Peak RSS of the server: {:.0} MiB",
        env.server().peak_rss_mib()?
    );

    let verify = rsa_verification();
    println!(
        "RSA-2048 verification: {} µs each, {:.0} % of the server's CPU per notification at the last concurrency ({} µs)",
        verify.as_micros(),
        100.0 * verify.as_secs_f64() / cpu_per_notification.as_secs_f64().max(1e-9),
        cpu_per_notification.as_micros()
    );

    let statements = statements_per_notification(&env, &pool, &queue, 100).await?;
    println!("Statements (round trips) per notification, counted in PostgreSQL's log over 100: {statements:.1}");

    let (alone, during) = resilience::sign_in_storm(&env, &queue, storm).await?;
    println!(
        "Intake latency, one sender: alone p50 {} p99 {} max {}; during {storm} concurrent sign-ins p50 {} p99 {} max {}",
        alone[0], alone[2], alone[3], during[0], during[2], during[3]
    );
    env.stop_server().await?;
    Ok(())
}

/// The machine: cores, memory, and how long an fdatasync takes where the
/// cluster keeps its files (PostgreSQL's own pg_test_fsync).
async fn machine(env: &Environment) -> anyhow::Result<String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("?".to_owned(), |kib| {
            format!("{:.0} GiB", kib / 1024.0 / 1024.0)
        });
    let probe = env.scratch_file("fsync.probe", "")?;
    let output = tokio::process::Command::new(env.postgres_program("pg_test_fsync")?)
        .args(["-s", "2", "-f"])
        .arg(&probe)
        .output()
        .await?;
    let report = String::from_utf8_lossy(&output.stdout);
    // The first fdatasync line is the 8 kB write PostgreSQL's WAL does.
    let fdatasync = report
        .lines()
        .find(|l| l.trim_start().starts_with("fdatasync"))
        .and_then(|l| l.split_whitespace().rev().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    Ok(format!(
        "Machine: {cores} cores, {memory} memory; fdatasync of an 8 kB write: {fdatasync} µs (pg_test_fsync)"
    ))
}

/// CPU used so far by the server, the database and this process.
struct Cpu([Duration; 3]);

impl Cpu {
    fn now(env: &Environment) -> anyhow::Result<Self> {
        Ok(Self([
            env.server().cpu_time()?,
            env.database_cpu_time()?,
            environment::own_cpu_time()?,
        ]))
    }

    /// What each used since, per item of work.
    fn since(&self, env: &Environment, items: usize) -> anyhow::Result<[Duration; 3]> {
        let now = Self::now(env)?;
        let per = items.max(1) as u32;
        Ok([0, 1, 2].map(|i| now.0[i].saturating_sub(self.0[i]) / per))
    }
}

/// How many statements PostgreSQL runs per notification (each is one round
/// trip: BEGIN and COMMIT included), logged while `count` are sent one by
/// one.
async fn statements_per_notification(
    env: &Environment,
    pool: &sqlx::PgPool,
    queue: &Queue,
    count: usize,
) -> anyhow::Result<f64> {
    let log = env.database_log();
    let logged = || -> anyhow::Result<usize> {
        Ok(std::fs::read_to_string(&log)?
            .lines()
            .filter(|l| l.contains("LOG:  statement:") || l.contains("LOG:  execute"))
            .count())
    };
    sqlx::query("alter system set log_statement = 'all'")
        .execute(pool)
        .await?;
    sqlx::query("select pg_reload_conf()").execute(pool).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = logged()?;
    let client = load::client(1);
    for _ in 0..count {
        let n = queue
            .take()
            .ok_or_else(|| anyhow::anyhow!("no notification left"))?;
        load::post(&client, &env.server().base, n).await;
    }
    let after = logged()?;
    sqlx::query("alter system reset log_statement")
        .execute(pool)
        .await?;
    sqlx::query("select pg_reload_conf()").execute(pool).await?;
    Ok(after.saturating_sub(before) as f64 / count as f64)
}

/// The time one RSA-2048 PKCS#1 v1.5 SHA-256 verification takes here, as
/// intake verifies Botim Money's and PayerMax's notifications.
fn rsa_verification() -> Duration {
    let key = test_support::provider_key("botim-money-private.pem");
    let public = key.verification_key();
    let body = test_support::fixture_body("botim-chargeback.json");
    let signature = dispute_core::providers::keys::decode_base64(&key.sign(&body)).expect("Base64");
    let rounds = 2000;
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(public.verifies(&body, &signature));
    }
    started.elapsed() / rounds
}

/// p50, p90, p99 and max, in milliseconds with one decimal.
fn percentiles(run: &Run) -> [String; 4] {
    let mut sorted = run.latencies.clone();
    sorted.sort();
    let at = |q: f64| {
        sorted
            .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
            .map_or("-".to_owned(), |d| {
                format!("{:.1} ms", d.as_secs_f64() * 1000.0)
            })
    };
    [at(0.5), at(0.9), at(0.99), at(1.0)]
}
