//! `jobs`: the archive store (sea-orm), the apalis queue and worker pool, the job-event bus,
//! and (later) the preview pipeline. Builds on `domain`; knows nothing of HTTP or GraphQL.

pub mod events;
pub mod ingest;
pub mod queue;
pub mod store;
pub mod submit;
pub mod worker;
