//! `spawn_app()`: the application on 127.0.0.1:0 against a database created
//! for the test and dropped after it, with one helper per endpoint.

use std::time::Duration;

use app::auth::password::{HashCost, Passwords};

use dispute_store::{Actor, NewUser, Store};

use dispute_core::domain::{DisplayName, Email, NewPassword, Role};
use dispute_workflows::vault::Vault;
use reqwest::{redirect::Policy, Response};
use server::{config::Settings, connections_import, startup::Application};
use sqlx::PgPool;
use test_support::{fixtures, TestDatabase};
use tokio::sync::oneshot;

pub struct TestApp {
    pub address: String,
    /// Intake alone, when the settings gave it a listener.
    pub intake_address: Option<std::net::SocketAddr>,
    /// Keeps cookies, follows no redirect: a browser seen from the server.
    pub client: reqwest::Client,
    pub passwords: Passwords,
    pub pool: PgPool,
    pub store: Store,
    pub vault: Vault,
    pub intake: dispute_workflows::intake::Intake,
    stop: Option<oneshot::Sender<()>>,
    /// Dropped last: the database goes once the application has stopped.
    pub db: TestDatabase,
}

/// Everything the application logged in this test process, so tests can
/// check that no secret reaches the logs.
static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info,tower_sessions=info,reqwest=info")
            .with_writer(|| LogSink)
            .with_ansi(false)
            .init();
    });
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::default()).await
}

/// The application with these settings (its address is always 127.0.0.1:0;
/// an intake listener asked for gets 127.0.0.1:0 too).
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    capture_logs();
    let db = TestDatabase::create().await;
    let pool = db.pool(Settings::default().database_max_connections).await;

    let settings = Settings {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        intake_listen_addr: settings
            .intake_listen_addr
            .map(|_| "127.0.0.1:0".parse().unwrap()),
        // Cheap hashing keeps tests fast; the format is the same.
        password_cost: HashCost {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        ..settings
    };
    let store = Store::new(pool.clone());
    let vault = Vault::from_base64(&Vault::generate_master_key()).unwrap();
    let app = Application::build(&settings, store.clone(), vault.clone())
        .await
        .expect("the application builds");
    let address = format!("http://{}", app.address());
    let intake_address = app.intake_address();
    let intake = app.intake();
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(app.run_until(
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));

    let passwords = Passwords::new(settings.password_cost).unwrap();
    TestApp {
        client: browser_client(),
        address,
        intake_address,
        passwords,
        pool,
        store,
        vault,
        intake,
        stop: Some(stop),
        db,
    }
}

/// A client with its own cookie jar that follows no redirect.
pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// The fixture chargeback with `changes` to its fields, signed and posted
/// to PingPong; it must be accepted.
pub async fn post_pingpong(app: &TestApp, changes: serde_json::Value) {
    let mut fields: serde_json::Value =
        serde_json::from_slice(&test_support::fixture_body("pp-chargeback.json")).unwrap();
    let object = fields.as_object_mut().unwrap();
    object.remove("sign");
    for (name, value) in changes.as_object().unwrap() {
        object.insert(name.clone(), value.clone());
    }
    let answer = app
        .post_webhook("pingpong-main", &[], test_support::pingpong_signed(&fields))
        .await;
    assert_eq!(answer.status(), 200, "{changes}");
}

/// The page at `path` of a job (a rebuild, a bulk replay) once it has
/// finished: its page stops refreshing itself.
pub async fn when_finished(app: &TestApp, path: &str) -> String {
    for _ in 0..100 {
        let (status, html) = app.get_page(path).await;
        assert_eq!(status, 200, "{html}");
        if !html.contains("http-equiv=\"refresh\"") {
            return html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the job at {path} did not finish");
}

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery staple";

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

    /// Creates an account with `PASSWORD`; returns its id and email.
    pub async fn create_user(&self, role: Role) -> (i64, String) {
        let email = format!("{}-{}@example.com", role, uuid::Uuid::new_v4().simple());
        let id = self
            .store
            .create_user(
                &NewUser {
                    email: Email::parse(&email).unwrap(),
                    display_name: DisplayName::parse(&format!("Test {role}")).unwrap(),
                    role,
                    password_hash: self
                        .passwords
                        .hash(&NewPassword::parse(PASSWORD).unwrap())
                        .await,
                    must_change_password: false,
                },
                &Actor::default(),
            )
            .await
            .unwrap();
        (id, email)
    }

    /// Posts a form as the app's own pages do (same Origin).
    pub async fn post_form(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> Response {
        client
            .post(format!("{}{path}", self.address))
            .header("origin", &self.address)
            .header("accept", "text/html")
            .form(form)
            .send()
            .await
            .expect("the form is answered")
    }

    /// Signs in as `email` with a client of its own; returns the session
    /// cookie's value, for requests written by hand.
    pub async fn session_cookie(&self, email: &str, password: &str) -> String {
        let answer = self
            .post_form(
                &browser_client(),
                "/api/login",
                &[("email", email), ("password", password)],
            )
            .await;
        let cookie = answer
            .cookies()
            .find(|c| c.name() == "dispute_desk_session")
            .map(|c| c.value().to_owned());
        cookie.expect("a session cookie")
    }

    /// Signs `client` in; returns the redirect's target.
    pub async fn sign_in_with(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> String {
        let response = self
            .post_form(
                client,
                "/api/login",
                &[("email", email), ("password", password)],
            )
            .await;
        assert!(response.status().is_redirection(), "{}", response.status());
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Creates an account with `role` and signs the app's client in as it.
    pub async fn sign_in_as(&self, role: Role) -> String {
        let (_, email) = self.create_user(role).await;
        let target = self.sign_in_with(&self.client, &email, PASSWORD).await;
        assert_eq!(target, "/disputes");
        email
    }

    /// The socket address the app listens on.
    pub fn socket(&self) -> std::net::SocketAddr {
        self.address.trim_start_matches("http://").parse().unwrap()
    }

    /// Sends `request` byte for byte (no client normalizes its path) and
    /// returns the status and the whole answer.
    pub async fn raw(&self, request: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.socket()).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
        (status, answer)
    }

    /// Where a form's answer sends the browser, and the page found there
    /// (which shows the form's flash message once).
    pub async fn follow(&self, client: &reqwest::Client, answer: Response) -> (String, String) {
        assert!(answer.status().is_redirection(), "{}", answer.status());
        let target = answer.headers()["location"].to_str().unwrap().to_owned();
        let html = self.get_with(client, &target).await.text().await.unwrap();
        (target, html)
    }

    /// Prepares the response of dispute `dispute_ref` of `slug` from its
    /// page's form with `client`; where that led, and the page there.
    pub async fn prepare_response(
        &self,
        client: &reqwest::Client,
        slug: &str,
        dispute_ref: &str,
    ) -> (String, String) {
        let dispute = self.dispute_id(slug, dispute_ref).await;
        let answer = self
            .post_form(client, "/api/responses/prepare", &[("dispute", &dispute)])
            .await;
        self.follow(client, answer).await
    }

    /// Sends the response page `page`'s evidence form with `client`.
    pub async fn upload_evidence(
        &self,
        client: &reqwest::Client,
        page: &str,
        form: reqwest::multipart::Form,
    ) -> Response {
        client
            .post(format!("{}{page}/files", self.address))
            .header("origin", &self.address)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// GET with a given client.
    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> Response {
        client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the request is answered")
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

    /// The address of dispute `dispute_ref` of connection `slug`.
    pub async fn dispute_page(&self, slug: &str, dispute_ref: &str) -> String {
        format!("/disputes/{}", self.dispute_id(slug, dispute_ref).await)
    }

    /// The id of dispute `dispute_ref` of connection `slug`, as its forms
    /// name it.
    pub async fn dispute_id(&self, slug: &str, dispute_ref: &str) -> String {
        let id: i64 = sqlx::query_scalar(
            "select d.id from disputes d join connections c on c.id = d.connection_id
             where c.slug = $1 and d.dispute_ref = $2",
        )
        .bind(slug)
        .bind(dispute_ref)
        .fetch_one(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("dispute {slug}/{dispute_ref}: {e}"));
        id.to_string()
    }

    /// To the application, the database is down.
    pub async fn take_database_down(&self) {
        self.db.take_down().await;
    }

    pub async fn bring_database_back(&self) {
        self.db.bring_back().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A form of `(document, file name, bytes)` rows, as the response page's
/// form sends it (a row left empty sends a nameless empty part).
pub fn evidence_form(rows: &[(&str, &str, Vec<u8>)]) -> reqwest::multipart::Form {
    use reqwest::multipart::{Form, Part};
    let mut form = Form::new();
    for (i, (document, name, bytes)) in rows.iter().enumerate() {
        let n = i + 1;
        form = form
            .text(format!("document_{n}"), document.to_string())
            .part(
                format!("file_{n}"),
                Part::bytes(bytes.clone())
                    .file_name(name.to_string())
                    .mime_str("application/octet-stream")
                    .unwrap(),
            );
    }
    form
}
