//! Service settings, loaded once in `main`: defaults in code, then an optional TOML file,
//! then `STIX__SECTION__KEY` environment overrides. Unknown keys are refused.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A file or variable could not be read or has a wrong or unknown key.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on (`STIX__SERVER__BIND`), default `127.0.0.1:8000`; port 0 picks one.
    pub bind: String,
    /// Seconds running requests and jobs get to finish at shutdown.
    pub shutdown_grace_seconds: u64,
    /// Largest accepted request body in bytes (`STIX__SERVER__BODY_LIMIT_BYTES`); a larger
    /// one is answered with HTTP 413 before it is parsed.
    pub body_limit_bytes: usize,
    /// Origins allowed to call the API from a browser (`STIX__SERVER__CORS_ORIGINS`): a
    /// comma-separated list of origins or `*`; unset or empty: no CORS headers (`demo`
    /// defaults to `*`).
    #[serde(default)]
    pub cors_origins: Option<String>,
    /// Absolute base of the download and script links (`STIX__SERVER__PUBLIC_URL`, e.g.
    /// `https://stix.example.org`); empty: `http://` + the bound address (`0.0.0.0`/`[::]`
    /// become `127.0.0.1`/`[::1]`, port 0 the port actually bound).
    #[serde(default)]
    pub public_url: String,
}

/// `[database]`: where the archive lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…` (default, a file under `./data/`) or `postgres://…` (`STIX__DATABASE__URL`).
    pub url: String,
    /// Connection pool size.
    pub max_connections: u32,
    /// Seconds to wait for the database at start-up and for a pooled connection.
    pub connect_timeout_seconds: u64,
}

/// `[storage]`: files on disk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Directory for ingested files and FITS/PNG products (`STIX__STORAGE__DATA_DIR`).
    pub data_dir: PathBuf,
    /// Directory the server watches for new files (`serve --inbox`), if any.
    pub inbox: Option<PathBuf>,
    /// Directory under which an admin's `ingest(paths)` may read files
    /// (`STIX__STORAGE__IMPORT_ROOT`), besides the inbox.
    #[serde(default)]
    pub import_root: Option<PathBuf>,
    /// Shared object storage (`STIX__STORAGE__URL`): empty (default) keeps every file in
    /// `data_dir` only; `s3://bucket/prefix` makes that bucket the files' shared truth and
    /// `data_dir` this process's working copy (see `jobs::storage`).
    pub url: String,
    /// Endpoint of an S3-compatible server (`STIX__STORAGE__S3_ENDPOINT`, e.g.
    /// `http://minio:9000`); empty: AWS, or `AWS_ENDPOINT`.
    pub s3_endpoint: String,
    /// Region (`STIX__STORAGE__S3_REGION`); empty: `AWS_REGION`, else `us-east-1`.
    pub s3_region: String,
    /// Access key id (`STIX__STORAGE__S3_ACCESS_KEY_ID`); empty: `AWS_ACCESS_KEY_ID`.
    pub s3_access_key_id: String,
    /// Secret access key (`STIX__STORAGE__S3_SECRET_ACCESS_KEY`); empty:
    /// `AWS_SECRET_ACCESS_KEY`.
    pub s3_secret_access_key: SecretString,
    /// Allow a plain `http://` endpoint (`STIX__STORAGE__S3_ALLOW_HTTP`).
    pub s3_allow_http: bool,
}

impl StorageSettings {
    /// The S3 settings of `jobs::storage`, when `url` is set.
    pub fn s3_config(&self) -> Option<jobs::storage::S3Config> {
        use secrecy::ExposeSecret;
        (!self.url.trim().is_empty()).then(|| jobs::storage::S3Config {
            url: self.url.trim().to_string(),
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.expose_secret().to_string(),
            allow_http: self.s3_allow_http,
        })
    }
}

/// `[auth]`: tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC secret for JWTs (`STIX__AUTH__JWT_SECRET`), read now and used by the user API
    /// (registration, login) that builds on this service; every process sharing a PostgreSQL
    /// database must use the same value so that all of them accept the same tokens.
    pub jwt_secret: SecretString,
    /// Token lifetime in seconds.
    pub token_ttl_seconds: u64,
    /// Login attempts allowed per minute, per account and per client address
    /// (`STIX__AUTH__LOGIN_ATTEMPTS_PER_MINUTE`); beyond: `RATE_LIMITED`.
    pub login_attempts_per_minute: usize,
}

/// Shortest accepted `auth.jwt_secret`, bytes.
pub const MIN_JWT_SECRET_BYTES: usize = crate::auth::token::MIN_SECRET_BYTES;

impl AuthSettings {
    /// The secret, if it is long enough to serve with; else the one message that says how
    /// to set it.
    pub fn checked_secret(&self) -> Result<&[u8], String> {
        use secrecy::ExposeSecret;
        let s = self.jwt_secret.expose_secret().as_bytes();
        if s.len() >= MIN_JWT_SECRET_BYTES {
            Ok(s)
        } else {
            Err(format!(
                "STIX__AUTH__JWT_SECRET must be set to a random secret of at least {MIN_JWT_SECRET_BYTES} bytes (it has {}); for example: export STIX__AUTH__JWT_SECRET=$(openssl rand -base64 48)",
                s.len()
            ))
        }
    }
}

/// `[workers]`: the in-process job workers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Job slots run at once (`STIX__WORKERS__CONCURRENCY`); 0 disables workers in `serve`.
    pub concurrency: usize,
    /// A running job whose row has not changed for this many seconds is presumed orphaned
    /// (its worker died) and requeued.
    pub stale_after_seconds: u64,
    /// Threads a process's jobs compute on (`STIX__WORKERS__COMPUTE_THREADS`): the parallel
    /// parts of MEM and FWDFIT and the algorithms of one box. 0 (the default): one per job
    /// slot, so a process uses `concurrency` cores and processes can be sized against a
    /// machine's cores.
    #[serde(default)]
    pub compute_threads: usize,
    /// Where `stix-archive worker` serves `/healthz`, `/readyz` and `/metrics`
    /// (`STIX__WORKERS__OPS_BIND`, e.g. `0.0.0.0:9100`); none by default.
    #[serde(default)]
    pub ops_bind: Option<String>,
    /// Shortest time, in milliseconds, between two recorded progress steps of a running job
    /// (`STIX__WORKERS__PROGRESS_EVERY_MS`, default 250): each recorded step is one database
    /// write and one event to every subscriber, and a step reported sooner is held and
    /// recorded when the time is up (or carried by the job's final status). 0 records every
    /// step.
    pub progress_every_ms: u64,
    /// Queued or running reconstruction jobs one user may have
    /// (`STIX__WORKERS__MAX_ACTIVE_JOBS_PER_USER`); beyond: `QUOTA_EXCEEDED`.
    pub max_active_jobs_per_user: u64,
}

/// `[reconstruction]`: limits on users' reconstructions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconstructionSettings {
    /// Largest image side a user may ask for, pixels.
    pub max_image_size_px: usize,
    /// Smallest pixel size, arcsec.
    pub min_pixel_arcsec: f64,
    /// Largest pixel size, arcsec.
    pub max_pixel_arcsec: f64,
}

/// `[graphql]`: query limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphqlSettings {
    /// Maximum query depth.
    pub max_depth: usize,
    /// Maximum query complexity.
    pub max_complexity: usize,
    /// Megabytes of anonymous query answers kept between archive changes
    /// (`STIX__GRAPHQL__RESPONSE_CACHE_MB`; 0: no cache). See `response_cache`.
    pub response_cache_mb: u64,
    /// How often, in milliseconds, the archive's change counter is read, i.e. how long a
    /// change made by another process (a separate `ingest`, a remote worker) may take to
    /// reach the cached answers (`STIX__GRAPHQL__RESPONSE_CACHE_CHECK_MS`).
    pub response_cache_check_ms: u64,
}

/// `[log]`: structured logs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: String,
    /// `tracing` filter, e.g. `info,stix=debug` (`RUST_LOG` wins when set).
    pub filter: String,
}

/// All settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener.
    pub server: ServerSettings,
    /// Database.
    pub database: DatabaseSettings,
    /// Files.
    pub storage: StorageSettings,
    /// Tokens.
    pub auth: AuthSettings,
    /// Workers.
    pub workers: WorkerSettings,
    /// Users' reconstructions.
    pub reconstruction: ReconstructionSettings,
    /// GraphQL limits.
    pub graphql: GraphqlSettings,
    /// Logs.
    pub log: LogSettings,
    /// The automatic preview pipeline (`[preview]`: `policy.min_counts`, `policy.bands_kev`,
    /// `policy.window_seconds`, `policy.cadence_seconds`, `background_max_days`,
    /// `image_size_px`, `pixel_arcsec`, `algorithms`, `detection.*`).
    #[serde(default)]
    pub preview: jobs::pipeline::PipelineSettings,
}

/// The defaults, as TOML: the single place where they are written down.
pub const DEFAULTS_TOML: &str = r#"
[server]
bind = "127.0.0.1:8000"
shutdown_grace_seconds = 30
body_limit_bytes = 262144
public_url = ""

[database]
url = "sqlite://./data/stix-archive.sqlite"
max_connections = 8
connect_timeout_seconds = 5

[storage]
data_dir = "./data/store"
url = ""
s3_endpoint = ""
s3_region = ""
s3_access_key_id = ""
s3_secret_access_key = ""
s3_allow_http = false

[auth]
jwt_secret = ""
token_ttl_seconds = 86400
login_attempts_per_minute = 10

[workers]
concurrency = 2
stale_after_seconds = 300
compute_threads = 0
progress_every_ms = 250
max_active_jobs_per_user = 10

[reconstruction]
max_image_size_px = 513
min_pixel_arcsec = 0.25
max_pixel_arcsec = 20.0

[graphql]
max_depth = 15
max_complexity = 5000
response_cache_mb = 64
response_cache_check_ms = 100

[log]
format = "pretty"
filter = "info"
"#;

impl Settings {
    /// Loads defaults, then `file` (if given), then `STIX__…` variables from `env`.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULTS_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(SettingsError::Invalid(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let vars: std::collections::HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("STIX__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("STIX")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(vars.into_iter().collect())),
        );
        let cfg = builder
            .build()
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let settings = cfg
            .try_deserialize::<Settings>()
            .map_err(|e| SettingsError::Invalid(explain_unknown(e.to_string())))?;
        settings
            .preview
            .check()
            .map_err(|e| SettingsError::Invalid(format!("[preview]: {e}")))?;
        Ok(settings)
    }

    /// The limits and defaults of users' reconstructions.
    pub fn reconstruction_limits(&self) -> jobs::reconstruction::ReconstructionLimits {
        jobs::reconstruction::ReconstructionLimits {
            default_size_px: self.preview.image_size_px,
            default_pixel_arcsec: self.preview.pixel_arcsec,
            max_size_px: self.reconstruction.max_image_size_px,
            pixel_arcsec_range: (
                self.reconstruction.min_pixel_arcsec,
                self.reconstruction.max_pixel_arcsec,
            ),
            background_max_days: self.preview.background_max_days,
            max_active_jobs_per_user: self.workers.max_active_jobs_per_user,
        }
    }

    /// Loads from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_from(file, std::env::vars())
    }
}

/// Adds the environment-variable spelling to serde's "unknown field" message.
fn explain_unknown(message: String) -> String {
    if message.contains("unknown field") {
        format!(
            "{message} (settings are [section] key in the file or STIX__SECTION__KEY in the environment; see README)"
        )
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_environment() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8000");
        assert_eq!(s.server.public_url, "");
        assert!(s.database.url.starts_with("sqlite://./data/"));
        assert_eq!(
            s.workers.compute_threads, 0,
            "one compute thread per job slot"
        );
        let s = Settings::load_from(
            None,
            env(&[
                ("STIX__SERVER__BIND", "0.0.0.0:9000"),
                (
                    "STIX__SERVER__PUBLIC_URL",
                    "https://stix.example.org/archive/",
                ),
                ("STIX__WORKERS__CONCURRENCY", "5"),
                ("STIX__WORKERS__COMPUTE_THREADS", "3"),
                ("STIX__AUTH__JWT_SECRET", "s3cret"),
                ("STIX__STORAGE__DATA_DIR", "/tmp/x"),
                ("STIX__DATABASE__URL", "postgres://u@h/db"),
                ("OTHER", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9000");
        assert_eq!(s.server.public_url, "https://stix.example.org/archive/");
        assert_eq!(s.workers.concurrency, 5);
        assert_eq!(s.workers.compute_threads, 3);
        assert_eq!(s.auth.jwt_secret.expose_secret(), "s3cret");
        assert_eq!(s.storage.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.database.url, "postgres://u@h/db");
        let s = Settings::load_from(None, env(&[("STIX__PREVIEW__POLICY__MIN_COUNTS", "5000")]))
            .unwrap();
        assert_eq!(s.preview.policy.min_counts, 5000.0);
        assert!(
            Settings::load_from(None, env(&[("STIX__PREVIEW__POLICY__MIN_COUNTS", "-1")])).is_err()
        );
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.server.body_limit_bytes, 256 * 1024);
        assert_eq!(s.server.cors_origins, None);
        let s = Settings::load_from(
            None,
            env(&[(
                "STIX__SERVER__CORS_ORIGINS",
                "https://a.example,https://b.example",
            )]),
        )
        .unwrap();
        assert_eq!(
            s.server.cors_origins.as_deref(),
            Some("https://a.example,https://b.example")
        );
    }

    #[test]
    fn unknown_or_malformed_settings_are_refused() {
        let e = Settings::load_from(None, env(&[("STIX__SERVER__BINDD", "x")])).unwrap_err();
        assert!(e.to_string().contains("bindd"), "{e}");
        let e =
            Settings::load_from(None, env(&[("STIX__WORKERS__CONCURRENCY", "many")])).unwrap_err();
        assert!(e.to_string().contains("concurrency"), "{e}");
        let e = Settings::load_from(Some(Path::new("/nonexistent.toml")), env(&[])).unwrap_err();
        assert!(e.to_string().contains("does not exist"));
    }

    #[test]
    fn storage_settings() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert!(s.storage.s3_config().is_none());
        let s = Settings::load_from(
            None,
            env(&[
                ("STIX__STORAGE__URL", "s3://archive/stix"),
                ("STIX__STORAGE__S3_ENDPOINT", "http://127.0.0.1:9000"),
                ("STIX__STORAGE__S3_REGION", "eu-central-1"),
                ("STIX__STORAGE__S3_ACCESS_KEY_ID", "key"),
                ("STIX__STORAGE__S3_SECRET_ACCESS_KEY", "secret"),
                ("STIX__STORAGE__S3_ALLOW_HTTP", "true"),
            ]),
        )
        .unwrap();
        let c = s.storage.s3_config().unwrap();
        assert_eq!(c.url, "s3://archive/stix");
        assert_eq!(c.endpoint, "http://127.0.0.1:9000");
        assert_eq!(c.region, "eu-central-1");
        assert_eq!(c.access_key_id, "key");
        assert_eq!(c.secret_access_key, "secret");
        assert!(c.allow_http);
        let e = Settings::load_from(None, env(&[("STIX__STORAGE__S3_BUCKET", "x")])).unwrap_err();
        assert!(e.to_string().contains("s3_bucket"), "{e}");
    }

    #[test]
    fn file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("stix.toml");
        std::fs::write(&f, "[workers]\nconcurrency = 7\n").unwrap();
        let s = Settings::load_from(Some(&f), env(&[])).unwrap();
        assert_eq!(s.workers.concurrency, 7);
        std::fs::write(&f, "[workers]\nconcurency = 7\n").unwrap();
        assert!(Settings::load_from(Some(&f), env(&[])).is_err());
    }

    #[test]
    fn preview_policy_and_elut_settings() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(
            s.preview.selection_policy,
            jobs::pipeline::SelectionPolicy::PreviewV2
        );
        assert!(s.preview.elut_correction);
        let s = Settings::load_from(
            None,
            env(&[
                ("STIX__PREVIEW__SELECTION_POLICY", "preview-v1"),
                ("STIX__PREVIEW__ELUT_CORRECTION", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.preview.selection_policy,
            jobs::pipeline::SelectionPolicy::PreviewV1
        );
        assert!(!s.preview.elut_correction);
        let e = Settings::load_from(None, env(&[("STIX__PREVIEW__SELECTION_POLICY", "v3")]))
            .unwrap_err();
        assert!(e.to_string().contains("selection_policy"), "{e}");
    }
}
