//! The backend handle shared by the GraphQL resolvers, the HTTP routes, the CLI, the inbox
//! watcher and the archive commands: database, queue, event bus and data directory.

use crate::auth::rate_limit::LoginLimiter;
use crate::auth::token::TokenKeys;
use jobs::cancel::CancelFlags;
use jobs::events::EventBus;
use jobs::file_cache::FileCache;
use jobs::pipeline::PipelineSettings;
use jobs::queue::Queue;
use jobs::reconstruction::ReconstructionLimits;
use jobs::storage::Storage;
use sea_orm::DatabaseConnection;
use std::path::PathBuf;
use std::sync::Arc;

/// Token keys and the login rate limit.
#[derive(Debug, Clone)]
pub struct AuthState {
    /// Signs and checks tokens (an empty secret in one-shot commands, which never serve).
    pub keys: TokenKeys,
    /// Login attempts per account and client address.
    pub limiter: LoginLimiter,
}

/// Everything resolvers and commands need, attached to the schema as data.
#[derive(Clone)]
pub struct AppState {
    /// The archive database.
    pub db: DatabaseConnection,
    /// The job queue.
    pub queue: Queue,
    /// Job status events.
    pub events: EventBus,
    /// Where files live: the data directory, and the shared object store when configured.
    pub storage: Storage,
    /// Absolute download and script links (`STIX__SERVER__PUBLIC_URL`).
    pub links: crate::downloads::Links,
    /// Tokens and login limits.
    pub auth: AuthState,
    /// Decoded files shared by submissions and workers of this process.
    pub files: Arc<FileCache>,
    /// Cancel flags of the jobs running in this process.
    pub cancels: CancelFlags,
    /// Limits and defaults of users' reconstructions.
    pub limits: Arc<ReconstructionLimits>,
    /// Directories an admin's `ingest(paths)` may read from (inbox, import root).
    pub import_roots: Vec<PathBuf>,
    /// The preview settings (reprocessing and admin ingest queue previews with them).
    pub preview: PipelineSettings,
}
