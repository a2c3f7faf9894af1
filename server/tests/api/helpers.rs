//! `spawn_app()`: the application on 127.0.0.1:0 against a database created
//! for the test and dropped after it, with one helper per endpoint.

use std::time::Duration;

use std::path::PathBuf;

use app::{store::Store, vault::Vault};
use reqwest::{redirect::Policy, Response};
use server::{
    config::Settings, connections_import, database::pool_options, private_postgres::PrivateCluster,
    startup::Application,
};
use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection, PgConnection, PgPool};
use tokio::sync::{oneshot, OnceCell};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub store: Store,
    pub vault: Vault,
    pub db_name: String,
    stop: Option<oneshot::Sender<()>>,
}

/// The server tests create their databases on: `DATABASE_URL` when set,
/// otherwise a private cluster under the target directory, started once and
/// left running for the next test run (as the application itself reuses its
/// cluster).
async fn maintenance_options() -> PgConnectOptions {
    static CLUSTER: OnceCell<PgConnectOptions> = OnceCell::const_new();
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return url.parse().expect("DATABASE_URL is a PostgreSQL URL");
    }
    CLUSTER
        .get_or_init(|| async {
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-postgres");
            let cluster = PrivateCluster::locate(&dir, None).expect("PostgreSQL server binaries");
            cluster.start().await.expect("the test cluster starts");
            cluster.connect_options("postgres")
        })
        .await
        .clone()
}

async fn admin_connection() -> PgConnection {
    maintenance_options()
        .await
        .log_statements(tracing::log::LevelFilter::Off)
        .connect()
        .await
        .expect("connect to the test PostgreSQL server")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::default()).await
}

/// The application with these settings (its address is always 127.0.0.1:0).
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let db_name = format!("dd_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("create database {db_name}"))
        .execute(&mut admin_connection().await)
        .await
        .expect("create the test database");
    let pool = pool_options(4)
        .connect_with(maintenance_options().await.database(&db_name))
        .await
        .expect("connect to the test database");

    let settings = Settings {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        ..settings
    };
    let store = Store::new(pool.clone());
    let vault = Vault::from_base64(&Vault::generate_master_key()).unwrap();
    let app = Application::build(&settings, store.clone(), vault.clone())
        .await
        .expect("the application builds");
    let address = format!("http://{}", app.address());
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(app.run_until(
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));

    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap(),
        pool,
        store,
        vault,
        db_name,
        stop: Some(stop),
    }
}

/// The provider fixtures made with OpenSSL, copied into the repository.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../app/tests/fixtures/providers")
}

impl TestApp {
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the request is answered")
    }

    pub async fn get_page(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Imports the fixtures' connections (pingpong-main, botim-main,
    /// payermax-main) as `dispute-desk connections import` does.
    pub async fn import_fixture_connections(&self) {
        connections_import::import(
            &fixtures().join("connections.json"),
            &self.store,
            &self.vault,
        )
        .await
        .expect("the fixture connections import");
    }

    /// Posts a notification to `/webhooks/{slug}`.
    pub async fn post_webhook(
        &self,
        slug: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Response {
        let mut request = self
            .client
            .post(format!("{}/webhooks/{slug}", self.address))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the webhook answers")
    }

    /// Refuses new connections to the test database and ends the open ones:
    /// to the application, the database is down.
    pub async fn take_database_down(&self) {
        let mut admin = admin_connection().await;
        for sql in [
            format!("alter database {} allow_connections false", self.db_name),
            format!(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = '{}'",
                self.db_name
            ),
        ] {
            sqlx::query(&sql).execute(&mut admin).await.unwrap();
        }
    }

    pub async fn bring_database_back(&self) {
        sqlx::query(&format!(
            "alter database {} allow_connections true",
            self.db_name
        ))
        .execute(&mut admin_connection().await)
        .await
        .unwrap();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let db_name = self.db_name.clone();
        // Drop cannot await; a thread with its own runtime drops the database.
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let mut admin = admin_connection().await;
                let _ = sqlx::query(&format!("drop database if exists {db_name} with (force)"))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            })
        })
        .join()
        .unwrap();
    }
}
