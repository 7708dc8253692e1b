//! The GraphQL schema, built without HTTP so that it can be tested in-process and printed
//! as SDL (`stix-archive print-schema` → `schema.graphql`).

pub mod cursor;
pub mod error;
pub mod global_id;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use async_graphql::{EmptyMutation, Schema};

pub use crate::state::AppState;

/// The schema type served at `/graphql` and `/ws`.
pub type AppSchema = Schema<query::QueryRoot, EmptyMutation, subscription::SubscriptionRoot>;

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
        EmptyMutation,
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
