//! Helpers of the multi-process tests: throwaway PostgreSQL databases, `stix-archive`
//! processes that report when they are ready, Prometheus scrapes and WebSocket frames.

#![allow(dead_code)] // each test binary uses a part

pub mod private_pg;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long any single wait may take.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// A file of the bundled sample.
pub fn sample(rel: &str) -> String {
    format!("{}/../data/stix/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// The M1.2 flare of 2022-11-11 as an operator ingests it: the aspect file of the day, the
/// background file and the flare's pixel-data file.
pub fn m12_files() -> Vec<String> {
    [
        "l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits",
        "l1/solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits",
        "l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits",
    ]
    .into_iter()
    .map(sample)
    .collect()
}

/// The admin connection of the machine's PostgreSQL.
pub fn pg_admin_url() -> String {
    ["STIX_TEST_PG_ADMIN", "TEST_DATABASE_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// `admin` with its database replaced by `name`.
pub fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin.to_string(), String::new()),
    };
    let root = base
        .rsplit_once('/')
        .map(|(r, _)| r.to_string())
        .unwrap_or(base);
    format!("{root}/{name}{query}")
}

/// A pool of a few connections to `url`, opened as the service opens its own
/// (`jobs::store::connect`, which names them).
pub async fn pg_connect(url: &str) -> sea_orm::DatabaseConnection {
    jobs::store::connect(url, 4, Duration::from_secs(5))
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", jobs::store::redact(url)))
}

/// The value of the server setting `name` (`current_setting`) on a connection of `db`.
pub async fn pg_setting(db: &sea_orm::DatabaseConnection, name: &str) -> String {
    use sea_orm::ConnectionTrait;
    db.query_one_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT current_setting($1) AS value",
        [name.into()],
    ))
    .await
    .unwrap()
    .unwrap_or_else(|| panic!("no value for the setting {name}"))
    .try_get::<String>("", "value")
    .unwrap()
}

/// A database created for one test and dropped at its end.
pub struct ThrowawayPg {
    /// Its URL.
    pub url: String,
    admin: String,
    name: String,
}

impl ThrowawayPg {
    /// Creates `stix_e2e_<ulid>` on the machine's PostgreSQL.
    pub async fn create() -> Self {
        Self::create_on(&pg_admin_url()).await
    }

    /// Creates `stix_e2e_<ulid>` on the server of `admin`.
    pub async fn create_on(admin: &str) -> Self {
        use sea_orm::ConnectionTrait;
        let name = format!(
            "{}{}",
            jobs::test_support::THROWAWAY_PREFIX,
            uuid::Uuid::new_v4().simple()
        );
        let conn = sea_orm::Database::connect(admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} must be reachable: {e}"));
        conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        conn.close().await.ok();
        Self {
            url: with_database(admin, &name),
            admin: admin.to_string(),
            name,
        }
    }

    /// Drops the database (and any connection still on it).
    pub async fn drop_database(self) {
        use sea_orm::ConnectionTrait;
        if let Ok(conn) = sea_orm::Database::connect(self.admin.as_str()).await {
            let _ = conn
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
            conn.close().await.ok();
        }
    }
}

/// The settings every process of one test shares (as an operator would export them).
pub fn env(db_url: &str, dir: &Path) -> Vec<(String, String)> {
    let config = dir.join("stix.toml");
    std::fs::write(&config, "[preview]\nalgorithms = [\"bp\", \"clean\"]\n").unwrap();
    vec![
        ("STIX__DATABASE__URL".into(), db_url.into()),
        (
            "STIX__STORAGE__DATA_DIR".into(),
            dir.join("store").display().to_string(),
        ),
        ("STIX__SERVER__BIND".into(), "127.0.0.1:0".into()),
        ("STIX__SERVER__SHUTDOWN_GRACE_SECONDS".into(), "20".into()),
        ("STIX__WORKERS__OPS_BIND".into(), "127.0.0.1:0".into()),
        ("STIX__WORKERS__CONCURRENCY".into(), "1".into()),
        ("STIX__DATABASE__CONNECT_TIMEOUT_SECONDS".into(), "2".into()),
        ("STIX_CONFIG".into(), config.display().to_string()),
        ("RUST_LOG".into(), "warn".into()),
        // `serve` and `worker` refuse to start without a secret of at least 32 bytes; every
        // process of one deployment shares it.
        (
            "STIX__AUTH__JWT_SECRET".into(),
            "scale-out-test-secret-of-at-least-32-bytes".into(),
        ),
    ]
}

fn command(args: &[&str], env: &[(String, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stix-archive"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs a command to its end and requires success.
pub fn run_to_end(args: &[&str], env: &[(String, String)]) {
    let out = command(args, env).output().unwrap();
    assert!(
        out.status.success(),
        "stix-archive {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `stix-archive` process; killed when dropped.
pub struct Proc {
    child: Option<Child>,
    /// The stderr line that said it was ready.
    pub ready_line: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `stix-archive ARGS` and waits for a stderr line containing `ready`.
    pub fn start(name: &str, args: &[&str], env: &[(String, String)], ready: &str) -> Self {
        let mut child = command(args, env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (log2, ready, name) = (log.clone(), ready.to_string(), name.to_string());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                eprintln!("[{name}] {line}");
                if line.contains(&ready) {
                    let _ = tx.send(line.clone());
                }
                log2.lock().unwrap().push(line);
            }
        });
        let ready_line = rx
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("{args:?} did not report '{}' in time", "ready"));
        Self {
            child: Some(child),
            ready_line,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// `http://127.0.0.1:PORT` of a `serve` process (from its "listening on" line).
    pub fn http_base(&self) -> String {
        let url = self
            .ready_line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("a URL in the ready line");
        url.trim_end_matches("/graphql").to_string()
    }

    /// `http://ADDR` of a `worker` process's operations routes.
    pub fn ops_base(&self) -> String {
        self.ready_line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("an operations URL in the ready line")
            .trim_end_matches(')')
            .to_string()
    }

    /// Everything it wrote on stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        rx.recv_timeout(TIMEOUT)
            .expect("the process exits within the grace period")
            .unwrap()
    }

    /// Sends SIGKILL and waits for the exit.
    pub fn kill(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// GET `/metrics`.
pub async fn scrape(base: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .timeout(TIMEOUT)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// The value of the series `name` whose labels are exactly `labels`.
pub fn metric(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    page.lines().find_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let (series, value) = line.rsplit_once(' ')?;
        let (n, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((n, rest)) => {
                let mut l = BTreeMap::new();
                for pair in rest
                    .strip_suffix('}')?
                    .split("\",")
                    .filter(|p| !p.is_empty())
                {
                    let (k, v) = pair.split_once("=\"")?;
                    l.insert(k.to_string(), v.trim_end_matches('"').to_string());
                }
                (n, l)
            }
        };
        (n == name && labels == want).then(|| value.parse().ok())?
    })
}

/// Reads WebSocket text frames until one satisfies `pred` (within the timeout).
pub async fn next_frame<S>(
    ws: &mut S,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    tokio::time::timeout(TIMEOUT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: serde_json::Value = serde_json::from_str(&t).expect("JSON frame");
                    if pred(&v) {
                        return v;
                    }
                    eprintln!("(frame passed over: {v})");
                }
                Some(Ok(_)) => {}
                other => panic!("websocket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the expected frame arrives in time")
}

/// POSTs one GraphQL request to `base` and returns the JSON answer.
async fn post_graphql(base: &str, query: &str, variables: Value) -> Value {
    graphql_as(base, None, query, variables).await
}

/// POSTs one GraphQL request to `base` with the bearer `token` (if any) and returns the JSON
/// answer.
pub async fn graphql_as(base: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .timeout(TIMEOUT)
        .json(&serde_json::json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("a JSON answer")
}

/// A token of a new ordinary user `username` registered on the API at `base`.
pub async fn user_token(base: &str, username: &str) -> String {
    let r = post_graphql(
        base,
        "mutation($i: RegisterInput!) { register(input: $i) { token } }",
        serde_json::json!({ "i": {
            "username": username,
            "email": format!("{username}@example.org"),
            "password": "a-user-password-123",
        } }),
    )
    .await;
    r["data"]["register"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("register: {r}"))
        .to_string()
}

/// Repeats `probe` every 100 ms until it holds, failing after [`TIMEOUT`].
pub async fn until<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let r = tokio::time::timeout(TIMEOUT, async {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            if probe().await {
                return;
            }
        }
    })
    .await;
    assert!(r.is_ok(), "{what} did not happen in time");
}

/// A `graphql-transport-ws` connection to `/ws` of the API at `base`, acknowledged; with
/// `token` it is authenticated as that user.
pub async fn ws_connect(
    base: &str,
    token: Option<&str>,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("{}/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let payload = match token {
        Some(t) => serde_json::json!({ "authorization": format!("Bearer {t}") }),
        None => serde_json::json!({}),
    };
    ws.send(Message::Text(
        serde_json::json!({ "type": "connection_init", "payload": payload })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    next_frame(&mut ws, |v| v["type"] == "connection_ack").await;
    ws
}

/// A token of an operator account on the API at `base`: registers a user through GraphQL,
/// makes it an admin with `stix-archive user set-role` (the operator's command, same
/// settings `env`), then signs in. Only the owner or an admin may follow a job's status,
/// and preview jobs have no owner.
pub async fn admin_token(base: &str, env: &[(String, String)]) -> String {
    let (user, password) = ("ops-admin", "operator-password-123");
    let r = post_graphql(
        base,
        "mutation($i: RegisterInput!) { register(input: $i) { token } }",
        serde_json::json!({ "i": { "username": user, "email": "ops@example.org", "password": password } }),
    )
    .await;
    assert!(r["errors"].is_null(), "register: {r}");
    run_to_end(&["user", "set-role", user, "admin"], env);
    let r = post_graphql(
        base,
        "mutation($i: LoginInput!) { login(input: $i) { token } }",
        serde_json::json!({ "i": { "username": user, "password": password } }),
    )
    .await;
    r["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login: {r}"))
        .to_string()
}
