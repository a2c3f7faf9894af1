//! The private PostgreSQL cluster Dispute Desk runs for itself when no
//! `DATABASE_URL` is given: created on first start in the data directory,
//! reused afterwards, reachable only through a Unix socket inside that
//! directory, and stopped when the server stops.

use std::{
    ffi::OsStr,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use nix::unistd::{Uid, User};
use sqlx::postgres::PgConnectOptions;

/// The role initdb creates and the database Dispute Desk keeps its data in.
const SUPERUSER: &str = "postgres";
const DATABASE: &str = "dispute_desk";
/// Only names the socket file; the server listens on no TCP port.
const SOCKET_PORT: u16 = 5432;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL server programs (initdb, pg_ctl) were found on PATH or in /usr/lib/postgresql/*/bin: \
         install PostgreSQL's server package (Debian and Ubuntu: apt-get install postgresql) \
         or set DATABASE_URL to a database you already have"
    )]
    NoBinaries,
    #[error(
        "PostgreSQL refuses to run as root and there is no `postgres` user to run it as: \
         create one (useradd --system postgres) or set DATABASE_URL"
    )]
    NoUnprivilegedUser,
    #[error(
        "the `postgres` user cannot reach {0}: a parent directory is not searchable by it; \
         set DATA_DIR to a directory it can reach (e.g. under /var/lib) or set DATABASE_URL"
    )]
    Unreachable(PathBuf),
    #[error("cannot prepare the data directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{program} failed: {detail}")]
    Command { program: String, detail: String },
}

/// A cluster in a data directory, run as `owner` (the current user, or the
/// `postgres` user when running as root).
#[derive(Debug)]
pub struct PrivateCluster {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    owner: Option<User>,
}

impl PrivateCluster {
    /// Finds the server programs and the user to run them as; touches nothing.
    pub fn locate(data_dir: &Path, bin_dir: Option<&Path>) -> Result<Self, ClusterError> {
        let bin_dir = match bin_dir {
            Some(dir) => dir.to_owned(),
            None => find_bin_dir().ok_or(ClusterError::NoBinaries)?,
        };
        if !bin_dir.join("pg_ctl").is_file() || !bin_dir.join("initdb").is_file() {
            return Err(ClusterError::NoBinaries);
        }
        let owner = if Uid::effective().is_root() {
            Some(
                User::from_name(SUPERUSER)
                    .ok()
                    .flatten()
                    .ok_or(ClusterError::NoUnprivilegedUser)?,
            )
        } else {
            None
        };
        let data_dir = absolute(data_dir)?;
        Ok(Self {
            data_dir,
            bin_dir,
            owner,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where the server programs are (the client programs sit beside them).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Creates the cluster unless it exists, starts it unless it runs, and
    /// creates Dispute Desk's database unless it exists.
    pub async fn start(&self) -> Result<PgConnectOptions, ClusterError> {
        self.init_if_missing()?;
        if !self.is_running() {
            let socket_dir = quote(&self.data_dir);
            self.run(
                "pg_ctl",
                [
                    OsStr::new("start"),
                    OsStr::new("--wait"),
                    OsStr::new("--timeout=60"),
                    OsStr::new("--silent"),
                    OsStr::new("-D"),
                    self.data_dir.as_os_str(),
                    OsStr::new("-l"),
                    self.data_dir.join("server.log").as_os_str(),
                    OsStr::new("-o"),
                    OsStr::new(&format!(
                        "-c listen_addresses='' -c unix_socket_directories={socket_dir} -p {SOCKET_PORT}"
                    )),
                ],
            )?;
        }
        self.create_database_if_missing().await?;
        Ok(self.connect_options(DATABASE))
    }

    /// Stops the cluster (fast shutdown: open sessions are ended).
    pub fn stop(&self) -> Result<(), ClusterError> {
        if !self.is_running() {
            return Ok(());
        }
        self.run(
            "pg_ctl",
            [
                OsStr::new("stop"),
                OsStr::new("--wait"),
                OsStr::new("--silent"),
                OsStr::new("-m"),
                OsStr::new("fast"),
                OsStr::new("-D"),
                self.data_dir.as_os_str(),
            ],
        )
        .map(|_| ())
    }

    /// Options for a connection through the cluster's socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.data_dir)
            .port(SOCKET_PORT)
            .username(SUPERUSER)
            .database(database)
    }

    fn is_running(&self) -> bool {
        // pg_ctl status: 0 running, 3 not running, 4 no data directory.
        self.command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn init_if_missing(&self) -> Result<(), ClusterError> {
        if self.data_dir.join("PG_VERSION").is_file() {
            return Ok(());
        }
        let io = |source| ClusterError::Io {
            path: self.data_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&self.data_dir).map_err(io)?;
        if let Some(owner) = &self.owner {
            nix::unistd::chown(&self.data_dir, Some(owner.uid), Some(owner.gid))
                .map_err(|e| io(e.into()))?;
            let reachable = self
                .as_owner("test")
                .arg("-w")
                .arg(&self.data_dir)
                .status()
                .is_ok_and(|s| s.success());
            if !reachable {
                return Err(ClusterError::Unreachable(self.data_dir.clone()));
            }
        }
        self.run(
            "initdb",
            [
                OsStr::new("--pgdata"),
                self.data_dir.as_os_str(),
                OsStr::new("--username"),
                OsStr::new(SUPERUSER),
                // Only the owner can open the socket directory, so trust is
                // confined to the user the cluster runs as (and root).
                OsStr::new("--auth=trust"),
                OsStr::new("--encoding=UTF8"),
                OsStr::new("--locale=C.UTF-8"),
            ],
        )
        .map(|_| ())
    }

    async fn create_database_if_missing(&self) -> Result<(), ClusterError> {
        crate::create_database_if_missing(&self.connect_options("postgres"), DATABASE)
            .await
            .map_err(|e| ClusterError::Command {
                program: "create database".into(),
                detail: e.to_string(),
            })
    }

    /// One of the PostgreSQL server programs, run as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        self.as_owner(self.bin_dir.join(program))
    }

    fn as_owner(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        if let Some(owner) = &self.owner {
            command.uid(owner.uid.as_raw()).gid(owner.gid.as_raw());
            command.env("HOME", &owner.dir);
        }
        // Its own process group: a Ctrl-C in the terminal reaches only us,
        // and we stop the cluster in order after the last request.
        command.process_group(0);
        command
    }

    fn run<'a>(
        &self,
        program: &str,
        args: impl IntoIterator<Item = &'a OsStr>,
    ) -> Result<Output, ClusterError> {
        let output =
            self.command(program)
                .args(args)
                .output()
                .map_err(|e| ClusterError::Command {
                    program: program.into(),
                    detail: e.to_string(),
                })?;
        if output.status.success() {
            Ok(output)
        } else {
            let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            if program == "pg_ctl" {
                detail.push_str(&format!(
                    " (see {})",
                    self.data_dir.join("server.log").display()
                ));
            }
            Err(ClusterError::Command {
                program: program.into(),
                detail,
            })
        }
    }
}

/// `PATH` first, then the newest of Debian's `/usr/lib/postgresql/<version>/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| dir.join("pg_ctl").is_file() && dir.join("initdb").is_file());
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                bin.join("pg_ctl").is_file().then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    })
}

fn absolute(path: &Path) -> Result<PathBuf, ClusterError> {
    std::path::absolute(path).map_err(|source| ClusterError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Quotes a path for pg_ctl's `-o`, which passes it through a shell.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bin_dir_without_the_programs_is_reported_as_missing_binaries() {
        let empty = tempfile::tempdir().unwrap();
        let err = PrivateCluster::locate(Path::new("data"), Some(empty.path())).unwrap_err();
        assert!(matches!(err, ClusterError::NoBinaries));
        assert!(err.to_string().contains("DATABASE_URL"));
    }

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(quote(Path::new("/srv/it's")), "'/srv/it'\\''s'");
    }
}
