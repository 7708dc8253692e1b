//! User reconstructions over GraphQL: `submitReconstruction`, `cancelReconstruction`,
//! `reconstructionJob`, `reconstructionJobs` and the `ReconstructionJob` type. A user sees
//! only their own jobs (another user's job is `NOT_FOUND`, never a leak); an admin sees all,
//! may filter by owner and sees `owner` and `worker`.

use super::accounts::{User, authn};
use super::cursor::KeysetCursor;
use super::enums::{Algorithm, BackgroundMode, FwdfitShape, JobStatus};
use super::error::ApiError;
use super::global_id::{NodeKind, decode_as, encode};
use super::query::{Page, PageArgs, paginate};
use super::scalars::BigInt;
use super::types::Image;
use crate::auth::Caller;
use crate::state::AppState;
use async_graphql::{ComplexObject, Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::imaging::params::ImagingParams;
use jobs::reconstruction::{
    BackgroundMode as JobBackgroundMode, PrepareError, ReconstructionInput, ReconstructionRequest,
};
use jobs::store::entities::{image, reconstruction_job, user};
use jobs::store::pagination::KeysetOrder;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Why a job failed.
#[derive(Debug, Clone, SimpleObject)]
pub struct JobError {
    /// Machine-readable code (e.g. `BAD_L1_FILE`, `UNIMAGEABLE`).
    pub code: String,
    /// Human message.
    pub message: String,
}

/// A time interval.
#[derive(Debug, Clone, SimpleObject)]
pub struct TimeInterval {
    /// Start, UTC.
    pub start: DateTime<Utc>,
    /// End, UTC.
    pub end: DateTime<Utc>,
}

/// A user's reconstruction job.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct ReconstructionJob {
    #[graphql(skip)]
    row_id: i64,
    #[graphql(skip)]
    owner_id: Option<i64>,
    #[graphql(skip)]
    worker_process: Option<String>,
    /// Global id.
    pub id: ID,
    /// Status.
    pub status: JobStatus,
    /// Current stage (`queued`, `reading`, `imaging`, `done`…).
    pub stage: Option<String>,
    /// Algorithms done.
    pub done: i32,
    /// Algorithms planned.
    pub total: i32,
    /// Attempts so far.
    pub attempts: i32,
    /// Why it failed, if it did.
    pub error: Option<JobError>,
    /// The checked request (defaults filled in).
    pub request: async_graphql::Json<serde_json::Value>,
    /// The whole time bins that are imaged.
    pub time_bins_used: Vec<TimeInterval>,
    /// Edges of the energy groups that are imaged, keV.
    pub energy_edges_used_kev: Vec<f64>,
    /// When submitted.
    pub created_at: DateTime<Utc>,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The global id of a job.
pub fn job_global_id(public_id: Uuid) -> String {
    encode(NodeKind::ReconstructionJob, &public_id.to_string())
}

impl From<reconstruction_job::Model> for ReconstructionJob {
    fn from(m: reconstruction_job::Model) -> Self {
        let req: Option<ReconstructionRequest> = serde_json::from_value(m.request.clone()).ok();
        let status = jobs::kinds::JobStatus::parse(&m.status)
            .unwrap_or(jobs::kinds::JobStatus::Failed)
            .into();
        Self {
            row_id: m.id,
            owner_id: m.owner_id,
            worker_process: m.worker,
            id: ID(job_global_id(m.public_id)),
            status,
            stage: m.stage,
            done: m.progress_done,
            total: m.progress_total,
            attempts: m.attempts,
            error: m.error_code.map(|code| JobError {
                code,
                message: m.error_message.unwrap_or_default(),
            }),
            time_bins_used: req
                .as_ref()
                .map(|r| {
                    r.time_bins_used
                        .iter()
                        .map(|b| TimeInterval {
                            start: b.start,
                            end: b.end,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            energy_edges_used_kev: req
                .as_ref()
                .map(|r| r.energy_edges_used_kev.clone())
                .unwrap_or_default(),
            request: async_graphql::Json(m.request),
            created_at: m.created_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
        }
    }
}

#[ComplexObject]
impl ReconstructionJob {
    /// The images made so far (they stay attached if the job is cancelled).
    async fn images(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Image>> {
        let st = ctx.data::<AppState>()?;
        let q = image::Entity::find().filter(image::Column::JobId.eq(self.row_id));
        Ok(paginate(
            &st.db,
            q,
            &KeysetOrder::column(image::Column::CreatedAt, image::Column::Id, true),
            &PageArgs {
                first,
                after,
                ..Default::default()
            },
            |m: &image::Model| KeysetCursor::time(m.created_at, m.id),
        )
        .await?)
    }

    /// Who submitted it (admins only; null for everyone else).
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let st = ctx.data::<AppState>()?;
        if !authn(ctx).caller().is_ok_and(Caller::is_admin) {
            return Ok(None);
        }
        let Some(id) = self.owner_id else {
            return Ok(None);
        };
        Ok(user::Entity::find_by_id(id)
            .one(&st.db)
            .await
            .map_err(ApiError::from)?
            .map(User::from))
    }

    /// The worker process running it, or that ran it last, as `host:pid` (admins only; null
    /// for everyone else, and before a worker took it). With several worker processes on
    /// PostgreSQL this says which one did the work.
    async fn worker(&self, ctx: &Context<'_>) -> Option<String> {
        if !authn(ctx).caller().is_ok_and(Caller::is_admin) {
            return None;
        }
        self.worker_process.clone()
    }
}

/// A job id from a global id (or, for older clients, a bare job UUID).
pub fn parse_job_id(id: &str) -> Option<Uuid> {
    let key = decode_as(NodeKind::ReconstructionJob, id).unwrap_or_else(|| id.to_string());
    Uuid::parse_str(&key).ok()
}

/// The job with this id if the caller may see it (owner or admin); `NOT_FOUND` otherwise,
/// exactly as for a job that does not exist.
pub async fn visible_job(
    db: &DatabaseConnection,
    caller: &Caller,
    id: &str,
) -> Result<reconstruction_job::Model, ApiError> {
    let not_found = || ApiError::NotFound(format!("no reconstruction job '{id}'"));
    let uuid = parse_job_id(id).ok_or_else(not_found)?;
    let row = reconstruction_job::Entity::find()
        .filter(reconstruction_job::Column::PublicId.eq(uuid))
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    if caller.is_admin() || row.owner_id == Some(caller.user_id) {
        Ok(row)
    } else {
        Err(not_found())
    }
}

/// `timeRange` input.
#[derive(Debug, Clone, InputObject)]
pub struct TimeRangeInput {
    /// Start, UTC.
    pub start: DateTime<Utc>,
    /// End, UTC.
    pub end: DateTime<Utc>,
}

/// `energyRange` input.
#[derive(Debug, Clone, InputObject)]
pub struct EnergyRangeInput {
    /// Lower edge, keV.
    pub low_kev: f64,
    /// Upper edge, keV.
    pub high_kev: f64,
}

/// `background` input.
#[derive(Debug, Clone, InputObject)]
pub struct BackgroundInput {
    /// How the background is chosen (default AUTO).
    #[graphql(default_with = "BackgroundMode::Auto")]
    pub mode: BackgroundMode,
    /// Request UID of the background file (mode FILE).
    pub file_uid: Option<BigInt>,
}

/// A helioprojective position (as seen from Solar Orbiter), arcsec.
#[derive(Debug, Clone, InputObject)]
pub struct HpcInput {
    /// Solar X, arcsec.
    pub x_arcsec: f64,
    /// Solar Y, arcsec.
    pub y_arcsec: f64,
}

/// Per-algorithm knobs; each defaults to the previews' value.
#[derive(Debug, Clone, Default, InputObject)]
pub struct ReconstructionParameters {
    /// CLEAN iterations (default 200).
    pub clean_iterations: Option<u32>,
    /// CLEAN loop gain, (0, 1] (default 0.1).
    pub clean_gain: Option<f64>,
    /// CLEAN beam FWHM, arcsec (default 20; 0 = from the (u,v) coverage).
    pub clean_beam_fwhm_arcsec: Option<f64>,
    /// MEM_GE iteration limit (default 1000).
    pub mem_max_iterations: Option<u32>,
    /// MEM_GE relative-change tolerance (default 1e-3).
    pub mem_tolerance: Option<f64>,
    /// EM iteration limit (default 5000).
    pub em_max_iterations: Option<u32>,
    /// EM stopping tolerance (default 1e-3).
    pub em_tolerance: Option<f64>,
    /// Circles of the FWDFIT `MULTI` shape, 1…4 (default 2).
    pub fwdfit_sources: Option<u32>,
    /// FWDFIT 1σ uncertainties from 20 refits (default false).
    pub fwdfit_uncertainty: Option<bool>,
    /// FWDFIT random seed (default 1).
    pub fwdfit_seed: Option<u64>,
}

/// `submitReconstruction` input.
#[derive(Debug, Clone, InputObject)]
pub struct SubmitReconstructionInput {
    /// STIX request UID of the flare science file (its latest version is used).
    pub science_file_uid: BigInt,
    /// Interval to image; widened to whole time bins.
    pub time_range: TimeRangeInput,
    /// Band to image; widened to whole energy groups.
    pub energy_range: EnergyRangeInput,
    /// Algorithms to run.
    pub algorithms: Vec<Algorithm>,
    /// Background (default AUTO).
    pub background: Option<BackgroundInput>,
    /// Image side in pixels (default 129).
    pub image_size: Option<i32>,
    /// Pixel size, arcsec (default 2).
    pub pixel_arcsec: Option<f64>,
    /// Map centre (default: the flare location).
    pub map_center: Option<HpcInput>,
    /// FWDFIT source model (default AUTO).
    pub fwdfit_shape: Option<FwdfitShape>,
    /// Per-algorithm knobs.
    pub parameters: Option<ReconstructionParameters>,
}

impl SubmitReconstructionInput {
    fn into_job_input(self) -> Result<ReconstructionInput, ApiError> {
        let p = self.parameters.unwrap_or_default();
        let size = match self.image_size {
            Some(n) if n < 0 => {
                return Err(ApiError::field("imageSize", format!("{n} px is negative")));
            }
            Some(n) => Some(n as usize),
            None => None,
        };
        let bg = self.background.unwrap_or(BackgroundInput {
            mode: BackgroundMode::Auto,
            file_uid: None,
        });
        Ok(ReconstructionInput {
            science_file_uid: self.science_file_uid.0,
            time: (self.time_range.start, self.time_range.end),
            energy_kev: (self.energy_range.low_kev, self.energy_range.high_kev),
            algorithms: self.algorithms.into_iter().map(Into::into).collect(),
            background: JobBackgroundMode::from(bg.mode),
            background_file_uid: bg.file_uid.map(|u| u.0),
            image_size_px: size,
            pixel_arcsec: self.pixel_arcsec,
            map_center_hpc_arcsec: self.map_center.map(|c| [c.x_arcsec, c.y_arcsec]),
            parameters: ImagingParams {
                clean_niter: p.clean_iterations,
                clean_gain: p.clean_gain,
                clean_beam_fwhm_arcsec: p.clean_beam_fwhm_arcsec,
                mem_maxiter: p.mem_max_iterations,
                mem_tol: p.mem_tolerance,
                em_maxiter: p.em_max_iterations,
                em_tol: p.em_tolerance,
                fwdfit_shape: self.fwdfit_shape.map(Into::into),
                fwdfit_sources: p.fwdfit_sources,
                fwdfit_uncertainty: p.fwdfit_uncertainty,
                fwdfit_seed: p.fwdfit_seed,
                ..Default::default()
            },
        })
    }
}

impl From<PrepareError> for ApiError {
    fn from(e: PrepareError) -> Self {
        match e {
            PrepareError::Input(i) => ApiError::field(i.field, i.message),
            PrepareError::Quota(n) => ApiError::QuotaExceeded(format!(
                "you have {n} queued or running jobs (STIX__WORKERS__MAX_ACTIVE_JOBS_PER_USER); wait for one to finish or cancel one"
            )),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// `reconstructionJobs` filter.
#[derive(Debug, Clone, Default, InputObject)]
pub struct ReconstructionJobFilter {
    /// Only jobs with this status.
    pub status: Option<JobStatus>,
    /// Only this user's jobs (admins only).
    pub owner: Option<String>,
}

/// Reconstruction queries.
#[derive(Default)]
pub struct ReconstructionQuery;

#[Object]
impl ReconstructionQuery {
    /// One of the caller's jobs (any job for an admin).
    async fn reconstruction_job(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ReconstructionJob> {
        let st = ctx.data::<AppState>()?;
        let caller = authn(ctx).caller()?;
        Ok(visible_job(&st.db, caller, &id).await?.into())
    }

    /// The caller's reconstruction jobs, newest first (every user's for an admin).
    async fn reconstruction_jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ReconstructionJobFilter>,
    ) -> async_graphql::Result<Page<ReconstructionJob>> {
        let st = ctx.data::<AppState>()?;
        let caller = authn(ctx).caller()?;
        let f = filter.unwrap_or_default();
        let mut q = reconstruction_job::Entity::find().filter(
            reconstruction_job::Column::Kind.eq(jobs::kinds::JobKind::Reconstruction.as_str()),
        );
        if !caller.is_admin() {
            if f.owner.is_some() {
                return Err(
                    ApiError::Forbidden("only administrators filter by owner".into()).into(),
                );
            }
            q = q.filter(reconstruction_job::Column::OwnerId.eq(caller.user_id));
        } else if let Some(name) = &f.owner {
            let owner = crate::auth::accounts::find_by_username(&st.db, name)
                .await
                .map_err(ApiError::from)?;
            q = q.filter(reconstruction_job::Column::OwnerId.eq(owner.map(|u| u.id).unwrap_or(-1)));
        }
        if let Some(s) = f.status {
            q = q.filter(
                reconstruction_job::Column::Status.eq(jobs::kinds::JobStatus::from(s).as_str()),
            );
        }
        Ok(paginate(
            &st.db,
            q,
            &KeysetOrder::column(
                reconstruction_job::Column::CreatedAt,
                reconstruction_job::Column::Id,
                true,
            ),
            &PageArgs {
                first,
                after,
                ..Default::default()
            },
            |m: &reconstruction_job::Model| KeysetCursor::time(m.created_at, m.id),
        )
        .await?)
    }
}

/// Reconstruction mutations.
#[derive(Default)]
pub struct ReconstructionMutation;

#[Object]
impl ReconstructionMutation {
    /// Checks and queues a reconstruction of one box. Every check is made before anything
    /// is written (`BAD_USER_INPUT` with `extensions.field`); an equal job of the caller that
    /// is queued, running or succeeded is returned instead of a new one; beyond the per-user
    /// quota: `QUOTA_EXCEEDED`.
    async fn submit_reconstruction(
        &self,
        ctx: &Context<'_>,
        input: SubmitReconstructionInput,
    ) -> async_graphql::Result<ReconstructionJob> {
        let st = ctx.data::<AppState>()?;
        let caller = authn(ctx).caller()?;
        let inp = input.into_job_input()?;
        let req = jobs::reconstruction::prepare(&st.db, &st.storage, &st.files, &st.limits, &inp)
            .await
            .map_err(ApiError::from)?;
        let (row, _) = jobs::reconstruction::submit(
            &st.db,
            &st.queue,
            caller.user_id,
            &req,
            st.limits.max_active_jobs_per_user,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(row.into())
    }

    /// Cancels a job: a queued job is CANCELLED at once; a running one stops at the next
    /// algorithm boundary (images already made stay attached). Owner or admin only.
    async fn cancel_reconstruction(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ReconstructionJob> {
        let st = ctx.data::<AppState>()?;
        let caller = authn(ctx).caller()?;
        let job = visible_job(&st.db, caller, &id).await?;
        let row = jobs::cancel::cancel(&st.db, &st.events, &st.cancels, &job)
            .await
            .map_err(|e| match e {
                jobs::cancel::CancelError::Finished(_) => ApiError::Conflict(e.to_string()),
                other => ApiError::Internal(other.to_string()),
            })?;
        Ok(row.into())
    }
}
