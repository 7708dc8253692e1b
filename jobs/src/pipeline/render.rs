//! The CPU part of a preview box, run off the async runtime: visibilities for the box, every
//! algorithm (in parallel), FITS + PNG written atomically, checksums. No database here.

use domain::aspect::AspectSolution;
use domain::calibration::CalibrationOptions;
use domain::energy::EnergyBand;
use domain::imaging::params::ImagingParams;
use domain::imaging::{Algorithm, Reconstruction};
use domain::l1::PixelData;
use domain::output::Provenance;
use domain::output::fits_map::write_map_fits;
use domain::output::quicklook::{PngCompression, QuicklookOptions, write_quicklook_png};
use domain::quality::{Quality, QualityThresholds, assess};
use domain::time_range::TimeRange;
use domain::visfile::{VisFile, VisMeta};
use domain::workflow::{PhaseCenterChoice, build_visibilities_with};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// What one box needs.
pub struct BoxInput<'a> {
    /// The science file.
    pub sci: &'a PixelData,
    /// The background file, if chosen.
    pub bkg: Option<&'a PixelData>,
    /// Pointing and roll for the box.
    pub aspect: &'a AspectSolution,
    /// Requested interval (the policy's box).
    pub time: TimeRange,
    /// Requested band.
    pub band: EnergyBand,
    /// Map centre in the STIX frame (the flare location), arcsec.
    pub center_stix_arcsec: [f64; 2],
    /// Image side, pixels.
    pub size_px: usize,
    /// Pixel size, arcsec.
    pub pixel_arcsec: f64,
    /// Algorithms to run.
    pub algorithms: &'a [Algorithm],
    /// Knobs shared by the algorithms (algorithm, size and pixel are set from this input).
    pub params: &'a ImagingParams,
    /// The data directory (files are written below it).
    pub data_dir: &'a Path,
    /// Directory for this box's files, relative to the data directory.
    pub rel_dir: PathBuf,
    /// File-name stem for this box (band and time).
    pub stem: String,
    /// Per algorithm, the public id its image row will get: a part of it goes into the file
    /// names, so that a product path belongs to exactly one row and is never written twice
    /// (a newer file version or other settings make other rows, hence other paths).
    pub image_ids: &'a HashMap<Algorithm, uuid::Uuid>,
    /// Provenance written into every FITS header (the quality is added per image).
    pub provenance: Provenance,
    /// Calibration options of the visibilities (ELUT correction).
    pub calibration: CalibrationOptions,
    /// The flare id shown on the quick-look, when the box belongs to a flare.
    pub flare_label: Option<String>,
    /// When set, algorithms not yet started are skipped ("cancelled").
    pub cancel: Option<&'a AtomicBool>,
    /// Preview or user image (the label of the duration metric).
    pub kind: crate::kinds::ImageKind,
}

/// The reason recorded for an algorithm skipped because its job was cancelled.
pub const CANCELLED: &str = "cancelled";

/// One finished image: files on disk, not yet in the database.
#[derive(Debug, Clone)]
pub struct ImageProduct {
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Validated parameters actually used.
    pub parameters: serde_json::Value,
    /// Convergence facts.
    pub diagnostics: serde_json::Value,
    /// FITS path relative to the data directory.
    pub fits_rel: String,
    /// SHA-256 of the FITS file.
    pub fits_sha256: String,
    /// PNG path relative to the data directory.
    pub png_rel: String,
    /// SHA-256 of the PNG file.
    pub png_sha256: String,
    /// Brightest pixel in HPC, arcsec.
    pub peak_hpc_arcsec: [f64; 2],
    /// Integrated flux of the map (`None` for back-projections).
    pub total_flux: Option<f64>,
    /// Its grade, reasons and figures.
    pub quality: Quality,
}

/// The result of one box.
#[derive(Debug, Clone)]
pub struct BoxOutput {
    /// Metadata of the box's visibilities (actual time and band, centre, counts, …).
    pub meta: VisMeta,
    /// Per algorithm: the image, or why it could not be made.
    pub results: Vec<(Algorithm, Result<ImageProduct, String>)>,
}

/// The file-name stem of one image's products: the box's stem, the algorithm and the first
/// 12 hex digits of the image's public id (unique per row).
pub fn product_file_stem(box_stem: &str, algorithm: Algorithm, image_id: &uuid::Uuid) -> String {
    let id = image_id.simple().to_string();
    format!("{box_stem}_{}_{}", algorithm.name(), &id[..12])
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Reconstructs one algorithm's image (nothing written yet).
fn reconstruct_one(
    input: &BoxInput<'_>,
    vis: &VisFile,
    algorithm: Algorithm,
) -> Result<Reconstruction, String> {
    if input.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(CANCELLED.to_string());
    }
    let params = ImagingParams {
        algorithm: Some(algorithm),
        size_px: Some(input.size_px),
        pixel_arcsec: Some(input.pixel_arcsec),
        ..input.params.clone()
    }
    .check()
    .map_err(|e| e.to_string())?;
    let cancelled = || input.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    domain::imaging::reconstruct_cancellable(vis, &params, &cancelled).map_err(|e| e.to_string())
}

/// Grades one image (against the peaks of its whole box) and writes its FITS and PNG.
fn write_one(
    input: &BoxInput<'_>,
    vis: &VisFile,
    rec: &Reconstruction,
    box_peaks_arcsec: &[[f64; 2]],
) -> Result<ImageProduct, String> {
    let algorithm = rec.algorithm;
    let quality = assess(
        rec,
        &vis.meta,
        box_peaks_arcsec,
        &QualityThresholds::default(),
    );
    let dir = input.data_dir.join(&input.rel_dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = product_file_stem(&input.stem, algorithm, &input.image_ids[&algorithm]);
    let fits_rel = input.rel_dir.join(format!("{name}.fits"));
    let png_rel = input.rel_dir.join(format!("{name}.png"));
    let fits_abs = input.data_dir.join(&fits_rel);
    let png_abs = input.data_dir.join(&png_rel);
    if fits_abs.exists() || png_abs.exists() {
        // Never reached with fresh ids; refusing beats silently breaking another row's checksum.
        return Err(format!(
            "product path {} already exists: not overwriting it",
            fits_rel.display()
        ));
    }
    let provenance = Provenance {
        quality: Some(quality.clone()),
        ..input.provenance.clone()
    };
    write_map_fits(&fits_abs, rec, &vis.meta, &provenance).map_err(|e| e.to_string())?;
    let look = QuicklookOptions {
        flare_id: input.flare_label.clone(),
        quality: Some(quality.clone()),
        // A user is waiting for their image; a preview is written once and served many times.
        png_compression: match input.kind {
            crate::kinds::ImageKind::User => PngCompression::Faster,
            crate::kinds::ImageKind::Preview => PngCompression::Smaller,
        },
        ..QuicklookOptions::default()
    };
    write_quicklook_png(&png_abs, rec, &vis.meta, &look).map_err(|e| e.to_string())?;
    let fits_sha256 = sha256_file(&fits_abs).map_err(|e| e.to_string())?;
    let png_sha256 = sha256_file(&png_abs).map_err(|e| e.to_string())?;
    let peak = rec.map.peak_offset_arcsec();
    let c = rec.map.center_stix_arcsec;
    let peak_hpc_arcsec = vis
        .meta
        .map_wcs
        .attitude()
        .stix_to_hpc([c[0] + peak[0], c[1] + peak[1]]);
    Ok(ImageProduct {
        algorithm,
        parameters: rec.parameters.clone(),
        diagnostics: rec.diagnostics.clone(),
        fits_rel: fits_rel.to_string_lossy().into_owned(),
        fits_sha256,
        png_rel: png_rel.to_string_lossy().into_owned(),
        png_sha256,
        peak_hpc_arcsec,
        total_flux: rec.map.total_flux(),
        quality,
    })
}

/// Runs `f`, turning a panic into an error naming the algorithm.
fn guarded<T>(algorithm: Algorithm, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(format!("{} panicked (internal error)", algorithm.name())))
}

/// Builds the box's visibilities and runs every algorithm. An error means the whole box
/// cannot be imaged (its reason is recorded); per-algorithm failures are in the results.
pub fn render_box(input: &BoxInput<'_>) -> Result<BoxOutput, String> {
    let vis = build_visibilities_with(
        input.sci,
        input.bkg,
        input.aspect,
        &input.time,
        &input.band,
        PhaseCenterChoice::Stix(input.center_stix_arcsec),
        input.calibration,
    )
    .map_err(|e| e.to_string())?;
    // Every algorithm first (in parallel), so that each image is graded against the peaks of
    // the whole box; then grade and write each.
    let started = std::time::Instant::now();
    let recs: Vec<(Algorithm, Result<Reconstruction, String>)> = input
        .algorithms
        .par_iter()
        .map(|&a| (a, guarded(a, || reconstruct_one(input, &vis, a))))
        .collect();
    let peaks: Vec<[f64; 2]> = recs
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|r| r.map.peak_offset_arcsec())
        .collect();
    let results = recs
        .into_par_iter()
        .map(|(a, r)| {
            let r = r.and_then(|rec| guarded(a, || write_one(input, &vis, &rec, &peaks)));
            if r.is_ok() {
                crate::metrics::image_made(input.kind.as_str(), a.name(), started.elapsed());
            }
            (a, r)
        })
        .collect();
    Ok(BoxOutput {
        meta: vis.meta,
        results,
    })
}
