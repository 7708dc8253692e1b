//! The chain from L1 + background + aspect to a `stix-vis` document and to a flare location,
//! in memory (for the preview pipeline, which images many boxes of one file) and from paths
//! (for the `visibilities` and `locate` commands). Sections A–D, E.6 and F of
//! `shared/docs/stix-imaging.md`.

use crate::aspect::{AspectError, AspectFile, AspectSolution};
use crate::calibration::{CalibratedRates, CalibrationError, CalibrationOptions, SumCase};
use crate::energy::EnergyBand;
use crate::l1::{L1Error, PixelData};
use crate::location::{FlareLocation, LocationError, locate_flare};
use crate::selection::{SelectionError, select};
use crate::time_range::{TimeRange, format_utc};
use crate::visfile::{
    MapWcs, ObserverHgs, PhaseCenter, TimeRangeJson, VisFile, VisFileError, VisMeta,
};
use serde::Serialize;
use std::path::PathBuf;

/// The band of the full-disk flare location (E.6), keV.
pub const LOCATION_BAND_KEV: [f64; 2] = [6.0, 10.0];
/// Half-width of the default location window around the 4–10 keV peak, seconds.
pub const DEFAULT_WINDOW_HALF_SECONDS: i64 = 60;

/// Where the phase (map) centre goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PhaseCenterChoice {
    /// The flare location of E.6 for the same interval (6–10 keV full-disk BP, refined).
    Auto,
    /// A given position in the STIX frame, arcsec.
    Stix([f64; 2]),
}

/// Why the chain failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// Reading the science or background file.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// Reading the aspect file or its solution.
    #[error(transparent)]
    Aspect(#[from] AspectError),
    /// Time/energy selection.
    #[error(transparent)]
    Selection(#[from] SelectionError),
    /// Calibration.
    #[error(transparent)]
    Calibration(#[from] CalibrationError),
    /// Flare location.
    #[error(transparent)]
    Location(#[from] LocationError),
    /// Writing the `stix-vis` file.
    #[error(transparent)]
    VisFile(#[from] VisFileError),
    /// A file given as background is not shaped like one.
    #[error("{file} is not a background measurement (one bin, all detectors and pixels)")]
    NotBackground {
        /// The file.
        file: String,
    },
}

impl WorkflowError {
    /// True when the files or the request are at fault (exit code "bad input"), false for
    /// failures of the machine (writing the output).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, WorkflowError::VisFile(_))
    }
}

/// A flare location as printed by `locate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    /// Helioprojective position seen from Solar Orbiter, arcsec.
    pub hpc_arcsec: [f64; 2],
    /// Position in the STIX frame, arcsec.
    pub stix_arcsec: [f64; 2],
    /// `SAS`, `spacecraft` or `assumed (…)`.
    pub pointing_source: String,
    /// Largest value beyond 200″ of the peak over the peak.
    pub sidelobe_ratio: f64,
    /// Actual interval used.
    pub time_range: TimeRangeJson,
    /// Actual band used, keV.
    pub energy_range_kev: [f64; 2],
    /// Sidelobe warning (ratio ≥ 0.9).
    pub sidelobe_warning: bool,
    /// The full-disk map peak before refinement, HPC arcsec.
    pub coarse_hpc_arcsec: [f64; 2],
    /// Full-disk pixel size, arcsec.
    pub full_disk_pixel_arcsec: f64,
    /// Roll used, degrees.
    pub roll_deg: f64,
    /// Pointing used, arcsec.
    pub pointing_arcsec: [f64; 2],
    /// How the coarse peak was refined.
    pub refinement: String,
}

fn time_json(t: &TimeRange) -> TimeRangeJson {
    TimeRangeJson {
        start: format_utc(&t.start),
        end: format_utc(&t.end),
    }
}

fn check_background(bkg: Option<&PixelData>) -> Result<(), WorkflowError> {
    match bkg {
        Some(b) if !b.is_background_like() => Err(WorkflowError::NotBackground {
            file: b.file_name.clone(),
        }),
        _ => Ok(()),
    }
}

/// Refuses a background measurement given as the science file (A.1: one long bin, all
/// detectors and pixels): imaging it would publish a map of the background.
pub fn check_science(sci: &PixelData) -> Result<(), WorkflowError> {
    if sci.is_background_like() {
        return Err(L1Error::Rejected {
            path: sci.file_name.clone(),
            code: crate::l1::RejectCode::WrongProduct,
            reason: "this is a background measurement (one time bin, all 32 detectors and 12 pixels, section A.1), not flare pixel data; give it as --bkg".into(),
        }
        .into());
    }
    Ok(())
}

impl WorkflowError {
    /// The stable integrity reason code, when the error is one of the refusals of issue #11.
    pub fn reject_code(&self) -> Option<crate::l1::RejectCode> {
        match self {
            WorkflowError::L1(e) => e.reject_code(),
            WorkflowError::Aspect(AspectError::File(e)) => e.reject_code(),
            WorkflowError::NotBackground { .. } => Some(crate::l1::RejectCode::WrongProduct),
            _ => None,
        }
    }
}

fn location_for(
    sci: &PixelData,
    bkg: Option<&PixelData>,
    aspect: &AspectSolution,
    time: &TimeRange,
    energy: &EnergyBand,
) -> Result<(FlareLocation, TimeRange, EnergyBand), WorkflowError> {
    let sel = select(sci, time, energy)?;
    let rates = CalibratedRates::compute_with(
        sci,
        bkg,
        &sel,
        SumCase::TopBot,
        CalibrationOptions::default(),
    )?;
    let rsun = aspect.rsun_arcsec.unwrap_or(sci.observer.rsun_arcsec);
    let what = format!("{} at {}", sel.time, sel.band);
    let loc = locate_flare(&rates, aspect, rsun, &what)?;
    Ok((loc, sel.time, sel.band))
}

/// Builds the `stix-vis` document for one interval and band (sections A–D, F) with the
/// default calibration options (ELUT correction on).
pub fn build_visibilities(
    sci: &PixelData,
    bkg: Option<&PixelData>,
    aspect: &AspectSolution,
    time: &TimeRange,
    energy: &EnergyBand,
    center: PhaseCenterChoice,
) -> Result<VisFile, WorkflowError> {
    build_visibilities_with(
        sci,
        bkg,
        aspect,
        time,
        energy,
        center,
        CalibrationOptions::default(),
    )
}

/// [`build_visibilities`] with explicit calibration options; the outcome of the ELUT
/// correction is recorded in `calibration_version` and `elut_file`.
pub fn build_visibilities_with(
    sci: &PixelData,
    bkg: Option<&PixelData>,
    aspect: &AspectSolution,
    time: &TimeRange,
    energy: &EnergyBand,
    center: PhaseCenterChoice,
    options: CalibrationOptions,
) -> Result<VisFile, WorkflowError> {
    check_background(bkg)?;
    let sel = select(sci, time, energy)?;
    let rates = CalibratedRates::compute_with(sci, bkg, &sel, SumCase::TopBot, options)?;
    let center_stix = match center {
        PhaseCenterChoice::Stix(c) => c,
        PhaseCenterChoice::Auto => {
            let band = EnergyBand {
                low_kev: LOCATION_BAND_KEV[0],
                high_kev: LOCATION_BAND_KEV[1],
            };
            location_for(sci, bkg, aspect, &sel.time, &band)?
                .0
                .stix_arcsec
        }
    };
    let att = aspect.attitude();
    let rsun = aspect.rsun_arcsec.unwrap_or(sci.observer.rsun_arcsec);
    let meta = VisMeta {
        time_range: time_json(&sel.time),
        energy_range_kev: [sel.band.low_kev, sel.band.high_kev],
        phase_center: PhaseCenter {
            frame: "stix".into(),
            x_arcsec: center_stix[0],
            y_arcsec: center_stix[1],
        },
        map_wcs: MapWcs {
            obstime: format_utc(&sel.time.midpoint()),
            observer_hgs: ObserverHgs {
                lon_deg: sci.observer.hgln_obs_deg,
                lat_deg: sci.observer.hglt_obs_deg,
                radius_m: sci.observer.dsun_obs_m,
            },
            reference_hpc_arcsec: att.stix_to_hpc(center_stix),
            rotation_angle_deg: att.rotation_angle_deg(),
            roll_angle_deg: aspect.roll_deg,
            stix_pointing_arcsec: aspect.pointing_arcsec,
            pointing_source: aspect.pointing_source.to_string(),
            rsun_arcsec: Some(rsun),
        },
        total_counts: rates.total_counts,
        background_counts: rates.background_counts,
        calibration_version: rates.elut.calibration_version(),
        elut_file: rates.elut.file().map(str::to_string),
        earth_time_delta_seconds: sci.earth_time_delta_seconds,
        science_file: Some(sci.file_name.clone()),
        background_file: bkg.map(|b| b.file_name.clone()),
        aux_file: aspect.aux_file.clone(),
    };
    Ok(VisFile::new(
        meta,
        rates.visibilities(center_stix),
        Some(rates.summed_rates()),
    ))
}

/// The default location window: ±60 s around the centre of the 4–10 keV peak bin, clipped to
/// the file.
pub fn default_location_window(sci: &PixelData) -> Result<TimeRange, WorkflowError> {
    let band = EnergyBand {
        low_kev: 4.0,
        high_kev: 10.0,
    };
    let lc = sci.light_curve(&band)?;
    let cover = sci.time_range().ok_or_else(|| L1Error::Invalid {
        path: sci.file_name.clone(),
        reason: "no time bins".into(),
    })?;
    let peak = lc.peak_index().ok_or_else(|| L1Error::Invalid {
        path: sci.file_name.clone(),
        reason: "no time bins".into(),
    })?;
    let c = lc.bins[peak].center();
    let half = chrono::Duration::seconds(DEFAULT_WINDOW_HALF_SECONDS);
    let start = (c - half).max(cover.start);
    let end = (c + half).min(cover.end);
    TimeRange::new(start, end).map_err(|e| {
        WorkflowError::from(L1Error::Invalid {
            path: sci.file_name.clone(),
            reason: e.to_string(),
        })
    })
}

/// Locates the flare (E.6). Without `time`, uses [`default_location_window`].
pub fn locate(
    sci: &PixelData,
    bkg: Option<&PixelData>,
    aspect: &AspectSolution,
    time: Option<&TimeRange>,
    energy: &EnergyBand,
) -> Result<Location, WorkflowError> {
    check_background(bkg)?;
    let window = match time {
        Some(t) => *t,
        None => default_location_window(sci)?,
    };
    let (loc, actual, band) = location_for(sci, bkg, aspect, &window, energy)?;
    Ok(Location {
        hpc_arcsec: loc.hpc_arcsec,
        stix_arcsec: loc.stix_arcsec,
        pointing_source: aspect.pointing_source.to_string(),
        sidelobe_ratio: loc.sidelobe_ratio,
        time_range: time_json(&actual),
        energy_range_kev: [band.low_kev, band.high_kev],
        sidelobe_warning: loc.sidelobe_warning,
        coarse_hpc_arcsec: loc.coarse_hpc_arcsec,
        full_disk_pixel_arcsec: loc.full_disk_pixel_arcsec,
        roll_deg: aspect.roll_deg,
        pointing_arcsec: aspect.pointing_arcsec,
        refinement: loc.refinement,
    })
}

/// Inputs of the `visibilities` command.
#[derive(Debug, Clone, PartialEq)]
pub struct VisibilityRequest {
    /// L1 science file.
    pub l1: PathBuf,
    /// Background L1 file.
    pub bkg: Option<PathBuf>,
    /// Aspect/ephemeris file.
    pub aux: Option<PathBuf>,
    /// Requested interval.
    pub time: TimeRange,
    /// Requested band.
    pub energy: EnergyBand,
    /// Phase centre.
    pub center: PhaseCenterChoice,
    /// Calibration options (ELUT correction).
    pub calibration: CalibrationOptions,
}

/// Inputs of the `locate` command.
#[derive(Debug, Clone, PartialEq)]
pub struct LocateRequest {
    /// L1 science file.
    pub l1: PathBuf,
    /// Aspect/ephemeris file (without it the pointing is assumed and reported so).
    pub aux: Option<PathBuf>,
    /// Background L1 file.
    pub bkg: Option<PathBuf>,
    /// Interval; default ±60 s around the 4–10 keV peak.
    pub time: Option<TimeRange>,
    /// Band, normally 6–10 keV.
    pub energy: EnergyBand,
}

/// The aspect solution for an interval: from the aux file, or an explicit assumption.
pub fn aspect_for(
    aux: Option<&AspectFile>,
    sci: &PixelData,
    time: &TimeRange,
) -> Result<AspectSolution, WorkflowError> {
    match aux {
        Some(a) => Ok(a.solution(time)?),
        None => Ok(AspectSolution::assumed(
            0.0,
            Some(sci.observer.rsun_arcsec),
            "no aspect file given",
        )),
    }
}

fn read_inputs(
    l1: &std::path::Path,
    bkg: Option<&PathBuf>,
    aux: Option<&PathBuf>,
) -> Result<(PixelData, Option<PixelData>, Option<AspectFile>), WorkflowError> {
    let sci = PixelData::read(l1)?;
    check_science(&sci)?;
    let bkg = bkg.map(|p| PixelData::read(p)).transpose()?;
    let aux = aux.map(|p| AspectFile::read(p)).transpose()?;
    Ok((sci, bkg, aux))
}

/// Reads the files of a request and builds its `stix-vis` document. The aspect solution is
/// taken over the actual (whole-bin) interval.
pub fn visibilities_from_paths(req: &VisibilityRequest) -> Result<VisFile, WorkflowError> {
    let (sci, bkg, aux) = read_inputs(&req.l1, req.bkg.as_ref(), req.aux.as_ref())?;
    let actual = select(&sci, &req.time, &req.energy)?.time;
    let aspect = aspect_for(aux.as_ref(), &sci, &actual)?;
    build_visibilities_with(
        &sci,
        bkg.as_ref(),
        &aspect,
        &req.time,
        &req.energy,
        req.center,
        req.calibration,
    )
}

/// Reads the files of a request and locates the flare.
pub fn locate_from_paths(req: &LocateRequest) -> Result<Location, WorkflowError> {
    let (sci, bkg, aux) = read_inputs(&req.l1, req.bkg.as_ref(), req.aux.as_ref())?;
    let window = match req.time {
        Some(t) => t,
        None => default_location_window(&sci)?,
    };
    let actual = select(&sci, &window, &req.energy)?.time;
    let aspect = aspect_for(aux.as_ref(), &sci, &actual)?;
    locate(&sci, bkg.as_ref(), &aspect, Some(&window), &req.energy)
}
