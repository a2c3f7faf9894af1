//! The master key that seals secrets at rest: from configuration, or from
//! `DATA_DIR/master.key`, created (readable by its owner only) on first start.

use std::{
    fs::{self, OpenOptions},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use dispute_workflows::vault::{Vault, VaultError};
use secrecy::ExposeSecret;

use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("MASTER_KEY: {0}")]
    Setting(VaultError),
    #[error("the master key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the master key file {path}: {error}")]
    Invalid { path: PathBuf, error: VaultError },
}

pub fn load(settings: &Settings) -> Result<Vault, MasterKeyError> {
    match &settings.master_key {
        Some(key) => Vault::from_base64(key.expose_secret()).map_err(MasterKeyError::Setting),
        None => load_or_create(&settings.data_dir.join("master.key")),
    }
}

fn load_or_create(path: &Path) -> Result<Vault, MasterKeyError> {
    let io = |source| MasterKeyError::Io {
        path: path.to_owned(),
        source,
    };
    if !path.exists() {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        file.write_all(Vault::generate_master_key().as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(io)?;
        tracing::warn!(path = %path.display(), "created a new master key: back it up, secrets cannot be read without it");
    }
    let mode = fs::metadata(path).map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "the master key file is readable by others: chmod 600 it");
    }
    let text = fs::read_to_string(path).map_err(io)?;
    Vault::from_base64(&text).map_err(|error| MasterKeyError::Invalid {
        path: path.to_owned(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let first = load_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sealed = first.seal("salt", "ctx");
        let again = load_or_create(&path).unwrap();
        assert!(again.open(&sealed, "ctx").is_ok());
    }

    #[test]
    fn a_damaged_key_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        fs::write(&path, "garbage").unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(
            err.contains("master.key") && err.contains("32 bytes"),
            "{err}"
        );
    }
}
