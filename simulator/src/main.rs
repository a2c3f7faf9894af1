//! `dispute-desk-simulator`: serves the providers' status-query APIs and
//! plays a scenario's notifications against a Dispute Desk.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use simulator::{notifications::Keys, queries, scenario, sender};

#[derive(Parser)]
#[command(name = "dispute-desk-simulator", about)]
struct Cli {
    /// Dispute Desk's address.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    intake: String,
    /// A built-in scenario (mixed-day, lost-notification) or a JSON file.
    #[arg(long, default_value = "mixed-day")]
    scenario: String,
    /// Real seconds per scripted second (0.001: an hour in 3.6 seconds).
    #[arg(long, default_value_t = 0.001)]
    time_scale: f64,
    /// The providers' keys: pingpong-salt.txt and provider-side/.
    #[arg(long, default_value = "core/tests/fixtures/providers/keys")]
    keys: PathBuf,
    /// Where the query APIs listen (`/pingpong`, `/botim-money`, `/payermax`).
    #[arg(long, default_value = "127.0.0.1:3100")]
    queries: SocketAddr,
    /// How long a `slow_answer` dispute's query answer waits.
    #[arg(long, default_value_t = 30)]
    slow_answer_seconds: u64,
    /// Stop once every notification is sent, instead of serving the query
    /// APIs until interrupted.
    #[arg(long)]
    exit_after_play: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !(cli.time_scale.is_finite() && cli.time_scale > 0.0) {
        anyhow::bail!("--time-scale must be a number above 0");
    }
    let scenario = match scenario::builtin(&cli.scenario) {
        Some(s) => s,
        None => serde_json::from_slice(
            &std::fs::read(&cli.scenario)
                .with_context(|| format!("cannot read {}", cli.scenario))?,
        )?,
    };
    let how = sender::Play {
        intake: cli.intake,
        time_scale: cli.time_scale,
        timeout: Duration::from_secs(10),
    };
    let start = scenario.start_ending_now();
    let world = Arc::new(queries::World::new(
        scenario.clone(),
        start,
        Keys::load(&cli.keys)?,
        Duration::from_secs(cli.slow_answer_seconds),
    ));
    world.send_outcomes_to(how.clone());
    let listener = tokio::net::TcpListener::bind(cli.queries)
        .await
        .with_context(|| format!("cannot listen on {}", cli.queries))?;
    eprintln!("query APIs on http://{}", listener.local_addr()?);
    let serving = tokio::spawn(queries::serve(listener, world.clone()));
    for attempt in sender::play(&scenario, world.keys(), start, &how).await? {
        println!("{}", serde_json::to_string(&attempt)?);
    }
    if cli.exit_after_play {
        return Ok(());
    }
    eprintln!("every notification is sent; serving the query APIs until interrupted");
    tokio::select! {
        served = serving => served??,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
