//! Runs a user's reconstruction job: reads its files (through the process's
//! [`FileCache`]), finds the map centre when none was given (the flare location, as the
//! previews find it), and images the one box through [`image_box`], the previews' own path.
//! Images are kind `user`, linked to the job and its owner. A cancel request stops the job at
//! the next algorithm boundary; images already stored stay attached to it.

use super::ReconstructionRequest;
use crate::cancel::{CancelFlags, watch_row};
use crate::file_cache::FileCache;
use crate::kinds::ImageKind;
use crate::pipeline::boxes::{BoxOutcome, BoxOwner, BoxSpec, image_box, sweep_unrecorded_products};
use crate::pipeline::inputs::{Loaded, aspect_files, blocking, flare_center};
use crate::storage::Storage;
use crate::store::entities::{flare, flare_science_file, reconstruction_job, science_file};
use crate::worker::{JobFailure, Progress};
use domain::aspect::{AspectFile, AspectSolution};
use domain::energy::EnergyBand;
use domain::policy::flare_window::{FlareOrigin, FlareWindow};
use domain::time_range::TimeRange;
use domain::workflow::LOCATION_BAND_KEV;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn bad(code: &str, message: impl Into<String>) -> JobFailure {
    JobFailure::BadInput {
        code: code.to_string(),
        message: message.into(),
    }
}

fn transient(e: impl std::fmt::Display) -> JobFailure {
    JobFailure::Transient(e.to_string())
}

/// Runs `reconstruction` jobs.
#[derive(Clone)]
pub struct ReconstructionRunner {
    db: DatabaseConnection,
    storage: Storage,
    cache: Arc<FileCache>,
    cancels: CancelFlags,
}

impl ReconstructionRunner {
    /// A runner on this database and storage (a data directory path means the local
    /// backend), sharing the process's file cache and cancel flags.
    pub fn new(
        db: DatabaseConnection,
        storage: impl Into<Storage>,
        cache: Arc<FileCache>,
        cancels: CancelFlags,
    ) -> Self {
        Self {
            db,
            storage: storage.into(),
            cache,
            cancels,
        }
    }

    /// Runs one job to completion, failure or cancellation.
    pub async fn run(
        &self,
        job: &reconstruction_job::Model,
        progress: Progress,
    ) -> Result<(), JobFailure> {
        let req: ReconstructionRequest = serde_json::from_value(job.request.clone())
            .map_err(|e| bad("BAD_REQUEST", format!("not a reconstruction request: {e}")))?;
        if job.cancel_requested {
            return Err(JobFailure::Cancelled);
        }
        let guard = self.cancels.register(job.id);
        let watcher = watch_row(self.db.clone(), job.id, guard.flag.clone());
        let result = self.run_box(job, &req, &progress, &guard.flag).await;
        watcher.abort();
        if guard.flag.load(Ordering::Relaxed) {
            return Err(JobFailure::Cancelled);
        }
        result
    }

    async fn run_box(
        &self,
        job: &reconstruction_job::Model,
        req: &ReconstructionRequest,
        progress: &Progress,
        cancel: &Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<(), JobFailure> {
        let n = req.algorithms.len() as i32;
        // (The claim set the stage to `reading`.) The science and background rows in one
        // statement and, side by side with it, the file's flares when the map centre is to
        // be found from them: one round trip to the database instead of two.
        let rows = science_file::Entity::find()
            .filter(
                science_file::Column::Id
                    .is_in(std::iter::once(req.science_file_id).chain(req.background.file_id)),
            )
            .all(&self.db);
        let flares = async {
            match req.map_center_hpc_arcsec {
                Some(_) => Ok(Vec::new()),
                None => flares_of_file(&self.db, req.science_file_id).await,
            }
        };
        let (rows, flares): (Vec<science_file::Model>, Vec<flare::Model>) =
            tokio::try_join!(rows, flares).map_err(transient)?;
        let row_of = |id: i64| rows.iter().find(|r| r.id == id).cloned();
        let file = row_of(req.science_file_id)
            .ok_or_else(|| bad("NOT_FOUND", "the science file is gone"))?;
        let sci = self.cache.pixel_data(&self.storage, &file).await?;
        let background = match req.background.file_id {
            Some(id) => {
                let row =
                    row_of(id).ok_or_else(|| bad("NOT_FOUND", "the background file is gone"))?;
                let data = self.cache.pixel_data(&self.storage, &row).await?;
                Some((row, data))
            }
            None => None,
        };
        let time = req
            .time_used()
            .ok_or_else(|| bad("BAD_REQUEST", "no time bins"))?;
        let band = req
            .band_used()
            .ok_or_else(|| bad("BAD_REQUEST", "no energy groups"))?;
        let aspects = aspect_files(&self.db, sci.time_range().as_ref()).await?;
        let aspect = self.aspect_at(&aspects, &sci, &time).await?;
        let center = match req.map_center_hpc_arcsec {
            Some(hpc) => (None, aspect.attitude().hpc_to_stix(hpc)),
            None => {
                self.flare_location(&flares, &sci, background.as_ref(), &aspects, &aspect, &time)
                    .await?
            }
        };
        let (flare_row, center) = center;
        let band_label = format!(
            "{}-{}keV",
            req.energy_requested_kev[0], req.energy_requested_kev[1]
        );
        let flare_label = flare_row.as_ref().map(|f| f.flare_id.to_string());
        let spec = BoxSpec {
            file: file.clone(),
            sci,
            background,
            aspect,
            time: req.time_requested,
            band: EnergyBand::new(req.energy_requested_kev[0], req.energy_requested_kev[1])
                .unwrap_or(band),
            center_stix_arcsec: center,
            size_px: req.image_size_px,
            pixel_arcsec: req.pixel_arcsec,
            algorithms: req.algorithms.clone(),
            params: req.parameters.clone(),
            owner: BoxOwner {
                job_id: job.id,
                kind: ImageKind::User,
                owner_id: job.owner_id,
                flare_id: flare_row.map(|f| f.id),
            },
            dedup_parts: vec!["user-image".into(), job.public_id.to_string()],
            rel_dir: PathBuf::from("jobs").join(job.public_id.to_string()),
            stem: format!(
                "{}_{}_{band_label}",
                file.request_uid,
                time.start.format("%Y%m%dT%H%M%S")
            ),
            provenance: domain::output::Provenance {
                policy_id: Some(format!("user job {}", job.public_id)),
                ..Default::default()
            },
            calibration: domain::calibration::CalibrationOptions::default(),
            flare_label,
            policy_version: None,
            policy_inputs: Some(job.request.clone()),
            cancel: Some(cancel.clone()),
            // Its images are keyed by this job; its first attempt cannot have stored any.
            first_of_its_kind: job.attempts == 1,
        };
        progress.report("imaging", 0, n).await?;
        // A previous attempt of this job (its worker killed, the database lost) may have left
        // files that no row names; the job's directory is its own. Every attempt is counted
        // when it claims the job, before it writes anything, so a first attempt has nothing
        // to sweep (and spares object storage a listing per job).
        if job.attempts > 1 {
            sweep_unrecorded_products(&self.db, &self.storage, &spec.rel_dir).await?;
        }
        let outcome = image_box(&self.db, &self.storage, &spec).await?;
        match outcome {
            BoxOutcome::AlreadyStored => {
                progress.conclude("done", n, n);
                Ok(())
            }
            BoxOutcome::Unimageable(reason) => Err(bad("UNIMAGEABLE", reason)),
            BoxOutcome::Imaged(results) => {
                let failed: Vec<String> = results
                    .iter()
                    .filter_map(|(a, r)| r.as_ref().err().map(|e| format!("{}: {e}", a.name())))
                    .collect();
                let made = results.len() - failed.len();
                if cancel.load(Ordering::Relaxed) {
                    return Err(JobFailure::Cancelled);
                }
                if made == 0 {
                    return Err(bad("ALGORITHMS_FAILED", failed.join("; ")));
                }
                let stage = if failed.is_empty() {
                    "done".to_string()
                } else {
                    format!("done; failed: {}", failed.join("; "))
                };
                progress.conclude(&stage, n, n);
                Ok(())
            }
        }
    }

    /// Pointing and roll over `window` from the covering aspect file (cached per process),
    /// else the stated assumption.
    async fn aspect_at(
        &self,
        aspects: &[science_file::Model],
        sci: &Arc<domain::l1::PixelData>,
        window: &TimeRange,
    ) -> Result<AspectSolution, JobFailure> {
        let t = window.midpoint();
        let rsun = Some(sci.observer.rsun_arcsec);
        let Some(row) = aspects.iter().find(|a| a.obs_start <= t && t < a.obs_end) else {
            return Ok(AspectSolution::assumed(
                0.0,
                rsun,
                "no aspect file in the archive for this time",
            ));
        };
        let solved = match self.cache.aspect_file(&self.storage, row).await {
            Ok(f) => solve(&f, window),
            // Storage out of reach: retry the job rather than assume a pointing.
            Err(e @ JobFailure::Transient(_)) => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        Ok(solved.unwrap_or_else(|e| {
            AspectSolution::assumed(
                0.0,
                rsun,
                &format!("aspect file {} unusable: {e}", row.file_name),
            )
        }))
    }

    /// The flare of the file (`flares`) that overlaps the box (its listed location, else
    /// located as the previews do), else a location over the box itself. Returns the flare
    /// row, if any, and the centre in the STIX frame.
    async fn flare_location(
        &self,
        flares: &[flare::Model],
        sci: &Arc<domain::l1::PixelData>,
        background: Option<&(science_file::Model, Arc<domain::l1::PixelData>)>,
        aspects: &[science_file::Model],
        aspect: &AspectSolution,
        time: &TimeRange,
    ) -> Result<(Option<flare::Model>, [f64; 2]), JobFailure> {
        let bkg = background.map(|(_, d)| d.clone());
        let best = flares
            .iter()
            .filter(|f| f.start_time < time.end && time.start < f.end_time)
            .min_by_key(|f| (f.peak_time - time.midpoint()).num_seconds().abs());
        if let Some(f) = best
            && let Ok(range) = TimeRange::new(f.start_time, f.end_time)
        {
            let window = FlareWindow {
                flare_id: f.flare_id.to_string(),
                range,
                peak: Some(f.peak_time),
                origin: FlareOrigin::Listed {
                    request_uid: f.list_request_uid.clone(),
                },
            };
            let listed = f
                .location_hpc_x_arcsec
                .zip(f.location_hpc_y_arcsec)
                .map(|(x, y)| [x, y]);
            // The listed location, turned into the STIX frame with the pointing around the
            // peak (the previews' rule), from the cached aspect file.
            if let (Some(hpc), Some(file_range)) = (listed, sci.time_range()) {
                let half = chrono::Duration::seconds(domain::workflow::DEFAULT_WINDOW_HALF_SECONDS);
                if let Ok(w) = TimeRange::new(
                    (f.peak_time - half).max(file_range.start),
                    (f.peak_time + half).min(file_range.end),
                ) {
                    let a = self.aspect_at(aspects, sci, &w).await?;
                    return Ok((Some(f.clone()), a.attitude().hpc_to_stix(hpc)));
                }
            }
            let mut loaded = Loaded::default();
            if let Ok(c) = flare_center(
                &self.storage,
                &window,
                listed,
                sci,
                bkg.clone(),
                &mut loaded,
                aspects,
            )
            .await?
            {
                return Ok((Some(f.clone()), c.stix_arcsec));
            }
        }
        let band = EnergyBand {
            low_kev: LOCATION_BAND_KEV[0],
            high_kev: LOCATION_BAND_KEV[1],
        };
        let (sci, aspect, window) = (sci.clone(), aspect.clone(), *time);
        let located = blocking(move || {
            domain::workflow::locate(&sci, bkg.as_deref(), &aspect, Some(&window), &band)
        })
        .await?
        .map_err(|e| {
            bad(
                "NO_LOCATION",
                format!("the flare could not be located: {e}; give mapCenter"),
            )
        })?;
        Ok((None, located.stix_arcsec))
    }
}

/// The flares listed for science file `file_id`, in one statement.
async fn flares_of_file(
    db: &DatabaseConnection,
    file_id: i64,
) -> Result<Vec<flare::Model>, sea_orm::DbErr> {
    flare::Entity::find()
        .filter(
            flare::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(flare_science_file::Column::FlareId)
                    .from(flare_science_file::Entity)
                    .and_where(flare_science_file::Column::ScienceFileId.eq(file_id))
                    .to_owned(),
            ),
        )
        .all(db)
        .await
}

fn solve(file: &AspectFile, window: &TimeRange) -> Result<AspectSolution, String> {
    file.solution(window).map_err(|e| e.to_string())
}
