//! The workers' side of the PostgreSQL queue: apalis' own [`Persisted`] driver over a
//! persistence whose fetch and acknowledgement are one statement each.
//!
//! apalis-postgres wraps each fetch (one call of `apalis.get_jobs`) and each acknowledgement
//! (one `UPDATE`) in `BEGIN … COMMIT`: three round trips to the database where one does, since
//! a single statement is a transaction of its own in PostgreSQL, as atomic as before. A job
//! then waited for four round trips more than it needs: little on loopback, but where
//! PostgreSQL is on another machine each crosses the network (with a 0.73 ms round trip one
//! CLEAN worker went from 22.0 to 18.8 ms per job; README, "Running several processes",
//! measurements).
//!
//! The statements are apalis-postgres' public queries ([`apalis_postgres::queries`]), so the
//! tasks, their states and the orphan sweep stay exactly apalis'. Only the worker's
//! registration is written here: the crate's query for it takes a type it does not export.
//! Registration, heartbeats, re-enqueuing and pushes keep their transactions (each holds two
//! statements, or must roll back on a mismatch). Submissions go through
//! [`apalis_postgres::PostgresStorage`] as before ([`crate::queue::Queue`]).

use apalis_codec::json::JsonCodec;
use apalis_core::backend::finalize::Durable;
use apalis_core::backend::persistence::{Persisted, Persistence, TaskEvent, TaskPersistLayer};
use apalis_core::backend::{Backend, BackendConfig, WireFormatBackend};
use apalis_core::worker::context::WorkerContext;
use apalis_postgres::{Config, Error, PgPool, PgTask, PostgresStorage, queries};
use serde_json::Value;
use std::marker::PhantomData;
use std::task::{Context, Poll};
use ulid::Ulid;

/// The storage name a worker registers with, as apalis-postgres' own workers do.
const STORAGE_NAME: &str = "PgStorage";

/// apalis' persistence on PostgreSQL with single-statement fetches and acknowledgements.
#[derive(Debug, Clone)]
struct OneStatement {
    pool: PgPool,
    config: Config,
}

impl Persistence for OneStatement {
    type Compact = Vec<u8>;
    type Response = Value;
    type Error = Error;

    async fn register(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        let queue = self.config.queue.as_ref();
        let mut tx = self.pool.begin().await?;
        queries::reenqueue_orphaned(&mut *tx, queue, self.config.orphaned_duration().as_secs())
            .await?;
        // Worker names are unique (a ULID and a generation): a name already taken is refused,
        // never shared.
        let inserted = sea_orm::sqlx::query(
            "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen, started_at) \
             VALUES ($1, $2, $3, $4, NOW(), NOW()) ON CONFLICT (id) DO NOTHING",
        )
        .bind(worker.name())
        .bind(queue)
        .bind(STORAGE_NAME)
        .bind(worker.get_service())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(Error::WorkerAlreadyExists(worker.name().to_owned()));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn heartbeat(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        let queue = self.config.queue.as_ref();
        let mut tx = self.pool.begin().await?;
        queries::keep_alive(&mut *tx, queue, worker).await?;
        queries::reenqueue_orphaned(&mut *tx, queue, self.config.orphaned_duration().as_secs())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fetch_next(&mut self, worker: &WorkerContext) -> Result<Vec<PgTask>, Error> {
        let mut conn = self.pool.acquire().await?;
        queries::fetch_next(&mut *conn, &self.config, worker).await
    }

    async fn handle_events(
        &mut self,
        events: Vec<TaskEvent<Value>>,
        worker: &WorkerContext,
    ) -> Result<(), Error> {
        let results: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                TaskEvent::Complete(result) => Some(result),
                _ => None,
            })
            .collect();
        let finished: std::collections::HashSet<String> =
            results.iter().map(|r| r.task_id().to_string()).collect();
        // A task that finished in the same batch needs no lock of its own.
        let locks: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                TaskEvent::Lock { task_id } => Some(task_id.to_string()),
                _ => None,
            })
            .filter(|id| !finished.contains(id))
            .collect();
        if results.is_empty() && locks.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        if !results.is_empty() {
            queries::handle_results(&mut *conn, &results, worker.name()).await?;
        }
        if !locks.is_empty() {
            queries::lock_tasks(&mut *conn, &locks, worker.name()).await?;
        }
        Ok(())
    }

    async fn reenqueue_abandoned(
        &mut self,
        tasks: Vec<PgTask>,
        worker: &WorkerContext,
    ) -> Result<u64, Error> {
        let ids: Vec<String> = tasks
            .iter()
            .filter_map(|t| t.task_id().map(|id| id.to_string()))
            .collect();
        let mut tx = self.pool.begin().await?;
        let count =
            queries::reenqueue_abandoned(&mut *tx, self.config.queue.as_ref(), worker.name(), &ids)
                .await?;
        if count as usize != tasks.len() {
            // Dropping the transaction rolls it back.
            return Err(Error::ReenqueueMismatch {
                queued: tasks.len(),
                abandoned: count as usize,
            });
        }
        tx.commit().await?;
        Ok(count)
    }

    async fn push_tasks(&mut self, tasks: Vec<PgTask>) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        queries::push_tasks(&mut *tx, self.config.queue.as_ref(), tasks).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The backend a worker process takes tasks from on PostgreSQL: the same queue, tasks and
/// configuration as the [`PostgresStorage`] it is made from, with one round trip per fetch
/// and per acknowledgement.
pub struct PgWorkerQueue<Args> {
    persistence: Persisted<OneStatement>,
    codec: JsonCodec,
    _args: PhantomData<fn() -> Args>,
}

impl<Args> PgWorkerQueue<Args> {
    /// The workers' side of `storage`'s queue (its pool and configuration).
    pub fn new(storage: &PostgresStorage<Args>) -> Self {
        Self {
            persistence: Persisted::new(OneStatement {
                pool: storage.pool().clone(),
                config: storage.config().clone(),
            }),
            codec: JsonCodec::default(),
            _args: PhantomData,
        }
    }
}

impl<Args> Clone for PgWorkerQueue<Args> {
    fn clone(&self) -> Self {
        Self {
            persistence: self.persistence.clone(),
            codec: self.codec.clone(),
            _args: PhantomData,
        }
    }
}

impl<Args> Backend for PgWorkerQueue<Args> {
    type Task = PgTask;
    type Error = Error;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Error>> {
        let every = self.persistence.config.heartbeat_interval;
        self.persistence.poll_ready(cx, worker, every)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<PgTask, Error>>> {
        self.persistence.poll_next(cx, worker)
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Error>> {
        self.persistence.poll_close(cx, worker)
    }
}

impl<Args> BackendConfig for PgWorkerQueue<Args> {
    type Args = Args;
    type Kind = Durable;
    type Id = Ulid;
    type Config = Config;
    type Layer = TaskPersistLayer<JsonCodec<Value>, Value>;

    fn config(&self) -> &Config {
        &self.persistence.config
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Self::Layer {
        let config = self.persistence.config.clone();
        self.persistence
            .layer(JsonCodec::<Value>::default(), config.batch_size)
            .persist_results(config.persist_results)
            .lock_tasks(config.lock_tasks)
    }
}

impl<Args> WireFormatBackend for PgWorkerQueue<Args> {
    type Codec = JsonCodec;
    type Compact = Vec<u8>;

    fn codec(&self) -> &JsonCodec {
        &self.codec
    }
}
