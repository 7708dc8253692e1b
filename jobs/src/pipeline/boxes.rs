//! The one path from a box to stored images, whoever asked for it (a preview job or a user's
//! reconstruction): visibilities → every algorithm → FITS + PNG → one `images` row each.
//! The caller says *which* box ([`BoxSpec`]); this module never decides policy.
//!
//! Idempotent: each image has a dedup key (the caller's box identity plus the algorithm);
//! when every image of the box is already stored nothing is computed, and a row is inserted
//! only after both of its files are complete.

use super::render::{BoxInput, render_box};
use crate::kinds::ImageKind;
use crate::storage::Storage;
use crate::store::entities::{image, science_file};
use crate::worker::JobFailure;
use chrono::Utc;
use domain::aspect::AspectSolution;
use domain::energy::EnergyBand;
use domain::imaging::Algorithm;
use domain::imaging::params::ImagingParams;
use domain::l1::PixelData;
use domain::output::Provenance;
use domain::time_range::TimeRange;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Who asked for a box: the links every image row of the box gets.
#[derive(Debug, Clone)]
pub struct BoxOwner {
    /// The job making the images.
    pub job_id: i64,
    /// Preview or user image.
    pub kind: ImageKind,
    /// The user whose job it is (user images).
    pub owner_id: Option<i64>,
    /// The flare row the box belongs to, when known.
    pub flare_id: Option<i64>,
}

/// One box to image: the data, where and how, and who asked.
#[derive(Clone)]
pub struct BoxSpec {
    /// The science file row.
    pub file: science_file::Model,
    /// Its pixel data (read once per job).
    pub sci: Arc<PixelData>,
    /// The background file row and its data, if one is subtracted.
    pub background: Option<(science_file::Model, Arc<PixelData>)>,
    /// Pointing and roll over the box.
    pub aspect: AspectSolution,
    /// Requested interval (widened to whole time bins by the selection).
    pub time: TimeRange,
    /// Requested band.
    pub band: EnergyBand,
    /// Map centre in the STIX frame, arcsec.
    pub center_stix_arcsec: [f64; 2],
    /// Image side, pixels.
    pub size_px: usize,
    /// Pixel size, arcsec.
    pub pixel_arcsec: f64,
    /// Algorithms to run (in parallel).
    pub algorithms: Vec<Algorithm>,
    /// Algorithm knobs shared by every algorithm of the box (`algorithm`, `size_px` and
    /// `pixel_arcsec` are set per image from the fields above).
    pub params: ImagingParams,
    /// Links of the image rows.
    pub owner: BoxOwner,
    /// What identifies the box for deduplication (the algorithm name is appended per image).
    pub dedup_parts: Vec<String>,
    /// Directory of the box's files, relative to the data directory.
    pub rel_dir: PathBuf,
    /// File-name stem of the box's files.
    pub stem: String,
    /// Provenance written into every FITS header.
    pub provenance: Provenance,
    /// Calibration options of the visibilities (ELUT correction).
    pub calibration: domain::calibration::CalibrationOptions,
    /// The flare id shown on the quick-looks, when the box belongs to a flare.
    pub flare_label: Option<String>,
    /// Selection policy version (previews).
    pub policy_version: Option<String>,
    /// Policy inputs or the user's request, stored on every row.
    pub policy_inputs: Option<serde_json::Value>,
    /// Set when the job is cancelled: algorithms not yet started are skipped and the
    /// iterative ones stop between iterations.
    pub cancel: Option<Arc<AtomicBool>>,
    /// True when no image of this box can be stored yet: the first attempt of a job whose
    /// dedup keys name the job itself (a user reconstruction). The read for images already
    /// stored is then skipped; the insert still ignores a duplicate key.
    pub first_of_its_kind: bool,
}

/// What became of a box.
#[derive(Debug, Clone, PartialEq)]
pub enum BoxOutcome {
    /// Every image of the box was already stored; nothing was computed.
    AlreadyStored,
    /// The box's visibilities could not be made (the reason).
    Unimageable(String),
    /// Per algorithm: stored, or why not.
    Imaged(Vec<(Algorithm, Result<(), String>)>),
}

/// SHA-256 (hex) of `parts` joined by the unit separator: the dedup keys of images and skips.
pub fn dedup_key<S: AsRef<str>>(parts: &[S]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_ref().as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

fn transient(e: impl std::fmt::Display) -> JobFailure {
    JobFailure::Transient(e.to_string())
}

impl BoxSpec {
    /// The dedup key of this box's image made by `algorithm`.
    pub fn dedup_of(&self, algorithm: Algorithm) -> String {
        let mut parts: Vec<&str> = self.dedup_parts.iter().map(String::as_str).collect();
        parts.push(algorithm.name());
        dedup_key(&parts)
    }
}

/// Images one box with every algorithm of `spec` and stores each finished image as an
/// `images` row (files written under the data directory and published to `storage` before
/// the row is inserted). Database and storage faults are transient failures, after which no
/// file of this call is left without a row; a box or algorithm that cannot be imaged is
/// reported in the outcome, not as an error.
pub async fn image_box(
    db: &DatabaseConnection,
    storage: &Storage,
    spec: &BoxSpec,
) -> Result<BoxOutcome, JobFailure> {
    let wanted: HashMap<Algorithm, String> = spec
        .algorithms
        .iter()
        .map(|&a| (a, spec.dedup_of(a)))
        .collect();
    if !spec.first_of_its_kind {
        let existing = image::Entity::find()
            .filter(image::Column::DedupKey.is_in(wanted.values().cloned().collect::<Vec<_>>()))
            .count(db)
            .await
            .map_err(transient)?;
        if existing as usize == wanted.len() {
            return Ok(BoxOutcome::AlreadyStored);
        }
    }
    let image_ids: HashMap<Algorithm, uuid::Uuid> = spec
        .algorithms
        .iter()
        .map(|&a| (a, uuid::Uuid::new_v4()))
        .collect();
    let owned = spec.clone();
    let ids_owned = image_ids.clone();
    let data_dir_owned = storage.data_dir().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let s = &owned;
        render_box(&BoxInput {
            sci: &s.sci,
            bkg: s.background.as_ref().map(|(_, d)| d.as_ref()),
            aspect: &s.aspect,
            time: s.time,
            band: s.band,
            center_stix_arcsec: s.center_stix_arcsec,
            size_px: s.size_px,
            pixel_arcsec: s.pixel_arcsec,
            algorithms: &s.algorithms,
            params: &s.params,
            data_dir: &data_dir_owned,
            rel_dir: s.rel_dir.clone(),
            stem: s.stem.clone(),
            image_ids: &ids_owned,
            provenance: s.provenance.clone(),
            calibration: s.calibration,
            flare_label: s.flare_label.clone(),
            cancel: s.cancel.as_deref(),
            kind: s.owner.kind,
        })
    })
    .await
    .map_err(|e| JobFailure::BadInput {
        code: "INTERNAL".into(),
        message: format!("computation aborted: {e}"),
    })?;
    let out = match out {
        Ok(o) => o,
        Err(reason) => return Ok(BoxOutcome::Unimageable(reason)),
    };
    let time_range = out.meta.time_range().map_err(|e| JobFailure::BadInput {
        code: "INTERNAL".into(),
        message: e.to_string(),
    })?;
    // Every product is published before any row points at it; the files of this call that
    // no row owns yet are removed everywhere when something fails on the way.
    let mut unowned: Vec<String> = out
        .results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flat_map(|p| [p.fits_rel.clone(), p.png_rel.clone()])
        .collect();
    let discard_all = |rels: Vec<String>| async move {
        for rel in rels {
            storage.discard(&rel).await;
        }
    };
    for rel in unowned.clone() {
        if let Err(e) = storage.publish(&rel).await {
            discard_all(unowned).await;
            return Err(transient(e));
        }
    }
    let mut results = Vec::with_capacity(out.results.len());
    for (alg, result) in out.results {
        let p = match result {
            Ok(p) => p,
            Err(reason) => {
                results.push((alg, Err(reason)));
                continue;
            }
        };
        unowned.retain(|r| r != &p.fits_rel && r != &p.png_rel);
        let row = image::ActiveModel {
            public_id: Set(image_ids[&alg]),
            kind: Set(spec.owner.kind.as_str().into()),
            algorithm: Set(alg.name().into()),
            energy_low_kev: Set(out.meta.energy_range_kev[0]),
            energy_high_kev: Set(out.meta.energy_range_kev[1]),
            time_start: Set(time_range.start),
            time_end: Set(time_range.end),
            science_file_id: Set(spec.file.id),
            background_file_id: Set(spec.background.as_ref().map(|(r, _)| r.id)),
            flare_id: Set(spec.owner.flare_id),
            job_id: Set(Some(spec.owner.job_id)),
            owner_id: Set(spec.owner.owner_id),
            superseded_by_id: Set(None),
            dedup_key: Set(wanted[&alg].clone()),
            parameters: Set(
                serde_json::json!({ "params": p.parameters, "diagnostics": p.diagnostics }),
            ),
            policy_version: Set(spec.policy_version.clone()),
            policy_inputs: Set(spec.policy_inputs.clone()),
            calibration_version: Set(out.meta.calibration_version.clone()),
            software_version: Set(domain::SOFTWARE_VERSION.into()),
            center_hpc_x_arcsec: Set(out.meta.map_wcs.reference_hpc_arcsec[0]),
            center_hpc_y_arcsec: Set(out.meta.map_wcs.reference_hpc_arcsec[1]),
            peak_hpc_x_arcsec: Set(Some(p.peak_hpc_arcsec[0])),
            peak_hpc_y_arcsec: Set(Some(p.peak_hpc_arcsec[1])),
            total_counts: Set(out.meta.total_counts),
            background_counts: Set(out.meta.background_counts),
            total_flux: Set(p.total_flux.filter(|v| v.is_finite())),
            fits_path: Set(p.fits_rel.clone()),
            fits_sha256: Set(p.fits_sha256),
            png_path: Set(Some(p.png_rel.clone())),
            png_sha256: Set(Some(p.png_sha256)),
            created_at: Set(Utc::now()),
            quality_grade: Set(Some(p.quality.grade.as_str().to_string())),
            quality: Set(serde_json::to_value(&p.quality).ok()),
            ..Default::default()
        };
        let inserted =
            match crate::store::insert_or_ignore(db, row, [image::Column::DedupKey]).await {
                Ok(n) => n,
                Err(e) => {
                    unowned.extend([p.fits_rel.clone(), p.png_rel.clone()]);
                    discard_all(unowned).await;
                    return Err(transient(e));
                }
            };
        if inserted == 0 {
            // Another worker stored this image first: its row points at its own files, so
            // ours belong to no row.
            for rel in [&p.fits_rel, &p.png_rel] {
                storage.discard(rel).await;
            }
        } else if spec.owner.kind == ImageKind::Preview {
            let superseded = match image::Entity::find()
                .filter(image::Column::PublicId.eq(image_ids[&alg]))
                .one(db)
                .await
            {
                Ok(Some(new)) => super::supersede::supersede_older(db, &new).await,
                Ok(None) => Ok(0),
                Err(e) => Err(e),
            };
            if let Err(e) = superseded {
                discard_all(unowned).await;
                return Err(transient(e));
            }
        }
        results.push((alg, Ok(())));
    }
    Ok(BoxOutcome::Imaged(results))
}

/// Removes the products under `rel_dir` that no `images` row names, from the local data
/// directory and from object storage: what an attempt killed between writing its products and
/// recording them left behind. Only for a directory that one job owns (a user job's
/// `jobs/<id>/`), run by the worker holding that job.
pub async fn sweep_unrecorded_products(
    db: &DatabaseConnection,
    storage: &Storage,
    rel_dir: &Path,
) -> Result<usize, JobFailure> {
    let prefix = rel_dir.to_string_lossy().replace('\\', "/");
    let dir = storage.data_dir().join(rel_dir);
    let mut rels: std::collections::BTreeSet<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .map(|n| format!("{prefix}/{n}"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
        Err(e) => return Err(transient(format!("cannot list {}: {e}", dir.display()))),
    };
    rels.extend(
        storage
            .list_objects_under(&prefix)
            .await
            .map_err(transient)?,
    );
    if rels.is_empty() {
        return Ok(0);
    }
    let rels: Vec<String> = rels.into_iter().collect();
    let recorded: std::collections::HashSet<String> = image::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(image::Column::FitsPath.is_in(rels.clone()))
                .add(image::Column::PngPath.is_in(rels.clone())),
        )
        .all(db)
        .await
        .map_err(transient)?
        .into_iter()
        .flat_map(|row| [Some(row.fits_path), row.png_path])
        .flatten()
        .collect();
    let mut removed = 0;
    for rel in rels.iter().filter(|r| !recorded.contains(*r)) {
        storage.delete(rel).await.map_err(transient)?;
        tracing::warn!(file = %rel, "removed a product no image row names (an interrupted attempt)");
        removed += 1;
    }
    Ok(removed)
}
