//! The `stix-vis` JSON format (version 1): calibrated visibilities with everything needed
//! to image them and place the image on the sky. Written by `stix-archive visibilities`,
//! read back by `stix-archive image --vis`. Other tools read these field names: keep them.

use crate::coords::Attitude;
use crate::energy::EnergyBand;
use crate::time_range::TimeRange;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The value of the `format` field.
pub const FORMAT_NAME: &str = "stix-vis";
/// The value of the `format_version` field written by this code.
pub const FORMAT_VERSION: u32 = 1;

/// Why a `stix-vis` file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VisFileError {
    /// File system failure.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The JSON does not have the `stix-vis` layout.
    #[error("{path} is not a stix-vis file: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// One calibrated visibility `V(u,v) = Σ I(x,y)·ΔA·exp(+2πi(ux+vy))` (section D.7), in
/// counts s⁻¹ keV⁻¹ cm⁻², with (x, y) offsets from the phase centre in the STIX frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visibility {
    /// Subcollimator label such as `10a` (section C).
    pub label: String,
    /// Detector/subcollimator number, 1-based (1–32).
    pub isc: u8,
    /// Spatial frequency u in arcsec⁻¹.
    pub u: f64,
    /// Spatial frequency v in arcsec⁻¹.
    pub v: f64,
    /// Real part.
    pub real: f64,
    /// Imaginary part.
    pub imag: f64,
    /// 1σ error of the amplitude, including the 5 % systematic term.
    pub amplitude_error: f64,
    /// True for the default 10→3 imaging set.
    #[serde(rename = "use")]
    pub used: bool,
}

impl Visibility {
    /// Amplitude |V|.
    pub fn amplitude(&self) -> f64 {
        self.real.hypot(self.imag)
    }

    /// True when every number is finite and the error is positive: what every algorithm
    /// needs before it may use the visibility.
    pub fn is_usable(&self) -> bool {
        self.u.is_finite()
            && self.v.is_finite()
            && self.real.is_finite()
            && self.imag.is_finite()
            && self.amplitude_error.is_finite()
            && self.amplitude_error > 0.0
    }
}

/// Time range as written in the file (ISO UTC strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeRangeJson {
    /// Actual start, ISO UTC.
    pub start: String,
    /// Actual end, ISO UTC.
    pub end: String,
}

/// The phase centre: the map centre all visibility phases refer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseCenter {
    /// Always `"stix"` (the STIX imaging frame of section F).
    pub frame: String,
    /// x in arcsec.
    pub x_arcsec: f64,
    /// y in arcsec.
    pub y_arcsec: f64,
}

/// Observer position in Heliographic Stonyhurst coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ObserverHgs {
    /// Stonyhurst longitude in degrees (`HGLN_OBS`).
    pub lon_deg: f64,
    /// Stonyhurst latitude in degrees (`HGLT_OBS`).
    pub lat_deg: f64,
    /// Distance from Sun centre in metres (`DSUN_OBS`).
    pub radius_m: f64,
}

/// Everything needed to place a map made from these visibilities on the sky (section F).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapWcs {
    /// Observation time (middle of the interval), ISO UTC at Solar Orbiter.
    pub obstime: String,
    /// Observer position.
    pub observer_hgs: ObserverHgs,
    /// The phase centre in helioprojective coordinates as seen from Solar Orbiter, arcsec.
    pub reference_hpc_arcsec: [f64; 2],
    /// θ = 90° + roll: the rotation from STIX-frame offsets to HPC offsets, degrees.
    pub rotation_angle_deg: f64,
    /// Spacecraft roll angle in degrees.
    pub roll_angle_deg: f64,
    /// STIX pointing used, arcsec.
    pub stix_pointing_arcsec: [f64; 2],
    /// Where the pointing came from, e.g. `"SAS"`, `"spacecraft"`, `"assumed"`.
    pub pointing_source: String,
    /// Apparent solar radius in arcsec, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsun_arcsec: Option<f64>,
}

impl MapWcs {
    /// The roll/pointing pair used for coordinate conversions.
    pub fn attitude(&self) -> Attitude {
        Attitude {
            roll_deg: self.roll_angle_deg,
            pointing_arcsec: self.stix_pointing_arcsec,
        }
    }
}

/// Summed A/B/C/D pixel rates of one detector (section D.4–D.5), the input of EM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorRates {
    /// Detector number, 1-based.
    pub isc: u8,
    /// Subcollimator label.
    pub label: String,
    /// Spatial frequency u of the subcollimator, arcsec⁻¹.
    pub u: f64,
    /// Spatial frequency v of the subcollimator, arcsec⁻¹.
    pub v: f64,
    /// Total phase the calibration adds for this detector, φ_grid + φ_adhoc + φ_pix, degrees
    /// (EM's system matrix subtracts it: section E.4).
    pub calibration_phase_deg: f64,
    /// A, B, C, D rates in counts s⁻¹ keV⁻¹ cm⁻² (live-time corrected, background subtracted).
    pub rates: [f64; 4],
    /// 1σ errors of the rates.
    pub errors: [f64; 4],
}

/// The pixel-rate block of a `stix-vis` file, needed by EM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummedRates {
    /// Pixel rows summed: `top+bot`, `top`, `bot`, `all` or `small`.
    pub sumcase: String,
    /// Pixel phase offset φ_pix used, degrees (section D.6).
    pub pixel_phase_offset_deg: f64,
    /// One entry per imaging detector.
    pub detectors: Vec<DetectorRates>,
}

/// Metadata of a visibility set: where, when, which band, which calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisMeta {
    /// The actual interval used (whole bins).
    pub time_range: TimeRangeJson,
    /// The actual band used, keV.
    pub energy_range_kev: [f64; 2],
    /// The phase centre (STIX frame).
    pub phase_center: PhaseCenter,
    /// Sky placement.
    pub map_wcs: MapWcs,
    /// Counts in the selected pixels of the imaging detectors, before background subtraction.
    pub total_counts: f64,
    /// Live-time-scaled background counts subtracted (0 without background).
    #[serde(default)]
    pub background_counts: f64,
    /// Calibration recipe and version.
    pub calibration_version: String,
    /// `EAR_TDEL` of the science file: light time Sun→Earth minus Sun→Solar Orbiter, seconds
    /// (add it to the spacecraft UTC times for the Earth-time equivalent; A.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earth_time_delta_seconds: Option<f64>,
    /// The ELUT table whose edge correction was applied (section B), when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elut_file: Option<String>,
    /// Science file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub science_file: Option<String>,
    /// Background file name, when one was subtracted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_file: Option<String>,
    /// Aspect/ephemeris file name, when one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux_file: Option<String>,
}

impl VisMeta {
    /// The time range parsed back into UTC times.
    pub fn time_range(&self) -> Result<TimeRange, crate::time_range::TimeRangeError> {
        TimeRange::parse(&format!(
            "{}/{}",
            self.time_range.start, self.time_range.end
        ))
    }

    /// The energy band.
    pub fn energy_band(&self) -> Result<EnergyBand, crate::energy::EnergyBandError> {
        EnergyBand::new(self.energy_range_kev[0], self.energy_range_kev[1])
    }

    /// The phase centre as `[x, y]` arcsec in the STIX frame.
    pub fn phase_center_arcsec(&self) -> [f64; 2] {
        [self.phase_center.x_arcsec, self.phase_center.y_arcsec]
    }
}

/// A whole `stix-vis` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisFile {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Metadata (flattened into the top level of the JSON object).
    #[serde(flatten)]
    pub meta: VisMeta,
    /// All visibilities; `use` marks the default imaging set.
    pub visibilities: Vec<Visibility>,
    /// Summed pixel rates for EM; absent in files from other tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summed_rates: Option<SummedRates>,
}

impl VisFile {
    /// Wraps metadata and visibilities in a version-1 document.
    pub fn new(
        meta: VisMeta,
        visibilities: Vec<Visibility>,
        summed_rates: Option<SummedRates>,
    ) -> Self {
        Self {
            format: FORMAT_NAME.to_string(),
            format_version: FORMAT_VERSION,
            meta,
            visibilities,
            summed_rates,
        }
    }

    /// The visibilities marked `use`.
    pub fn used(&self) -> Vec<Visibility> {
        self.visibilities
            .iter()
            .filter(|v| v.used)
            .cloned()
            .collect()
    }

    /// Reads and checks a `stix-vis` file.
    pub fn read(path: &Path) -> Result<Self, VisFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| VisFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text).map_err(|reason| VisFileError::Invalid {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses and checks a `stix-vis` document.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: VisFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.format != FORMAT_NAME {
            return Err(format!(
                "format is '{}', expected '{FORMAT_NAME}'",
                file.format
            ));
        }
        if file.format_version != FORMAT_VERSION {
            return Err(format!(
                "format_version {} is not supported (this build reads {FORMAT_VERSION})",
                file.format_version
            ));
        }
        if file.visibilities.is_empty() {
            return Err("it holds no visibilities".to_string());
        }
        if let Some(v) = file.visibilities.iter().find(|v| !v.is_usable()) {
            return Err(format!(
                "visibility {} (isc {}) has a non-finite value or a non-positive error",
                v.label, v.isc
            ));
        }
        Ok(file)
    }

    /// Writes the document as pretty JSON, atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> Result<(), VisFileError> {
        let io = |source| VisFileError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| VisFileError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let tmp = path.with_extension("json.partial");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}
