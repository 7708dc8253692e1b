//! The automatic preview pipeline (`preview-v1`): every new flare science file gets its
//! images without anyone asking. A `preview` job plans the boxes of each flare in the file
//! (`domain::policy`), chooses the background file, runs the five algorithms per box off the
//! async runtime and commits an `images` row only once its FITS and PNG are complete.
//! Re-running a job never duplicates images or skips (unique dedup keys).

pub mod render;
pub mod settings;

use crate::queue::Queue;
use crate::store::entities::{flare, flare_science_file, image, preview_skip, science_file};
use crate::submit::{NewJob, SubmitError, submit};
use crate::worker::{JobFailure, Progress};
use chrono::Utc;
use domain::aspect::{AspectFile, AspectSolution};
use domain::energy::EnergyBand;
use domain::l1::PixelData;
use domain::policy::background::{BackgroundCandidate, BackgroundChoice, choose_background};
use domain::policy::flare_window::{FlareOrigin, FlareWindow, flare_windows_for_file};
use domain::policy::preview_v1::{POLICY_VERSION, PlannedBox, plan_boxes};
use domain::time_range::TimeRange;
use render::{BoxInput, render_box};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
pub use settings::PipelineSettings;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::sync::Arc;

/// `reconstruction_jobs.kind` of preview jobs.
pub const JOB_KIND: &str = "preview";

/// Band of the flare location (section E.6).
const LOCATION_BAND_KEV: [f64; 2] = [6.0, 10.0];
/// Half-width of the location window around the flare peak, seconds (E.6 / `locate`).
const LOCATION_HALF_WINDOW_SECONDS: i64 = 60;

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
}

/// Queues the preview of one flare science file (idempotent: the same file and settings give
/// the same job while it is queued, running or done).
pub async fn submit_preview(
    db: &DatabaseConnection,
    queue: &Queue,
    file: &science_file::Model,
    settings: &PipelineSettings,
) -> Result<(crate::store::entities::reconstruction_job::Model, bool), SubmitError> {
    let req = PreviewRequest {
        v: 1,
        science_file_id: file.id,
        sha256: file.sha256.clone(),
        settings: settings.clone(),
    };
    submit(
        db,
        queue,
        NewJob {
            kind: JOB_KIND.to_string(),
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
    data_dir: PathBuf,
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

/// Runs blocking work on the blocking pool; a panic there becomes a failure, not a crash.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JobFailure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| bad("INTERNAL", format!("computation aborted: {e}")))
}

/// Removes the `*.partial` temporary files under `dir` (recursively); returns how many.
fn remove_partials(dir: &std::path::Path) -> usize {
    let mut removed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "partial")
                && std::fs::remove_file(&p).is_ok()
            {
                removed += 1;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, dir = %dir.display(), "removed temporary files of an interrupted attempt");
    }
    removed
}

fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

fn band_label(b: &EnergyBand) -> String {
    format!("{}-{}keV", b.low_kev, b.high_kev)
}

/// Files read once per job, whatever the number of flares and boxes that use them.
#[derive(Default)]
struct Loaded {
    aspects: HashMap<i64, Result<Arc<AspectFile>, String>>,
    backgrounds: HashMap<i64, Result<Arc<PixelData>, String>>,
}

/// A flare of this file with its database row.
struct FlareCtx {
    window: FlareWindow,
    row: flare::Model,
}

impl PreviewRunner {
    /// A runner on this database and data directory.
    pub fn new(db: DatabaseConnection, data_dir: PathBuf) -> Self {
        Self { db, data_dir }
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
        if file.product_kind != "flare_pixel_data" {
            return Err(bad(
                "WRONG_PRODUCT",
                format!(
                    "{} is {}, not flare pixel data",
                    file.file_name, file.product_kind
                ),
            ));
        }
        progress.report("reading", 0, 0).await?;
        let sci = Arc::new(self.read_pixel_data(&file).await?);

        progress.report("planning", 0, 0).await?;
        let flares = self.flares_of(&file, &sci, &req.settings).await?;
        let aspects = self.aspect_files().await?;
        let mut loaded = Loaded::default();

        // Plan everything first so that progress has a true total.
        let mut plans = Vec::new();
        for f in &flares {
            let bkg = self
                .background_for(&mut loaded, &f.window.range, &req.settings)
                .await?;
            let curves: Vec<_> = req
                .settings
                .policy
                .bands_kev
                .iter()
                .filter_map(|b| EnergyBand::new(b[0], b[1]).ok())
                .filter_map(|b| sci.light_curve(&b).ok())
                .collect();
            let plan = plan_boxes(&f.window, &curves, &req.settings.policy);
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
            .data_dir
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
                self.record_skip(
                    &file,
                    f,
                    job.id,
                    None,
                    &s.band,
                    &s.requested,
                    Some(s.counts),
                    &s.reason,
                    &s.inputs,
                )
                .await?;
            }
            if plan.boxes.is_empty() {
                continue;
            }
            let center = match self
                .flare_center(f, &sci, bkg_data.clone(), &mut loaded, &aspects)
                .await?
            {
                Ok(c) => c,
                Err(reason) => {
                    for b in &plan.boxes {
                        self.record_skip(
                            &file,
                            f,
                            job.id,
                            None,
                            &b.band,
                            &b.requested,
                            Some(b.counts),
                            &reason,
                            &b.inputs,
                        )
                        .await?;
                        done += req.settings.algorithms.len() as i32;
                    }
                    progress.report("imaging", done, total).await?;
                    continue;
                }
            };
            for b in &plan.boxes {
                let n = self
                    .image_box(
                        &file,
                        f,
                        &sci,
                        bkg_row.as_ref(),
                        bkg_data.clone(),
                        (&mut loaded, &aspects),
                        center,
                        b,
                        &req.settings,
                        job.id,
                        &context,
                    )
                    .await?;
                done += n as i32;
                progress.report("imaging", done, total).await?;
            }
        }
        Ok(())
    }

    async fn read_pixel_data(&self, file: &science_file::Model) -> Result<PixelData, JobFailure> {
        let path = self.data_dir.join(&file.stored_path);
        let name = file.file_name.clone();
        blocking(move || PixelData::read(&path))
            .await?
            .map_err(|e| bad("BAD_L1_FILE", format!("{name}: {e}")))
    }

    /// The flares to preview: listed flares overlapping the file, else those detected in its
    /// own 4–10 keV light curve (stored as `detected` flares). Links them to the file.
    async fn flares_of(
        &self,
        file: &science_file::Model,
        sci: &PixelData,
        settings: &PipelineSettings,
    ) -> Result<Vec<FlareCtx>, JobFailure> {
        let listed = flare::Entity::find()
            .filter(flare::Column::Source.eq("flare_list"))
            .filter(flare::Column::EndTime.gt(file.obs_start))
            .filter(flare::Column::StartTime.lt(file.obs_end))
            .all(&self.db)
            .await
            .map_err(transient)?;
        let mut out = Vec::new();
        if !listed.is_empty() {
            for row in listed {
                let range = TimeRange::new(row.start_time, row.end_time)
                    .map_err(|e| bad("BAD_FLARE", format!("flare {}: {e}", row.flare_id)))?;
                let window = FlareWindow {
                    flare_id: row.flare_id.to_string(),
                    range,
                    peak: Some(row.peak_time),
                    origin: FlareOrigin::Listed { request_uid: None },
                };
                out.push(FlareCtx { window, row });
            }
        } else {
            let band = EnergyBand {
                low_kev: 4.0,
                high_kev: 10.0,
            };
            let lc = sci
                .light_curve(&band)
                .map_err(|e| bad("BAD_L1_FILE", e.to_string()))?;
            for window in flare_windows_for_file(&[], &lc, &settings.detection) {
                let row = self.upsert_detected(&window).await?;
                out.push(FlareCtx { window, row });
            }
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

    /// The background file for a flare (nearest within ±N days, same ELUT period).
    async fn background_for(
        &self,
        loaded: &mut Loaded,
        flare_range: &TimeRange,
        settings: &PipelineSettings,
    ) -> Result<
        (
            Option<science_file::Model>,
            Option<Arc<PixelData>>,
            BackgroundChoice,
        ),
        JobFailure,
    > {
        let rows = science_file::Entity::find()
            .filter(science_file::Column::ProductKind.eq("background"))
            .filter(science_file::Column::IsLatest.eq(true))
            .all(&self.db)
            .await
            .map_err(transient)?;
        let candidates: Vec<BackgroundCandidate> = rows
            .iter()
            .filter_map(|r| {
                Some(BackgroundCandidate {
                    id: r.id.to_string(),
                    range: TimeRange::new(r.obs_start, r.obs_end).ok()?,
                })
            })
            .collect();
        let choice = choose_background(flare_range, &candidates, settings.background_max_days);
        let Some(id) = choice.id().and_then(|s| s.parse::<i64>().ok()) else {
            return Ok((None, None, choice));
        };
        let row = rows.into_iter().find(|r| r.id == id);
        let Some(row) = row else {
            return Ok((None, None, choice));
        };
        if let Entry::Vacant(slot) = loaded.backgrounds.entry(row.id) {
            slot.insert(match self.read_pixel_data(&row).await {
                Ok(d) => Ok(Arc::new(d)),
                Err(e) => Err(e.to_string()),
            });
        }
        match &loaded.backgrounds[&row.id] {
            Ok(data) => Ok((Some(row), Some(data.clone()), choice)),
            Err(e) => {
                let reason = format!("background file {} unusable: {e}", row.file_name);
                tracing::warn!(%reason);
                Ok((None, None, BackgroundChoice::None { reason }))
            }
        }
    }

    async fn aspect_files(&self) -> Result<Vec<science_file::Model>, JobFailure> {
        science_file::Entity::find()
            .filter(science_file::Column::ProductKind.eq("aspect"))
            .filter(science_file::Column::IsLatest.eq(true))
            .all(&self.db)
            .await
            .map_err(transient)
    }

    /// Pointing and roll over `window`: from the aspect file covering its middle (read once
    /// per job), else an explicit assumption that the products say.
    async fn aspect_at(
        &self,
        loaded: &mut Loaded,
        aspects: &[science_file::Model],
        sci: &Arc<PixelData>,
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
        if let Entry::Vacant(slot) = loaded.aspects.entry(row.id) {
            let path = self.data_dir.join(&row.stored_path);
            let read = blocking(move || AspectFile::read(&path)).await?;
            slot.insert(read.map(Arc::new).map_err(|e| e.to_string()));
        }
        let solved = match &loaded.aspects[&row.id] {
            Ok(file) => file.solution(window).map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        Ok(solved.unwrap_or_else(|e| {
            AspectSolution::assumed(
                0.0,
                rsun,
                &format!("aspect file {} unusable: {e}", row.file_name),
            )
        }))
    }

    /// The map centre of a flare in the STIX frame: the listed location when known, else the
    /// full-disk back-projection location (E.6) over ±60 s around the peak at 6–10 keV. The
    /// inner `Err` is a reason to skip the flare's boxes.
    async fn flare_center(
        &self,
        f: &FlareCtx,
        sci: &Arc<PixelData>,
        bkg: Option<Arc<PixelData>>,
        loaded: &mut Loaded,
        aspects: &[science_file::Model],
    ) -> Result<Result<[f64; 2], String>, JobFailure> {
        let Some(file_range) = sci.time_range() else {
            return Ok(Err("the file has no time bins".into()));
        };
        let peak = f.window.peak.unwrap_or(f.window.range.midpoint());
        let half = chrono::Duration::seconds(LOCATION_HALF_WINDOW_SECONDS);
        let window = match TimeRange::new(
            (peak - half).max(file_range.start),
            (peak + half).min(file_range.end),
        ) {
            Ok(w) => w,
            Err(e) => return Ok(Err(format!("no location window: {e}"))),
        };
        let aspect = self.aspect_at(loaded, aspects, sci, &window).await?;
        if let (Some(x), Some(y)) = (f.row.location_hpc_x_arcsec, f.row.location_hpc_y_arcsec) {
            return Ok(Ok(aspect.attitude().hpc_to_stix([x, y])));
        }
        let band = EnergyBand {
            low_kev: LOCATION_BAND_KEV[0],
            high_kev: LOCATION_BAND_KEV[1],
        };
        let sci = sci.clone();
        let located = blocking(move || {
            domain::workflow::locate(&sci, bkg.as_deref(), &aspect, Some(&window), &band)
        })
        .await?;
        Ok(located
            .map(|l| l.stix_arcsec)
            .map_err(|e| format!("the flare could not be located: {e}")))
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_skip(
        &self,
        file: &science_file::Model,
        f: &FlareCtx,
        job_id: i64,
        algorithm: Option<&str>,
        band: &EnergyBand,
        requested: &TimeRange,
        counts: Option<f64>,
        reason: &str,
        inputs: &serde_json::Value,
    ) -> Result<(), JobFailure> {
        let dedup = key(&[
            "skip",
            &file.sha256,
            POLICY_VERSION,
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
                counts: Set(counts),
                reason: Set(reason.to_string()),
                policy_version: Set(POLICY_VERSION.to_string()),
                policy_inputs: Set(Some(inputs.clone())),
                created_at: Set(Utc::now()),
                ..Default::default()
            },
            [preview_skip::Column::DedupKey],
        )
        .await
        .map_err(transient)?;
        Ok(())
    }

    /// Images one box with every algorithm; returns the number of algorithm slots handled.
    #[allow(clippy::too_many_arguments)]
    async fn image_box(
        &self,
        file: &science_file::Model,
        f: &FlareCtx,
        sci: &Arc<PixelData>,
        bkg_row: Option<&science_file::Model>,
        bkg: Option<Arc<PixelData>>,
        (loaded, aspects): (&mut Loaded, &[science_file::Model]),
        center: [f64; 2],
        b: &PlannedBox,
        settings: &PipelineSettings,
        job_id: i64,
        context: &serde_json::Value,
    ) -> Result<usize, JobFailure> {
        let settings_json = serde_json::to_string(settings).unwrap_or_default();
        let bkg_sha = bkg_row
            .map(|r| r.sha256.clone())
            .unwrap_or_else(|| "none".into());
        let dedup_of = |alg: &str| {
            key(&[
                "image",
                &file.sha256,
                &bkg_sha,
                POLICY_VERSION,
                &settings_json,
                &f.window.flare_id,
                &band_label(&b.band),
                &b.requested.to_string(),
                alg,
            ])
        };
        // Idempotence: skip the computation when every image of this box is already there.
        let wanted: HashMap<String, String> = settings
            .algorithms
            .iter()
            .map(|a| (a.name().to_string(), dedup_of(a.name())))
            .collect();
        let existing = image::Entity::find()
            .filter(image::Column::DedupKey.is_in(wanted.values().cloned().collect::<Vec<_>>()))
            .all(&self.db)
            .await
            .map_err(transient)?;
        if existing.len() == wanted.len() {
            return Ok(wanted.len());
        }
        let aspect = self.aspect_at(loaded, aspects, sci, &b.actual).await?;
        let rel_dir = PathBuf::from("images")
            .join(file.request_uid.to_string())
            .join(&f.window.flare_id);
        let stem = format!(
            "{}_{}",
            band_label(&b.band),
            b.requested.start.format("%Y%m%dT%H%M%S")
        );
        let provenance = domain::output::Provenance {
            policy_id: Some(format!(
                "{POLICY_VERSION} flare {} {} {}",
                f.window.flare_id,
                band_label(&b.band),
                b.requested
            )),
            ..Default::default()
        };
        let (sci2, data_dir, algorithms) = (
            sci.clone(),
            self.data_dir.clone(),
            settings.algorithms.clone(),
        );
        let (band, time, size_px, pixel_arcsec) = (
            b.band,
            b.requested,
            settings.image_size_px,
            settings.pixel_arcsec,
        );
        let out = blocking(move || {
            render_box(&BoxInput {
                sci: &sci2,
                bkg: bkg.as_deref(),
                aspect: &aspect,
                time,
                band,
                center_stix_arcsec: center,
                size_px,
                pixel_arcsec,
                algorithms: &algorithms,
                data_dir: &data_dir,
                rel_dir,
                stem,
                provenance,
            })
        })
        .await?;
        let inputs = serde_json::json!({ "box": &b.inputs, "context": context });
        let out = match out {
            Ok(o) => o,
            Err(reason) => {
                self.record_skip(
                    file,
                    f,
                    job_id,
                    None,
                    &b.band,
                    &b.requested,
                    Some(b.counts),
                    &reason,
                    &inputs,
                )
                .await?;
                return Ok(settings.algorithms.len());
            }
        };
        let time_range = out
            .meta
            .time_range()
            .map_err(|e| bad("INTERNAL", e.to_string()))?;
        for (alg, result) in out.results {
            match result {
                Ok(p) => {
                    let row = image::ActiveModel {
                        public_id: Set(uuid::Uuid::new_v4()),
                        kind: Set("preview".into()),
                        algorithm: Set(alg.name().into()),
                        energy_low_kev: Set(out.meta.energy_range_kev[0]),
                        energy_high_kev: Set(out.meta.energy_range_kev[1]),
                        time_start: Set(time_range.start),
                        time_end: Set(time_range.end),
                        science_file_id: Set(file.id),
                        background_file_id: Set(bkg_row.map(|r| r.id)),
                        flare_id: Set(Some(f.row.id)),
                        job_id: Set(Some(job_id)),
                        dedup_key: Set(dedup_of(alg.name())),
                        parameters: Set(
                            serde_json::json!({ "params": p.parameters, "diagnostics": p.diagnostics }),
                        ),
                        policy_version: Set(Some(POLICY_VERSION.into())),
                        policy_inputs: Set(Some(inputs.clone())),
                        calibration_version: Set(out.meta.calibration_version.clone()),
                        software_version: Set(domain::SOFTWARE_VERSION.into()),
                        center_hpc_x_arcsec: Set(out.meta.map_wcs.reference_hpc_arcsec[0]),
                        center_hpc_y_arcsec: Set(out.meta.map_wcs.reference_hpc_arcsec[1]),
                        peak_hpc_x_arcsec: Set(Some(p.peak_hpc_arcsec[0])),
                        peak_hpc_y_arcsec: Set(Some(p.peak_hpc_arcsec[1])),
                        total_counts: Set(out.meta.total_counts),
                        background_counts: Set(out.meta.background_counts),
                        total_flux: Set(p.total_flux.filter(|v| v.is_finite())),
                        fits_path: Set(p.fits_rel),
                        fits_sha256: Set(p.fits_sha256),
                        png_path: Set(Some(p.png_rel)),
                        png_sha256: Set(Some(p.png_sha256)),
                        created_at: Set(Utc::now()),
                        ..Default::default()
                    };
                    crate::store::insert_or_ignore(&self.db, row, [image::Column::DedupKey])
                        .await
                        .map_err(transient)?;
                }
                Err(reason) => {
                    let reason = format!("{} failed: {reason}", alg.name());
                    self.record_skip(
                        file,
                        f,
                        job_id,
                        Some(alg.name()),
                        &b.band,
                        &b.requested,
                        Some(b.counts),
                        &reason,
                        &inputs,
                    )
                    .await?;
                }
            }
        }
        Ok(settings.algorithms.len())
    }
}
