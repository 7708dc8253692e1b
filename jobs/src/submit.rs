//! Submitting work: a `reconstruction_jobs` row (the source of truth) plus a queue task, in
//! one transaction on PostgreSQL.
//! Submission is idempotent: the same kind and request while an equal job is queued,
//! running or succeeded returns that job instead of a new one.

use crate::kinds::{JobKind, JobStatus};
use crate::queue::{Queue, QueueError, QueueTask, TaskCommitError};
use crate::store::entities::reconstruction_job;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, Set, Statement,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Why a job could not be submitted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// Database failure.
    #[error("database error while submitting a job: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// Queue failure.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// What the job does.
    pub kind: JobKind,
    /// The versioned request payload.
    pub request: serde_json::Value,
    /// The science file it works on, if any.
    pub science_file_id: Option<i64>,
    /// The submitting user, if any.
    pub owner_id: Option<i64>,
}

/// SHA-256 over kind, owner and the canonical JSON of the request.
pub fn request_hash(job: &NewJob) -> String {
    let mut h = Sha256::new();
    h.update(job.kind.as_str().as_bytes());
    h.update([0]);
    h.update(job.owner_id.unwrap_or(-1).to_le_bytes());
    // serde_json's Map keeps keys sorted (no `preserve_order`), so this is canonical.
    h.update(job.request.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// Why a checked submission did not go through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckedSubmitError {
    /// The check refused it (e.g. a quota).
    #[error("refused by the submission check")]
    Refused,
    /// Database or queue failure.
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

/// A check run inside the submission's write transaction; `Ok(None)` refuses.
pub type SubmitCheck<'c> = Box<
    dyn for<'t> FnOnce(
            &'t sea_orm::DatabaseTransaction,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Option<()>, sea_orm::DbErr>> + Send + 't>,
        > + Send
        + 'c,
>;

/// The advisory lock that serialises the submissions that could conflict on PostgreSQL: one
/// owner's (the quota counts them all), else equal requests (by hash). Owners are positive
/// keys, hashes negative; a collision only makes two submissions wait for each other.
pub fn submission_lock_key(job: &NewJob, hash: &str) -> i64 {
    match job.owner_id {
        Some(owner) => owner,
        None => {
            let mut first = [0u8; 8];
            hex::decode_to_slice(&hash[..16], &mut first).unwrap_or_default();
            i64::from_be_bytes(first) | i64::MIN
        }
    }
}

/// Like [`submit`], but in one write transaction (with, on PostgreSQL, the queue task: see
/// [`Queue::push_within`]): an equal job is returned as is; otherwise
/// `check` (e.g. a per-user quota) decides before the row is inserted, so concurrent
/// submissions cannot both pass it: SQLite serialises write transactions, and on PostgreSQL
/// (where they run side by side) the transaction first takes the advisory lock of
/// [`submission_lock_key`].
pub async fn submit_checked(
    db: &DatabaseConnection,
    queue: &Queue,
    job: NewJob,
    check: SubmitCheck<'_>,
) -> Result<(reconstruction_job::Model, bool), CheckedSubmitError> {
    let hash = request_hash(&job);
    let txn = crate::store::begin_write(db)
        .await
        .map_err(SubmitError::from)?;
    if crate::store::engine(db) == crate::store::Engine::Postgres {
        // Its own statement: the reads below must see what the lock's holder committed.
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [submission_lock_key(&job, &hash).into()],
        ))
        .await
        .map_err(SubmitError::from)?;
    }
    if let Some(existing) = reconstruction_job::Entity::find()
        .filter(reconstruction_job::Column::RequestHash.eq(hash.clone()))
        .filter(reconstruction_job::Column::Status.is_in([
            JobStatus::Queued.as_str(),
            JobStatus::Running.as_str(),
            JobStatus::Succeeded.as_str(),
        ]))
        .order_by_desc(reconstruction_job::Column::Id)
        .one(&txn)
        .await
        .map_err(SubmitError::from)?
    {
        txn.commit().await.map_err(SubmitError::from)?;
        return Ok((existing, false));
    }
    if check(&txn).await.map_err(SubmitError::from)?.is_none() {
        txn.rollback().await.map_err(SubmitError::from)?;
        return Err(CheckedSubmitError::Refused);
    }
    let now = Utc::now();
    let row = reconstruction_job::ActiveModel {
        public_id: Set(Uuid::new_v4()),
        owner_id: Set(job.owner_id),
        kind: Set(job.kind.as_str().to_string()),
        status: Set(JobStatus::Queued.as_str().to_string()),
        stage: Set(Some("queued".to_string())),
        progress_done: Set(0),
        progress_total: Set(0),
        attempts: Set(0),
        error_code: Set(None),
        error_message: Set(None),
        request: Set(job.request),
        request_hash: Set(hash),
        science_file_id: Set(job.science_file_id),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        updated_at: Set(now),
        cancel_requested: Set(false),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(SubmitError::from)?;
    // On PostgreSQL the task is part of the transaction: no row without its task, whatever
    // fails when.
    match queue
        .commit_with_task(txn, QueueTask::for_job(row.id), None)
        .await
    {
        Ok(()) => Ok((row, true)),
        Err(TaskCommitError::NotCommitted(e)) => Err(SubmitError::from(e).into()),
        Err(TaskCommitError::Db(e)) => Err(SubmitError::from(e).into()),
        Err(TaskCommitError::TaskAfterCommit(e)) => {
            // SQLite: no task, no job; remove the row rather than leave a job that never runs.
            let _ = reconstruction_job::Entity::delete_by_id(row.id)
                .exec(db)
                .await;
            Err(SubmitError::from(e).into())
        }
    }
}

/// Creates (or finds) the job and queues it; returns the row and whether it is new.
/// [`submit_checked`] with no check: one path for every submission.
pub async fn submit(
    db: &DatabaseConnection,
    queue: &Queue,
    job: NewJob,
) -> Result<(reconstruction_job::Model, bool), SubmitError> {
    let always: SubmitCheck<'_> = Box::new(|_| Box::pin(async { Ok(Some(())) }));
    match submit_checked(db, queue, job, always).await {
        Ok(r) => Ok(r),
        Err(CheckedSubmitError::Submit(e)) => Err(e),
        Err(CheckedSubmitError::Refused) => unreachable!("the check always passes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(owner_id: Option<i64>, k: u32) -> NewJob {
        NewJob {
            kind: JobKind::Preview,
            request: serde_json::json!({ "k": k }),
            science_file_id: None,
            owner_id,
        }
    }

    #[test]
    fn an_owners_submissions_share_one_lock_and_owner_less_ones_lock_by_request() {
        let (a, b) = (job(Some(7), 1), job(Some(7), 2));
        assert_eq!(
            submission_lock_key(&a, &request_hash(&a)),
            submission_lock_key(&b, &request_hash(&b))
        );
        assert_eq!(submission_lock_key(&a, &request_hash(&a)), 7);
        let (c, d) = (job(None, 1), job(None, 2));
        let (kc, kd) = (
            submission_lock_key(&c, &request_hash(&c)),
            submission_lock_key(&d, &request_hash(&d)),
        );
        assert!(kc < 0 && kd < 0, "owner-less keys never meet an owner's");
        assert_ne!(kc, kd, "different requests do not wait for each other");
        assert_eq!(kc, submission_lock_key(&c, &request_hash(&c)));
    }
}
