//! What a benchmark runs against: a PostgreSQL cluster of its own in a
//! temporary directory, and the real `dispute-desk` binary (release build,
//! beside this one) serving on a loopback port, with the fixtures'
//! connections imported and one account for the sign-in storm. The
//! benchmark can kill and restart either.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{bail, Context};
use dispute_store::private_postgres::PrivateCluster;
use sqlx::{postgres::PgConnectOptions, PgPool};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// The account the sign-in storm signs in as; an admin, so the page
/// benchmark reaches ops' pages too.
pub const STORM_EMAIL: &str = "storm@example.com";
pub const STORM_PASSWORD: &str = "correct horse battery staple";

pub struct Environment {
    dir: PathBuf,
    cluster: PrivateCluster,
    binary: PathBuf,
    database_url: String,
    master_key: String,
    server: Option<Server>,
}

/// The running `dispute-desk` process.
pub struct Server {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:port`
    pub base: String,
}

impl Environment {
    /// A fresh cluster and database with the fixtures' connections and the
    /// storm's account; the server is not started yet.
    pub async fn prepare() -> anyhow::Result<Self> {
        let binary = std::env::current_exe()?.with_file_name("dispute-desk");
        if !binary.is_file() {
            bail!(
                "{} is missing: build it first (cargo build --release --workspace --bins)",
                binary.display()
            );
        }
        let dir = std::env::temp_dir().join(format!("dispute-desk-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        // The cluster may run as the `postgres` user, which must enter it.
        set_mode(&dir, 0o755)?;
        let cluster = PrivateCluster::locate(&dir.join("postgres"), None)?;
        cluster.start().await?;
        // What the database does in the background shows in its log, with
        // the time, for reading beside the figures.
        let admin = dispute_store::pool_options(1)
            .connect_with(cluster.connect_options("dispute_desk"))
            .await?;
        for setting in [
            "alter system set log_checkpoints = on",
            "alter system set log_autovacuum_min_duration = 0",
            "alter system set log_line_prefix = '%m [%p] '",
            "select pg_reload_conf()",
        ] {
            sqlx::query(setting).execute(&admin).await?;
        }
        admin.close().await;
        let database_url = format!(
            "postgres://postgres@localhost/dispute_desk?host={}&port=5432",
            dir.join("postgres").display()
        );
        let mut key = [0u8; 32];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        let environment = Self {
            dir,
            cluster,
            binary,
            database_url,
            master_key: dispute_core::providers::keys::encode_base64(&key),
            server: None,
        };
        environment
            .run_command(
                &["connections", "import"],
                Some(&test_support::fixtures().join("connections.json")),
                None,
            )
            .await?;
        environment
            .run_command(
                &["users", "create", "--email", STORM_EMAIL, "--role", "admin"],
                None,
                Some(STORM_PASSWORD),
            )
            .await?;
        Ok(environment)
    }

    /// `dispute-desk` with the benchmark's database, key and settings.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .env("DATABASE_URL", &self.database_url)
            .env("MASTER_KEY", &self.master_key)
            .env("DATA_DIR", &self.dir)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", "json")
            // Many sign-ins from one address, on as many connections at
            // once, are the point of the storm.
            .env("STRANGER_REQUESTS_PER_MINUTE", "100000")
            .env("MAX_CONNECTIONS_PER_ADDRESS", "100000")
            .kill_on_drop(true);
        command
    }

    async fn run_command(
        &self,
        args: &[&str],
        file: Option<&Path>,
        stdin: Option<&str>,
    ) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut command = self.command();
        command.args(args);
        if let Some(file) = file {
            command.arg(file);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(format!("{text}\n").as_bytes())
                .await?;
        }
        let output = child.wait_with_output().await?;
        if !output.status.success() {
            bail!(
                "dispute-desk {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// Starts the server and waits until it serves.
    pub async fn start_server(&mut self) -> anyhow::Result<&Server> {
        self.start_server_with(&[]).await
    }

    /// Starts the server with `settings` (environment variables) over the
    /// benchmark's, and waits until it serves.
    pub async fn start_server_with(
        &mut self,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<&Server> {
        let server = self.spawn_server(settings).await?;
        Ok(self.server.insert(server))
    }

    /// Starts one more server on the same database with `settings`, and
    /// waits until it serves; the caller holds it (it is killed when
    /// dropped).
    pub async fn spawn_server(&self, settings: &[(&str, &str)]) -> anyhow::Result<Server> {
        let mut command = self.command();
        command.envs(settings.iter().copied());
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id().context("the server has a pid")?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("serving on ").nth(1) {
                    let address = rest
                        .split(|c: char| c == '"' || c.is_whitespace())
                        .next()
                        .unwrap_or_default();
                    return anyhow::Ok(address.to_owned());
                }
            }
            bail!("the server stopped before serving")
        })
        .await
        .context("the server did not start within a minute")??;
        // Keep reading, so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, pid, base })
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("the server was started")
    }

    /// Kills the server at once (SIGKILL): no shutdown, no grace.
    pub async fn kill_server(&mut self) -> anyhow::Result<()> {
        if let Some(mut server) = self.server.take() {
            server.child.start_kill()?;
            server.child.wait().await?;
        }
        Ok(())
    }

    pub async fn stop_server(&mut self) -> anyhow::Result<()> {
        if let Some(mut server) = self.server.take() {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(server.pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            )?;
            server.child.wait().await?;
        }
        Ok(())
    }

    pub fn stop_database(&self) -> anyhow::Result<()> {
        Ok(self.cluster.stop()?)
    }

    pub async fn start_database(&self) -> anyhow::Result<()> {
        self.cluster.start().await?;
        Ok(())
    }

    /// Writes `text` to a file of the benchmark's own; its path.
    pub fn scratch_file(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let path = self.dir.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// A PostgreSQL client program beside the server programs the cluster
    /// runs with (pgbench, pg_test_fsync).
    pub fn postgres_program(&self, name: &str) -> anyhow::Result<PathBuf> {
        // initdb may be a link on PATH into the installation's own directory.
        let real = std::fs::canonicalize(self.cluster.bin_dir().join("initdb"))?;
        let path = real.with_file_name(name);
        if !path.is_file() {
            bail!("{} is missing", path.display());
        }
        Ok(path)
    }

    /// pgbench's options to reach the cluster's database.
    pub fn pgbench_connection(&self) -> Vec<String> {
        vec![
            "-h".into(),
            self.dir.join("postgres").display().to_string(),
            "-p".into(),
            "5432".into(),
            "-U".into(),
            "postgres".into(),
            "dispute_desk".into(),
        ]
    }

    /// The cluster's log file.
    pub fn database_log(&self) -> PathBuf {
        self.dir.join("postgres/server.log")
    }

    pub fn database(&self) -> PgConnectOptions {
        self.cluster.connect_options("dispute_desk")
    }

    pub async fn pool(&self, connections: u32) -> anyhow::Result<PgPool> {
        Ok(dispute_store::pool_options(connections)
            .connect_with(self.database())
            .await?)
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        if let Some(server) = &mut self.server {
            let _ = server.child.start_kill();
        }
        let _ = self.cluster.stop();
        if std::env::var_os("BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("kept {}", self.dir.display());
        }
    }
}

/// CPU time a process has used so far (user + system), and its parent.
fn process_cpu(pid: u32) -> anyhow::Result<(Duration, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses.
    let after = stat.rsplit_once(')').context("a /proc stat line")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let parent: u32 = fields[1].parse()?;
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100);
    Ok((
        Duration::from_secs_f64(ticks as f64 / per_second as f64),
        parent,
    ))
}

/// CPU time this benchmark process has used so far.
pub fn own_cpu_time() -> anyhow::Result<Duration> {
    Ok(process_cpu(std::process::id())?.0)
}

impl Environment {
    /// CPU time the cluster's processes have used so far (those alive now:
    /// the postmaster and its children).
    pub fn database_cpu_time(&self) -> anyhow::Result<Duration> {
        let pid_file = std::fs::read_to_string(self.dir.join("postgres/postmaster.pid"))?;
        let postmaster: u32 = pid_file.lines().next().context("a pid")?.trim().parse()?;
        let mut total = process_cpu(postmaster)?.0;
        for entry in std::fs::read_dir("/proc")? {
            let Some(pid) = entry?
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok((cpu, parent)) = process_cpu(pid) {
                if parent == postmaster {
                    total += cpu;
                }
            }
        }
        Ok(total)
    }
}

impl Server {
    /// CPU time the server process has used so far (user + system).
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        Ok(process_cpu(self.pid)?.0)
    }

    /// The most memory the server has held at once (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .context("VmHWM in /proc status")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kib / 1024.0)
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
