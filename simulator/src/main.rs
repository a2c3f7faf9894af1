//! `dispute-desk-simulator`: plays a scenario against a Dispute Desk.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use clap::Parser;
use simulator::{notifications::Keys, scenario, sender};

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
    let keys = Keys::load(&cli.keys)?;
    let how = sender::Play {
        intake: cli.intake,
        time_scale: cli.time_scale,
        timeout: Duration::from_secs(10),
    };
    // The scripted day ends now, so that no event happens in the future.
    let span = scenario
        .disputes
        .iter()
        .flat_map(|d| &d.events)
        .map(|e| e.happened_minutes)
        .max()
        .unwrap_or(0);
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(i64::from(span));
    for attempt in sender::play(&scenario, &keys, start, &how).await? {
        println!("{}", serde_json::to_string(&attempt)?);
    }
    Ok(())
}
