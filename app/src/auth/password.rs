//! Password hashing with argon2id. Verifying against an unknown account
//! still hashes once, so the time taken does not tell whether an email
//! exists.

use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Algorithm, Argon2, Params, Version,
};

use crate::domain::NewPassword;

/// argon2id cost settings; the defaults follow OWASP's recommendation
/// (19 MiB, 2 iterations, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("argon2 settings are not valid: {0}")]
pub struct CostError(String);

/// Hashes and checks passwords. Cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    argon: Argon2<'static>,
    /// Checked against when the account does not exist.
    decoy: String,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passwords")
    }
}

impl Passwords {
    pub fn new(cost: HashCost) -> Result<Self, CostError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| CostError(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let decoy = argon
            .hash_password(
                b"no account has this password",
                &SaltString::generate(&mut OsRng),
            )
            .map_err(|e| CostError(e.to_string()))?
            .to_string();
        Ok(Self { argon, decoy })
    }

    /// A PHC string: `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
    pub fn hash(&self, password: &NewPassword) -> String {
        self.argon
            .hash_password(
                password.expose().as_bytes(),
                &SaltString::generate(&mut OsRng),
            )
            .expect("argon2 hashing with valid parameters cannot fail")
            .to_string()
    }

    /// Checks `password` against `stored`, or against a decoy when there is
    /// no account, taking the same time either way.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let hash = stored.unwrap_or(&self.decoy);
        let matches = PasswordHash::new(hash)
            .map(|parsed| {
                self.argon
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        matches && stored.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passwords() -> Passwords {
        Passwords::new(HashCost {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_with_a_fresh_salt() {
        let p = passwords();
        let password = NewPassword::parse("correct horse battery").unwrap();
        let first = p.hash(&password);
        assert!(
            first.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{first}"
        );
        assert_ne!(first, p.hash(&password));
    }

    #[test]
    fn the_right_password_verifies_and_nothing_else_does() {
        let p = passwords();
        let stored = p.hash(&NewPassword::parse("correct horse battery").unwrap());
        assert!(p.verify("correct horse battery", Some(&stored)));
        assert!(!p.verify("correct horse batterY", Some(&stored)));
        assert!(!p.verify("no account has this password", None));
        assert!(!p.verify("anything", Some("not a hash")));
    }

    #[test]
    fn the_default_cost_is_owasps() {
        let cost = HashCost::default();
        assert_eq!(
            (cost.memory_kib, cost.iterations, cost.parallelism),
            (19456, 2, 1)
        );
        assert!(Passwords::new(HashCost {
            memory_kib: 1,
            ..cost
        })
        .is_err());
    }
}
