//! The apalis queue on the service's own database: `SqliteStorage` on the embedded default,
//! `PostgresStorage` (with LISTEN/NOTIFY wake-ups) when several processes share PostgreSQL,
//! whose workers take their tasks through [`crate::pg_worker_queue`].
//! Apalis is only the queue; the `reconstruction_jobs` table is the source of truth.

use apalis::prelude::{TaskBuilder, TaskId, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The queue name in apalis' tables (fixed, so renaming Rust types never orphans tasks).
pub const QUEUE_NAME: &str = "stix-archive";

/// Wakes the workers of this process when a task is pushed here, so that a job submitted
/// in the same process starts without waiting for the next poll tick.
pub(crate) static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();
/// Bumped on every push (a wake-up that arrives while a worker is busy is not lost).
pub(crate) static PUSHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Attempts per task before it is left failed (transient faults retry with backoff).
pub const MAX_ATTEMPTS: usize = 4;

/// A queued task: which `reconstruction_jobs` row to work on. Versioned with `v`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueTask {
    /// Payload version.
    pub v: u32,
    /// Row id in `reconstruction_jobs`.
    pub job_id: i64,
}

impl QueueTask {
    /// The current payload version.
    pub const VERSION: u32 = 1;

    /// A task for a job row.
    pub fn for_job(job_id: i64) -> Self {
        Self {
            v: Self::VERSION,
            job_id,
        }
    }
}

/// Why a task could not be queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// apalis' own tables could not be created.
    #[error("cannot set up the job queue: {0}")]
    Setup(String),
    /// Pushing failed.
    #[error("cannot queue the task: {0}")]
    Push(String),
    /// apalis' tables cannot be read (readiness check).
    #[error("the job queue is unreachable: {0}")]
    Unreachable(String),
}

/// Why [`Queue::commit_with_task`] did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskCommitError {
    /// The task could not be written in the transaction: nothing was committed.
    #[error(transparent)]
    NotCommitted(QueueError),
    /// The commit failed: nothing was committed.
    #[error("cannot commit the queued job: {0}")]
    Db(sea_orm::DbErr),
    /// SQLite: the rows were committed, but the task pushed after them was not.
    #[error("the job was committed but not queued: {0}")]
    TaskAfterCommit(QueueError),
}

/// The queue over whichever database the service uses.
#[derive(Clone)]
pub enum Queue {
    /// Embedded SQLite.
    Sqlite(SqliteStorage<QueueTask>),
    /// Shared PostgreSQL.
    Postgres(PostgresStorage<QueueTask>),
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queue::Sqlite(_) => f.write_str("Queue::Sqlite"),
            Queue::Postgres(_) => f.write_str("Queue::Postgres"),
        }
    }
}

impl Queue {
    /// Creates apalis' tables on the same pool sea-orm uses and returns the queue.
    pub async fn setup(db: &DatabaseConnection, batch_size: usize) -> Result<Self, QueueError> {
        match crate::store::engine(db) {
            crate::store::Engine::Sqlite => {
                let pool = db.get_sqlite_connection_pool();
                SqliteStorage::setup(pool)
                    .await
                    .map_err(|e| QueueError::Setup(e.to_string()))?;
                let cfg = apalis_sqlite::Config::default()
                    .queue(QUEUE_NAME)
                    .batch_size(batch_size)
                    .heartbeat_interval(Duration::from_secs(5));
                Ok(Queue::Sqlite(SqliteStorage::new(pool).with_config(cfg)))
            }
            crate::store::Engine::Postgres => {
                let pool = db.get_postgres_connection_pool();
                PostgresStorage::setup(pool)
                    .await
                    .map_err(|e| QueueError::Setup(e.to_string()))?;
                // No lock step: `get_jobs` already marks a fetched task as this worker's
                // (`lock_by`), which is all the acknowledgement and the orphan sweep need, and
                // the job row records the run; a separate transaction per task to mark it
                // `Running` was one more commit on every job's path.
                let cfg = apalis_postgres::Config::default()
                    .queue(QUEUE_NAME)
                    .batch_size(batch_size)
                    .heartbeat_interval(Duration::from_secs(5))
                    .lock_tasks(false);
                Ok(Queue::Postgres(PostgresStorage::new(pool).with_config(cfg)))
            }
        }
    }

    /// Proves that apalis' task table can be read on `db` (the readiness check of `/readyz`).
    pub async fn ping(&self, db: &DatabaseConnection) -> Result<(), QueueError> {
        use sea_orm::ConnectionTrait;
        let sql = match self {
            Queue::Sqlite(_) => "SELECT 1 FROM Jobs LIMIT 1",
            Queue::Postgres(_) => "SELECT 1 FROM apalis.jobs LIMIT 1",
        };
        db.execute_unprepared(sql)
            .await
            .map(|_| ())
            .map_err(|e| QueueError::Unreachable(e.to_string()))
    }

    /// Queues a task inside `txn` (to run at once, or after `delay`: a retry's backoff), so
    /// that it exists exactly when the
    /// transaction's other rows do (PostgreSQL): a submission whose commit fails leaves no
    /// task, and one that commits cannot lose its task to a fault between the two. Returns
    /// the task id, or `None` on SQLite, whose queue is pushed after the commit with
    /// [`push`](Self::push) (one process: nothing can run between the two there but a crash).
    ///
    /// The row is the one apalis' own push writes (`apalis.jobs`, its payload in the codec of
    /// the storage, JSON), written here because apalis pushes only on its own connections.
    pub async fn push_within(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        task: QueueTask,
        delay: Option<Duration>,
    ) -> Result<Option<String>, QueueError> {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let Queue::Postgres(storage) = self else {
            return Ok(None);
        };
        let id = TaskId::from_ulid(ulid::Ulid::generate()).to_string();
        let payload = serde_json::to_vec(&task).map_err(|e| QueueError::Push(e.to_string()))?;
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority) \
             VALUES ($1, $2, $3, 'Pending', 0, $4, now() + make_interval(secs => $5), 0)",
            [
                id.clone().into(),
                storage.config().queue.to_string().into(),
                payload.into(),
                (MAX_ATTEMPTS as i32).into(),
                delay.unwrap_or_default().as_secs_f64().into(),
            ],
        ))
        .await
        .map_err(|e| QueueError::Push(e.to_string()))?;
        Ok(Some(id))
    }

    /// Commits `txn` with `task` queued (to run at once, or after `delay`): inside the
    /// transaction on PostgreSQL ([`push_within`](Self::push_within)), right after the commit
    /// on SQLite. The one way rows that queue a job (a submission, a retry, a requeue) are
    /// committed.
    pub async fn commit_with_task(
        &self,
        txn: sea_orm::DatabaseTransaction,
        task: QueueTask,
        delay: Option<Duration>,
    ) -> Result<(), TaskCommitError> {
        let pushed = self
            .push_within(&txn, task.clone(), delay)
            .await
            .map_err(TaskCommitError::NotCommitted)?;
        txn.commit().await.map_err(TaskCommitError::Db)?;
        if pushed.is_none() {
            self.push(task, delay)
                .await
                .map_err(TaskCommitError::TaskAfterCommit)?;
        }
        Ok(())
    }

    /// Queues a task, optionally to run only after `delay` (retry backoff); returns its id.
    pub async fn push(
        &self,
        task: QueueTask,
        delay: Option<Duration>,
    ) -> Result<String, QueueError> {
        let id = TaskId::from_ulid(ulid::Ulid::generate());
        let mut builder = TaskBuilder::new(task)
            .task_id(id.clone())
            .max_attempts(MAX_ATTEMPTS);
        if let Some(d) = delay {
            // apalis stores whole seconds and truncates `now + delay`; round up instead so
            // that a retry never runs sooner than its backoff.
            let at = std::time::SystemTime::now() + d;
            let since = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let secs = since.as_secs() + u64::from(since.subsec_nanos() > 0);
            builder = builder.run_at_timestamp(secs);
        }
        let built = builder.build();
        match self {
            Queue::Sqlite(s) => s
                .clone()
                .push_task(built)
                .await
                .map_err(|e| QueueError::Push(e.to_string()))?,
            Queue::Postgres(p) => p
                .clone()
                .push_task(built)
                .await
                .map_err(|e| QueueError::Push(e.to_string()))?,
        }
        if delay.is_none() {
            PUSHES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            WAKE.notify_waiters();
        }
        Ok(id.to_string())
    }
}
