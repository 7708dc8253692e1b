//! Which code runs a job of each kind: `preview` jobs go to the preview pipeline,
//! `reconstruction` jobs to the user reconstruction runner. Job kinds
//! not known to this build fail with a clear reason instead of hanging in the queue.

use jobs::cancel::CancelFlags;
use jobs::file_cache::FileCache;
use jobs::kinds::JobKind;
use jobs::pipeline::PreviewRunner;
use jobs::reconstruction::ReconstructionRunner;
use jobs::storage::Storage;
use jobs::store::entities::reconstruction_job;
use jobs::worker::{JobFailure, JobRunner, Progress};
use sea_orm::DatabaseConnection;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The job runner of the `stix-archive` binary.
#[derive(Clone)]
pub struct ServiceRunner {
    preview: PreviewRunner,
    reconstruction: ReconstructionRunner,
}

impl ServiceRunner {
    /// A runner on this database and storage, sharing the process's file cache and cancel
    /// flags with the API.
    pub fn new(
        db: DatabaseConnection,
        storage: Storage,
        files: Arc<FileCache>,
        cancels: CancelFlags,
    ) -> Self {
        Self {
            preview: PreviewRunner::new(db.clone(), storage.clone()),
            reconstruction: ReconstructionRunner::new(db, storage, files, cancels),
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
                Some(JobKind::Reconstruction) => self.reconstruction.run(job, progress).await,
                _ => Err(JobFailure::BadInput {
                    code: "UNSUPPORTED_JOB_KIND".to_string(),
                    message: format!("job kind '{}' is not supported by this build", job.kind),
                }),
            }
        })
    }
}
