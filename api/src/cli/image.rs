//! `stix-archive image`: one reconstruction from the command line, written as FITS (+ PNG).
//! Prints one JSON line with `algorithm`, `wall_s` (the reconstruction alone),
//! `peak_hpc_arcsec`, `centroid_hpc_arcsec` (flux-weighted over the connected region around the
//! peak that is ≥ half the maximum),
//! `total_flux` (the map integral; null for back-projections, which are not flux maps),
//! `fits`, `png`.

use super::Failure;
use super::science::{parse_center, parse_energy, parse_time};
use clap::Args;
use domain::energy::EnergyBand;
use domain::imaging::Algorithm;
use domain::imaging::params::{FwdfitShape, ImagingParams};
use domain::output::Provenance;
use domain::output::fits_map::write_map_fits;
use domain::output::quicklook::{QuicklookOptions, write_quicklook_png};
use domain::time_range::TimeRange;
use domain::visfile::VisFile;
use domain::workflow::{self, PhaseCenterChoice, VisibilityRequest};
use std::path::PathBuf;
use std::time::Instant;

fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    Algorithm::parse(s)
        .ok_or_else(|| format!("'{s}' is not one of bp, bp-uniform, clean, mem, em, fwdfit"))
}

fn parse_shape(s: &str) -> Result<FwdfitShape, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("'{s}' is not one of circle, ellipse, multi, loop"))
}

/// Arguments of `stix-archive image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// A `stix-vis` JSON file (from `stix-archive visibilities`) — or give --l1, --time, --energy.
    #[arg(long, conflicts_with_all = ["l1", "bkg", "aux", "time", "energy"])]
    pub vis: Option<PathBuf>,
    /// L1 pixel-data science file.
    #[arg(long, required_unless_present = "vis", requires_all = ["time", "energy"])]
    pub l1: Option<PathBuf>,
    /// Background L1 file.
    #[arg(long)]
    pub bkg: Option<PathBuf>,
    /// Aspect/ephemeris file.
    #[arg(long)]
    pub aux: Option<PathBuf>,
    /// Interval START/END (UTC).
    #[arg(long, value_parser = parse_time)]
    pub time: Option<TimeRange>,
    /// Energy band LO-HI in keV.
    #[arg(long, value_parser = parse_energy)]
    pub energy: Option<EnergyBand>,
    /// Map centre with --l1: `auto` (the flare location) or `X,Y` in the STIX frame, arcsec.
    #[arg(long, default_value = "auto", value_parser = parse_center)]
    pub center: PhaseCenterChoice,
    /// bp, bp-uniform, clean, mem, em or fwdfit.
    #[arg(long, value_parser = parse_algorithm)]
    pub algorithm: Algorithm,
    /// Image side in pixels (16–1025).
    #[arg(long, default_value_t = 129)]
    pub size: usize,
    /// Pixel size in arcsec.
    #[arg(long, default_value_t = 2.0)]
    pub pixel: f64,
    /// VIS_FWDFIT source shape (default: ellipse below 16 keV, else two circles).
    #[arg(long, value_parser = parse_shape)]
    pub fwdfit_shape: Option<FwdfitShape>,
    /// With --l1: skip the ELUT edge correction (section B; on by default, issue #11).
    #[arg(long, conflicts_with = "vis")]
    pub no_elut: bool,
    /// Output FITS file.
    #[arg(long)]
    pub out: PathBuf,
    /// Output PNG quick-look.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Runs one reconstruction and prints the summary line. A file of the wrong kind (a
/// background measurement as `--l1`) fails with status 2 and says so.
pub fn image(a: ImageArgs) -> Result<(), Failure> {
    let vis = match (&a.vis, &a.l1, a.time, a.energy) {
        (Some(path), ..) => VisFile::read(path).map_err(|e| Failure::from(e.to_string()))?,
        (None, Some(l1), Some(time), Some(energy)) => {
            workflow::visibilities_from_paths(&VisibilityRequest {
                l1: l1.clone(),
                bkg: a.bkg.clone(),
                aux: a.aux.clone(),
                time,
                energy,
                center: a.center,
                calibration: domain::calibration::CalibrationOptions {
                    elut_correction: !a.no_elut,
                },
            })
            .map_err(|e| Failure::of_workflow(&e))?
        }
        _ => {
            return Err(Failure::from(
                "give --vis FILE, or --l1 FILE with --time and --energy".to_string(),
            ));
        }
    };
    let params = ImagingParams {
        algorithm: Some(a.algorithm),
        size_px: Some(a.size),
        pixel_arcsec: Some(a.pixel),
        fwdfit_shape: a.fwdfit_shape,
        ..Default::default()
    }
    .check()
    .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let rec = domain::imaging::reconstruct(&vis, &params).map_err(|e| e.to_string())?;
    let wall_s = t0.elapsed().as_secs_f64();
    // Graded alone (no other algorithms of the same box to compare peaks with).
    let quality = domain::quality::assess(
        &rec,
        &vis.meta,
        &[rec.map.peak_offset_arcsec()],
        &domain::quality::QualityThresholds::default(),
    );
    let provenance = Provenance {
        quality: Some(quality.clone()),
        ..Provenance::default()
    };
    write_map_fits(&a.out, &rec, &vis.meta, &provenance).map_err(|e| e.to_string())?;
    if let Some(png) = &a.png {
        let look = QuicklookOptions {
            quality: Some(quality.clone()),
            ..QuicklookOptions::default()
        };
        write_quicklook_png(png, &rec, &vis.meta, &look).map_err(|e| e.to_string())?;
    }
    let att = vis.meta.map_wcs.attitude();
    let c = rec.map.center_stix_arcsec;
    let to_hpc = |d: [f64; 2]| att.stix_to_hpc([c[0] + d[0], c[1] + d[1]]);
    let line = serde_json::json!({
        "algorithm": rec.algorithm.name(),
        "wall_s": wall_s,
        "peak_hpc_arcsec": to_hpc(rec.map.peak_offset_arcsec()),
        "centroid_hpc_arcsec": to_hpc(rec.map.peak_region_centroid_offset_arcsec(0.5)),
        "total_flux": rec.map.total_flux(),
        "fits": a.out.display().to_string(),
        "png": a.png.as_ref().map(|p| p.display().to_string()),
        "unit": rec.map.unit,
        "parameters": rec.parameters,
        "diagnostics": rec.diagnostics,
        "quality": quality,
    });
    println!("{line}");
    Ok(())
}
