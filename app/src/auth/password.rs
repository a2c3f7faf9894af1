//! Password hashing with argon2id. Verifying against an unknown account
//! still hashes once, so the time taken does not tell whether an email
//! exists. Hashing runs on the blocking pool, at most one hash per core at a
//! time, so a storm of sign-ins queues for CPU instead of stalling the async
//! workers that answer the providers.

use std::sync::Arc;

use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Algorithm, Argon2, Params, Version,
};

use dispute_core::domain::NewPassword;

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
    decoy: Arc<str>,
    /// One permit per hash allowed to run at once.
    permits: Arc<tokio::sync::Semaphore>,
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
            .to_string()
            .into();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            argon,
            decoy,
            permits: Arc::new(tokio::sync::Semaphore::new(cores)),
        })
    }

    /// A PHC string: `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
    pub async fn hash(&self, password: &NewPassword) -> String {
        let argon = self.argon.clone();
        let password = password.clone();
        self.off_the_runtime(move || {
            argon
                .hash_password(
                    password.expose().as_bytes(),
                    &SaltString::generate(&mut OsRng),
                )
                .expect("argon2 hashing with valid parameters cannot fail")
                .to_string()
        })
        .await
    }

    /// Checks `password` against `stored`, or against a decoy when there is
    /// no account, taking the same time either way.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let argon = self.argon.clone();
        let password = password.to_owned();
        let known = stored.is_some();
        let hash: Arc<str> = stored.map_or_else(|| self.decoy.clone(), Arc::from);
        let matches = self
            .off_the_runtime(move || {
                PasswordHash::new(&hash)
                    .map(|parsed| argon.verify_password(password.as_bytes(), &parsed).is_ok())
                    .unwrap_or(false)
            })
            .await;
        matches && known
    }

    /// Runs CPU-heavy `work` on the blocking pool once a permit is free.
    async fn off_the_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        match tokio::task::spawn_blocking(work).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
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

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_a_fresh_salt() {
        let p = passwords();
        let password = NewPassword::parse("correct horse battery").unwrap();
        let first = p.hash(&password).await;
        assert!(
            first.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{first}"
        );
        assert_ne!(first, p.hash(&password).await);
    }

    #[tokio::test]
    async fn the_right_password_verifies_and_nothing_else_does() {
        let p = passwords();
        let stored = p
            .hash(&NewPassword::parse("correct horse battery").unwrap())
            .await;
        assert!(p.verify("correct horse battery", Some(&stored)).await);
        assert!(!p.verify("correct horse batterY", Some(&stored)).await);
        assert!(!p.verify("no account has this password", None).await);
        assert!(!p.verify("anything", Some("not a hash")).await);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn hashing_leaves_the_async_worker_free() {
        let p = passwords();
        let password = NewPassword::parse("correct horse battery").unwrap();
        // On a single-threaded runtime a hash done in place would run to its
        // end before the ticker could tick even once.
        let ticks = std::sync::atomic::AtomicU32::new(0);
        let ticker = async {
            loop {
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            _ = hash_four_times(&p, &password) => {}
            () = ticker => unreachable!(),
        }
        assert!(ticks.load(std::sync::atomic::Ordering::Relaxed) > 1);
    }

    async fn hash_four_times(p: &Passwords, password: &NewPassword) {
        for _ in 0..4 {
            p.hash(password).await;
        }
    }

    #[tokio::test]
    async fn no_more_hashes_run_at_once_than_there_are_permits() {
        let p = passwords();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(p.permits.available_permits(), cores);
        let held = p
            .permits
            .clone()
            .acquire_many_owned(cores as u32)
            .await
            .unwrap();
        let password = NewPassword::parse("correct horse battery").unwrap();
        let waiting = p.hash(&password);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(200), &mut waiting)
                .await
                .is_err(),
            "no permit, no hash"
        );
        drop(held);
        assert!(waiting.await.starts_with("$argon2id$"));
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
