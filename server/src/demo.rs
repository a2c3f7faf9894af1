//! `dispute-desk demo`: Dispute Desk on a database of its own, with the
//! test fixtures' three connections pointed at the provider simulator, a
//! demo admin, and the mixed-day scenario played into it — including two
//! disputes whose outcomes were never notified, which reconciliation then
//! recovers from the simulator's query APIs. Serves until interrupted.
//!
//! The demo imports connections whose keys are published in this
//! repository and creates an admin whose password it prints, so it never
//! runs on an installation's database: it ignores `DATABASE_URL`,
//! `MASTER_KEY` and the settings file, and runs on a fresh private cluster
//! in a directory of its own under `DATA_DIR`, removed when it stops. For
//! the same reason it listens only on a loopback address.

use std::{os::unix::fs::PermissionsExt, path::Path, sync::Arc, time::Duration};

use anyhow::Context;
use app::auth::password::Passwords;
use dispute_core::domain::{DisplayName, Email, NewPassword, Role};
use dispute_store::{Actor, NewUser, ReconcileRules, Store};
use dispute_workflows::executor::{CallSettings, Executor};
use dispute_workflows::outbound::OutboundPolicy;
use dispute_workflows::status_queries::StatusQueries;
use simulator::{notifications::Keys, queries, scenario, sender};

use crate::{
    config::{Settings, StatusQuerySettings},
    connections_import, database, master_key, startup,
};

/// The fixtures the demo runs on: the test connections and both sides'
/// keys (made with OpenSSL for the test suite; never for real money).
const FILES: [(&str, &str); 10] = [
    (
        "connections.json",
        include_str!("../../core/tests/fixtures/providers/connections.json"),
    ),
    (
        "keys/pingpong-salt.txt",
        include_str!("../../core/tests/fixtures/providers/keys/pingpong-salt.txt"),
    ),
    (
        "keys/botim-money-public.pem",
        include_str!("../../core/tests/fixtures/providers/keys/botim-money-public.pem"),
    ),
    (
        "keys/botim-money-merchant-private.pem",
        include_str!("../../core/tests/fixtures/providers/keys/botim-money-merchant-private.pem"),
    ),
    (
        "keys/payermax-public.b64",
        include_str!("../../core/tests/fixtures/providers/keys/payermax-public.b64"),
    ),
    (
        "keys/payermax-merchant-private.b64",
        include_str!("../../core/tests/fixtures/providers/keys/payermax-merchant-private.b64"),
    ),
    (
        "keys/provider-side/botim-money-private.pem",
        include_str!(
            "../../core/tests/fixtures/providers/keys/provider-side/botim-money-private.pem"
        ),
    ),
    (
        "keys/provider-side/payermax-private.b64",
        include_str!("../../core/tests/fixtures/providers/keys/provider-side/payermax-private.b64"),
    ),
    (
        "keys/provider-side/botim-money-merchant-public.pem",
        include_str!(
            "../../core/tests/fixtures/providers/keys/provider-side/botim-money-merchant-public.pem"
        ),
    ),
    (
        "keys/provider-side/payermax-merchant-public.b64",
        include_str!(
            "../../core/tests/fixtures/providers/keys/provider-side/payermax-merchant-public.b64"
        ),
    ),
];

/// Each fixture connection's path prefix on the simulator.
const PREFIXES: [(&str, &str); 3] = [
    ("pingpong-main", "/pingpong"),
    ("botim-main", "/botim-money"),
    ("payermax-main", "/payermax"),
];

pub const DEMO_EMAIL: &str = "demo-admin@example.com";

/// Real seconds per scripted second: the scenario's eight hours in about
/// six seconds.
const TIME_SCALE: f64 = 0.0002;

/// Reconciliation as the demo runs it: every open dispute whose deadline is
/// within eight days and that has been quiet for an hour (the scenario's
/// day ends now, so its dropped outcomes are hours old).
const DEMO_RULES: ReconcileRules = ReconcileRules {
    deadline_within: jiff::SignedDuration::from_hours(8 * 24),
    quiet_for: jiff::SignedDuration::from_hours(1),
    review_overdue: jiff::SignedDuration::from_hours(30 * 24),
    requery_after: jiff::SignedDuration::from_mins(10),
    silence_after: jiff::SignedDuration::from_hours(24),
};

/// Runs the demo with `settings` read from flags and the environment only.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    if !settings.listen_addr.ip().is_loopback() {
        anyhow::bail!(
            "the demo listens only on a loopback address (its keys are published and it prints an admin's password); LISTEN_ADDR is {}",
            settings.listen_addr
        );
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    let home = tempfile::Builder::new()
        .prefix("demo-")
        .tempdir_in(&settings.data_dir)
        .with_context(|| {
            format!(
                "cannot create a directory in {}",
                settings.data_dir.display()
            )
        })?;
    // When run as root the cluster runs as `postgres`, which must be able
    // to enter it.
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755))?;
    if settings.database_url.is_some() || settings.master_key.is_some() {
        println!("the demo ignores DATABASE_URL and MASTER_KEY: it runs on a database of its own");
    }
    let ran = run_in(home.path(), settings).await;
    home.close()?;
    ran
}

async fn run_in(home: &Path, settings: Settings) -> anyhow::Result<()> {
    let settings = Settings {
        data_dir: home.to_owned(),
        database_url: None,
        master_key: None,
        intake_listen_addr: None,
        status_queries: StatusQuerySettings {
            allow_local: true,
            reconcile_every: Some(Duration::from_secs(60)),
            rules: DEMO_RULES,
            ..settings.status_queries
        },
        ..settings
    };
    let vault = master_key::load(&settings)?;
    let db = database::open(&settings).await?;
    let store = Store::new(db.pool.clone());
    let ran = async {
        // The admin first, so that start-up offers no setup link.
        store.migrate().await?;
        let password = demo_admin(&store, &settings).await?;
        let app = startup::Application::build(&settings, store.clone(), vault.clone()).await?;
        let address = format!("http://{}", app.address());

        let fixtures = settings.data_dir.join("fixtures");
        write_fixtures(&fixtures)?;
        let story = scenario::builtin("mixed-day").expect("built in");
        let start = story.start_ending_now();
        let world = Arc::new(queries::World::new(
            story.clone(),
            start,
            Keys::load(&fixtures.join("keys"))?,
            Duration::from_secs(30),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let simulator = format!("http://{}", listener.local_addr()?);
        tokio::spawn(queries::serve(listener, world.clone()));
        import_connections(&fixtures, &simulator, &store, &vault).await?;

        let serving =
            tokio::spawn(app.run_until(startup::termination_signal(), settings.shutdown_timeout));
        println!("Dispute Desk demo: {address}");
        println!("sign in as {DEMO_EMAIL} with the password {password}");
        println!("provider simulator (query APIs): {simulator}");
        let how = sender::Play {
            intake: address.clone(),
            time_scale: TIME_SCALE,
            timeout: Duration::from_secs(10),
        };
        world.send_outcomes_to(how.clone());
        let log = sender::play(&story, world.keys(), start, &how).await?;
        let dropped = log.iter().filter(|a| a.attempt == 0).count();
        println!(
            "played {}: {} notification attempts, {dropped} dropped by the providers",
            story.name,
            log.len()
        );
        let queries = StatusQueries::new(
            store.clone(),
            vault.clone(),
            Executor::new(
                store.clone(),
                CallSettings {
                    policy: OutboundPolicy { allow_local: true },
                    timeout: settings.status_queries.timeout,
                    retries: 1,
                },
            ),
            dispute_workflows::metrics::Metrics::new(),
        );
        let run = queries.reconcile(&DEMO_RULES, 100).await?;
        println!(
            "reconciliation asked the providers about {} disputes; {} changed",
            run.asked, run.changed
        );
        for dispute in story.disputes.iter().filter(|d| d.recovered.is_some()) {
            if let Some(found) = store
                .dispute(&dispute.connection, &dispute.reference)
                .await?
            {
                println!(
                    "  recovered {} ({}): {:?} / {:?}",
                    dispute.reference, dispute.connection, found.stage, found.status
                );
            }
        }
        if let Some(responded) = record_a_response(&store).await? {
            println!("  {responded}: a response recorded as sent outside the desk");
        }
        println!("demo ready: open {address}/disputes (Ctrl-C stops it)");
        serving.await??;
        anyhow::Ok(())
    }
    .await;
    db.close().await?;
    ran
}

/// The dispute the demo shows as responded to: Botim Money's first, its
/// response recorded as sent through Botim Money's support by the demo's
/// admin (the others still wait for theirs).
const RESPONDED: (&str, &str) = ("botim-main", "OBDAY001");

async fn record_a_response(store: &Store) -> anyhow::Result<Option<String>> {
    use dispute_core::domain::submission::{Decision, OutsideMethod};
    let (slug, reference) = RESPONDED;
    let (Some(dispute), Some(admin)) = (
        store.dispute(slug, reference).await?,
        store.user_by_email(DEMO_EMAIL).await?,
    ) else {
        return Ok(None);
    };
    let Some(stage) = dispute.stage else {
        return Ok(None);
    };
    let token = store
        .issue_confirm_token(
            &dispute_store::Confirming {
                dispute_id: dispute.id,
                stage,
                decision: Decision::Defend,
                outside: true,
                response_updated_at: None,
            },
            admin.id,
        )
        .await?;
    let actor = dispute_store::Actor {
        user_id: Some(admin.id),
        email: Some(DEMO_EMAIL.to_owned()),
        address: None,
    };
    store
        .submit(&dispute_store::SubmitRequest {
            dispute_id: dispute.id,
            decision: Decision::Defend,
            token: &token,
            outside: Some(dispute_store::Outside {
                at: jiff::Timestamp::now(),
                method: OutsideMethod::Email,
                sent: "the response packet and the courier's proof of delivery".to_owned(),
                note: "Sent to Botim Money's merchant support by the demo.".to_owned(),
            }),
            actor: &actor,
            subject: &format!("dispute {slug}/{reference}"),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(format!("{slug}/{reference}")))
}

fn write_fixtures(dir: &Path) -> anyhow::Result<()> {
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The fixture connections, with their query APIs on the simulator.
async fn import_connections(
    fixtures: &Path,
    simulator: &str,
    store: &Store,
    vault: &dispute_workflows::vault::Vault,
) -> anyhow::Result<()> {
    let mut entries: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixtures.join("connections.json"))?)?;
    for entry in &mut entries {
        let slug = entry["slug"].as_str().unwrap_or_default().to_owned();
        if let Some((_, prefix)) = PREFIXES.iter().find(|(s, _)| *s == slug) {
            entry["query_base_url"] = format!("{simulator}{prefix}").into();
            entry["display_name"] = format!("Demo {slug}").into();
        }
    }
    let file = fixtures.join("demo-connections.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&entries)?)?;
    connections_import::import(&file, store, vault).await?;
    Ok(())
}

/// Creates the demo admin; returns its password.
async fn demo_admin(store: &Store, settings: &Settings) -> anyhow::Result<String> {
    let (token, _) = app::auth::new_setup_token();
    let password: String = token.chars().take(20).collect();
    let passwords = Passwords::new(settings.password_cost)?;
    let hash = passwords
        .hash(&NewPassword::parse(&password).map_err(|e| anyhow::anyhow!("{e}"))?)
        .await;
    store
        .create_user(
            &NewUser {
                email: Email::parse(DEMO_EMAIL).map_err(|e| anyhow::anyhow!("{e}"))?,
                display_name: DisplayName::parse("Demo admin")
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                role: Role::Admin,
                password_hash: hash,
                must_change_password: false,
            },
            &Actor::default(),
        )
        .await?;
    Ok(password)
}
