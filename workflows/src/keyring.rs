//! Turning key text an admin pasted (or a key file) into what a connection
//! stores: parsed and checked for the connection's provider, fingerprinted,
//! and — for secrets — sealed under the master key. Used by the connection
//! pages and by `connections import`; and the other way, stored keys opened
//! and parsed for intake and status queries.

use secrecy::{ExposeSecret, SecretString};

use dispute_core::{
    domain::ProviderKind,
    providers::{
        keys::{Fingerprint, FingerprintKey, KeyError, Salt, SigningKey, VerificationKey},
        profile,
        profile::KeyKind,
        Connector,
    },
};

use crate::vault::Vault;

use dispute_store::{KeyPurpose, KeySlot, NewKey, Store, StoreError, StoredKey, StoredKeyMaterial};

/// What verifies a connection's notifications, of the kind its provider's
/// profile names.
#[derive(Debug, Clone)]
pub enum VerificationSecret {
    Salt(Salt),
    PublicKey(VerificationKey),
}

impl VerificationSecret {
    /// Reads `text` as the kind of key `provider` verifies with; a secret
    /// is fingerprinted under `fingerprints`.
    pub fn parse(
        provider: ProviderKind,
        text: &str,
        fingerprints: &FingerprintKey,
    ) -> Result<Self, KeyError> {
        match profile(provider).verification_key.kind {
            KeyKind::Salt => Salt::parse(&SecretString::from(text.to_owned()), fingerprints)
                .map(VerificationSecret::Salt),
            KeyKind::RsaPublicKey => {
                VerificationKey::parse(text).map(VerificationSecret::PublicKey)
            }
        }
    }

    pub fn fingerprint(&self) -> String {
        match self {
            VerificationSecret::Salt(s) => s.fingerprint().to_string(),
            VerificationSecret::PublicKey(k) => k.fingerprint().to_string(),
        }
    }

    /// As stored for `connection_id`: a salt sealed, a public key in the clear.
    pub fn stored(&self, vault: &Vault, connection_id: i64) -> StoredKey {
        let material = match self {
            VerificationSecret::Salt(salt) => StoredKeyMaterial::Sealed(vault.seal(
                salt.expose(),
                &KeyPurpose::Verify.seal_context(connection_id),
            )),
            VerificationSecret::PublicKey(key) => {
                StoredKeyMaterial::PublicDer(key.spki_der().to_vec())
            }
        };
        StoredKey {
            material,
            fingerprint: self.fingerprint(),
        }
    }
}

/// The merchant's private key for signing status queries.
#[derive(Debug, Clone)]
pub struct SigningSecret {
    key: SigningKey,
    text: SecretString,
}

impl SigningSecret {
    /// Reads `text` as the merchant's key for `provider`'s status queries;
    /// a provider whose queries are not signed with one takes none.
    pub fn parse(provider: ProviderKind, text: &str) -> Result<Self, KeyError> {
        if !profile(provider).signs_queries {
            return Err(KeyError::NoSigningKeyTaken);
        }
        let text = SecretString::from(text.trim().to_owned());
        Ok(Self {
            key: SigningKey::parse(&text)?,
            text,
        })
    }

    pub fn fingerprint(&self) -> String {
        self.key.fingerprint().to_string()
    }

    pub fn stored(&self, vault: &Vault, connection_id: i64) -> StoredKey {
        StoredKey {
            material: StoredKeyMaterial::Sealed(vault.seal(
                self.text.expose_secret(),
                &KeyPurpose::Sign.seal_context(connection_id),
            )),
            fingerprint: self.fingerprint(),
        }
    }
}

/// The keys a connection is saved with: verification keys by slot, and the
/// merchant's signing key.
#[derive(Debug, Clone, Default)]
pub struct KeysToSave {
    pub verification: Vec<(KeySlot, VerificationSecret)>,
    pub signing: Option<SigningSecret>,
}

impl KeysToSave {
    /// The keys as stored for the connection `id` (secrets sealed for it).
    pub fn stored(&self, vault: &Vault, id: i64) -> Vec<NewKey> {
        let verification = self.verification.iter().map(|(slot, secret)| NewKey {
            purpose: KeyPurpose::Verify,
            slot: *slot,
            key: secret.stored(vault, id),
        });
        let signing = self.signing.iter().map(|secret| NewKey {
            purpose: KeyPurpose::Sign,
            slot: KeySlot::Current,
            key: secret.stored(vault, id),
        });
        verification.chain(signing).collect()
    }
}

/// Gives secrets stored before fingerprints were keyed their keyed
/// fingerprint; returns how many were renamed. Run at start-up.
pub async fn rekey_fingerprints(store: &Store, vault: &Vault) -> Result<usize, StoreError> {
    let unkeyed = store.unkeyed_secret_fingerprints().await?;
    for (connection_id, sealed, old) in &unkeyed {
        let context = KeyPurpose::Verify.seal_context(*connection_id);
        let Ok(secret) = vault.open(sealed, &context) else {
            tracing::error!(connection = connection_id, key = %old, "a sealed key cannot be opened with this master key");
            continue;
        };
        let new =
            Fingerprint::of_secret(vault.fingerprint_key(), secret.expose_secret().as_bytes());
        store
            .replace_fingerprint(*connection_id, old, new.as_str())
            .await?;
    }
    Ok(unkeyed.len())
}

/// The connection's provider with its verification keys, parsed. A key that
/// cannot be read is left out (fail closed: what it would have verified is
/// refused) and logged.
pub async fn connector(
    store: &Store,
    vault: &Vault,
    connection_id: i64,
    provider: ProviderKind,
) -> Result<Connector, StoreError> {
    let stored = store.keys(connection_id, KeyPurpose::Verify).await?;
    let context = KeyPurpose::Verify.seal_context(connection_id);
    let kind = profile(provider).verification_key.kind;
    let mut salts = Vec::new();
    let mut public_keys = Vec::new();
    for key in stored {
        let loaded = match (kind, key.material) {
            (KeyKind::Salt, StoredKeyMaterial::Sealed(sealed)) => vault
                .open(&sealed, &context)
                .map_err(|e| e.to_string())
                .and_then(|secret| {
                    Salt::parse(&secret, vault.fingerprint_key()).map_err(|e| e.to_string())
                })
                .map(|salt| salts.push(salt)),
            (KeyKind::RsaPublicKey, StoredKeyMaterial::PublicDer(der)) => {
                VerificationKey::from_spki_der(&der)
                    .map_err(|e| e.to_string())
                    .map(|k| public_keys.push(k))
            }
            (KeyKind::Salt, StoredKeyMaterial::PublicDer(_)) => {
                Err("a public key where a salt belongs".into())
            }
            (KeyKind::RsaPublicKey, StoredKeyMaterial::Sealed(_)) => {
                Err("a sealed secret where a public key belongs".into())
            }
        };
        if let Err(problem) = loaded {
            tracing::error!(connection = connection_id, key = %key.fingerprint, %problem, "unusable verification key");
        }
    }
    Ok(Connector::new(provider, salts, public_keys))
}

/// The merchant's private key that signs the connection's status queries,
/// if it holds one that can be read.
pub async fn merchant_key(
    store: &Store,
    vault: &Vault,
    connection_id: i64,
) -> Result<Option<SigningKey>, StoreError> {
    let context = KeyPurpose::Sign.seal_context(connection_id);
    let stored = store.keys(connection_id, KeyPurpose::Sign).await?;
    let Some(key) = stored.into_iter().next() else {
        return Ok(None);
    };
    let StoredKeyMaterial::Sealed(sealed) = key.material else {
        tracing::error!(
            connection = connection_id,
            "a merchant key stored in the clear"
        );
        return Ok(None);
    };
    match vault
        .open(&sealed, &context)
        .map_err(|e| e.to_string())
        .and_then(|text| SigningKey::parse(&text).map_err(|e| e.to_string()))
    {
        Ok(key) => Ok(Some(key)),
        Err(problem) => {
            tracing::error!(connection = connection_id, %problem, "unusable merchant key");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn key_file(name: &str) -> String {
        let keys = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../core/tests/fixtures/providers/keys"
        );
        std::fs::read_to_string(std::path::Path::new(keys).join(name)).unwrap()
    }

    fn fp() -> FingerprintKey {
        FingerprintKey::new([7; 32])
    }

    #[test]
    fn each_provider_reads_its_own_kind_of_key() {
        let salt = key_file("pingpong-salt.txt");
        let public = key_file("botim-money-public.pem");
        assert!(matches!(
            VerificationSecret::parse(ProviderKind::PingPong, &salt, &fp()),
            Ok(VerificationSecret::Salt(_))
        ));
        assert!(matches!(
            VerificationSecret::parse(ProviderKind::BotimMoney, &public, &fp()),
            Ok(VerificationSecret::PublicKey(_))
        ));
        assert_eq!(
            VerificationSecret::parse(ProviderKind::PayerMax, &salt, &fp()).unwrap_err(),
            KeyError::NotRsa("public")
        );
    }

    #[test]
    fn a_salt_is_stored_sealed_and_a_public_key_in_the_clear() {
        let vault = Vault::from_base64(&Vault::generate_master_key()).unwrap();
        let salt = VerificationSecret::parse(
            ProviderKind::PingPong,
            &key_file("pingpong-salt.txt"),
            vault.fingerprint_key(),
        )
        .unwrap();
        let StoredKeyMaterial::Sealed(sealed) = salt.stored(&vault, 7).material else {
            panic!("sealed")
        };
        let opened = vault
            .open(&sealed, &KeyPurpose::Verify.seal_context(7))
            .unwrap();
        assert_eq!(opened.expose_secret(), key_file("pingpong-salt.txt").trim());

        let public = VerificationSecret::parse(
            ProviderKind::PayerMax,
            &key_file("payermax-public.b64"),
            vault.fingerprint_key(),
        )
        .unwrap();
        assert!(matches!(
            public.stored(&vault, 7).material,
            StoredKeyMaterial::PublicDer(_)
        ));

        let signing = SigningSecret::parse(
            ProviderKind::PayerMax,
            &key_file("payermax-merchant-private.b64"),
        )
        .unwrap();
        assert!(matches!(
            signing.stored(&vault, 7).material,
            StoredKeyMaterial::Sealed(_)
        ));
    }

    #[test]
    fn a_provider_whose_queries_are_not_signed_takes_no_signing_key() {
        let merchant = key_file("payermax-merchant-private.b64");
        assert!(matches!(
            SigningSecret::parse(ProviderKind::PingPong, &merchant),
            Err(KeyError::NoSigningKeyTaken)
        ));
        assert!(SigningSecret::parse(ProviderKind::BotimMoney, &merchant).is_ok());
    }
}
