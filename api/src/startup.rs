//! The real start-up path, used by `main` and by the end-to-end tests alike:
//! `Application::build(settings)` checks the data directory, opens and migrates the database,
//! sets up the queue and binds the listener (port 0 in tests); `run_until_stopped` serves
//! HTTP and runs the in-process worker pool until the shutdown signal, then drains both.

use crate::graphql::{self, AppSchema, Limits};
use crate::routes;
use crate::runner::ServiceRunner;
use crate::settings::Settings;
use crate::state::AppState;
use jobs::events::{EventBus, Hearing};
use jobs::queue::Queue;
use jobs::worker::WorkerState;
use poem::Server;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why the service could not start. Each names the setting to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The data directory cannot be created or written (`STIX__STORAGE__DATA_DIR`).
    #[error("data directory {path} is not writable (STIX__STORAGE__DATA_DIR): {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The database cannot be opened or migrated (`STIX__DATABASE__URL`).
    #[error("{0} (STIX__DATABASE__URL)")]
    Database(#[from] jobs::store::StoreError),
    /// The queue tables cannot be created.
    #[error("{0}")]
    Queue(#[from] jobs::queue::QueueError),
    /// The listener cannot bind (`STIX__SERVER__BIND`).
    #[error("cannot listen on {bind} (STIX__SERVER__BIND): {source}")]
    Bind {
        /// The address.
        bind: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The worker pool stopped with an error.
    #[error("the worker pool failed: {0}")]
    Workers(std::io::Error),
    /// A setting is inconsistent with the others.
    #[error("{0}")]
    Config(String),
    /// The shared object storage is misconfigured or unreachable (`STIX__STORAGE__URL`, …).
    #[error("storage: {0} (STIX__STORAGE__URL and STIX__STORAGE__S3_*)")]
    Storage(jobs::storage::StorageError),
}

/// The file storage of the settings: the data directory alone, or the S3 bucket of
/// `storage.url` with the data directory as working copy. An S3 store is checked once
/// (bucket reachable, credentials accepted) so that a wrong setting stops start-up.
pub async fn open_storage(settings: &Settings) -> Result<jobs::storage::Storage, StartupError> {
    let dir = settings.storage.data_dir.clone();
    let Some(cfg) = settings.storage.s3_config() else {
        return Ok(jobs::storage::Storage::local(dir));
    };
    let storage = jobs::storage::Storage::s3(dir, &cfg).map_err(StartupError::Storage)?;
    storage.check().await.map_err(StartupError::Storage)?;
    tracing::info!(storage = %storage.describe(), "files are shared through object storage");
    Ok(storage)
}

/// Creates `dir` if needed and proves it is writable.
pub fn ensure_writable_dir(dir: &Path) -> Result<(), StartupError> {
    let err = |source| StartupError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(err)?;
    std::fs::remove_file(&probe).map_err(err)?;
    Ok(())
}

/// The opened database, queue and event bus: what both `serve` and one-shot commands need.
pub struct Backend {
    /// Resolver state.
    pub state: AppState,
    /// See `WorkerSettings::stale_after_seconds`.
    pub stale_after: Duration,
    /// See `WorkerSettings::compute_threads`.
    pub compute_threads: usize,
    /// See `WorkerSettings::progress_every_ms`.
    pub progress_every: Duration,
}

impl Backend {
    /// Checks the data directory, connects, migrates and sets up the queue; on PostgreSQL
    /// the process hears the job events of `hearing`.
    pub async fn open(settings: &Settings, hearing: Hearing) -> Result<Self, StartupError> {
        crate::metrics::install();
        ensure_writable_dir(&settings.storage.data_dir)?;
        let storage = open_storage(settings).await?;
        let db = jobs::store::connect(
            &settings.database.url,
            settings.database.max_connections,
            Duration::from_secs(settings.database.connect_timeout_seconds),
        )
        .await?;
        jobs::store::tls::warn_if_tls_on_loopback(&db, &settings.database.url).await;
        // Several processes starting at once on a fresh database race to create the schema;
        // the loser sees a transient error, so try a few times before giving up.
        let batch = settings.workers.concurrency.max(1);
        let mut attempt = 0;
        let queue = loop {
            attempt += 1;
            let ready = match jobs::store::migrate(&db).await {
                Ok(()) => Queue::setup(&db, batch).await.map_err(StartupError::from),
                Err(e) => Err(StartupError::from(e)),
            };
            match ready {
                Ok(q) => break q,
                Err(e) if attempt >= 5 => return Err(e),
                Err(e) => {
                    tracing::warn!("schema set-up failed (attempt {attempt}), retrying: {e}");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
            }
        };
        let events = EventBus::for_database(
            &db,
            &settings.database.url,
            Duration::from_secs(settings.database.connect_timeout_seconds),
            hearing,
        )
        .await;
        use secrecy::ExposeSecret;
        let secret = settings.auth.jwt_secret.expose_secret().as_bytes();
        Ok(Self {
            state: AppState {
                db,
                queue,
                events,
                storage,
                links: crate::downloads::Links::from_settings(
                    &settings.server.public_url,
                    &settings.server.bind,
                    None,
                ),
                auth: crate::state::AuthState {
                    keys: crate::auth::token::TokenKeys::new(
                        secret,
                        settings.auth.token_ttl_seconds,
                    ),
                    limiter: crate::auth::rate_limit::LoginLimiter::new(
                        settings.auth.login_attempts_per_minute,
                    ),
                },
                files: Arc::default(),
                cancels: jobs::cancel::CancelFlags::default(),
                limits: Arc::new(settings.reconstruction_limits()),
                import_roots: settings
                    .storage
                    .inbox
                    .iter()
                    .chain(settings.storage.import_root.iter())
                    .cloned()
                    .collect(),
                preview: settings.preview.clone(),
            },
            stale_after: Duration::from_secs(settings.workers.stale_after_seconds.max(1)),
            compute_threads: settings.workers.compute_threads,
            progress_every: Duration::from_millis(settings.workers.progress_every_ms),
        })
    }
}

impl Backend {
    /// The job runner for this database and data directory.
    pub fn runner(&self) -> ServiceRunner {
        ServiceRunner::new(
            self.state.db.clone(),
            self.state.storage.clone(),
            self.state.files.clone(),
            self.state.cancels.clone(),
        )
    }

    /// The worker-pool state for this backend.
    pub fn worker_state(&self) -> Arc<WorkerState> {
        Arc::new(WorkerState {
            db: self.state.db.clone(),
            queue: self.state.queue.clone(),
            events: self.state.events.clone(),
            runner: Arc::new(self.runner()),
            stale_after: self.stale_after,
            compute_threads: self.compute_threads,
            progress_every: self.progress_every,
        })
    }
}

/// A bound, ready-to-run service.
pub struct Application {
    acceptor: TcpAcceptor,
    bind: String,
    port: u16,
    schema: AppSchema,
    state: AppState,
    concurrency: usize,
    grace: Duration,
    worker_state: Arc<WorkerState>,
    inbox: Option<std::path::PathBuf>,
    preview: jobs::pipeline::PipelineSettings,
    http: routes::HttpOptions,
    /// How often the response cache reads the archive's change counter.
    cache_check: Duration,
}

impl Application {
    /// Opens everything and binds the listener; nothing is served until `run_until_stopped`.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        settings
            .auth
            .checked_secret()
            .map_err(StartupError::Config)?;
        crate::auth::password::warm_up();
        let mut backend = Backend::open(settings, Hearing::AllProcesses).await?;
        let worker_state = backend.worker_state();
        let acceptor = TcpListener::bind(settings.server.bind.clone())
            .into_acceptor()
            .await
            .map_err(|source| StartupError::Bind {
                bind: settings.server.bind.clone(),
                source,
            })?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .unwrap_or(0);
        // Links name the port actually bound (port 0 in the bind address picks one).
        backend.state.links = crate::downloads::Links::from_settings(
            &settings.server.public_url,
            &settings.server.bind,
            Some(port),
        );
        let schema = graphql::build(
            Some(backend.state.clone()),
            Limits {
                max_depth: settings.graphql.max_depth,
                max_complexity: settings.graphql.max_complexity,
            },
        );
        Ok(Self {
            acceptor,
            bind: settings.server.bind.clone(),
            port,
            schema,
            state: backend.state,
            concurrency: settings.workers.concurrency,
            grace: Duration::from_secs(settings.server.shutdown_grace_seconds),
            worker_state,
            inbox: settings.storage.inbox.clone(),
            preview: settings.preview.clone(),
            http: routes::HttpOptions {
                body_limit_bytes: settings.server.body_limit_bytes,
                cors_origins: settings.server.cors_origins.clone(),
                response_cache: crate::response_cache::ResponseCache::new(
                    settings.graphql.response_cache_mb,
                ),
            },
            cache_check: Duration::from_millis(settings.graphql.response_cache_check_ms),
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://HOST:PORT/graphql` of this service, for messages to the operator.
    pub fn graphql_url(&self) -> String {
        let host = self
            .bind
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or("127.0.0.1");
        format!("http://{host}:{}/graphql", self.port)
    }

    /// Resolver state (database, queue, events).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting requests, lets running
    /// requests and jobs finish within the grace period and returns.
    pub async fn run_until_stopped<F>(self, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        if let Some(dir) = self.inbox.clone() {
            tokio::spawn(crate::inbox::watch(
                self.state.clone(),
                self.preview.clone(),
                dir,
                stopped(rx.clone()),
            ));
        }
        tokio::spawn(self.http.response_cache.clone().follow(
            self.state.db.clone(),
            self.state.events.clone(),
            self.cache_check,
            stopped(rx.clone()),
        ));
        let app = routes::build(self.schema.clone(), self.state.clone(), &self.http);
        let http = Server::new_with_acceptor(self.acceptor).run_with_graceful_shutdown(
            app,
            stopped(rx.clone()),
            Some(self.grace),
        );
        if self.concurrency == 0 {
            tracing::info!(port = self.port, "serving (workers disabled)");
            return http.await;
        }
        let worker_state = self.worker_state.clone();
        tracing::info!(port = self.port, workers = self.concurrency, "serving");
        let workers =
            jobs::worker::run_pool(worker_state, self.concurrency, self.grace, stopped(rx));
        let (h, w) = tokio::join!(http, workers);
        w?;
        h
    }
}

/// `stix-archive worker`: the worker pool alone (plus `/healthz`, `/readyz` and `/metrics` on
/// `workers.ops_bind` when set) until `shutdown` resolves; running jobs get the grace period.
/// Reports `worker running` on stderr once it takes jobs.
pub async fn run_worker<F>(settings: &Settings, shutdown: F) -> Result<(), StartupError>
where
    F: Future<Output = ()> + Send + 'static,
{
    // A worker process has no subscriber: it publishes its jobs' events, hears none.
    let backend = Backend::open(settings, Hearing::ThisProcess).await?;
    let state = backend.worker_state();
    let concurrency = settings.workers.concurrency.max(1);
    let grace = Duration::from_secs(settings.server.shutdown_grace_seconds);
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let mut ops_url = String::new();
    let ops = match &settings.workers.ops_bind {
        Some(bind) => {
            let acceptor = TcpListener::bind(bind.clone())
                .into_acceptor()
                .await
                .map_err(|source| StartupError::Bind {
                    bind: bind.clone(),
                    source,
                })?;
            if let Some(a) = acceptor
                .local_addr()
                .first()
                .and_then(|a| a.as_socket_addr().copied())
            {
                ops_url = format!(", operations on http://{a}");
            }
            let app = routes::ops(backend.state.clone());
            Some(tokio::spawn(
                Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                    app,
                    stopped(rx.clone()),
                    Some(grace),
                ),
            ))
        }
        None => None,
    };
    tracing::info!(concurrency, worker = %jobs::worker::identity(), "worker pool running");
    eprintln!(
        "stix-archive worker running as {} (concurrency {concurrency}{ops_url})",
        jobs::worker::identity()
    );
    let pool = jobs::worker::run_pool(state, concurrency, grace, stopped(rx)).await;
    if let Some(h) = ops {
        let _ = h.await;
    }
    pool.map_err(StartupError::Workers)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
