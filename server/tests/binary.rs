//! The real `dispute-desk` binary without `DATABASE_URL`: it runs its own
//! PostgreSQL cluster, reuses it, and leaves no process behind.

use std::{
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

fn dispute_desk(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dispute-desk"));
    command
        .env_remove("DATABASE_URL")
        .env("DATA_DIR", data_dir)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts the server and returns it with the address it printed and the
/// lines it logged before.
fn start(data_dir: &Path) -> (Child, String, Vec<String>) {
    let mut child = dispute_desk(data_dir).spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut before = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some((_, address)) = line.split_once("serving on ") {
            return (child, address.trim().to_owned(), before);
        }
        before.push(line);
    }
    let status = child.wait().unwrap();
    panic!("the server stopped ({status}) before it printed its address");
}

fn stop(mut child: Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

/// Processes whose command line names the data directory (the postmaster
/// and its children).
fn postgres_processes_of(data_dir: &Path) -> Vec<String> {
    let needle = data_dir.to_str().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
        .map(|cmd| String::from_utf8_lossy(&cmd).replace('\0', " "))
        .filter(|cmd| cmd.contains("postgres") && cmd.contains(needle))
        .collect()
}

fn ready(address: &str) -> bool {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        reqwest::get(format!("{address}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
}

fn reachable_temp_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // When the tests run as root the cluster runs as `postgres`, which must
    // be able to enter the directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn without_database_url_it_runs_a_private_cluster_and_stops_it_on_sigint_and_sigterm() {
    let dir = reachable_temp_dir();

    let (server, address, logged) = start(dir.path());
    assert!(ready(&address));
    assert!(!postgres_processes_of(dir.path()).is_empty());
    let setup = logged
        .iter()
        .find(|l| l.contains("/setup?token="))
        .expect("a setup link");
    assert!(
        setup.contains(&format!("{address}/setup?token=")),
        "{setup}"
    );
    stop(server, Signal::SIGINT);
    assert_eq!(postgres_processes_of(dir.path()), Vec::<String>::new());

    let version_file = dir.path().join("postgres/PG_VERSION");
    let created = std::fs::metadata(&version_file)
        .unwrap()
        .modified()
        .unwrap();
    let began = Instant::now();
    let (server, address, _) = start(dir.path());
    assert!(ready(&address));
    let restart = began.elapsed();
    assert_eq!(
        std::fs::metadata(&version_file)
            .unwrap()
            .modified()
            .unwrap(),
        created,
        "the cluster is reused, not created again"
    );
    assert!(restart < Duration::from_secs(5), "restart took {restart:?}");
    stop(server, Signal::SIGTERM);
    assert_eq!(postgres_processes_of(dir.path()), Vec::<String>::new());
}

#[test]
fn without_postgresql_programs_it_says_what_to_install_in_one_sentence() {
    let dir = reachable_temp_dir();
    let empty = tempfile::tempdir().unwrap();

    let output = dispute_desk(dir.path())
        .env("POSTGRES_BIN_DIR", empty.path())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("no PostgreSQL server programs (initdb, pg_ctl) were found")
            && stderr.contains("apt-get install postgresql")
            && stderr.contains("set DATABASE_URL"),
        "{stderr}"
    );
}

#[test]
fn help_lists_the_settings_without_their_values() {
    let output = Command::new(env!("CARGO_BIN_EXE_dispute-desk"))
        .arg("--help")
        .env("DATABASE_URL", "postgres://app:hunter2@db/dd")
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for setting in ["DATABASE_URL", "LISTEN_ADDR", "DATA_DIR", "LOG_FORMAT"] {
        assert!(help.contains(setting), "{setting} in {help}");
    }
    assert!(!help.contains("hunter2"), "{help}");
}

#[test]
fn connections_import_creates_then_leaves_unchanged_and_stops_its_cluster() {
    let dir = reachable_temp_dir();
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/providers/connections.json");
    let run = || {
        let output = dispute_desk(dir.path())
            .args(["connections", "import"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };

    let first = run();
    let second = run();

    assert!(first.contains("created pingpong-main"), "{first}");
    assert!(first.contains("created payermax-main"), "{first}");
    assert!(second.contains("unchanged botim-main"), "{second}");
    assert!(!second.contains("created"), "{second}");
    assert!(dir.path().join("master.key").is_file());
    assert_eq!(postgres_processes_of(dir.path()), Vec::<String>::new());
}

#[test]
fn disputes_rebuild_checks_on_the_configured_database_and_says_what_it_found() {
    let dir = reachable_temp_dir();
    let output = dispute_desk(dir.path())
        .args(["disputes", "rebuild"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(
        printed.contains("\nchecked 0 disputes: 0 would change (rebuild 1)\n"),
        "{printed}"
    );
    assert_eq!(postgres_processes_of(dir.path()), Vec::<String>::new());
}

#[test]
fn users_create_reads_the_password_from_stdin_and_refuses_a_second_account_with_that_email() {
    use std::io::Write;
    let dir = reachable_temp_dir();
    let run = || {
        let mut child = dispute_desk(dir.path())
            .args([
                "users",
                "create",
                "--email",
                "Root@Example.com",
                "--role",
                "admin",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a long enough password\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };

    let first = run();
    let second = run();

    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("created admin Root@Example.com"));
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr)
        .contains("an account with the email root@example.com exists already"));
    assert_eq!(postgres_processes_of(dir.path()), Vec::<String>::new());
}

/// An installation as the demo must leave it: one admin, one connection
/// with its own salt and query address, no disputes.
async fn installation(
    pool: &sqlx::PgPool,
) -> (
    i64,
    Vec<(String, Option<String>)>,
    Vec<(String, Option<Vec<u8>>)>,
    i64,
) {
    let users = sqlx::query_scalar("select count(*) from users")
        .fetch_one(pool)
        .await
        .unwrap();
    let connections = sqlx::query_as("select slug, query_base_url from connections order by slug")
        .fetch_all(pool)
        .await
        .unwrap();
    let keys = sqlx::query_as("select fingerprint, sealed_secret from connection_keys order by id")
        .fetch_all(pool)
        .await
        .unwrap();
    let disputes = sqlx::query_scalar("select count(*) from disputes")
        .fetch_one(pool)
        .await
        .unwrap();
    (users, connections, keys, disputes)
}

#[test]
fn the_demo_refuses_to_listen_beyond_loopback() {
    let dir = reachable_temp_dir();
    let output = dispute_desk(dir.path())
        .env("LISTEN_ADDR", "0.0.0.0:0")
        .arg("demo")
        .output()
        .unwrap();

    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("the demo listens only on a loopback address"),
        "{said}"
    );
    assert_eq!(postgres_processes_of(dir.path()), Vec::<String>::new());
}

#[test]
fn the_demo_plays_a_day_recovers_the_dropped_outcomes_and_leaves_an_installation_alone() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = reachable_temp_dir();
    // An installation with an admin and a connection on the fixtures' slug,
    // named by DATABASE_URL and by a settings file: the demo must touch
    // neither.
    let database = runtime.block_on(test_support::TestDatabase::create());
    let real = dir.path().join("real-connections.json");
    std::fs::write(
        &real,
        r#"[{"slug": "pingpong-main", "provider": "pingpong", "acc_id": "1", "salt_file": "salt.txt",
             "query_base_url": "https://acquirer-payment.pingpongx.com"}]"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("salt.txt"), "TheInstallationsOwnSalt42").unwrap();
    let master_key = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=";
    let as_installation = |args: &[&str]| {
        let output = dispute_desk(dir.path())
            .env("DATABASE_URL", database.url())
            .env("MASTER_KEY", master_key)
            .args(args)
            .stdin(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    as_installation(&["connections", "import", real.to_str().unwrap()]);
    let mut create = dispute_desk(dir.path())
        .env("DATABASE_URL", database.url())
        .args([
            "users",
            "create",
            "--email",
            "owner@example.com",
            "--role",
            "admin",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        create
            .stdin
            .take()
            .unwrap()
            .write_all(b"a long enough password\n")
            .unwrap();
    }
    assert!(create.wait().unwrap().success());
    let pool = runtime.block_on(database.pool(1));
    let before = runtime.block_on(installation(&pool));
    assert_eq!(before.0, 1);
    let settings_file = dir.path().join("settings.toml");
    std::fs::write(
        &settings_file,
        format!(
            "database_url = \"{}\"\nlisten_addr = \"0.0.0.0:0\"\n",
            database.url()
        ),
    )
    .unwrap();

    let mut child = dispute_desk(dir.path())
        .env("DATABASE_URL", database.url())
        .env("MASTER_KEY", master_key)
        .env("DISPUTE_DESK_CONFIG", &settings_file)
        .arg("demo")
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut address, mut password, mut said) = (None, None, Vec::new());
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Dispute Desk demo: ") {
            address = Some(rest.trim().to_owned());
        }
        if let Some((_, rest)) = line.split_once("with the password ") {
            password = Some(rest.trim().to_owned());
        }
        let ready = line.starts_with("demo ready");
        said.push(line);
        if ready {
            break;
        }
    }
    let (address, password) = (address.unwrap(), password.unwrap());
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");
    assert!(
        said.iter()
            .any(|l| l.contains("recovered PPDAY013 (pingpong-main): Some(Chargeback) / Some(Won)")),
        "{said:#?}"
    );
    assert!(said
        .iter()
        .any(|l| l.contains("recovered PMDAY011 (payermax-main): Some(Chargeback) / Some(Won)")));
    assert_eq!(
        runtime.block_on(installation(&pool)),
        before,
        "the installation is untouched"
    );

    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let signed_in = client
            .post(format!("{address}/api/login"))
            .header("origin", &address)
            .header("accept", "text/html")
            .form(&[
                ("email", "demo-admin@example.com"),
                ("password", password.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert!(
            signed_in.status().is_redirection(),
            "{}",
            signed_in.status()
        );
        let page = |path: String| {
            let client = client.clone();
            async move { client.get(path).send().await.unwrap().text().await.unwrap() }
        };
        let queue = page(format!("{address}/disputes?status=any&q=PPDAY013")).await;
        let link = queue
            .split("href=\"")
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .find(|href| href.starts_with("/disputes/") && href[10..].parse::<i64>().is_ok())
            .expect("a link to the dispute")
            .to_owned();
        let recovered = page(format!("{address}{link}")).await;
        assert!(recovered.contains("PPDAY013"), "{recovered}");
        assert!(recovered.contains("pulled: a status query"), "{recovered}");
        assert!(recovered.contains("from a status query"));
        let queue = page(format!("{address}/disputes?status=any")).await;
        for reference in ["PPDAY001", "OBDAY008", "PMDAY010"] {
            assert!(queue.contains(reference), "{reference} is in the queue");
        }
        // The story ends with something overdue, something due within
        // hours and something due within three days of when it started.
        let board = page(format!("{address}/deadlines")).await;
        let column = |title: &str| {
            let start = board
                .find(&format!("aria-label=\"{title}\""))
                .unwrap_or_else(|| panic!("{title}: {board}"));
            let end = board[start..].find("</section>").unwrap() + start;
            board[start..end].to_owned()
        };
        assert!(column("Overdue").contains("PPDAY001"), "{board}");
        let soon = format!("{}{}", column("Due today"), column("Next 3 days"));
        assert!(
            soon.contains("PPDAY002") && soon.contains("PPDAY003"),
            "{board}"
        );
        assert!(column("Later").contains("PPDAY012"), "{board}");

        // Nothing the demo recorded reads differently when read again.
        let asked = client
            .post(format!("{address}/api/rebuilds/check"))
            .header("origin", &address)
            .header("accept", "text/html")
            .form(&[("", "")])
            .send()
            .await
            .unwrap();
        let check = asked.headers()["location"].to_str().unwrap().to_owned();
        let started = Instant::now();
        let found = loop {
            let shown = page(format!("{address}{check}")).await;
            if shown.contains("Nothing has been written") {
                break shown;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{shown}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        assert!(found.contains(": 0 would change"), "{found}");
    });
    stop(child, Signal::SIGTERM);
    assert!(
        postgres_processes_of(dir.path()).is_empty(),
        "the demo's cluster stopped"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("demo-"))
        .collect();
    assert!(left.is_empty(), "the demo's directory is removed: {left:?}");
    assert_eq!(runtime.block_on(installation(&pool)), before);
}
