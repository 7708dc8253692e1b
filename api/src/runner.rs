//! Which code runs a job of each kind: `preview` jobs go to the preview pipeline. Job kinds
//! not known to this build fail with a clear reason instead of hanging in the queue.

use jobs::kinds::JobKind;
use jobs::pipeline::PreviewRunner;
use jobs::store::entities::reconstruction_job;
use jobs::worker::{JobFailure, JobRunner, Progress};
use sea_orm::DatabaseConnection;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// The job runner of the `stix-archive` binary.
#[derive(Clone)]
pub struct ServiceRunner {
    preview: PreviewRunner,
}

impl ServiceRunner {
    /// A runner on this database and data directory.
    pub fn new(db: DatabaseConnection, data_dir: PathBuf) -> Self {
        Self {
            preview: PreviewRunner::new(db, data_dir),
        }
    }
}

impl JobRunner for ServiceRunner {
    fn run<'a>(
        &'a self,
        job: &'a reconstruction_job::Model,
        progress: Progress,
    ) -> Pin<Box<dyn Future<Output = Result<(), JobFailure>> + Send + 'a>> {
        Box::pin(async move {
            match JobKind::parse(&job.kind) {
                Some(JobKind::Preview) => self.preview.run(job, progress).await,
                _ => Err(JobFailure::BadInput {
                    code: "UNSUPPORTED_JOB_KIND".to_string(),
                    message: format!("job kind '{}' is not supported by this build", job.kind),
                }),
            }
        })
    }
}
