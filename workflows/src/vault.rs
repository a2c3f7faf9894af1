//! Secrets at rest: PingPong salts and merchants' private keys are sealed
//! with AES-256-GCM under the master key before they reach the database, and
//! bound to where they are stored so a sealed value cannot be moved to
//! another connection.

use std::fmt;

use aes_gcm::{
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
    Aes256Gcm, Key, Nonce,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use secrecy::SecretString;

use dispute_core::providers::keys::FingerprintKey;

const NONCE_LEN: usize = 12;

/// A key of its own for fingerprints (HKDF-SHA256 from the master key), so
/// the sealing key is used for nothing else.
fn derive_fingerprint_key(master_key: &[u8; 32]) -> FingerprintKey {
    FingerprintKey::new(derive(master_key, b"dispute-desk secret fingerprints v1"))
}

/// A key of its own for `purpose`, from the master key.
fn derive(master_key: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, master_key)
        .expand(purpose, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    key
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("the master key must be 32 bytes, Base64-encoded")]
    BadMasterKey,
    #[error("a sealed secret could not be opened: wrong master key, or the value was altered")]
    Unreadable,
}

/// Seals and opens secrets with the master key, and holds the key secrets
/// are fingerprinted under (derived from it). `Debug` shows nothing of them.
#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
    fingerprints: FingerprintKey,
    link_key: [u8; 32],
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vault([REDACTED])")
    }
}

impl Vault {
    pub fn new(master_key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(master_key)),
            fingerprints: derive_fingerprint_key(master_key),
            link_key: derive(master_key, b"dispute-desk evidence links v1"),
        }
    }

    /// The key secrets' fingerprints are made with.
    pub fn fingerprint_key(&self) -> &FingerprintKey {
        &self.fingerprints
    }

    /// The key evidence links are signed with.
    pub fn link_key(&self) -> dispute_core::domain::links::LinkKey {
        dispute_core::domain::links::LinkKey::new(self.link_key)
    }

    /// A master key as written in configuration or the key file.
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| VaultError::BadMasterKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| VaultError::BadMasterKey)?;
        Ok(Self::new(&key))
    }

    /// A fresh random master key, Base64-encoded.
    pub fn generate_master_key() -> String {
        STANDARD.encode(Aes256Gcm::generate_key(&mut OsRng))
    }

    /// Nonce followed by ciphertext; `context` names where it is stored.
    pub fn seal(&self, secret: &str, context: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short secret cannot fail");
        [nonce.as_slice(), &ciphertext].concat()
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<SecretString, VaultError> {
        if sealed.len() < NONCE_LEN {
            return Err(VaultError::Unreadable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Unreadable)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| VaultError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn vault() -> Vault {
        Vault::from_base64(&Vault::generate_master_key()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_in_its_context_only() {
        let vault = vault();
        let sealed = vault.seal("4283FEFC63F0CD0E873A0000", "connection 1 verify");
        assert!(!sealed.windows(4).any(|w| w == b"4283"));
        assert_eq!(
            vault
                .open(&sealed, "connection 1 verify")
                .unwrap()
                .expose_secret(),
            "4283FEFC63F0CD0E873A0000"
        );
        assert_eq!(
            vault.open(&sealed, "connection 2 verify").unwrap_err(),
            VaultError::Unreadable
        );
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let vault = vault();
        assert_ne!(vault.seal("s", "c"), vault.seal("s", "c"));
    }

    #[test]
    fn another_master_key_or_an_altered_value_cannot_open_it() {
        let sealed = vault().seal("secret", "c");
        assert_eq!(
            vault().open(&sealed, "c").unwrap_err(),
            VaultError::Unreadable
        );
        let v = vault();
        let mut altered = v.seal("secret", "c");
        altered[NONCE_LEN] ^= 1;
        assert_eq!(v.open(&altered, "c").unwrap_err(), VaultError::Unreadable);
        assert_eq!(v.open(b"short", "c").unwrap_err(), VaultError::Unreadable);
    }

    #[test]
    fn master_keys_must_be_32_bytes_of_base64() {
        assert!(Vault::from_base64("c2hvcnQ=").is_err());
        assert!(Vault::from_base64("not base64!").is_err());
        assert_eq!(format!("{:?}", vault()), "Vault([REDACTED])");
    }
}
