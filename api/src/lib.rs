//! `api`: settings, telemetry, the GraphQL schema, HTTP routes and the start-up path of the
//! `stix-archive` binary. Builds on `jobs` and `domain`.

pub mod archive;
pub mod auth;
pub mod cli;
pub mod downloads;
pub mod export;
pub mod graphiql;
pub mod graphql;
pub mod inbox;
pub mod metrics;
pub mod readiness;
pub mod response_cache;
pub mod routes;
pub mod runner;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
pub mod ws;
