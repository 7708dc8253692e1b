//! The GraphQL schema, built without HTTP so that it can be tested in-process and printed
//! as SDL (`stix-archive print-schema` → `schema.graphql`).

pub mod cursor;
pub mod enums;
pub mod error;
pub mod error_codes;
pub mod global_id;
pub mod lightcurve;
pub mod links;
pub mod live;
pub mod loaders;
pub mod node;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use async_graphql::{EmptyMutation, MergedObject, MergedSubscription, Schema};
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
}

/// The query root: each issue's fields in their own object, merged.
#[derive(MergedObject, Default)]
pub struct Query(query::QueryRoot, node::LookupQuery);

/// The subscription root: each issue's subscriptions in their own object, merged.
#[derive(MergedSubscription, Default)]
pub struct Subscription(subscription::SubscriptionRoot, live::LiveSubscription);

/// The schema type served at `/graphql` and `/ws`.
pub type AppSchema = Schema<Query, EmptyMutation, Subscription>;

/// Query limits applied to every request. The depth default admits graphql-js's standard
/// introspection query with 9 levels of `ofType` (depth 15); abuse by breadth is stopped by
/// the complexity limit, in which a connection's selection counts once per requested item.
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
            max_depth: 15,
            max_complexity: 5000,
        }
    }
}

/// Builds the schema; `state` is `None` only for printing the SDL.
pub fn build(state: Option<AppState>, limits: Limits) -> AppSchema {
    let mut b = Schema::build(Query::default(), EmptyMutation, Subscription::default())
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .extension(error_codes::ErrorCodes)
        .register_output_type::<node::Node>();
    if let Some(s) = state {
        b = b
            .data(loaders::loaders(s.db.clone()))
            .data(lightcurve::LightCurveCache::default())
            .data(s);
    }
    b.finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build(None, Limits::default()).sdl()
}
