//! What the tests share: a database of their own for each test (on the
//! server `DATABASE_URL` names, or a private cluster kept under `target/`),
//! and the provider fixtures with the keys to sign more requests the way the
//! providers do.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use dispute_core::providers::{keys::SigningKey, pingpong};
use dispute_store::private_postgres::PrivateCluster;
use secrecy::SecretString;
use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

/// The job's runner as if it had been killed: its heartbeat is older than
/// the minute after which another worker may take the job over.
pub async fn silence_job(pool: &PgPool, id: i64) {
    sqlx::query("update jobs set heartbeat = now() - interval '2 minutes' where id = $1")
        .bind(id)
        .execute(pool)
        .await
        .expect("age the job's heartbeat");
}

/// A database created for one test and dropped after it.
pub struct TestDatabase {
    pub name: String,
    pub options: PgConnectOptions,
}

impl TestDatabase {
    /// A fresh, empty database (no migrations applied).
    pub async fn create() -> Self {
        let name = format!("dd_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("create database {name}"))
            .execute(&mut admin_connection().await)
            .await
            .expect("create the test database");
        Self {
            options: server_options().await.database(&name),
            name,
        }
    }

    /// A pool on it, sized as the server sizes its own.
    pub async fn pool(&self, connections: u32) -> PgPool {
        dispute_store::pool_options(connections)
            .connect_with(self.options.clone())
            .await
            .expect("connect to the test database")
    }

    /// Its URL, for a process of its own (`DATABASE_URL`).
    pub fn url(&self) -> String {
        let o = &self.options;
        let host = match o.get_socket() {
            Some(socket) => urlencoding::encode(&socket.to_string_lossy()).into_owned(),
            None => o.get_host().to_owned(),
        };
        format!(
            "postgres://{}@{host}:{}/{}",
            o.get_username(),
            o.get_port(),
            self.name
        )
    }

    /// To whoever uses it, the database is down: new connections are
    /// refused and open ones ended.
    pub async fn take_down(&self) {
        let mut admin = admin_connection().await;
        for sql in [
            format!("alter database {} allow_connections false", self.name),
            format!(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = '{}'",
                self.name
            ),
        ] {
            sqlx::query(&sql).execute(&mut admin).await.unwrap();
        }
    }

    pub async fn bring_back(&self) {
        sqlx::query(&format!(
            "alter database {} allow_connections true",
            self.name
        ))
        .execute(&mut admin_connection().await)
        .await
        .unwrap();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot await; a thread with its own runtime drops the database.
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let mut admin = admin_connection().await;
                let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            })
        })
        .join()
        .unwrap();
    }
}

/// The server test databases are made on: `DATABASE_URL` when set,
/// otherwise a private cluster under `target/`, started once and left
/// running for the next run (as the application reuses its own cluster).
async fn server_options() -> PgConnectOptions {
    static CLUSTER: OnceCell<PgConnectOptions> = OnceCell::const_new();
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return url.parse().expect("DATABASE_URL is a PostgreSQL URL");
    }
    CLUSTER
        .get_or_init(|| async {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/test-postgres");
            let cluster = PrivateCluster::locate(&dir, None).expect("PostgreSQL server binaries");
            cluster.start().await.expect("the test cluster starts");
            cluster.connect_options("postgres")
        })
        .await
        .clone()
}

async fn admin_connection() -> PgConnection {
    server_options()
        .await
        .disable_statement_logging()
        .connect()
        .await
        .expect("connect to the test PostgreSQL server")
}

/// The providers' fixtures, made with OpenSSL (`core/tests/fixtures`).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/providers")
}

/// An evidence file from `test-support/fixtures/evidence` (made by
/// ReportLab and Pillow, as `make.py` there says).
pub fn evidence_file(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/evidence")
            .join(name),
    )
    .unwrap()
}

/// A fixture body's bytes.
pub fn fixture_body(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("bodies").join(name)).unwrap()
}

/// A provider's private key from `keys/provider-side/` (PEM or bare
/// Base64 DER), to sign as that provider.
pub fn provider_key(name: &str) -> SigningKey {
    let text = std::fs::read_to_string(fixtures().join("keys/provider-side").join(name)).unwrap();
    SigningKey::parse(&SecretString::from(text)).expect("a provider's private key")
}

/// The PingPong connection's salt.
pub fn fixture_salt() -> String {
    std::fs::read_to_string(fixtures().join("keys/pingpong-salt.txt"))
        .unwrap()
        .trim()
        .to_owned()
}

/// A JSON object signed with the fixtures' PingPong salt.
pub fn pingpong_signed(fields: &serde_json::Value) -> Vec<u8> {
    pingpong::sign(&fixture_salt(), fields.as_object().expect("a JSON object"))
}

/// The `sign` header OpenSSL made for a fixture case.
pub fn fixture_sign(case_id: &str) -> String {
    let cases: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixtures().join("cases.json")).unwrap()).unwrap();
    let case = cases
        .iter()
        .find(|c| c["id"] == case_id)
        .expect("a fixture case");
    case["request"]["headers"]["sign"]
        .as_str()
        .expect("a signed case")
        .to_owned()
}
