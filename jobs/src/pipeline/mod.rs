//! The automatic preview pipeline (`preview-v1`): every new flare science file gets its
//! images without anyone asking. A `preview` job plans the boxes of each flare in the file
//! (`domain::policy`), chooses the background file, runs the five algorithms per box off the
//! async runtime and commits an `images` row only once its FITS and PNG are complete.
//! Re-running a job never duplicates images or skips (unique dedup keys). Each box goes
//! through [`boxes::image_box`], the same path as a user's reconstruction.

pub mod boxes;
pub mod inputs;
pub mod render;
pub mod settings;
pub mod supersede;

use crate::ingest::FLARE_LIST_SOURCE;
use crate::kinds::{ImageKind, JobKind, LocationSource, ProductKind};
use crate::queue::Queue;
use crate::storage::Storage;
use crate::store::entities::{flare, flare_science_file, preview_skip, science_file};
use crate::submit::{NewJob, SubmitError, submit};
use crate::worker::{JobFailure, Progress};
use boxes::{BoxOutcome, BoxOwner, BoxSpec, dedup_key, image_box};
use chrono::Utc;
use domain::energy::EnergyBand;
use domain::imaging::params::ImagingParams;
use domain::l1::PixelData;
use domain::policy::flare_list::ListedFlare;
use domain::policy::flare_window::{
    DETECTION_BAND_KEV, FlareOrigin, FlareWindow, flare_windows_for_file,
};
use domain::policy::preview_v1::{PlannedBox, PreviewPlan, SkippedBox};
use domain::time_range::TimeRange;
use inputs::{
    Loaded, aspect_at, aspect_files, background_for, blocking, flare_center, read_pixel_data,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
pub use settings::{PipelineSettings, SelectionPolicy};
use std::path::PathBuf;
use std::sync::Arc;

/// The payload of a preview job (versioned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewRequest {
    /// Payload version.
    pub v: u32,
    /// The science file row.
    pub science_file_id: i64,
    /// Its SHA-256 (a new version of the file is a new request).
    pub sha256: String,
    /// The pipeline settings in force when it was submitted.
    pub settings: PipelineSettings,
    /// When an operator asked to reprocess the file (a new job even if an equal one ran;
    /// boxes whose images are already stored are still not computed again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reprocess_requested_at: Option<chrono::DateTime<Utc>>,
}

/// Queues the preview of one flare science file (idempotent: the same file and settings give
/// the same job while it is queued, running or done).
pub async fn submit_preview(
    db: &DatabaseConnection,
    queue: &Queue,
    file: &science_file::Model,
    settings: &PipelineSettings,
) -> Result<(crate::store::entities::reconstruction_job::Model, bool), SubmitError> {
    queue_preview(db, queue, file, settings, None).await
}

/// Queues the previews of `file` again with `settings` (an operator's `reprocess`): always a
/// new job. Images it makes supersede the older previews of the same slots
/// ([`supersede::supersede_older`]); boxes already stored with these settings are skipped.
pub async fn submit_reprocess(
    db: &DatabaseConnection,
    queue: &Queue,
    file: &science_file::Model,
    settings: &PipelineSettings,
) -> Result<crate::store::entities::reconstruction_job::Model, SubmitError> {
    let (job, _) = queue_preview(db, queue, file, settings, Some(Utc::now())).await?;
    Ok(job)
}

async fn queue_preview(
    db: &DatabaseConnection,
    queue: &Queue,
    file: &science_file::Model,
    settings: &PipelineSettings,
    reprocess_requested_at: Option<chrono::DateTime<Utc>>,
) -> Result<(crate::store::entities::reconstruction_job::Model, bool), SubmitError> {
    let req = PreviewRequest {
        v: 1,
        science_file_id: file.id,
        sha256: file.sha256.clone(),
        settings: settings.clone(),
        reprocess_requested_at,
    };
    submit(
        db,
        queue,
        NewJob {
            kind: JobKind::Preview,
            request: serde_json::to_value(&req).unwrap_or_default(),
            science_file_id: Some(file.id),
            owner_id: None,
        },
    )
    .await
}

/// Runs preview jobs.
#[derive(Clone)]
pub struct PreviewRunner {
    db: DatabaseConnection,
    storage: Storage,
}

fn bad(code: &str, message: impl Into<String>) -> JobFailure {
    JobFailure::BadInput {
        code: code.to_string(),
        message: message.into(),
    }
}

fn transient(e: impl std::fmt::Display) -> JobFailure {
    JobFailure::Transient(e.to_string())
}

/// Removes the `*.partial` temporary files under `dir` (recursively); returns how many.
fn remove_partials(dir: &std::path::Path) -> usize {
    let removed = crate::storage::files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "partial"))
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count();
    if removed > 0 {
        tracing::info!(removed, dir = %dir.display(), "removed temporary files of an interrupted attempt");
    }
    removed
}

fn band_label(b: &EnergyBand) -> String {
    format!("{}-{}keV", b.low_kev, b.high_kev)
}

/// A flare of this file with its database row.
struct FlareCtx {
    window: FlareWindow,
    row: flare::Model,
}

impl PreviewRunner {
    /// A runner on this database and storage (a data directory path means the local
    /// backend).
    pub fn new(db: DatabaseConnection, storage: impl Into<Storage>) -> Self {
        Self {
            db,
            storage: storage.into(),
        }
    }

    /// Runs one preview job to completion.
    pub async fn run(
        &self,
        job: &crate::store::entities::reconstruction_job::Model,
        progress: Progress,
    ) -> Result<(), JobFailure> {
        let req: PreviewRequest = serde_json::from_value(job.request.clone())
            .map_err(|e| bad("BAD_REQUEST", format!("not a preview request: {e}")))?;
        req.settings.check().map_err(|e| bad("BAD_SETTINGS", e))?;
        let file = science_file::Entity::find_by_id(req.science_file_id)
            .one(&self.db)
            .await
            .map_err(transient)?
            .ok_or_else(|| {
                bad(
                    "NOT_FOUND",
                    format!("science file {} does not exist", req.science_file_id),
                )
            })?;
        if file.product_kind != ProductKind::FlarePixelData.as_str() {
            return Err(bad(
                "WRONG_PRODUCT",
                format!(
                    "{} is {}, not flare pixel data",
                    file.file_name, file.product_kind
                ),
            ));
        }
        // (The claim set the stage to `reading`.)
        let sci = Arc::new(read_pixel_data(&self.storage, &file).await?);

        progress.report("planning", 0, 0).await?;
        let flares = self.flares_of(&file, &sci, &req.settings).await?;
        let aspects = aspect_files(&self.db, sci.time_range().as_ref()).await?;
        let mut loaded = Loaded::default();

        // Plan everything first so that progress has a true total.
        let mut plans = Vec::new();
        for f in &flares {
            let bkg = background_for(
                &self.db,
                &self.storage,
                &mut loaded,
                &f.window.range,
                req.settings.background_max_days,
            )
            .await?;
            let curves: Vec<_> = req
                .settings
                .policy
                .bands_kev
                .iter()
                .filter_map(|b| EnergyBand::new(b[0], b[1]).ok())
                .filter_map(|b| sci.light_curve(&b).ok())
                .collect();
            let plan = {
                let (window, settings) = (f.window.clone(), req.settings.clone());
                let (sci, bkg_data) = (sci.clone(), bkg.1.clone());
                blocking(move || {
                    plan_preview(&window, &curves, &settings, &sci, bkg_data.as_deref())
                })
                .await?
            };
            plans.push((f, bkg, plan));
        }
        let total: i32 = plans
            .iter()
            .map(|(_, _, p)| p.boxes.len() * req.settings.algorithms.len())
            .sum::<usize>() as i32;
        progress.report("imaging", 0, total).await?;
        // A previous attempt killed mid-write may have left temporary files: remove them
        // (products are only ever renamed into place complete).
        let own_dir = self
            .storage
            .data_dir()
            .join("images")
            .join(file.request_uid.to_string());
        blocking(move || remove_partials(&own_dir)).await?;

        let mut done = 0i32;
        for (f, bkg, plan) in plans {
            let (bkg_row, bkg_data, bkg_choice) = bkg;
            let context = serde_json::json!({
                "flare": &f.window,
                "background": &bkg_choice,
                "detection": if matches!(f.window.origin, FlareOrigin::Listed { .. }) { serde_json::Value::Null } else { serde_json::to_value(&req.settings.detection).unwrap_or_default() },
            });
            for s in &plan.skips {
                self.record_skip(&file, f, job.id, None, &SkipBox::skipped(s), &s.reason)
                    .await?;
            }
            if plan.boxes.is_empty() {
                continue;
            }
            let location = f
                .row
                .location_hpc_x_arcsec
                .zip(f.row.location_hpc_y_arcsec)
                .map(|(x, y)| [x, y]);
            let center = match flare_center(
                &self.storage,
                &f.window,
                location,
                &sci,
                bkg_data.clone(),
                &mut loaded,
                &aspects,
            )
            .await?
            {
                Ok(c) => {
                    if let Some(hpc) = c.located_hpc_arcsec {
                        store_imaged_location(&self.db, f.row.id, hpc).await?;
                    }
                    c.stix_arcsec
                }
                Err(reason) => {
                    for b in &plan.boxes {
                        self.record_skip(
                            &file,
                            f,
                            job.id,
                            None,
                            &SkipBox::planned(b, &b.inputs),
                            &reason,
                        )
                        .await?;
                        done += req.settings.algorithms.len() as i32;
                    }
                    progress.report("imaging", done, total).await?;
                    continue;
                }
            };
            for b in &plan.boxes {
                let aspect =
                    aspect_at(&self.storage, &mut loaded, &aspects, &sci, &b.actual).await?;
                let spec = preview_box(PreviewBox {
                    file: &file,
                    flare: f,
                    sci: &sci,
                    background: bkg_row.clone().zip(bkg_data.clone()),
                    aspect,
                    center,
                    planned: b,
                    settings: &req.settings,
                    job_id: job.id,
                    context: &context,
                });
                self.store_box(&file, f, job.id, b, &spec).await?;
                done += req.settings.algorithms.len() as i32;
                progress.report("imaging", done, total).await?;
            }
        }
        Ok(())
    }

    /// The flares to preview, by the one rule of [`flare_windows_for_file`]: the listed
    /// flares the file covers (with their request UID), else those detected in its own
    /// 4–10 keV light curve (stored as `detected` flares). Links them to the file.
    async fn flares_of(
        &self,
        file: &science_file::Model,
        sci: &PixelData,
        settings: &PipelineSettings,
    ) -> Result<Vec<FlareCtx>, JobFailure> {
        let rows = flare::Entity::find()
            .filter(flare::Column::Source.eq(FLARE_LIST_SOURCE))
            .filter(flare::Column::EndTime.gt(file.obs_start))
            .filter(flare::Column::StartTime.lt(file.obs_end))
            .all(&self.db)
            .await
            .map_err(transient)?;
        let listed: Vec<ListedFlare> = rows.iter().map(listed_flare).collect();
        let band = EnergyBand {
            low_kev: DETECTION_BAND_KEV[0],
            high_kev: DETECTION_BAND_KEV[1],
        };
        let lc = sci
            .light_curve(&band)
            .map_err(|e| bad("BAD_L1_FILE", e.to_string()))?;
        let mut out = Vec::new();
        for window in flare_windows_for_file(&listed, &lc, &settings.detection) {
            let row = match &window.origin {
                FlareOrigin::Listed { .. } => rows
                    .iter()
                    .find(|r| r.flare_id.to_string() == window.flare_id)
                    .cloned()
                    .ok_or_else(|| transient("a listed flare row vanished"))?,
                _ => self.upsert_detected(&window).await?,
            };
            out.push(FlareCtx { window, row });
        }
        for f in &out {
            crate::store::insert_or_ignore(
                &self.db,
                flare_science_file::ActiveModel {
                    flare_id: Set(f.row.id),
                    science_file_id: Set(file.id),
                },
                [
                    flare_science_file::Column::FlareId,
                    flare_science_file::Column::ScienceFileId,
                ],
            )
            .await
            .map_err(transient)?;
        }
        Ok(out)
    }

    async fn upsert_detected(&self, w: &FlareWindow) -> Result<flare::Model, JobFailure> {
        let id: i64 = w.flare_id.parse().map_err(|_| {
            bad(
                "BAD_FLARE",
                format!("flare id '{}' is not numeric", w.flare_id),
            )
        })?;
        if let Some(existing) = flare::Entity::find()
            .filter(flare::Column::FlareId.eq(id))
            .one(&self.db)
            .await
            .map_err(transient)?
        {
            return Ok(existing);
        }
        let detector_version = match &w.origin {
            FlareOrigin::Detected { detector_version }
            | FlareOrigin::WholeFile { detector_version } => Some(detector_version.clone()),
            _ => None,
        };
        crate::store::insert_or_ignore(
            &self.db,
            flare::ActiveModel {
                flare_id: Set(id),
                start_time: Set(w.range.start),
                peak_time: Set(w.peak.unwrap_or(w.range.midpoint())),
                end_time: Set(w.range.end),
                source: Set(match w.origin {
                    FlareOrigin::WholeFile { .. } => "whole_file".to_string(),
                    _ => "detected".to_string(),
                }),
                detector_version: Set(detector_version),
                list_request_uid: Set(None),
                created_at: Set(Utc::now()),
                ..Default::default()
            },
            [flare::Column::FlareId],
        )
        .await
        .map_err(transient)?;
        flare::Entity::find()
            .filter(flare::Column::FlareId.eq(id))
            .one(&self.db)
            .await
            .map_err(transient)?
            .ok_or_else(|| transient("the detected flare row vanished"))
    }

    /// Images one planned box through [`image_box`] and records a skip for the box or for
    /// each algorithm that could not be imaged.
    async fn store_box(
        &self,
        file: &science_file::Model,
        f: &FlareCtx,
        job_id: i64,
        b: &PlannedBox,
        spec: &BoxSpec,
    ) -> Result<(), JobFailure> {
        let inputs = spec.policy_inputs.clone().unwrap_or_default();
        match image_box(&self.db, &self.storage, spec).await? {
            BoxOutcome::AlreadyStored => {}
            BoxOutcome::Unimageable(reason) => {
                self.record_skip(
                    file,
                    f,
                    job_id,
                    None,
                    &SkipBox::planned(b, &inputs),
                    &reason,
                )
                .await?;
            }
            BoxOutcome::Imaged(results) => {
                for (alg, result) in results {
                    if let Err(reason) = result {
                        let reason = format!("{} failed: {reason}", alg.name());
                        self.record_skip(
                            file,
                            f,
                            job_id,
                            Some(alg.name()),
                            &SkipBox::planned(b, &inputs),
                            &reason,
                        )
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn record_skip(
        &self,
        file: &science_file::Model,
        f: &FlareCtx,
        job_id: i64,
        algorithm: Option<&str>,
        skip: &SkipBox<'_>,
        reason: &str,
    ) -> Result<(), JobFailure> {
        let (band, requested) = (skip.band, skip.requested);
        let dedup = dedup_key(&[
            "skip",
            &file.sha256,
            skip.policy_version,
            &f.window.flare_id,
            &band_label(band),
            &requested.to_string(),
            algorithm.unwrap_or("-"),
        ]);
        crate::store::insert_or_ignore(
            &self.db,
            preview_skip::ActiveModel {
                science_file_id: Set(file.id),
                flare_id: Set(Some(f.row.id)),
                job_id: Set(Some(job_id)),
                dedup_key: Set(dedup),
                algorithm: Set(algorithm.map(str::to_string)),
                energy_low_kev: Set(band.low_kev),
                energy_high_kev: Set(band.high_kev),
                time_start: Set(requested.start),
                time_end: Set(requested.end),
                counts: Set(Some(skip.counts)),
                background_counts: Set(skip.background_counts),
                net_counts: Set(skip.net_counts),
                reason: Set(reason.to_string()),
                policy_version: Set(skip.policy_version.to_string()),
                policy_inputs: Set(Some(skip.inputs.clone())),
                created_at: Set(Utc::now()),
                ..Default::default()
            },
            [preview_skip::Column::DedupKey],
        )
        .await
        .map_err(transient)?;
        Ok(())
    }
}

/// What a skip records about its box: where, the counts the policy measured, and why.
struct SkipBox<'a> {
    band: &'a EnergyBand,
    requested: &'a TimeRange,
    counts: f64,
    background_counts: Option<f64>,
    net_counts: Option<f64>,
    policy_version: &'a str,
    inputs: &'a serde_json::Value,
}

impl<'a> SkipBox<'a> {
    /// A planned box that could not be imaged (`inputs`: what its images would record).
    fn planned(b: &'a PlannedBox, inputs: &'a serde_json::Value) -> Self {
        Self {
            band: &b.band,
            requested: &b.requested,
            counts: b.counts,
            background_counts: b.background_counts,
            net_counts: b.net_counts,
            policy_version: &b.policy_version,
            inputs,
        }
    }

    /// A box the policy skipped.
    fn skipped(s: &'a SkippedBox) -> Self {
        Self {
            band: &s.band,
            requested: &s.requested,
            counts: s.counts,
            background_counts: s.background_counts,
            net_counts: s.net_counts,
            policy_version: &s.policy_version,
            inputs: &s.inputs,
        }
    }
}

/// One preview box as the pipeline planned it.
struct PreviewBox<'a> {
    file: &'a science_file::Model,
    flare: &'a FlareCtx,
    sci: &'a Arc<PixelData>,
    background: Option<(science_file::Model, Arc<PixelData>)>,
    aspect: domain::aspect::AspectSolution,
    center: [f64; 2],
    planned: &'a PlannedBox,
    settings: &'a PipelineSettings,
    job_id: i64,
    context: &'a serde_json::Value,
}

/// The [`BoxSpec`] of a planned preview box: kind `preview`, the policy's provenance, and the
/// dedup identity (file, background, policy, settings, flare, band, requested time).
fn preview_box(p: PreviewBox<'_>) -> BoxSpec {
    let b = p.planned;
    let settings_json = serde_json::to_string(p.settings).unwrap_or_default();
    let bkg_sha = p
        .background
        .as_ref()
        .map(|(r, _)| r.sha256.clone())
        .unwrap_or_else(|| "none".into());
    let flare_id = &p.flare.window.flare_id;
    BoxSpec {
        file: p.file.clone(),
        sci: p.sci.clone(),
        background: p.background,
        aspect: p.aspect,
        time: b.requested,
        band: b.band,
        center_stix_arcsec: p.center,
        size_px: p.settings.image_size_px,
        pixel_arcsec: p.settings.pixel_arcsec,
        algorithms: p.settings.algorithms.clone(),
        params: ImagingParams::default(),
        owner: BoxOwner {
            job_id: p.job_id,
            kind: ImageKind::Preview,
            owner_id: None,
            flare_id: Some(p.flare.row.id),
        },
        dedup_parts: vec![
            "image".into(),
            p.file.sha256.clone(),
            bkg_sha,
            b.policy_version.clone(),
            settings_json,
            flare_id.clone(),
            band_label(&b.band),
            b.requested.to_string(),
        ],
        rel_dir: PathBuf::from("images")
            .join(p.file.request_uid.to_string())
            .join(flare_id),
        stem: format!(
            "{}_{}",
            band_label(&b.band),
            b.requested.start.format("%Y%m%dT%H%M%S")
        ),
        provenance: domain::output::Provenance {
            policy_id: Some(format!(
                "{} flare {flare_id} {} {}",
                b.policy_version,
                band_label(&b.band),
                b.requested
            )),
            ..Default::default()
        },
        calibration: p.settings.calibration(),
        flare_label: Some(flare_id.clone()),
        policy_version: Some(b.policy_version.clone()),
        policy_inputs: Some(serde_json::json!({ "box": &b.inputs, "context": p.context })),
        cancel: None,
        // Preview dedup keys name the box, not the job: another job may have stored them.
        first_of_its_kind: false,
    }
}

/// Plans the boxes of one flare by the settings' selection policy: `preview-v1` counts total
/// counts, `preview-v2` background-subtracted counts with the previews' calibration.
fn plan_preview(
    window: &FlareWindow,
    curves: &[domain::lightcurve::LightCurve],
    settings: &PipelineSettings,
    sci: &PixelData,
    bkg: Option<&PixelData>,
) -> PreviewPlan {
    match settings.selection_policy {
        SelectionPolicy::PreviewV1 => {
            domain::policy::preview_v1::plan_boxes(window, curves, &settings.policy)
        }
        SelectionPolicy::PreviewV2 => {
            let options = settings.calibration();
            let net = |band: &EnergyBand, time: &TimeRange| {
                domain::policy::preview_v2::net_counts(sci, bkg, band, time, options)
            };
            domain::policy::preview_v2::plan_boxes(window, curves, &settings.policy, &net)
        }
    }
}

/// Stores the location imaging found for a flare that had none (a detected flare, or a
/// listed one without a position), with the source `stix_imaging`; a location already
/// stored (the flare list's, or an earlier run's) is kept.
async fn store_imaged_location(
    db: &DatabaseConnection,
    flare_row_id: i64,
    hpc_arcsec: [f64; 2],
) -> Result<(), JobFailure> {
    use sea_orm::sea_query::Expr;
    flare::Entity::update_many()
        .col_expr(
            flare::Column::LocationHpcXArcsec,
            Expr::value(hpc_arcsec[0]),
        )
        .col_expr(
            flare::Column::LocationHpcYArcsec,
            Expr::value(hpc_arcsec[1]),
        )
        .col_expr(
            flare::Column::LocationSource,
            Expr::value(LocationSource::StixImaging.as_str()),
        )
        .filter(flare::Column::Id.eq(flare_row_id))
        .filter(flare::Column::LocationHpcXArcsec.is_null())
        .exec(db)
        .await
        .map_err(|e| JobFailure::Transient(e.to_string()))?;
    Ok(())
}

/// A flare-list row as the domain's flare-window rule takes it (the request UID kept).
fn listed_flare(row: &flare::Model) -> ListedFlare {
    let c = |v: Option<f64>| v.unwrap_or(0.0);
    ListedFlare {
        flare_id: row.flare_id.to_string(),
        start: row.start_time,
        peak: row.peak_time,
        end: row.end_time,
        ql_peak_counts: [
            c(row.peak_counts4_to10_kev),
            c(row.peak_counts10_to15_kev),
            c(row.peak_counts15_to25_kev),
            c(row.peak_counts25_to50_kev),
            c(row.peak_counts50_to84_kev),
        ],
        attenuator_in: row.attenuator_in.unwrap_or(false),
        background_4_10_kev: None,
        hpc_solo_arcsec: row
            .location_hpc_x_arcsec
            .zip(row.location_hpc_y_arcsec)
            .map(|(x, y)| [x, y]),
        hgs_lon_lat_deg: None,
        goes_class: row.goes_class.clone(),
        request_uid: row.list_request_uid.clone(),
    }
}
