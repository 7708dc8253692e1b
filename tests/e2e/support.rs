//! `spawn_app()`: one isolated service per test.

use api::settings::Settings;
use api::startup::Application;
use api::state::AppState;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;

/// The JWT secret of test services (at least 32 bytes, as `serve` requires).
pub const E2E_SECRET: &str = "e2e-test-secret-of-at-least-32-bytes";

/// How long any single wait in a test may take before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A running service and its private database and data directory.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `ws://127.0.0.1:PORT/ws`.
    pub ws_url: String,
    /// Database, queue and event bus of the running service.
    pub state: AppState,
    /// The data directory.
    #[allow(dead_code)] // read by the pipeline tests
    pub data_dir: PathBuf,
    /// The database URL (a second service of the same archive connects to it).
    #[allow(dead_code)] // read by the storage tests
    pub db_url: String,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// A database URL for one test (see `jobs::test_support`).
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    jobs::test_support::fresh_database_url(dir)
        .await
        .expect("TEST_DATABASE_URL must be reachable")
}

/// Settings for a test service: port 0, private database and data directory, plus `extra`.
pub fn test_settings(db_url: &str, data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        ("STIX__SERVER__BIND".into(), "127.0.0.1:0".into()),
        ("STIX__SERVER__SHUTDOWN_GRACE_SECONDS".into(), "10".into()),
        ("STIX__DATABASE__URL".into(), db_url.into()),
        (
            "STIX__STORAGE__DATA_DIR".into(),
            data_dir.display().to_string(),
        ),
        ("STIX__AUTH__JWT_SECRET".into(), E2E_SECRET.into()),
        ("STIX__WORKERS__CONCURRENCY".into(), "2".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::load_from(None, env).expect("test settings are valid")
}

/// Starts a service with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts a service with extra `STIX__…` settings.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = fresh_database_url(dir.path()).await;
    spawn_app_on(dir, &db_url, extra).await
}

/// Starts a service on an existing database (`db_url`, e.g. another test service's: a second
/// process of the same archive), with its own empty data directory under `dir`.
pub async fn spawn_app_on(dir: tempfile::TempDir, db_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let db_url = db_url.to_string();
    let data_dir = dir.path().join("store");
    let settings = test_settings(&db_url, &data_dir, extra);
    let app = Application::build(&settings)
        .await
        .expect("the service starts");
    let port = app.port();
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        ws_url: format!("ws://127.0.0.1:{port}/ws"),
        state,
        data_dir,
        db_url,
        stop: Some(tx),
        handle: Some(handle),
        _dir: dir,
    }
}

impl TestApp {
    /// POSTs a GraphQL request and returns the whole JSON response.
    pub async fn graphql(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .json(&serde_json::json!({ "query": query, "variables": variables }))
            .timeout(TIMEOUT)
            .send()
            .await
            .expect("POST /graphql")
            .json()
            .await
            .expect("a JSON response")
    }

    /// Stops the service gracefully and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(TIMEOUT, h)
                .await
                .expect("the service stops within the timeout")
                .expect("the service task does not panic")
                .expect("the service stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The Python interpreter with sunpy, stixpy, xrayvision and matplotlib: `STIX_PYTHON` (set by
/// `scripts/test.sh`), else the README command's virtualenv under `target/pyenv`, else
/// `python3`.
pub fn python() -> String {
    std::env::var("STIX_PYTHON").unwrap_or_else(|_| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pyenv/bin/python");
        if std::path::Path::new(venv).exists() {
            venv.to_string()
        } else {
            "python3".to_string()
        }
    })
}

/// Opens `path` with plain `sunpy.map.Map(path)`, asserts it is exactly one map, and returns
/// its header's `QUALITY` and `QUAL_WHY` (empty strings when absent).
pub fn sunpy_quality(path: &std::path::Path) -> (String, String) {
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(
            "import sys, json, sunpy.map\nm = sunpy.map.Map(sys.argv[1])\nassert not isinstance(m, list), 'several maps'\nprint(json.dumps([str(m.meta.get('quality', '')), str(m.meta.get('qual_why', ''))]))",
        )
        .arg(path)
        .output()
        .expect("python runs (set STIX_PYTHON)");
    assert!(
        out.status.success(),
        "sunpy cannot open {} as one map: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<String> = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap_or_default(),
    )
    .expect("a JSON line");
    (v[0].clone(), v[1].clone())
}
