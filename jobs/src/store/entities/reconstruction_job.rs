//! `reconstruction_jobs`: the source of truth for every queued piece of work (preview and
//! user reconstructions); apalis is only the queue.

use sea_orm::entity::prelude::*;

/// One job.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reconstruction_jobs")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Public id (GraphQL `ID`).
    #[sea_orm(unique)]
    pub public_id: Uuid,
    /// Owner; `None` for automatic preview jobs.
    pub owner_id: Option<i64>,
    /// `preview` or `reconstruction`.
    pub kind: String,
    /// `QUEUED`, `RUNNING`, `SUCCEEDED`, `FAILED` or `CANCELLED`.
    pub status: String,
    /// Current stage, e.g. `planning`, `imaging`.
    pub stage: Option<String>,
    /// Units of work done.
    pub progress_done: i32,
    /// Units of work planned.
    pub progress_total: i32,
    /// Attempts started so far.
    pub attempts: i32,
    /// Machine-readable error code of the last failure.
    pub error_code: Option<String>,
    /// Human-readable error message of the last failure.
    pub error_message: Option<String>,
    /// The request, JSON (versioned payload).
    pub request: Json,
    /// SHA-256 of the canonical request, for idempotent submission.
    pub request_hash: String,
    /// The science file the job works on, when there is one.
    pub science_file_id: Option<i64>,
    /// When submitted.
    pub created_at: ChronoDateTimeUtc,
    /// When the last attempt started.
    pub started_at: Option<ChronoDateTimeUtc>,
    /// When it reached a final state.
    pub finished_at: Option<ChronoDateTimeUtc>,
    /// Last change.
    pub updated_at: ChronoDateTimeUtc,
    /// The worker process running (or that last ran) the job, `host:pid`.
    pub worker: Option<String>,
    /// Its owner or an admin asked to cancel it while it was running: it stops at the next
    /// algorithm boundary (or iteration of MEM, EM, FWDFIT).
    pub cancel_requested: bool,
}

/// Relations are queried explicitly in `store`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
