//! The GraphQL schema, built without HTTP so that it can be tested in-process and printed
//! as SDL (`stix-archive print-schema` → `schema.graphql`).

pub mod accounts;
pub mod admin;
pub mod cursor;
pub mod enums;
pub mod error;
pub mod global_id;
pub mod query;
pub mod reconstruction;
pub mod scalars;
pub mod subscription;
pub mod types;

use async_graphql::{MergedObject, Schema};

pub use crate::state::AppState;

/// The query root: the archive's own queries merged with each feature's.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    query::QueryRoot,
    accounts::AccountsQuery,
    reconstruction::ReconstructionQuery,
);

/// The mutation root: each feature's mutations merged.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    accounts::AccountsMutation,
    reconstruction::ReconstructionMutation,
    admin::AdminMutation,
);

/// The schema type served at `/graphql` and `/ws`.
pub type AppSchema = Schema<QueryRoot, MutationRoot, subscription::SubscriptionRoot>;

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
        QueryRoot::default(),
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
