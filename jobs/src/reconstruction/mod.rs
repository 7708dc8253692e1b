//! A registered user's reconstruction of one box: the input as the API receives it, every
//! check made before anything is queued ([`prepare`]: the file, the time range widened to
//! whole bins, the band, the background, sizes, the map centre, the algorithm knobs), the
//! versioned payload stored with the job ([`ReconstructionRequest`], with the time bins and
//! energy edges that will be used), submission with the per-user quota ([`submit`]) and the
//! runner ([`runner`]), which images the box through the previews' own
//! [`crate::pipeline::boxes::image_box`].

pub mod runner;

use crate::file_cache::FileCache;
use crate::kinds::{JobKind, JobStatus, ProductKind};
use crate::pipeline::inputs::background_files_near;
use crate::queue::Queue;
use crate::storage::Storage;
use crate::store::entities::{reconstruction_job, science_file};
use crate::submit::{NewJob, SubmitError};
use domain::energy::EnergyBand;
use domain::imaging::Algorithm;
use domain::imaging::params::ImagingParams;
use domain::policy::background::{BackgroundCandidate, BackgroundChoice, choose_background};
use domain::selection::{SelectionError, select};
use domain::time_range::TimeRange;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

pub use runner::ReconstructionRunner;

/// The largest distance of a map centre from disk centre, in solar radii.
pub const MAX_CENTER_RSUN: f64 = 1.3;

/// How the background is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackgroundMode {
    /// The nearest background file, as the previews choose it (the default).
    Auto,
    /// No background subtraction.
    None,
    /// A given background file (`fileUid`).
    File,
}

/// A submission as the API receives it (defaults not yet filled in).
#[derive(Debug, Clone, PartialEq)]
pub struct ReconstructionInput {
    /// STIX request UID of the science file (its latest version is used).
    pub science_file_uid: i64,
    /// Requested interval.
    pub time: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    /// Requested band, keV.
    pub energy_kev: (f64, f64),
    /// Algorithms to run.
    pub algorithms: Vec<Algorithm>,
    /// Background mode.
    pub background: BackgroundMode,
    /// Request UID of the background file (mode FILE).
    pub background_file_uid: Option<i64>,
    /// Image side in pixels (default: the previews').
    pub image_size_px: Option<usize>,
    /// Pixel size, arcsec (default: the previews').
    pub pixel_arcsec: Option<f64>,
    /// Map centre, helioprojective arcsec (default: the flare location).
    pub map_center_hpc_arcsec: Option<[f64; 2]>,
    /// Per-algorithm knobs (`algorithm`, `size_px`, `pixel_arcsec` are ignored here).
    pub parameters: ImagingParams,
}

/// Limits and defaults the checks use (from the service settings).
#[derive(Debug, Clone, PartialEq)]
pub struct ReconstructionLimits {
    /// Default image side (the previews').
    pub default_size_px: usize,
    /// Default pixel size (the previews').
    pub default_pixel_arcsec: f64,
    /// Largest image side accepted.
    pub max_size_px: usize,
    /// Accepted pixel sizes, arcsec (inclusive).
    pub pixel_arcsec_range: (f64, f64),
    /// Background search window, days (the previews').
    pub background_max_days: f64,
    /// Queued or running jobs a user may have.
    pub max_active_jobs_per_user: u64,
}

/// The background a job uses, decided at submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackgroundUsed {
    /// The mode asked for.
    pub mode: BackgroundMode,
    /// The file row used, if any.
    pub file_id: Option<i64>,
    /// Its request UID.
    pub file_uid: Option<i64>,
    /// Why there is none (AUTO found nothing).
    pub reason: Option<String>,
}

/// The checked payload of a user reconstruction job (versioned). Equal inputs, once
/// defaults are filled in, give equal payloads: that is what makes resubmission idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconstructionRequest {
    /// Payload version.
    pub v: u32,
    /// The science file row (latest version at submission).
    pub science_file_id: i64,
    /// Its request UID.
    pub science_file_uid: i64,
    /// Its checksum.
    pub science_file_sha256: String,
    /// The interval asked for.
    pub time_requested: TimeRange,
    /// The band asked for, keV.
    pub energy_requested_kev: [f64; 2],
    /// The whole bins used.
    pub time_bins_used: Vec<TimeRange>,
    /// Edges of the energy groups used, keV (n groups → n + 1 edges).
    pub energy_edges_used_kev: Vec<f64>,
    /// Algorithms, in the order given.
    pub algorithms: Vec<Algorithm>,
    /// The background.
    pub background: BackgroundUsed,
    /// Image side, pixels.
    pub image_size_px: usize,
    /// Pixel size, arcsec.
    pub pixel_arcsec: f64,
    /// Map centre, helioprojective arcsec; `None`: the flare location.
    pub map_center_hpc_arcsec: Option<[f64; 2]>,
    /// Per-algorithm knobs.
    pub parameters: ImagingParams,
}

impl ReconstructionRequest {
    /// The current payload version.
    pub const VERSION: u32 = 1;

    /// The actual interval: first bin start to last bin end.
    pub fn time_used(&self) -> Option<TimeRange> {
        let (a, b) = (self.time_bins_used.first()?, self.time_bins_used.last()?);
        TimeRange::new(a.start, b.end).ok()
    }

    /// The actual band: outer edges of the groups.
    pub fn band_used(&self) -> Option<EnergyBand> {
        EnergyBand::new(
            *self.energy_edges_used_kev.first()?,
            *self.energy_edges_used_kev.last()?,
        )
        .ok()
    }
}

/// A rejected input: the GraphQL input field at fault and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    /// The input field (GraphQL spelling, e.g. `timeRange`, `background.fileUid`).
    pub field: &'static str,
    /// Why.
    pub message: String,
}

fn input(field: &'static str, message: impl Into<String>) -> InputError {
    InputError {
        field,
        message: message.into(),
    }
}

/// Why a submission was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrepareError {
    /// The input is wrong; nothing was written.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The user has too many queued or running jobs.
    #[error("at most {0} queued or running jobs per user")]
    Quota(u64),
    /// Database, queue or file-reading failure.
    #[error("{0}")]
    Internal(String),
}

impl From<sea_orm::DbErr> for PrepareError {
    fn from(e: sea_orm::DbErr) -> Self {
        PrepareError::Internal(format!("database: {e}"))
    }
}

impl From<SubmitError> for PrepareError {
    fn from(e: SubmitError) -> Self {
        PrepareError::Internal(e.to_string())
    }
}

/// The latest flare pixel-data file with this request UID.
async fn latest_file(
    db: &DatabaseConnection,
    uid: i64,
    kind: ProductKind,
) -> Result<Option<science_file::Model>, sea_orm::DbErr> {
    science_file::Entity::find()
        .filter(science_file::Column::RequestUid.eq(uid))
        .filter(science_file::Column::ProductKind.eq(kind.as_str()))
        .order_by_desc(science_file::Column::Version)
        .one(db)
        .await
}

/// Checks a submission against the archive and the limits and fills in the defaults; reads
/// the science (and background) file through `cache`. Nothing is written.
pub async fn prepare(
    db: &DatabaseConnection,
    storage: &Storage,
    cache: &FileCache,
    limits: &ReconstructionLimits,
    inp: &ReconstructionInput,
) -> Result<ReconstructionRequest, PrepareError> {
    // Cheap checks first.
    if inp.algorithms.is_empty() {
        return Err(input("algorithms", "give at least one algorithm").into());
    }
    let mut algorithms = Vec::new();
    for a in &inp.algorithms {
        if !algorithms.contains(a) {
            algorithms.push(*a);
        }
    }
    let size = inp.image_size_px.unwrap_or(limits.default_size_px);
    if size < domain::imaging::params::MIN_SIZE_PX || size > limits.max_size_px {
        return Err(input(
            "imageSize",
            format!(
                "{size} px is outside {}…{} px",
                domain::imaging::params::MIN_SIZE_PX,
                limits.max_size_px
            ),
        )
        .into());
    }
    let pixel = inp.pixel_arcsec.unwrap_or(limits.default_pixel_arcsec);
    let (lo, hi) = limits.pixel_arcsec_range;
    if !(pixel.is_finite() && pixel >= lo && pixel <= hi) {
        return Err(input("pixelArcsec", format!("{pixel}″ is outside {lo}…{hi}″")).into());
    }
    let mut params = ImagingParams {
        algorithm: None,
        size_px: None,
        pixel_arcsec: None,
        ..inp.parameters.clone()
    };
    for &a in &algorithms {
        ImagingParams {
            algorithm: Some(a),
            size_px: Some(size),
            pixel_arcsec: Some(pixel),
            ..params.clone()
        }
        .check()
        .map_err(|e| input("parameters", e.to_string()))?;
    }
    // Keep only the knobs of the algorithms asked for, so that equal requests hash equal.
    if !algorithms.contains(&Algorithm::Clean) {
        params.clean_niter = None;
        params.clean_gain = None;
        params.clean_beam_fwhm_arcsec = None;
        params.clean_weighting = None;
        params.clean_negative_max = None;
    }
    if !algorithms.contains(&Algorithm::Mem) {
        params.mem_maxiter = None;
        params.mem_tol = None;
        params.mem_total_flux = None;
    }
    if !algorithms.contains(&Algorithm::Em) {
        params.em_maxiter = None;
        params.em_tol = None;
    }
    if !algorithms.contains(&Algorithm::Fwdfit) {
        params.fwdfit_shape = None;
        params.fwdfit_sources = None;
        params.fwdfit_uncertainty = None;
        params.fwdfit_seed = None;
    }
    let requested =
        TimeRange::new(inp.time.0, inp.time.1).map_err(|e| input("timeRange", e.to_string()))?;
    let band = EnergyBand::new(inp.energy_kev.0, inp.energy_kev.1)
        .map_err(|e| input("energyRange", e.to_string()))?;
    if inp.background == BackgroundMode::File && inp.background_file_uid.is_none() {
        return Err(input("background.fileUid", "mode FILE needs fileUid").into());
    }

    // The science file and its data: every stored version of the request in one statement;
    // the latest names the product, and the newest flare pixel data version is imaged.
    let versions = science_file::Entity::find()
        .filter(science_file::Column::RequestUid.eq(inp.science_file_uid))
        .all(db)
        .await?;
    let Some(file) = versions.iter().max_by_key(|f| (f.is_latest, f.version)) else {
        return Err(input(
            "scienceFileUid",
            format!("no science file with request UID {}", inp.science_file_uid),
        )
        .into());
    };
    if file.product_kind != ProductKind::FlarePixelData.as_str() {
        return Err(input(
            "scienceFileUid",
            format!(
                "request {} is {}, not flare pixel data",
                inp.science_file_uid, file.product_kind
            ),
        )
        .into());
    }
    let file = versions
        .iter()
        .filter(|f| f.product_kind == ProductKind::FlarePixelData.as_str())
        .max_by_key(|f| f.version)
        .unwrap_or(file)
        .clone();
    let sci = cache
        .pixel_data(storage, &file)
        .await
        .map_err(|e| PrepareError::Internal(e.to_string()))?;
    let sel = select(&sci, &requested, &band).map_err(|e| match e {
        SelectionError::Energy(e) => input("energyRange", e.to_string()),
        other => input("timeRange", other.to_string()),
    })?;
    let time_bins_used: Vec<TimeRange> = sel
        .bins()
        .map(|k| TimeRange {
            start: sci.bins()[k].start,
            end: sci.bins()[k].end,
        })
        .collect();
    let mut energy_edges_used_kev: Vec<f64> =
        sel.groups().map(|g| sci.energy_groups[g].low_kev).collect();
    energy_edges_used_kev.push(sel.band.high_kev);

    // The map centre.
    if let Some([x, y]) = inp.map_center_hpc_arcsec {
        let rsun = sci.observer.rsun_arcsec;
        let r = (x * x + y * y).sqrt();
        if !(x.is_finite() && y.is_finite()) || r > MAX_CENTER_RSUN * rsun {
            return Err(input(
                "mapCenter",
                format!(
                    "({x}″, {y}″) is {:.2} solar radii from disk centre; at most {MAX_CENTER_RSUN}",
                    r / rsun
                ),
            )
            .into());
        }
    }

    // The background.
    let background = match inp.background {
        BackgroundMode::None => BackgroundUsed {
            mode: BackgroundMode::None,
            file_id: None,
            file_uid: None,
            reason: None,
        },
        BackgroundMode::Auto => {
            // The previews' rule, on the candidates' times only (nothing is read here).
            let rows = background_files_near(db, &sel.time, limits.background_max_days)
                .await
                .map_err(|e| PrepareError::Internal(e.to_string()))?;
            let candidates: Vec<BackgroundCandidate> = rows
                .iter()
                .filter_map(|r| {
                    Some(BackgroundCandidate {
                        id: r.id.to_string(),
                        range: TimeRange::new(r.obs_start, r.obs_end).ok()?,
                    })
                })
                .collect();
            let choice = choose_background(&sel.time, &candidates, limits.background_max_days);
            let row = choice
                .id()
                .and_then(|id| id.parse::<i64>().ok())
                .and_then(|id| rows.iter().find(|r| r.id == id));
            BackgroundUsed {
                mode: BackgroundMode::Auto,
                file_id: row.map(|r| r.id),
                file_uid: row.map(|r| r.request_uid),
                reason: match choice {
                    BackgroundChoice::None { reason } => Some(reason),
                    _ => None,
                },
            }
        }
        BackgroundMode::File => {
            let uid = inp.background_file_uid.unwrap_or_default();
            let Some(row) = latest_file(db, uid, ProductKind::Background).await? else {
                return Err(input(
                    "background.fileUid",
                    format!("request {uid} is not a background file in the archive"),
                )
                .into());
            };
            let data = cache.pixel_data(storage, &row).await.map_err(|e| {
                input(
                    "background.fileUid",
                    format!("background file {uid} cannot be read: {e}"),
                )
            })?;
            domain::selection::background_groups(&data, &sel.band)
                .map_err(|e| input("background.fileUid", e.to_string()))?;
            BackgroundUsed {
                mode: BackgroundMode::File,
                file_id: Some(row.id),
                file_uid: Some(row.request_uid),
                reason: None,
            }
        }
    };

    Ok(ReconstructionRequest {
        v: ReconstructionRequest::VERSION,
        science_file_id: file.id,
        science_file_uid: file.request_uid,
        science_file_sha256: file.sha256.clone(),
        time_requested: requested,
        energy_requested_kev: [band.low_kev, band.high_kev],
        time_bins_used,
        energy_edges_used_kev,
        algorithms,
        background,
        image_size_px: size,
        pixel_arcsec: pixel,
        map_center_hpc_arcsec: inp.map_center_hpc_arcsec,
        parameters: params,
    })
}

/// Submits a checked request for `owner_id`: an equal job of the same user that is queued,
/// running or succeeded is returned as is; otherwise, within the quota, a new job is queued.
/// Returns the row and whether it is new.
pub async fn submit(
    db: &DatabaseConnection,
    queue: &Queue,
    owner_id: i64,
    req: &ReconstructionRequest,
    max_active: u64,
) -> Result<(reconstruction_job::Model, bool), PrepareError> {
    let job = NewJob {
        kind: JobKind::Reconstruction,
        request: serde_json::to_value(req).map_err(|e| PrepareError::Internal(e.to_string()))?,
        science_file_id: Some(req.science_file_id),
        owner_id: Some(owner_id),
    };
    // Concurrent submissions on SQLite may find the database busy: retry a few times.
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match submit_once(db, queue, job.clone(), owner_id, max_active).await {
            Err(PrepareError::Internal(m))
                if attempt < 20 && (m.contains("locked") || m.contains("busy")) =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt))).await;
            }
            other => return other,
        }
    }
}

async fn submit_once(
    db: &DatabaseConnection,
    queue: &Queue,
    job: NewJob,
    owner_id: i64,
    max_active: u64,
) -> Result<(reconstruction_job::Model, bool), PrepareError> {
    let check: crate::submit::SubmitCheck<'_> = Box::new(move |txn| {
        Box::pin(async move {
            let active = reconstruction_job::Entity::find()
                .filter(reconstruction_job::Column::OwnerId.eq(owner_id))
                .filter(
                    reconstruction_job::Column::Status
                        .is_in([JobStatus::Queued.as_str(), JobStatus::Running.as_str()]),
                )
                .count(txn)
                .await?;
            Ok((active < max_active).then_some(()))
        })
    });
    crate::submit::submit_checked(db, queue, job, check)
        .await
        .map_err(|e| match e {
            crate::submit::CheckedSubmitError::Refused => PrepareError::Quota(max_active),
            crate::submit::CheckedSubmitError::Submit(e) => e.into(),
        })
}
