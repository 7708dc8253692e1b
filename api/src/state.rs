//! The backend handle shared by the GraphQL resolvers, the HTTP routes, the CLI, the inbox
//! watcher and the archive commands: database, queue, event bus and data directory.

use jobs::events::EventBus;
use jobs::queue::Queue;
use sea_orm::DatabaseConnection;
use std::path::PathBuf;

/// Everything resolvers and commands need, attached to the schema as data.
#[derive(Clone)]
pub struct AppState {
    /// The archive database.
    pub db: DatabaseConnection,
    /// The job queue.
    pub queue: Queue,
    /// Job status events.
    pub events: EventBus,
    /// Where files live.
    pub data_dir: PathBuf,
    /// Absolute download and script links (`STIX__SERVER__PUBLIC_URL`).
    pub links: crate::downloads::Links,
}
