//! `dispute-desk connections import FILE`: creates or updates connections
//! from a JSON file in the format of the provider fixtures'
//! `connections.json`, reading key files relative to it. Every entry is
//! validated before anything is written; importing the same file again
//! changes nothing.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use dispute_workflows::keyring::{KeysToSave, SigningSecret, VerificationSecret};

use dispute_store::{Actor, KeyPurpose, KeySlot, SaveError, Saved, Saving, Store};

use dispute_core::{
    domain::{ConnectionDraft, ConnectionSettings, ProviderKind},
    providers::{profile, sender_presets},
};
use dispute_workflows::vault::Vault;
use serde::Deserialize;

/// One connection as the file describes it: the fields every connection
/// has, and those its provider's profile names (account id, key files).
#[derive(Debug, Deserialize)]
struct Entry {
    slug: String,
    provider: String,
    #[serde(default)]
    display_name: String,
    timezone: Option<String>,
    query_base_url: Option<String>,
    #[serde(default)]
    source_allowlist: Vec<String>,
    enabled: Option<bool>,
    silence_after_minutes: Option<u32>,
    #[serde(flatten)]
    provider_fields: BTreeMap<String, String>,
}

/// An entry checked and its keys parsed.
#[derive(Debug)]
struct Validated {
    settings: ConnectionSettings,
    keys: KeysToSave,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a list of connections: {source}")]
    Format {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("connection {slug}: {problem}")]
    Invalid { slug: String, problem: String },
    #[error("connection {slug}: {source}")]
    Save { slug: String, source: SaveError },
}

/// Imports the file; returns one line per connection saying what changed.
pub async fn import(file: &Path, store: &Store, vault: &Vault) -> Result<Vec<String>, ImportError> {
    let text = read(file)?;
    let entries: Vec<Entry> =
        serde_json::from_str(&text).map_err(|source| ImportError::Format {
            path: file.to_owned(),
            source,
        })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let validated = entries
        .into_iter()
        .map(|entry| {
            let slug = entry.slug.clone();
            validate(entry, base, vault).map_err(|problem| ImportError::Invalid { slug, problem })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut report = Vec::new();
    for connection in validated {
        report.push(save(connection, store, vault).await?);
    }
    Ok(report)
}

fn read(path: &Path) -> Result<String, ImportError> {
    std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })
}

fn validate(entry: Entry, base: &Path, vault: &Vault) -> Result<Validated, String> {
    let provider: ProviderKind = entry.provider.parse().map_err(|e| format!("{e}"))?;
    let key_file = |file: &Option<PathBuf>| -> Result<Option<String>, String> {
        file.as_ref()
            .map(|f| {
                let path = base.join(f);
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            })
            .transpose()
    };
    let profile = profile(provider);
    let key = profile.verification_key;
    let own: Vec<&str> = [
        Some(profile.account.import_name),
        profile.app_id.map(|f| f.import_name),
        Some(key.import_file),
        Some(key.import_next_file),
        profile
            .signs_queries
            .then_some(profile::MERCHANT_KEY_IMPORT_FILE),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(stray) = entry
        .provider_fields
        .keys()
        .find(|field| !own.contains(&field.as_str()))
    {
        let another_account = ProviderKind::ALL
            .iter()
            .any(|p| dispute_core::providers::profile(*p).account.import_name == stray);
        let instead = if another_account {
            format!("use {}", profile.account.import_name)
        } else {
            format!("it takes {}", own.join(", "))
        };
        return Err(format!(
            "{stray} does not belong to a {} connection ({instead})",
            provider.display_name()
        ));
    }
    let field = |name: &str| entry.provider_fields.get(name).cloned();

    let mut verifiers = Vec::new();
    for (slot, name, required) in [
        (KeySlot::Current, key.import_file, true),
        (KeySlot::Next, key.import_next_file, false),
    ] {
        let Some(text) = key_file(&field(name).map(PathBuf::from))? else {
            if required {
                return Err(format!(
                    "{name} is required for {}",
                    provider.display_name()
                ));
            }
            continue;
        };
        let secret = VerificationSecret::parse(provider, &text, vault.fingerprint_key())
            .map_err(|e| format!("{name}: {e}"))?;
        verifiers.push((slot, secret));
    }
    let signing = key_file(&field(profile::MERCHANT_KEY_IMPORT_FILE).map(PathBuf::from))?
        .map(|text| {
            SigningSecret::parse(provider, &text)
                .map_err(|e| format!("{}: {e}", profile::MERCHANT_KEY_IMPORT_FILE))
        })
        .transpose()?;

    let settings = ConnectionDraft {
        slug: entry.slug,
        provider: entry.provider,
        display_name: entry.display_name,
        account_id: field(profile.account.import_name).unwrap_or_default(),
        app_id: profile
            .app_id
            .and_then(|f| field(f.import_name))
            .unwrap_or_default(),
        timezone: entry.timezone.unwrap_or_default(),
        query_base_url: entry.query_base_url.unwrap_or_default(),
        source_allowlist: entry.source_allowlist,
        enabled: entry.enabled.unwrap_or(true),
        silence_after_minutes: entry
            .silence_after_minutes
            .map(|m| m.to_string())
            .unwrap_or_default(),
    }
    .validate(&sender_presets())?;
    Ok(Validated {
        settings,
        keys: KeysToSave {
            verification: verifiers,
            signing,
        },
    })
}

/// The import is a change made from the command line.
fn actor() -> Actor {
    Actor {
        address: Some("command line".into()),
        ..Actor::default()
    }
}

async fn save(connection: Validated, store: &Store, vault: &Vault) -> Result<String, ImportError> {
    let slug = connection.settings.slug.to_string();
    let saved = store
        .save_connection(
            &connection.settings,
            Saving::CreateOrUpdate,
            |id| connection.keys.stored(vault, id),
            &actor(),
        )
        .await
        .map_err(|source| ImportError::Save {
            slug: slug.clone(),
            source,
        })?;
    let mut changes = vec![format!("{} {slug}", word(saved.settings))];
    for (purpose, slot, fingerprint, saved) in saved.keys {
        let which = match (purpose, slot) {
            (KeyPurpose::Verify, KeySlot::Current) => "verification",
            (KeyPurpose::Verify, KeySlot::Next) => "next verification",
            (KeyPurpose::Sign, _) => "signing",
        };
        changes.push(format!("{which} key {fingerprint} {}", word(saved)));
    }
    Ok(changes.join("; "))
}

fn word(saved: Saved) -> &'static str {
    match saved {
        Saved::Created => "created",
        Saved::Updated => "updated",
        Saved::Unchanged => "unchanged",
    }
}
