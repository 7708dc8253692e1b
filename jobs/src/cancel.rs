//! Cancelling jobs. A queued job becomes CANCELLED at once (one conditional update, so a
//! worker that claims it at the same moment wins or loses cleanly). A running job gets
//! `cancel_requested`; its runner sees it through a flag ([`CancelFlags`]) that is set at once
//! in the same process and by polling the row in any other, and stops at the next algorithm
//! boundary (MEM, EM and FWDFIT also between iterations).

use crate::events::{EventBus, JobEvent};
use crate::kinds::JobStatus;
use crate::store::entities::reconstruction_job;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a running job re-reads its row for a cancel request from another process.
pub const POLL: Duration = Duration::from_millis(250);

/// Why a job could not be cancelled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CancelError {
    /// It has already finished (SUCCEEDED, FAILED or CANCELLED).
    #[error("the job has already finished ({0})")]
    Finished(JobStatus),
    /// Database failure.
    #[error("database error while cancelling: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// The cancel flags of the jobs running in this process, by job row id.
#[derive(Debug, Clone, Default)]
pub struct CancelFlags(Arc<Mutex<HashMap<i64, Arc<AtomicBool>>>>);

/// Removes a job's flag when its run ends.
pub struct FlagGuard {
    flags: CancelFlags,
    job_id: i64,
    /// The flag the running job checks.
    pub flag: Arc<AtomicBool>,
}

impl Drop for FlagGuard {
    fn drop(&mut self) {
        let mut m = self.flags.0.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(&self.job_id);
    }
}

impl CancelFlags {
    /// Registers a running job; its flag lives as long as the guard.
    pub fn register(&self, job_id: i64) -> FlagGuard {
        let flag = Arc::new(AtomicBool::new(false));
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(job_id, flag.clone());
        FlagGuard {
            flags: self.clone(),
            job_id,
            flag,
        }
    }

    /// Raises the flag of a job running here (no-op otherwise).
    pub fn raise(&self, job_id: i64) {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = m.get(&job_id) {
            f.store(true, Ordering::Relaxed);
        }
    }
}

/// Raises `flag` as soon as the job's row says `cancel_requested` (for runs in another process
/// than the one that cancelled); stops when the returned handle is aborted.
pub fn watch_row(
    db: DatabaseConnection,
    job_id: i64,
    flag: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(POLL).await;
            if let Ok(Some(row)) = reconstruction_job::Entity::find_by_id(job_id)
                .one(&db)
                .await
                && row.cancel_requested
            {
                flag.store(true, Ordering::Relaxed);
                return;
            }
        }
    })
}

/// Cancels a job: QUEUED → CANCELLED now; RUNNING → `cancel_requested` (the runner stops at
/// the next boundary). Returns the row afterwards.
pub async fn cancel(
    db: &DatabaseConnection,
    events: &EventBus,
    flags: &CancelFlags,
    job: &reconstruction_job::Model,
) -> Result<reconstruction_job::Model, CancelError> {
    let now = Utc::now();
    let queued = reconstruction_job::Entity::update_many()
        .col_expr(
            reconstruction_job::Column::Status,
            Expr::value(JobStatus::Cancelled.as_str()),
        )
        .col_expr(reconstruction_job::Column::Stage, Expr::value("cancelled"))
        .col_expr(
            reconstruction_job::Column::CancelRequested,
            Expr::value(true),
        )
        .col_expr(reconstruction_job::Column::FinishedAt, Expr::value(now))
        .col_expr(reconstruction_job::Column::UpdatedAt, Expr::value(now))
        .filter(reconstruction_job::Column::Id.eq(job.id))
        .filter(reconstruction_job::Column::Status.eq(JobStatus::Queued.as_str()))
        .exec(db)
        .await?;
    if queued.rows_affected == 0 {
        let running = reconstruction_job::Entity::update_many()
            .col_expr(
                reconstruction_job::Column::CancelRequested,
                Expr::value(true),
            )
            .filter(reconstruction_job::Column::Id.eq(job.id))
            .filter(reconstruction_job::Column::Status.eq(JobStatus::Running.as_str()))
            .exec(db)
            .await?;
        if running.rows_affected == 1 {
            flags.raise(job.id);
        }
    }
    let row = reconstruction_job::Entity::find_by_id(job.id)
        .one(db)
        .await?
        .unwrap_or_else(|| job.clone());
    let status = JobStatus::parse(&row.status).unwrap_or(JobStatus::Failed);
    if queued.rows_affected == 1 {
        events.publish(JobEvent {
            job_id: row.public_id,
            status,
            stage: row.stage.clone(),
            done: row.progress_done,
            total: row.progress_total,
            message: Some("cancelled".into()),
        });
    } else if status.is_final() {
        return Err(CancelError::Finished(status));
    }
    Ok(row)
}
