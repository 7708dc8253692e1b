//! The GraphQL schema, built without HTTP so that it can be tested in-process and printed
//! as SDL (`stix-archive print-schema` → `schema.graphql`).

pub mod animation;
pub mod cursor;
pub mod error;
pub mod global_id;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;
pub mod urls;

use async_graphql::{MergedObject, Schema};
use jobs::events::EventBus;
use jobs::queue::Queue;
use sea_orm::DatabaseConnection;
use std::path::PathBuf;

/// Everything resolvers need, attached to the schema as data.
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

/// The mutation root: one member per issue, merged.
#[derive(MergedObject, Default)]
pub struct MutationRoot(animation::AnimationMutation);

/// The schema type served at `/graphql` and `/ws`.
pub type AppSchema = Schema<query::QueryRoot, MutationRoot, subscription::SubscriptionRoot>;

/// Query limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum depth.
    pub max_depth: usize,
    /// Maximum complexity.
    pub max_complexity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 2000,
        }
    }
}

/// Builds the schema; `state` is `None` only for printing the SDL.
pub fn build(state: Option<AppState>, limits: Limits) -> AppSchema {
    let mut b = Schema::build(
        query::QueryRoot,
        MutationRoot::default(),
        subscription::SubscriptionRoot,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity);
    if let Some(s) = state {
        b = b.data(s);
    }
    b.finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build(None, Limits::default()).sdl()
}
