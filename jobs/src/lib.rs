//! `jobs`: the archive store (sea-orm), ingest of files and flare lists, the apalis queue and
//! worker pool, the job-event bus and the preview pipeline. Builds on `domain`; knows nothing
//! of HTTP or GraphQL.

pub mod cancel;
pub mod events;
pub mod file_cache;
pub mod ingest;
pub mod kinds;
pub mod metrics;
pub mod pg_worker_queue;
pub mod pipeline;
pub mod queue;
pub mod reconstruction;
pub mod storage;
pub mod store;
pub mod submit;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod worker;
