//! Which code runs a job of each kind. Job kinds not known to this build fail with a clear
//! reason instead of hanging in the queue.

use jobs::store::entities::reconstruction_job;
use jobs::worker::{JobFailure, JobRunner, Progress};
use std::future::Future;
use std::pin::Pin;

/// The job runner of the `stix-archive` binary.
#[derive(Debug, Default)]
pub struct ServiceRunner;

impl JobRunner for ServiceRunner {
    fn run<'a>(
        &'a self,
        job: &'a reconstruction_job::Model,
        _progress: Progress,
    ) -> Pin<Box<dyn Future<Output = Result<(), JobFailure>> + Send + 'a>> {
        Box::pin(async move {
            Err(JobFailure::BadInput {
                code: "UNSUPPORTED_JOB_KIND".to_string(),
                message: format!("job kind '{}' is not supported by this build", job.kind),
            })
        })
    }
}
