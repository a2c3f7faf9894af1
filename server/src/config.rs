//! Settings: command-line flags and environment variables over an optional
//! TOML file over defaults. Every setting is listed in the README's table.

use std::{
    net::SocketAddr,
    num::NonZeroU32,
    path::{Path, PathBuf},
    time::Duration,
};

use app::auth::password::HashCost;
use clap::{Args, Parser, Subcommand, ValueEnum};
use dispute_core::domain::SourceAllowlist;
use secrecy::SecretString;
use serde::Deserialize;

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

#[derive(Debug, Default, Args)]
pub struct SettingArgs {
    /// PostgreSQL to use. Without it a private cluster is started in the data
    /// directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "LISTEN_ADDR", global = true)]
    pub listen_addr: Option<SocketAddr>,

    /// A second address serving only the webhook intake (and the health
    /// probes), so that the UI's clients can never take intake's
    /// connections.
    #[arg(long, env = "INTAKE_LISTEN_ADDR", global = true)]
    pub intake_listen_addr: Option<SocketAddr>,

    /// Directory for Dispute Desk's own files (the private PostgreSQL cluster).
    #[arg(long, env = "DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// Where to find initdb and pg_ctl when they are not on PATH or under
    /// /usr/lib/postgresql/*/bin.
    #[arg(long, env = "POSTGRES_BIN_DIR", global = true)]
    pub postgres_bin_dir: Option<PathBuf>,

    /// Connections in the database pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", global = true)]
    pub database_max_connections: Option<u32>,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,

    /// Seconds to let in-flight requests finish after SIGINT or SIGTERM.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", global = true)]
    pub shutdown_timeout_secs: Option<u64>,

    /// The key that seals secrets at rest: 32 bytes, Base64. Without it the
    /// key is read from (or created in) DATA_DIR/master.key.
    #[arg(long, env = "MASTER_KEY", hide_env_values = true, global = true)]
    pub master_key: Option<String>,

    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose
    /// X-Forwarded-For is believed for the sender's address.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Option<Vec<String>>,

    /// The address people use to reach Dispute Desk (e.g.
    /// https://disputes.example.com): forms are accepted only from it, and
    /// session cookies are Secure when it is https.
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "SESSION_IDLE_MINUTES", global = true)]
    pub session_idle_minutes: Option<u64>,

    /// Hours after sign-in after which a session ends, however active.
    #[arg(long, env = "SESSION_ABSOLUTE_HOURS", global = true)]
    pub session_absolute_hours: Option<u64>,

    /// argon2id memory cost in KiB.
    #[arg(long, env = "ARGON2_MEMORY_KIB", global = true)]
    pub argon2_memory_kib: Option<u32>,

    /// argon2id iterations.
    #[arg(long, env = "ARGON2_ITERATIONS", global = true)]
    pub argon2_iterations: Option<u32>,

    /// argon2id lanes.
    #[arg(long, env = "ARGON2_PARALLELISM", global = true)]
    pub argon2_parallelism: Option<u32>,

    /// Refused requests per minute each sender address (an IPv6 /64) may
    /// make: to unknown connections, with oversized bodies, or refused
    /// without a verified signature; past it they are answered 429 and
    /// only counted.
    #[arg(long, env = "STRANGER_REQUESTS_PER_MINUTE", global = true)]
    pub stranger_requests_per_minute: Option<u32>,

    /// Seconds the dashboard's figures may lag behind new events: they are
    /// recomputed in the background at most this often.
    #[arg(long, env = "DASHBOARD_REFRESH_SECS", global = true)]
    pub dashboard_refresh_secs: Option<u64>,

    /// Seconds a client has to send a request's headers, counted from when
    /// the server starts waiting for them (so also the longest a kept-alive
    /// connection may sit idle between requests).
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", global = true)]
    pub header_read_timeout_secs: Option<u64>,

    /// Seconds a connection may go without a byte received or sent while a
    /// request's body or answer is under way.
    #[arg(long, env = "IDLE_TIMEOUT_SECS", global = true)]
    pub idle_timeout_secs: Option<u64>,

    /// Connections open at once; further clients wait to be accepted.
    #[arg(long, env = "MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,

    /// Connections one address (an IPv6 /64) may hold open at once; past
    /// it a new one is closed at once. Trusted proxies are not limited.
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", global = true)]
    pub max_connections_per_address: Option<usize>,

    /// Seconds a status query's attempt may take before it counts as
    /// unanswered.
    #[arg(long, env = "QUERY_TIMEOUT_SECS", global = true)]
    pub query_timeout_secs: Option<u64>,

    /// Let status queries use plain http and reach loopback, private and
    /// link-local addresses: for local testing and the simulator only.
    #[arg(long, env = "QUERY_ALLOW_LOCAL", global = true)]
    pub query_allow_local: Option<bool>,

    /// Seconds between reconciliation runs (0: none).
    #[arg(long, env = "RECONCILE_EVERY_SECS", global = true)]
    pub reconcile_every_secs: Option<u64>,

    /// Reconciliation asks about a dispute whose deadline is this many
    /// hours away or less…
    #[arg(long, env = "RECONCILE_DEADLINE_WITHIN_HOURS", global = true)]
    pub reconcile_deadline_within_hours: Option<u64>,

    /// …when nothing was heard of it for this many hours.
    #[arg(long, env = "RECONCILE_QUIET_HOURS", global = true)]
    pub reconcile_quiet_hours: Option<u64>,

    /// Days a dispute may stay under review with nothing heard before its
    /// decision counts as overdue.
    #[arg(long, env = "RECONCILE_REVIEW_OVERDUE_DAYS", global = true)]
    pub reconcile_review_overdue_days: Option<u64>,

    /// Minutes before reconciliation asks about the same dispute again.
    #[arg(long, env = "RECONCILE_REQUERY_MINUTES", global = true)]
    pub reconcile_requery_minutes: Option<u64>,

    /// Minutes without a notification after which a connection that
    /// usually hears from its provider counts as silent (a connection may
    /// set its own).
    #[arg(long, env = "SILENCE_AFTER_MINUTES", global = true)]
    pub silence_after_minutes: Option<u64>,

    /// Days strangers' deliveries (unknown connections, oversized bodies)
    /// and rate-limited request counts are kept; deliveries for known
    /// connections are always kept.
    #[arg(long, env = "RETENTION_DAYS", global = true)]
    pub retention_days: Option<u64>,

    /// Days refused deliveries no provider signed (bad or missing
    /// signature, a sender outside the allowlist, a disabled connection)
    /// are kept, unless replayed.
    #[arg(long, env = "REFUSED_RETENTION_DAYS", global = true)]
    pub refused_retention_days: Option<u64>,

    /// The bearer token `/metrics` asks for; without one, `/metrics` does
    /// not exist.
    #[arg(long, env = "METRICS_TOKEN", global = true, hide_env_values = true)]
    pub metrics_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// The same settings as read from a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    listen_addr: Option<SocketAddr>,
    intake_listen_addr: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    postgres_bin_dir: Option<PathBuf>,
    database_max_connections: Option<u32>,
    log_format: Option<LogFormat>,
    shutdown_timeout_secs: Option<u64>,
    master_key: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    public_url: Option<String>,
    session_idle_minutes: Option<u64>,
    session_absolute_hours: Option<u64>,
    argon2_memory_kib: Option<u32>,
    argon2_iterations: Option<u32>,
    argon2_parallelism: Option<u32>,
    stranger_requests_per_minute: Option<u32>,
    dashboard_refresh_secs: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    query_timeout_secs: Option<u64>,
    query_allow_local: Option<bool>,
    reconcile_every_secs: Option<u64>,
    reconcile_deadline_within_hours: Option<u64>,
    reconcile_quiet_hours: Option<u64>,
    reconcile_review_overdue_days: Option<u64>,
    reconcile_requery_minutes: Option<u64>,
    silence_after_minutes: Option<u64>,
    retention_days: Option<u64>,
    refused_retention_days: Option<u64>,
    metrics_token: Option<String>,
}

/// The settings in force. `Debug` shows no secret.
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
    pub retention: jiff::SignedDuration,
    /// How long refused deliveries no provider signed are kept.
    pub refused_retention: jiff::SignedDuration,
    pub metrics_token: Option<SecretString>,
}

/// How status queries are sent, and when reconciliation asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusQuerySettings {
    pub timeout: Duration,
    pub allow_local: bool,
    /// `None`: no reconciliation.
    pub reconcile_every: Option<Duration>,
    pub rules: app::store::ReconcileRules,
}

/// What a client's connection may take of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
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
    #[error("DATABASE_MAX_CONNECTIONS must be at least 1")]
    NoConnections,
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error("PUBLIC_URL {0:?} is not an http(s) origin such as https://disputes.example.com")]
    PublicUrl(String),
    #[error("TRUSTED_PROXIES: {0}")]
    TrustedProxies(#[from] dispute_core::domain::connection::AllowlistError),
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            intake_listen_addr: None,
            data_dir: PathBuf::from("data"),
            postgres_bin_dir: None,
            // The database peaks near 8 concurrent transactions on 2 cores.
            database_max_connections: 8,
            log_format: LogFormat::Human,
            shutdown_timeout: Duration::from_secs(10),
            master_key: None,
            trusted_proxies: SourceAllowlist::default(),
            public_url: None,
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 3600),
            password_cost: HashCost::default(),
            stranger_requests_per_minute: NonZeroU32::new(30).expect("not zero"),
            dashboard_refresh: Duration::from_secs(10),
            connections: ConnectionLimits {
                header_read_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                max_connections: 1024,
                // A provider's burst of concurrent notifications from one
                // address, or an office behind one; eight addresses to
                // fill the whole cap.
                max_per_address: 128,
            },
            retention: jiff::SignedDuration::from_hours(30 * 24),
            refused_retention: jiff::SignedDuration::from_hours(90 * 24),
            metrics_token: None,
            status_queries: StatusQuerySettings {
                timeout: Duration::from_secs(10),
                allow_local: false,
                reconcile_every: Some(Duration::from_secs(300)),
                rules: app::store::ReconcileRules {
                    deadline_within: jiff::SignedDuration::from_hours(48),
                    quiet_for: jiff::SignedDuration::from_hours(24),
                    review_overdue: jiff::SignedDuration::from_hours(30 * 24),
                    requery_after: jiff::SignedDuration::from_mins(360),
                    silence_after: jiff::SignedDuration::from_mins(1440),
                },
            },
        }
    }
}

impl Settings {
    /// Flags and environment over the file named by `--config`, over defaults.
    pub fn load(config: Option<&Path>, args: SettingArgs) -> Result<Self, ConfigError> {
        let file = match config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let defaults = Settings::default();
        let settings = Settings {
            database_url: args
                .database_url
                .or(file.database_url)
                .filter(|url| !url.is_empty())
                .map(SecretString::from),
            listen_addr: args
                .listen_addr
                .or(file.listen_addr)
                .unwrap_or(defaults.listen_addr),
            intake_listen_addr: args.intake_listen_addr.or(file.intake_listen_addr),
            data_dir: args.data_dir.or(file.data_dir).unwrap_or(defaults.data_dir),
            postgres_bin_dir: args.postgres_bin_dir.or(file.postgres_bin_dir),
            database_max_connections: args
                .database_max_connections
                .or(file.database_max_connections)
                .unwrap_or(defaults.database_max_connections),
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(defaults.log_format),
            shutdown_timeout: args
                .shutdown_timeout_secs
                .or(file.shutdown_timeout_secs)
                .map(Duration::from_secs)
                .unwrap_or(defaults.shutdown_timeout),
            master_key: args
                .master_key
                .or(file.master_key)
                .filter(|key| !key.is_empty())
                .map(SecretString::from),
            trusted_proxies: SourceAllowlist::parse(
                &args
                    .trusted_proxies
                    .or(file.trusted_proxies)
                    .unwrap_or_default(),
                &[],
            )?,
            public_url: args
                .public_url
                .or(file.public_url)
                .map(|url| public_origin(&url))
                .transpose()?,
            session_idle: args
                .session_idle_minutes
                .or(file.session_idle_minutes)
                .map_or(defaults.session_idle, |m| Duration::from_secs(m * 60)),
            session_absolute: args
                .session_absolute_hours
                .or(file.session_absolute_hours)
                .map_or(defaults.session_absolute, |h| Duration::from_secs(h * 3600)),
            password_cost: HashCost {
                memory_kib: args
                    .argon2_memory_kib
                    .or(file.argon2_memory_kib)
                    .unwrap_or(defaults.password_cost.memory_kib),
                iterations: args
                    .argon2_iterations
                    .or(file.argon2_iterations)
                    .unwrap_or(defaults.password_cost.iterations),
                parallelism: args
                    .argon2_parallelism
                    .or(file.argon2_parallelism)
                    .unwrap_or(defaults.password_cost.parallelism),
            },
            stranger_requests_per_minute: match args
                .stranger_requests_per_minute
                .or(file.stranger_requests_per_minute)
            {
                None => defaults.stranger_requests_per_minute,
                Some(n) => {
                    NonZeroU32::new(n).ok_or(ConfigError::Zero("STRANGER_REQUESTS_PER_MINUTE"))?
                }
            },
            dashboard_refresh: args
                .dashboard_refresh_secs
                .or(file.dashboard_refresh_secs)
                .map_or(defaults.dashboard_refresh, Duration::from_secs),
            connections: ConnectionLimits {
                header_read_timeout: args
                    .header_read_timeout_secs
                    .or(file.header_read_timeout_secs)
                    .map_or(
                        defaults.connections.header_read_timeout,
                        Duration::from_secs,
                    ),
                idle_timeout: args
                    .idle_timeout_secs
                    .or(file.idle_timeout_secs)
                    .map_or(defaults.connections.idle_timeout, Duration::from_secs),
                max_connections: args
                    .max_connections
                    .or(file.max_connections)
                    .unwrap_or(defaults.connections.max_connections),
                max_per_address: args
                    .max_connections_per_address
                    .or(file.max_connections_per_address)
                    .unwrap_or(defaults.connections.max_per_address),
            },
            metrics_token: args
                .metrics_token
                .or(file.metrics_token)
                .filter(|t| !t.is_empty())
                .map(SecretString::from),
            retention: args
                .retention_days
                .or(file.retention_days)
                .map_or(defaults.retention, |days| {
                    jiff::SignedDuration::from_hours(days as i64 * 24)
                }),
            refused_retention: args
                .refused_retention_days
                .or(file.refused_retention_days)
                .map_or(defaults.refused_retention, |days| {
                    jiff::SignedDuration::from_hours(days as i64 * 24)
                }),
            status_queries: {
                let d = defaults.status_queries;
                let hours = |n: Option<u64>, default| {
                    n.map_or(default, |h| jiff::SignedDuration::from_hours(h as i64))
                };
                let minutes = |n: Option<u64>, default| {
                    n.map_or(default, |m| jiff::SignedDuration::from_mins(m as i64))
                };
                StatusQuerySettings {
                    timeout: args
                        .query_timeout_secs
                        .or(file.query_timeout_secs)
                        .map_or(d.timeout, Duration::from_secs),
                    allow_local: args
                        .query_allow_local
                        .or(file.query_allow_local)
                        .unwrap_or(d.allow_local),
                    reconcile_every: match args.reconcile_every_secs.or(file.reconcile_every_secs) {
                        Some(0) => None,
                        Some(n) => Some(Duration::from_secs(n)),
                        None => d.reconcile_every,
                    },
                    rules: app::store::ReconcileRules {
                        deadline_within: hours(
                            args.reconcile_deadline_within_hours
                                .or(file.reconcile_deadline_within_hours),
                            d.rules.deadline_within,
                        ),
                        quiet_for: hours(
                            args.reconcile_quiet_hours.or(file.reconcile_quiet_hours),
                            d.rules.quiet_for,
                        ),
                        review_overdue: hours(
                            args.reconcile_review_overdue_days
                                .or(file.reconcile_review_overdue_days)
                                .map(|days| days * 24),
                            d.rules.review_overdue,
                        ),
                        requery_after: minutes(
                            args.reconcile_requery_minutes
                                .or(file.reconcile_requery_minutes),
                            d.rules.requery_after,
                        ),
                        silence_after: minutes(
                            args.silence_after_minutes.or(file.silence_after_minutes),
                            d.rules.silence_after,
                        ),
                    },
                }
            },
        };
        if settings.retention.is_zero() {
            return Err(ConfigError::Zero("RETENTION_DAYS"));
        }
        if settings.refused_retention.is_zero() {
            return Err(ConfigError::Zero("REFUSED_RETENTION_DAYS"));
        }
        if settings.status_queries.timeout.is_zero() {
            return Err(ConfigError::Zero("QUERY_TIMEOUT_SECS"));
        }
        if settings.database_max_connections == 0 {
            return Err(ConfigError::NoConnections);
        }
        let limits = settings.connections;
        if limits.header_read_timeout.is_zero() {
            return Err(ConfigError::Zero("HEADER_READ_TIMEOUT_SECS"));
        }
        if limits.idle_timeout.is_zero() {
            return Err(ConfigError::Zero("IDLE_TIMEOUT_SECS"));
        }
        if limits.max_connections == 0 {
            return Err(ConfigError::Zero("MAX_CONNECTIONS"));
        }
        if limits.max_per_address == 0 {
            return Err(ConfigError::Zero("MAX_CONNECTIONS_PER_ADDRESS"));
        }
        Ok(settings)
    }
}

/// `https://host[:port]` without path or trailing slash.
fn public_origin(url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
            Ok(url.to_owned())
        }
        _ => Err(ConfigError::PublicUrl(url.to_owned())),
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::load(None, SettingArgs::default()).unwrap();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert!(s.database_url.is_none());
        assert_eq!(s.database_max_connections, 8);
        assert_eq!(s.log_format, LogFormat::Human);
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let file = file_with(
            "listen_addr = \"127.0.0.1:4000\"\ndata_dir = \"/srv/dd\"\nlog_format = \"json\"\n",
        );
        let args = SettingArgs {
            listen_addr: Some("127.0.0.1:5000".parse().unwrap()),
            ..SettingArgs::default()
        };
        let s = Settings::load(Some(file.path()), args).unwrap();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:5000");
        assert_eq!(s.data_dir, PathBuf::from("/srv/dd"));
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_naming_the_file() {
        let file = file_with("listen_adress = \"127.0.0.1:4000\"\n");
        let err = Settings::load(Some(file.path()), SettingArgs::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&file.path().display().to_string()), "{text}");
        assert!(text.contains("listen_adress"), "{text}");
    }

    #[test]
    fn the_database_url_is_never_shown_by_debug() {
        let args = SettingArgs {
            database_url: Some("postgres://app:hunter2@db/dd".into()),
            ..SettingArgs::default()
        };
        let s = Settings::load(None, args).unwrap();
        assert_eq!(
            s.database_url.as_ref().unwrap().expose_secret(),
            "postgres://app:hunter2@db/dd"
        );
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn an_empty_database_url_means_the_private_cluster() {
        let args = SettingArgs {
            database_url: Some(String::new()),
            ..SettingArgs::default()
        };
        assert!(Settings::load(None, args).unwrap().database_url.is_none());
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let args = SettingArgs {
            trusted_proxies: Some(vec!["10.0.0.0/8".into(), "127.0.0.1".into()]),
            ..SettingArgs::default()
        };
        let s = Settings::load(None, args).unwrap();
        assert!(s.trusted_proxies.allows("10.2.3.4".parse().unwrap()));
        assert!(!s.trusted_proxies.allows("192.0.2.1".parse().unwrap()));
        let bad = SettingArgs {
            trusted_proxies: Some(vec!["proxy.local".into()]),
            ..SettingArgs::default()
        };
        assert!(Settings::load(None, bad)
            .unwrap_err()
            .to_string()
            .contains("proxy.local"));
    }

    #[test]
    fn the_master_key_is_never_shown_by_debug() {
        let args = SettingArgs {
            master_key: Some("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=".into()),
            ..SettingArgs::default()
        };
        let s = Settings::load(None, args).unwrap();
        assert!(!format!("{s:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn the_public_url_is_an_origin() {
        let args = SettingArgs {
            public_url: Some("https://disputes.example.com/".into()),
            ..SettingArgs::default()
        };
        assert_eq!(
            Settings::load(None, args).unwrap().public_url.as_deref(),
            Some("https://disputes.example.com")
        );
        for bad in ["disputes.example.com", "https://x.com/desk", "ftp://x.com"] {
            let args = SettingArgs {
                public_url: Some(bad.into()),
                ..SettingArgs::default()
            };
            assert!(Settings::load(None, args).is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_limits_have_defaults_and_refuse_zero() {
        let s = Settings::load(None, SettingArgs::default()).unwrap();
        assert_eq!(s.connections.header_read_timeout, Duration::from_secs(10));
        assert_eq!(s.connections.idle_timeout, Duration::from_secs(60));
        assert_eq!(s.connections.max_connections, 1024);
        assert_eq!(s.connections.max_per_address, 128);
        assert_eq!(
            s.refused_retention,
            jiff::SignedDuration::from_hours(90 * 24)
        );
        assert_eq!(s.stranger_requests_per_minute.get(), 30);
        assert_eq!(s.dashboard_refresh, Duration::from_secs(10));
        let file = file_with("idle_timeout_secs = 5\nmax_connections = 10\n");
        let s = Settings::load(Some(file.path()), SettingArgs::default()).unwrap();
        assert_eq!(s.connections.idle_timeout, Duration::from_secs(5));
        assert_eq!(s.connections.max_connections, 10);
        for zero in [
            SettingArgs {
                header_read_timeout_secs: Some(0),
                ..SettingArgs::default()
            },
            SettingArgs {
                max_connections: Some(0),
                ..SettingArgs::default()
            },
            SettingArgs {
                stranger_requests_per_minute: Some(0),
                ..SettingArgs::default()
            },
        ] {
            assert!(matches!(
                Settings::load(None, zero),
                Err(ConfigError::Zero(_))
            ));
        }
    }

    #[test]
    fn a_pool_of_zero_connections_is_refused() {
        let args = SettingArgs {
            database_max_connections: Some(0),
            ..SettingArgs::default()
        };
        assert!(matches!(
            Settings::load(None, args),
            Err(ConfigError::NoConnections)
        ));
    }
}
