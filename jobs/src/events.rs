//! The job-event bus: every status and progress change of a job is published here and read
//! by GraphQL subscriptions. Two implementations behind one API (`publish`, `subscribe`):
//! in-process fan-out over a `tokio::sync::broadcast` channel (SQLite: one process), and the
//! same plus PostgreSQL `LISTEN/NOTIFY` between processes ([`postgres`]), so that a
//! subscriber on any API process sees the changes made by any worker process.

pub mod postgres;

use crate::kinds::JobStatus;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// One change of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// Public id of the job.
    pub job_id: Uuid,
    /// Status after the change.
    pub status: JobStatus,
    /// Stage, e.g. `planning`, `imaging`.
    pub stage: Option<String>,
    /// Units of work done.
    pub done: i32,
    /// Units of work planned.
    pub total: i32,
    /// Error or informational message.
    pub message: Option<String>,
}

/// Whose job events a process hears on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hearing {
    /// Its own and every other process's: a process with subscribers (the API, `ingest
    /// --wait`) keeps a listening connection.
    AllProcesses,
    /// Its own only: a process that only publishes (a worker process has no subscriber) opens
    /// no listening connection, so the database does not deliver it every other process's
    /// notifications for nothing.
    ThisProcess,
}

/// Publishes job events to every subscriber in this process, and on PostgreSQL to those of
/// every other process sharing the database.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<JobEvent>,
    changes: Arc<watch::Sender<u64>>,
    remote: Option<Arc<postgres::PgTransport>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus {
    /// A bus that buffers up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        let (changes, _) = watch::channel(0);
        Self {
            tx,
            changes: Arc::new(changes),
            remote: None,
        }
    }

    /// The bus for a database: in-process on SQLite; on PostgreSQL also across processes:
    /// the others hear of its jobs' changes from the database (a trigger on the job rows
    /// notifies them with the change's commit), and with [`Hearing::AllProcesses`] it hears
    /// theirs too
    /// (`url` opens the dedicated listening connection; waits up to `connect_timeout` for it,
    /// and one attempt to reopen it after a loss gives up after that long).
    pub async fn for_database(
        db: &sea_orm::DatabaseConnection,
        url: &str,
        connect_timeout: std::time::Duration,
        hearing: Hearing,
    ) -> Self {
        let mut bus = Self::default();
        if crate::store::engine(db) == crate::store::Engine::Postgres {
            let transport = postgres::PgTransport::start(
                db.clone(),
                url.to_string(),
                bus.tx.downgrade(),
                bus.changes.clone(),
                connect_timeout,
                hearing,
            )
            .await;
            bus.remote = Some(Arc::new(transport));
        }
        bus
    }

    /// True when events cross processes (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.remote.is_some()
    }

    /// True when this process hears every event it should: always in-process and when it
    /// hears only itself; on PostgreSQL with [`Hearing::AllProcesses`] while the listening
    /// connection is up and has caught up after its last loss (`/readyz`).
    pub fn is_listening(&self) -> bool {
        self.remote.as_ref().is_none_or(|r| r.is_listening())
    }

    /// Publishes an event to this process's subscribers; having none is fine. The event must
    /// be that of a committed change of the job's row: on PostgreSQL, that change is what
    /// reaches the other processes.
    pub fn publish(&self, event: JobEvent) {
        if let Some(remote) = &self.remote {
            remote.publish(&event);
        }
        let _ = self.tx.send(event);
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A new subscription receiving every event published from now on.
    ///
    /// On PostgreSQL, while any subscription is open, this process decodes every event another
    /// process publishes (and reads the job's row when its state did not fit the
    /// notification), so a caller that needs to know only *that* jobs changed should use
    /// [`changes`](Self::changes).
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.tx.subscribe()
    }

    /// A counter that moves on every job event, of this process or (PostgreSQL) of another,
    /// without reading any row: for wake-ups and cache invalidation.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}
