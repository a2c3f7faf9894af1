//! Settings: each one declared once, in `SettingArgs` — its flag, its
//! environment variable, its key in the settings file (its name in lower
//! case), its default and its help. Flags override the environment, which
//! overrides the file, whose values are read in as the settings' defaults.
//! `Settings` is the same, grouped as the application uses it. The README's
//! table is checked against these declarations by a test.

use std::{
    ffi::OsString,
    net::SocketAddr,
    num::NonZeroU32,
    path::{Path, PathBuf},
    time::Duration,
};

use app::auth::password::HashCost;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use dispute_core::domain::SourceAllowlist;
use jiff::SignedDuration;
use secrecy::{ExposeSecret, SecretString};

/// Dispute Desk: receives payment providers' dispute notifications and shows
/// the team what is due. Serving is the default command.
#[derive(Debug, Parser)]
#[command(name = "dispute-desk", version, about)]
pub struct Cli {
    /// A TOML file with settings (keys as in the README, in lower case).
    /// Flags and environment variables override it.
    #[arg(long, env = "DISPUTE_DESK_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub settings: SettingArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application and the webhook intake (the default).
    Serve,
    /// Manage provider connections.
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Work on disputes as a whole.
    #[command(subcommand)]
    Disputes(DisputesCommand),
    /// Run a demo: Dispute Desk on a database of its own, demo connections
    /// pointed at the provider simulator, a demo admin (credentials
    /// printed), and a realistic day of disputes played into it.
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an account; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// The name shown in the UI (default: the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        /// analyst, ops or admin.
        #[arg(long, default_value = "analyst")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DisputesCommand {
    /// After a change to how a provider's notifications are read: read every
    /// recorded event again, fold every dispute afresh and print those that
    /// would change, and how. Writes nothing without --apply.
    Rebuild {
        /// Write the changes the check found.
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Create or update connections from a JSON file (key files are read
    /// relative to it). Running it again changes nothing.
    Import { file: PathBuf },
}

/// Every setting, declared once. The file key is the `id` (the
/// environment variable's name in lower case).
#[derive(Debug, Clone, Args)]
pub struct SettingArgs {
    /// PostgreSQL to use, e.g. postgres://dd:secret@db/dispute_desk. Without
    /// it a private cluster is started in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true, value_parser = secret)]
    pub database_url: Option<SecretString>,

    /// Address to serve on; port 0 picks a free one (the bound address is
    /// logged at start-up).
    #[arg(
        long,
        env = "LISTEN_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub listen_addr: SocketAddr,

    /// A second address serving only the webhook intake (and the health
    /// probes), so that the UI's clients can never take intake's
    /// connections.
    #[arg(long, env = "INTAKE_LISTEN_ADDR", global = true)]
    pub intake_listen_addr: Option<SocketAddr>,

    /// Dispute Desk's own files; the private cluster lives in
    /// DATA_DIR/postgres.
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Where initdb and pg_ctl are, when not on PATH or under
    /// /usr/lib/postgresql/*/bin.
    #[arg(long, env = "POSTGRES_BIN_DIR", global = true)]
    pub postgres_bin_dir: Option<PathBuf>,

    /// Connections in the database pool (PostgreSQL peaks near 8 busy
    /// connections on 2 cores).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value = "8", global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub database_max_connections: u32,

    /// human or json (one object per line).
    #[arg(long, env = "LOG_FORMAT", default_value = "human", global = true)]
    pub log_format: LogFormat,

    /// Seconds in-flight requests may take after SIGINT or SIGTERM before
    /// they are cut off.
    #[arg(id = "shutdown_timeout_secs", long = "shutdown-timeout-secs", env = "SHUTDOWN_TIMEOUT_SECS",
          default_value = "10", global = true, value_parser = seconds)]
    pub shutdown_timeout: Duration,

    /// 32 bytes, Base64: seals salts and private keys at rest. Without it
    /// the key is read from (or created in) DATA_DIR/master.key.
    #[arg(long, env = "MASTER_KEY", hide_env_values = true, global = true, value_parser = secret)]
    pub master_key: Option<SecretString>,

    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose
    /// X-Forwarded-For names the sender.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", global = true, value_parser = allowlist)]
    pub trusted_proxies: SourceAllowlist,

    /// How people reach Dispute Desk, e.g. https://disputes.example.com:
    /// forms are accepted only from this origin, intake URLs are shown with
    /// it, session cookies are Secure and answers carry
    /// Strict-Transport-Security when it is https. Without it: the bound
    /// address (and localhost on the same port).
    #[arg(long, env = "PUBLIC_URL", global = true, value_parser = public_origin)]
    pub public_url: Option<String>,

    /// Minutes without a request after which a session ends.
    #[arg(id = "session_idle_minutes", long = "session-idle-minutes", env = "SESSION_IDLE_MINUTES",
          default_value = "30", global = true, value_parser = minutes)]
    pub session_idle: Duration,

    /// Hours after sign-in after which a session ends, however active.
    #[arg(id = "session_absolute_hours", long = "session-absolute-hours", env = "SESSION_ABSOLUTE_HOURS",
          default_value = "12", global = true, value_parser = hours)]
    pub session_absolute: Duration,

    /// argon2id memory cost in KiB (OWASP's).
    #[arg(
        long,
        env = "ARGON2_MEMORY_KIB",
        default_value = "19456",
        global = true
    )]
    pub argon2_memory_kib: u32,

    /// argon2id iterations.
    #[arg(long, env = "ARGON2_ITERATIONS", default_value = "2", global = true)]
    pub argon2_iterations: u32,

    /// argon2id lanes.
    #[arg(long, env = "ARGON2_PARALLELISM", default_value = "1", global = true)]
    pub argon2_parallelism: u32,

    /// Refused requests per minute each sender address (an IPv6 /64) may
    /// make: to unknown connections, with oversized bodies, or refused
    /// without a verified signature; past it they are answered 429 and
    /// only counted.
    #[arg(
        long,
        env = "STRANGER_REQUESTS_PER_MINUTE",
        default_value = "30",
        global = true
    )]
    pub stranger_requests_per_minute: NonZeroU32,

    /// Seconds the dashboard's figures may lag behind new events: they are
    /// recomputed in the background at most this often.
    #[arg(id = "dashboard_refresh_secs", long = "dashboard-refresh-secs", env = "DASHBOARD_REFRESH_SECS",
          default_value = "10", global = true, value_parser = seconds)]
    pub dashboard_refresh: Duration,

    /// Seconds a client has to send a request's headers; also the longest a
    /// kept-alive connection may sit idle between requests.
    #[arg(id = "header_read_timeout_secs", long = "header-read-timeout-secs",
          env = "HEADER_READ_TIMEOUT_SECS", default_value = "10", global = true, value_parser = seconds)]
    pub header_read_timeout: Duration,

    /// Seconds a connection may go without a byte received or sent while a
    /// request's body or answer is under way.
    #[arg(id = "idle_timeout_secs", long = "idle-timeout-secs", env = "IDLE_TIMEOUT_SECS",
          default_value = "60", global = true, value_parser = seconds)]
    pub idle_timeout: Duration,

    /// Connections open at once (on each listener); further clients wait to
    /// be accepted.
    #[arg(long, env = "MAX_CONNECTIONS", default_value = "1024", global = true,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,

    /// Connections one address (an IPv6 /64) may hold open at once, over
    /// both listeners; a further one is closed at once. Trusted proxies are
    /// not limited.
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value = "128", global = true,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections_per_address: usize,

    /// Seconds a status query's attempt may take before it counts as
    /// unanswered.
    #[arg(id = "query_timeout_secs", long = "query-timeout-secs", env = "QUERY_TIMEOUT_SECS",
          default_value = "10", global = true, value_parser = seconds)]
    pub query_timeout: Duration,

    /// Let status queries use plain http and reach loopback, private and
    /// link-local addresses: for local testing and the simulator only.
    #[arg(long, env = "QUERY_ALLOW_LOCAL", default_value = "false", global = true,
          action = clap::ArgAction::Set)]
    pub query_allow_local: bool,

    /// Seconds between reconciliation runs (0: none).
    #[arg(id = "reconcile_every_secs", long = "reconcile-every-secs", env = "RECONCILE_EVERY_SECS",
          default_value = "300", global = true, value_parser = seconds_or_never)]
    pub reconcile_every: Duration,

    /// Reconciliation asks about a dispute whose deadline is this many hours
    /// away or less…
    #[arg(id = "reconcile_deadline_within_hours", long = "reconcile-deadline-within-hours",
          env = "RECONCILE_DEADLINE_WITHIN_HOURS", default_value = "48", global = true, value_parser = span_hours)]
    pub reconcile_deadline_within: SignedDuration,

    /// …when nothing was heard of it for this many hours (and always when it
    /// is open past its deadline).
    #[arg(id = "reconcile_quiet_hours", long = "reconcile-quiet-hours", env = "RECONCILE_QUIET_HOURS",
          default_value = "24", global = true, value_parser = span_hours)]
    pub reconcile_quiet: SignedDuration,

    /// Days a dispute may stay under review with nothing heard before
    /// reconciliation asks about it.
    #[arg(id = "reconcile_review_overdue_days", long = "reconcile-review-overdue-days",
          env = "RECONCILE_REVIEW_OVERDUE_DAYS", default_value = "30", global = true, value_parser = span_days)]
    pub reconcile_review_overdue: SignedDuration,

    /// Minutes before reconciliation asks about the same dispute again.
    #[arg(id = "reconcile_requery_minutes", long = "reconcile-requery-minutes",
          env = "RECONCILE_REQUERY_MINUTES", default_value = "360", global = true, value_parser = span_minutes)]
    pub reconcile_requery: SignedDuration,

    /// Minutes without a notification after which a connection that has
    /// received some counts as silent (each connection may set its own):
    /// the pages warn, and reconciliation asks about all its open disputes.
    #[arg(id = "silence_after_minutes", long = "silence-after-minutes", env = "SILENCE_AFTER_MINUTES",
          default_value = "1440", global = true, value_parser = span_minutes)]
    pub silence_after: SignedDuration,

    /// Days strangers' deliveries (unknown connections, bodies over 1 MiB)
    /// and rate-limited request counts are kept.
    #[arg(id = "retention_days", long = "retention-days", env = "RETENTION_DAYS",
          default_value = "30", global = true, value_parser = span_days)]
    pub retention: SignedDuration,

    /// Days refused deliveries no provider signed (bad or missing
    /// signature, unreadable, outside the allowlist, connection disabled)
    /// are kept, unless replayed.
    #[arg(id = "refused_retention_days", long = "refused-retention-days", env = "REFUSED_RETENTION_DAYS",
          default_value = "90", global = true, value_parser = span_days)]
    pub refused_retention: SignedDuration,

    /// Days the links a provider fetches a sent response's files from
    /// (PayerMax) work; each can be revoked sooner from its dispute's page.
    #[arg(id = "evidence_link_days", long = "evidence-link-days", env = "EVIDENCE_LINK_DAYS",
          default_value = "30", global = true, value_parser = span_days)]
    pub evidence_link_lifetime: SignedDuration,

    /// Bytes one evidence file may have (Adyen's limit for a JPEG or TIFF,
    /// the largest a provider names).
    #[arg(long, env = "EVIDENCE_FILE_MAX_BYTES", default_value = "10000000", global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub evidence_file_max_bytes: u64,

    /// Bytes all of one response's evidence files may have together.
    #[arg(long, env = "EVIDENCE_RESPONSE_MAX_BYTES", default_value = "50000000", global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub evidence_response_max_bytes: u64,

    /// Bytes a response's packet may have (Adyen's limit for a PDF, which
    /// PingPong follows); pictures are made smaller to fit.
    #[arg(long, env = "PACKET_MAX_BYTES", default_value = "2000000", global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub packet_max_bytes: u64,

    /// Pages a response's packet may have (Mastercard's limit for a
    /// chargeback's documents).
    #[arg(long, env = "PACKET_MAX_PAGES", default_value = "19", global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub packet_max_pages: u32,

    /// Packets built at once (each takes a core while it builds).
    #[arg(long, env = "PACKET_BUILDS_AT_ONCE", default_value = "2", global = true,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub packet_builds_at_once: usize,

    /// Jobs this replica runs at once (0: none; it serves only, and other
    /// replicas do the work).
    #[arg(long, env = "JOB_WORKERS", default_value = "2", global = true)]
    pub job_workers: usize,

    /// The bearer token GET /metrics asks for; without one, /metrics does
    /// not exist.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true, value_parser = secret)]
    pub metrics_token: Option<SecretString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// The settings in force, grouped as the application uses them. `Debug`
/// shows no secret.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: Option<SecretString>,
    pub listen_addr: SocketAddr,
    /// Serves only intake and the probes, besides `listen_addr`.
    pub intake_listen_addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub postgres_bin_dir: Option<PathBuf>,
    pub database_max_connections: u32,
    pub log_format: LogFormat,
    pub shutdown_timeout: Duration,
    pub master_key: Option<SecretString>,
    pub trusted_proxies: SourceAllowlist,
    /// `scheme://host[:port]`, no trailing slash; `None`: the bound address.
    pub public_url: Option<String>,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub password_cost: HashCost,
    pub stranger_requests_per_minute: NonZeroU32,
    pub dashboard_refresh: Duration,
    pub connections: ConnectionLimits,
    pub status_queries: StatusQuerySettings,
    /// How long strangers' deliveries are kept.
    pub retention: SignedDuration,
    /// How long refused deliveries no provider signed are kept.
    pub refused_retention: SignedDuration,
    pub evidence_link_lifetime: SignedDuration,
    pub metrics_token: Option<SecretString>,
    pub evidence: dispute_core::domain::evidence::EvidenceLimits,
    pub packet_builds_at_once: usize,
    pub job_workers: usize,
}

/// How status queries are sent, and when reconciliation asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusQuerySettings {
    pub timeout: Duration,
    pub allow_local: bool,
    /// `None`: no reconciliation.
    pub reconcile_every: Option<Duration>,
    pub rules: dispute_store::ReconcileRules,
}

/// What a client's connection may take of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
}

impl From<SettingArgs> for Settings {
    fn from(a: SettingArgs) -> Self {
        // An empty value (`DATABASE_URL=`) means the setting is not given.
        let given = |secret: Option<SecretString>| secret.filter(|s| !s.expose_secret().is_empty());
        Settings {
            database_url: given(a.database_url),
            listen_addr: a.listen_addr,
            intake_listen_addr: a.intake_listen_addr,
            data_dir: a.data_dir,
            postgres_bin_dir: a.postgres_bin_dir,
            database_max_connections: a.database_max_connections,
            log_format: a.log_format,
            shutdown_timeout: a.shutdown_timeout,
            master_key: given(a.master_key),
            trusted_proxies: a.trusted_proxies,
            public_url: a.public_url.filter(|url| !url.is_empty()),
            session_idle: a.session_idle,
            session_absolute: a.session_absolute,
            password_cost: HashCost {
                memory_kib: a.argon2_memory_kib,
                iterations: a.argon2_iterations,
                parallelism: a.argon2_parallelism,
            },
            stranger_requests_per_minute: a.stranger_requests_per_minute,
            dashboard_refresh: a.dashboard_refresh,
            connections: ConnectionLimits {
                header_read_timeout: a.header_read_timeout,
                idle_timeout: a.idle_timeout,
                max_connections: a.max_connections,
                max_per_address: a.max_connections_per_address,
            },
            status_queries: StatusQuerySettings {
                timeout: a.query_timeout,
                allow_local: a.query_allow_local,
                reconcile_every: (!a.reconcile_every.is_zero()).then_some(a.reconcile_every),
                rules: dispute_store::ReconcileRules {
                    deadline_within: a.reconcile_deadline_within,
                    quiet_for: a.reconcile_quiet,
                    review_overdue: a.reconcile_review_overdue,
                    requery_after: a.reconcile_requery,
                    silence_after: a.silence_after,
                },
            },
            retention: a.retention,
            refused_retention: a.refused_retention,
            evidence_link_lifetime: a.evidence_link_lifetime,
            metrics_token: given(a.metrics_token),
            evidence: dispute_core::domain::evidence::EvidenceLimits {
                file_bytes: a.evidence_file_max_bytes,
                response_bytes: a.evidence_response_max_bytes,
                packet_bytes: a.packet_max_bytes,
                packet_pages: a.packet_max_pages,
            },
            packet_builds_at_once: a.packet_builds_at_once,
            job_workers: a.job_workers,
        }
    }
}

impl Default for Settings {
    /// The declared defaults, whatever the environment holds.
    fn default() -> Self {
        let command = Cli::command().mut_args(|arg| arg.env(None::<&str>));
        let matches = command
            .try_get_matches_from(["dispute-desk"])
            .expect("the declared defaults are valid");
        Cli::from_arg_matches(&matches)
            .expect("the declared defaults are valid")
            .settings
            .into()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("the configuration file {path} has {key:?}, which is not a setting")]
    UnknownKey { path: PathBuf, key: String },
    #[error("the configuration file {path}: {key} must be a string, a number, a boolean or a list of strings")]
    Value { path: PathBuf, key: String },
    /// A setting's value is not valid (clap says which and why), or help
    /// or the version was asked for: `exit()` prints it and ends.
    #[error(transparent)]
    Arguments(#[from] clap::Error),
}

impl Cli {
    /// The command line, over the environment, over the settings file
    /// `--config` / `DISPUTE_DESK_CONFIG` names (not for `demo`, which
    /// never reads an installation's settings), over the defaults.
    pub fn read() -> Result<Self, ConfigError> {
        Self::read_from(Cli::command(), std::env::args_os())
    }

    /// `args` read with `command` (the tests' has no environment).
    pub fn read_from(
        command: clap::Command,
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    ) -> Result<Self, ConfigError> {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        // A first reading only finds the file; the second reports errors.
        let first = command
            .clone()
            .ignore_errors(true)
            .try_get_matches_from(&args)?;
        let file = first.get_one::<PathBuf>("config").cloned();
        let command = match (file, first.subcommand_name()) {
            (Some(path), name) if name != Some("demo") => with_file(command, &path)?,
            _ => command,
        };
        let matches = command.try_get_matches_from(&args)?;
        Ok(Cli::from_arg_matches(&matches)?)
    }
}

/// `command` with the file's values as its settings' defaults.
fn with_file(mut command: clap::Command, path: &Path) -> Result<clap::Command, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let table: toml::Table = text.parse().map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })?;
    for (key, value) in table {
        let known = key != "config" && command.get_arguments().any(|a| a.get_id() == key.as_str());
        if !known {
            return Err(ConfigError::UnknownKey {
                path: path.to_owned(),
                key,
            });
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ConfigError::Value {
                    path: path.to_owned(),
                    key: key.clone(),
                })?
                .join(","),
            _ => {
                return Err(ConfigError::Value {
                    path: path.to_owned(),
                    key,
                })
            }
        };
        command = command.mut_arg(&key, |arg| arg.default_value(text));
    }
    Ok(command)
}

fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text))
}

fn seconds(text: &str) -> Result<Duration, String> {
    positive(text).map(Duration::from_secs)
}

fn minutes(text: &str) -> Result<Duration, String> {
    positive(text).map(|n| Duration::from_secs(n * 60))
}

fn hours(text: &str) -> Result<Duration, String> {
    positive(text).map(|n| Duration::from_secs(n * 3600))
}

/// Seconds; `0` for never.
fn seconds_or_never(text: &str) -> Result<Duration, String> {
    let n: u64 = text
        .trim()
        .parse()
        .map_err(|_| "not a whole number".to_owned())?;
    Ok(Duration::from_secs(n))
}

fn span_minutes(text: &str) -> Result<SignedDuration, String> {
    positive(text).map(|n| SignedDuration::from_mins(n as i64))
}

fn span_hours(text: &str) -> Result<SignedDuration, String> {
    positive(text).map(|n| SignedDuration::from_hours(n as i64))
}

fn span_days(text: &str) -> Result<SignedDuration, String> {
    positive(text).map(|n| SignedDuration::from_hours(n as i64 * 24))
}

/// A whole number of at least 1 (and small enough for a span of days).
fn positive(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1 to 1000000".to_owned()),
    }
}

fn allowlist(text: &str) -> Result<SourceAllowlist, String> {
    let entries: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    SourceAllowlist::parse(&entries, &[]).map_err(|e| e.to_string())
}

/// `https://host[:port]` without path or trailing slash; empty: not given.
fn public_origin(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match host {
        _ if url.is_empty() => Ok(String::new()),
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
            Ok(url.to_owned())
        }
        _ => Err("not an http(s) origin such as https://disputes.example.com".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments read as the binary reads them, without the
    /// environment.
    fn read(args: &[&str]) -> Result<Settings, ConfigError> {
        let command = Cli::command().mut_args(|arg| arg.env(None::<&str>));
        let mut all = vec!["dispute-desk"];
        all.extend_from_slice(args);
        Cli::read_from(command, all).map(|cli| cli.settings.into())
    }

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::default();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert!(s.database_url.is_none());
        assert_eq!(s.database_max_connections, 8);
        assert_eq!(s.log_format, LogFormat::Human);
        assert_eq!(
            s.status_queries.reconcile_every,
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            s.status_queries.rules.silence_after,
            SignedDuration::from_hours(24)
        );
        assert_eq!(s.password_cost, HashCost::default());
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let file = file_with(
            "listen_addr = \"127.0.0.1:4000\"\ndata_dir = \"/srv/dd\"\nlog_format = \"json\"\ntrusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\nquery_allow_local = true\nreconcile_every_secs = 0\n",
        );
        let path = file.path().to_str().unwrap();
        let s = read(&["--config", path, "--listen-addr", "127.0.0.1:5000"]).unwrap();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:5000");
        assert_eq!(s.data_dir, PathBuf::from("/srv/dd"));
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(s.trusted_proxies.allows("10.2.3.4".parse().unwrap()));
        assert!(s.status_queries.allow_local);
        assert_eq!(s.status_queries.reconcile_every, None);
        // The file is read whatever the command.
        let cli = Cli::read_from(
            Cli::command().mut_args(|arg| arg.env(None::<&str>)),
            [
                "dispute-desk",
                "users",
                "create",
                "--email",
                "a@b.c",
                "--config",
                path,
            ],
        )
        .unwrap();
        assert_eq!(cli.settings.data_dir, PathBuf::from("/srv/dd"));
    }

    #[test]
    fn the_demo_never_reads_the_file() {
        let file = file_with("data_dir = \"/srv/dd\"\n");
        let cli = Cli::read_from(
            Cli::command().mut_args(|arg| arg.env(None::<&str>)),
            [
                "dispute-desk",
                "demo",
                "--config",
                file.path().to_str().unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(cli.settings.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_naming_the_file() {
        let file = file_with("listen_adress = \"127.0.0.1:4000\"\n");
        let err = read(&["--config", file.path().to_str().unwrap()]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&file.path().display().to_string()), "{text}");
        assert!(text.contains("listen_adress"), "{text}");
    }

    #[test]
    fn secrets_are_never_shown_by_debug_and_empty_means_not_given() {
        let s = read(&[
            "--database-url",
            "postgres://app:hunter2@db/dd",
            "--master-key",
            "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=",
        ])
        .unwrap();
        assert_eq!(
            s.database_url.as_ref().unwrap().expose_secret(),
            "postgres://app:hunter2@db/dd"
        );
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s:?}").contains("c2VjcmV0"));
        assert!(read(&["--database-url", ""])
            .unwrap()
            .database_url
            .is_none());
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let s = read(&["--trusted-proxies", "10.0.0.0/8,127.0.0.1"]).unwrap();
        assert!(s.trusted_proxies.allows("10.2.3.4".parse().unwrap()));
        assert!(!s.trusted_proxies.allows("192.0.2.1".parse().unwrap()));
        let err = read(&["--trusted-proxies", "proxy.local"]).unwrap_err();
        assert!(err.to_string().contains("proxy.local"), "{err}");
    }

    #[test]
    fn the_public_url_is_an_origin() {
        let s = read(&["--public-url", "https://disputes.example.com/"]).unwrap();
        assert_eq!(
            s.public_url.as_deref(),
            Some("https://disputes.example.com")
        );
        for bad in ["disputes.example.com", "https://x.com/desk", "ftp://x.com"] {
            assert!(read(&["--public-url", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_have_defaults_and_refuse_zero() {
        let s = Settings::default();
        assert_eq!(s.connections.header_read_timeout, Duration::from_secs(10));
        assert_eq!(s.connections.idle_timeout, Duration::from_secs(60));
        assert_eq!(s.connections.max_connections, 1024);
        assert_eq!(s.connections.max_per_address, 128);
        assert_eq!(s.refused_retention, SignedDuration::from_hours(90 * 24));
        assert_eq!(s.stranger_requests_per_minute.get(), 30);
        assert_eq!(s.dashboard_refresh, Duration::from_secs(10));
        let file = file_with("idle_timeout_secs = 5\nmax_connections = 10\n");
        let s = read(&["--config", file.path().to_str().unwrap()]).unwrap();
        assert_eq!(s.connections.idle_timeout, Duration::from_secs(5));
        assert_eq!(s.connections.max_connections, 10);
        for zero in [
            "--header-read-timeout-secs",
            "--max-connections",
            "--max-connections-per-address",
            "--stranger-requests-per-minute",
            "--database-max-connections",
            "--retention-days",
            "--refused-retention-days",
            "--query-timeout-secs",
        ] {
            assert!(read(&[zero, "0"]).is_err(), "{zero}");
        }
    }

    /// Each row of the README's settings table: its cells.
    fn readme_rows() -> Vec<Vec<String>> {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("| setting (env) | flag | default | meaning |")
            .nth(1)
            .expect("the README's settings table");
        table
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                line.split(" | ")
                    .map(|c| c.trim_matches(['|', ' ']).to_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_readme_lists_every_setting_with_its_flag_and_default_and_nothing_else() {
        let rows = readme_rows();
        let command = Cli::command();
        let settings: Vec<&clap::Arg> = command
            .get_arguments()
            .filter(|a| a.get_env().is_some())
            .collect();
        for arg in &settings {
            let env = arg.get_env().unwrap().to_str().unwrap();
            let row = rows
                .iter()
                .find(|row| row[0] == format!("`{env}`"))
                .unwrap_or_else(|| panic!("{env} has a row of its own in the README"));
            assert_eq!(
                row[1],
                format!("`--{}`", arg.get_long().unwrap()),
                "{env}'s flag"
            );
            for default in arg.get_default_values() {
                let default = default.to_str().unwrap();
                if !default.is_empty() {
                    assert!(
                        row[2].contains(&format!("`{default}`")),
                        "{env}'s default {default:?}: {}",
                        row[2]
                    );
                }
            }
            if arg.get_id() != "config" {
                assert_eq!(
                    arg.get_id().as_str(),
                    env.to_lowercase(),
                    "{env}'s file key"
                );
            }
        }
        for row in &rows {
            let named = row[0].trim_matches('`');
            assert!(
                named == "RUST_LOG" || settings.iter().any(|a| a.get_env().unwrap() == named),
                "{named} in the README is a setting"
            );
        }
    }
}
