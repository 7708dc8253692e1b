//! The job-event bus: every status and progress change of a job is published here and read
//! by GraphQL subscriptions. In-process fan-out over a `tokio::sync::broadcast` channel.

use crate::kinds::JobStatus;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
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

/// Publishes job events to every subscriber in this process.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<JobEvent>,
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
        Self { tx }
    }

    /// Publishes an event; having no subscriber is fine.
    pub fn publish(&self, event: JobEvent) {
        let _ = self.tx.send(event);
    }

    /// A new subscription receiving every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.tx.subscribe()
    }
}
