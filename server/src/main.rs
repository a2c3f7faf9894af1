//! `dispute-desk`: serves by default; subcommands do the rest.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use dispute_store::Store;
use server::{
    config::{
        Cli, Command, ConfigError, ConnectionsCommand, DisputesCommand, Settings, UsersCommand,
    },
    connections_import, database, demo, disputes_rebuild, master_key, startup, telemetry,
    users_create,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::read() {
        Ok(cli) => cli,
        Err(ConfigError::Arguments(e)) => e.exit(),
        Err(e) => {
            eprintln!("dispute-desk: {e}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    let settings = Settings::from(cli.settings);
    telemetry::init(settings.log_format);
    let outcome = match command {
        Command::Serve => serve(settings).await,
        Command::Connections(ConnectionsCommand::Import { file }) => {
            import_connections(settings, &file).await
        }
        Command::Users(UsersCommand::Create { email, name, role }) => {
            create_user(settings, &email, name.as_deref(), &role).await
        }
        Command::Disputes(DisputesCommand::Rebuild { apply }) => {
            rebuild_disputes(settings, apply).await
        }
        Command::Demo => demo::run(settings).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "dispute-desk stopped");
            eprintln!("dispute-desk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let vault = master_key::load(&settings)?;
    let db = database::open(&settings).await?;
    let served = async {
        let app =
            startup::Application::build(&settings, Store::new(db.pool.clone()), vault).await?;
        tracing::info!("Dispute Desk is serving on http://{}", app.address());
        app.run_until(startup::termination_signal(), settings.shutdown_timeout)
            .await?;
        anyhow::Ok(())
    }
    .await;
    db.close().await?;
    served
}

async fn import_connections(settings: Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let vault = master_key::load(&settings)?;
    let db = database::open(&settings).await?;
    let imported = async {
        let store = Store::new(db.pool.clone());
        store.migrate().await?;
        let report = connections_import::import(file, &store, &vault).await?;
        for line in report {
            println!("{line}");
        }
        anyhow::Ok(())
    }
    .await;
    db.close().await?;
    imported
}

async fn rebuild_disputes(settings: Settings, apply: bool) -> anyhow::Result<()> {
    let db = database::open(&settings).await?;
    let rebuilt = async {
        let store = Store::new(db.pool.clone());
        store.migrate().await?;
        disputes_rebuild::run(&store, apply, &mut std::io::stdout().lock()).await
    }
    .await;
    db.close().await?;
    rebuilt
}

async fn create_user(
    settings: Settings,
    email: &str,
    name: Option<&str>,
    role: &str,
) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    let passwords = app::auth::password::Passwords::new(settings.password_cost)?;
    let db = database::open(&settings).await?;
    let created = async {
        let store = Store::new(db.pool.clone());
        store.migrate().await?;
        let id = users_create::create(&store, &passwords, email, name, role, &password).await?;
        println!("created {role} {email} (account {id})");
        anyhow::Ok(())
    }
    .await;
    db.close().await?;
    created
}
