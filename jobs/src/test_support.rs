//! Databases for the workspace's tests: a fresh throwaway PostgreSQL database per test when
//! `TEST_DATABASE_URL` names an admin connection, else a SQLite file in the test's directory.
//! Only built with the `test-support` feature, which only dev-dependencies turn on: the
//! end-to-end tests of every crate share one recipe, and the library never ships it.

use sea_orm::ConnectionTrait;
use std::path::Path;

/// Prefix of every throwaway database name (CI drops them by this prefix).
pub const THROWAWAY_PREFIX: &str = "stix_e2e_";

/// A database URL for one test.
pub async fn fresh_database_url(dir: &Path) -> Result<String, sea_orm::DbErr> {
    let admin = match std::env::var("TEST_DATABASE_URL") {
        Ok(a) if !a.is_empty() => a,
        _ => return Ok(format!("sqlite://{}/archive.sqlite", dir.display())),
    };
    let name = format!(
        "{THROWAWAY_PREFIX}{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let conn = sea_orm::Database::connect(admin.as_str()).await?;
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    conn.close().await.ok();
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin.clone(), String::new()),
    };
    let root = base
        .rsplit_once('/')
        .map(|(r, _)| r.to_string())
        .unwrap_or(base);
    Ok(format!("{root}/{name}{query}"))
}

/// A migrated database for one test (from [`fresh_database_url`]), with a pool of four.
pub async fn fresh_database(dir: &Path) -> Result<sea_orm::DatabaseConnection, String> {
    let url = fresh_database_url(dir).await.map_err(|e| e.to_string())?;
    let db = crate::store::connect(&url, 4, std::time::Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    crate::store::migrate(&db)
        .await
        .map_err(|e| e.to_string())?;
    Ok(db)
}

/// A real S3-compatible server for one test: moto's server mode on a loopback port, with
/// one empty bucket, stopped when dropped. Found through `STIX_MOTO_SERVER` (set by
/// `scripts/test.sh`), else the README command's virtualenv `target/pyenv/bin/moto_server`;
/// a test that cannot find it fails and says how to install it.
pub struct MotoS3 {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The bucket created at start.
    pub bucket: String,
}

/// Where moto's server is, or the message saying how to install it.
pub fn moto_server_path() -> Result<std::path::PathBuf, String> {
    if let Ok(p) = std::env::var("STIX_MOTO_SERVER")
        && !p.is_empty()
    {
        let p = std::path::PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "STIX_MOTO_SERVER={} does not exist; run `bash scripts/test.sh` once, or `target/pyenv/bin/pip install 'moto[server]==5.2.5'`",
                p.display()
            ))
        };
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    Err(
        "the S3 tests need moto's server: run `bash scripts/test.sh` once (it installs moto[server] into target/pyenv and sets STIX_MOTO_SERVER), or `python3 -m venv target/pyenv && target/pyenv/bin/pip install 'moto[server]==5.2.5'`, or set STIX_MOTO_SERVER to a moto_server executable"
            .to_string(),
    )
}

/// One HTTP/1.1 request with an empty body to `127.0.0.1:port`; the status code.
fn http_status(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    text.get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text:?}")))
}

impl MotoS3 {
    /// Starts moto on a free loopback port and creates `bucket`. Panics (failing the test)
    /// when moto cannot be found or does not come up.
    pub async fn start(bucket: &str) -> Self {
        let bin = moto_server_path().unwrap_or_else(|m| panic!("{m}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = std::process::Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited at start-up ({status})", bin.display());
            }
            let b = bucket.to_string();
            let made =
                tokio::task::spawn_blocking(move || http_status(port, "PUT", &format!("/{b}")))
                    .await
                    .expect("the bucket request runs");
            match made {
                Ok(200) => break,
                Ok(code) => panic!("moto answered {code} to creating bucket {bucket}"),
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("moto did not come up on port {port} within 60 s: {e}"),
            }
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: bucket.to_string(),
        }
    }

    /// The `jobs::storage` settings for `s3://bucket/prefix` on this server.
    pub fn config(&self, prefix: &str) -> crate::storage::S3Config {
        crate::storage::S3Config {
            url: format!("s3://{}/{prefix}", self.bucket),
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            allow_http: true,
        }
    }

    /// The same as `STIX__STORAGE__…` settings of the service.
    pub fn settings_env(&self, prefix: &str) -> Vec<(String, String)> {
        let c = self.config(prefix);
        vec![
            ("STIX__STORAGE__URL".into(), c.url),
            ("STIX__STORAGE__S3_ENDPOINT".into(), c.endpoint),
            ("STIX__STORAGE__S3_REGION".into(), c.region),
            ("STIX__STORAGE__S3_ACCESS_KEY_ID".into(), c.access_key_id),
            (
                "STIX__STORAGE__S3_SECRET_ACCESS_KEY".into(),
                c.secret_access_key,
            ),
            ("STIX__STORAGE__S3_ALLOW_HTTP".into(), "true".into()),
        ]
    }

    /// An S3 storage on this server with `data_dir` as working copy.
    pub fn storage(&self, data_dir: &Path, prefix: &str) -> crate::storage::Storage {
        crate::storage::Storage::s3(data_dir.to_path_buf(), &self.config(prefix))
            .expect("valid S3 settings")
    }
}

impl Drop for MotoS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub use crate::storage::files_under;
