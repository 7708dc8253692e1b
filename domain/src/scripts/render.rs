//! The inputs of each template and the renderers: placeholders `{{NAME}}` replaced by
//! values; the Python templates embed their inputs as one JSON document (a Python string
//! literal, so no value can break out of it), the IDL procedure as IDL literals.

use serde::Serialize;

const IMAGE_PY: &str = include_str!("templates/image.py");
const IMAGE_PRO: &str = include_str!("templates/image.pro");
const ANIMATION_PY: &str = include_str!("templates/animation.py");
const OVERLAY_PY: &str = include_str!("templates/overlay.py");

/// Why a script cannot be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The inputs cannot be serialised (a non-finite number).
    #[error("script inputs cannot be written: {0}")]
    Inputs(#[from] serde_json::Error),
    /// An input is unusable.
    #[error("invalid script input: {0}")]
    Invalid(String),
}

/// One archived file a script downloads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRef {
    /// STIX request UID (aspect files: the day `YYYYMMDD`).
    pub request_uid: i64,
    /// Product version (`V02` → 2).
    pub version: i32,
    /// Original file name.
    pub file_name: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Absolute download URL of this very version.
    pub url: String,
}

/// The observer (Solar Orbiter), heliographic Stonyhurst.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observer {
    /// Longitude, degrees.
    pub lon_deg: f64,
    /// Latitude, degrees.
    pub lat_deg: f64,
    /// Distance from the Sun centre, metres.
    pub distance_m: f64,
}

/// Everything needed to rebuild one image, from its row, its files and its FITS header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageInputs {
    /// `Image.id` (global id).
    pub image_id: String,
    /// Our FITS map.
    pub fits_url: String,
    /// Its file name.
    pub fits_file_name: String,
    /// Its SHA-256.
    pub fits_sha256: String,
    /// Our PNG quick-look.
    pub png_url: String,
    /// The flare pixel-data (signal) file.
    pub science: FileRef,
    /// The background file subtracted, if any.
    pub background: Option<FileRef>,
    /// The interval of the background file used, UTC ISO (its whole observation).
    pub background_time_range_utc: Option<[String; 2]>,
    /// The aspect/ephemeris file, if any.
    pub aspect: Option<FileRef>,
    /// Actual interval (whole time bins), UTC ISO.
    pub time_range_utc: [String; 2],
    /// Actual band edges, keV.
    pub energy_range_kev: [f64; 2],
    /// Map centre = phase centre, STIX frame, arcsec.
    pub center_stix_arcsec: [f64; 2],
    /// Map centre, helioprojective, arcsec.
    pub center_hpc_arcsec: [f64; 2],
    /// Spacecraft roll, degrees.
    pub roll_deg: f64,
    /// STIX pointing used, arcsec.
    pub pointing_arcsec: [f64; 2],
    /// The observer at the interval.
    pub observer: Observer,
    /// Image side, pixels.
    pub image_size_px: usize,
    /// Pixel size, arcsec.
    pub pixel_arcsec: f64,
    /// Algorithm name (`bp`, `bp-uniform`, `clean`, `mem`, `em`, `fwdfit`).
    pub algorithm: String,
    /// Sub-collimator labels used (`10a`, …).
    pub detectors: Vec<String>,
    /// The validated algorithm parameters actually used.
    pub parameters: serde_json::Value,
    /// Calibration recipe and version.
    pub calibration_version: String,
    /// The ELUT table whose edge correction was applied (stix-imaging.md B), `None` when the
    /// image was made without it. The scripts make the same choice.
    pub elut_file: Option<String>,
    /// Software that made the image.
    pub software_version: String,
    /// Selection policy (preview images).
    pub policy_version: Option<String>,
}

impl ImageInputs {
    fn title(&self) -> String {
        format!(
            "{} {:.4}-{:.4} keV, {} - {}",
            self.algorithm,
            self.energy_range_kev[0],
            self.energy_range_kev[1],
            self.time_range_utc[0],
            self.time_range_utc[1]
        )
        .replace(".0000", "")
    }

    fn check(&self) -> Result<(), ScriptError> {
        let numbers = [
            self.energy_range_kev[0],
            self.energy_range_kev[1],
            self.center_stix_arcsec[0],
            self.center_stix_arcsec[1],
            self.center_hpc_arcsec[0],
            self.center_hpc_arcsec[1],
            self.pixel_arcsec,
        ];
        if numbers.iter().any(|v| !v.is_finite()) || self.image_size_px == 0 {
            return Err(ScriptError::Invalid(format!(
                "non-finite geometry or empty image: {numbers:?}, {} px",
                self.image_size_px
            )));
        }
        Ok(())
    }
}

/// A Python string literal holding `value` as JSON (JSON string escapes are Python escapes).
fn python_json_literal<T: Serialize>(value: &T) -> Result<String, ScriptError> {
    let json = serde_json::to_string(value)?;
    Ok(serde_json::to_string(&json)?)
}

/// Text safe inside a docstring or an IDL comment/string: printable ASCII without quotes or
/// backslashes.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (' '..='~').contains(&c) && !matches!(c, '"' | '\'' | '\\') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn fill(template: &str, pairs: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (key, value) in pairs {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// The Python reproduction script of one image (`python script.py [--method fits|reproduce]
/// [--out DIR]`).
pub fn image_python(inputs: &ImageInputs) -> Result<String, ScriptError> {
    inputs.check()?;
    Ok(fill(
        IMAGE_PY,
        &[
            ("IMAGE_ID", plain(&inputs.image_id)),
            ("TITLE", plain(&inputs.title())),
            ("SOFTWARE_VERSION", plain(&inputs.software_version)),
            ("INPUTS_JSON", python_json_literal(inputs)?),
        ],
    ))
}

/// An IDL number literal (double precision).
fn idl_f64(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains(['e', 'E']) {
        s.replace(['e', 'E'], "d")
    } else {
        format!("{s}d")
    }
}

/// The name of the IDL procedure of image `image_id` (also its file stem, so that IDL finds
/// it): `stx_archive_` + the id, lower case, other characters as `_`.
pub fn idl_procedure_name(image_id: &str) -> String {
    let id: String = image_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("stx_archive_{id}")
}

/// The IDL procedure (STIX ground software) of one image; its name is
/// `stx_archive_<id>` with the id made IDL-safe.
pub fn idl_procedure(inputs: &ImageInputs) -> Result<String, ScriptError> {
    inputs.check()?;
    let p = &inputs.parameters;
    let clean = p.get("clean").cloned().unwrap_or_default();
    let num =
        |v: &serde_json::Value, k: &str, d: f64| v.get(k).and_then(|x| x.as_f64()).unwrap_or(d);
    let pro_name = idl_procedure_name(&inputs.image_id);
    let detectors: Vec<String> = inputs
        .detectors
        .iter()
        .map(|d| format!("'{}'", plain(d)))
        .collect();
    let stem = inputs
        .fits_file_name
        .strip_suffix(".fits")
        .unwrap_or(&inputs.fits_file_name)
        .to_string();
    let bkg = inputs.background.as_ref();
    let aux = inputs.aspect.as_ref();
    let shape = p
        .get("fwdfit")
        .and_then(|f| f.get("shape"))
        .and_then(|s| s.as_str())
        .unwrap_or("circle");
    Ok(fill(
        IMAGE_PRO,
        &[
            ("PRO_NAME", pro_name),
            ("IMAGE_ID", plain(&inputs.image_id)),
            ("TITLE", plain(&inputs.title())),
            ("SOFTWARE_VERSION", plain(&inputs.software_version)),
            ("ALG_FITS", plain(&inputs.algorithm.to_uppercase())),
            ("SCI_NAME", plain(&inputs.science.file_name)),
            ("SCI_UID", inputs.science.request_uid.to_string()),
            ("SCI_VERSION", format!("{:02}", inputs.science.version)),
            ("SCI_URL", plain(&inputs.science.url)),
            (
                "BKG_NAME",
                bkg.map(|b| plain(&b.file_name)).unwrap_or_default(),
            ),
            ("BKG_URL", bkg.map(|b| plain(&b.url)).unwrap_or_default()),
            (
                "AUX_NAME",
                aux.map(|a| plain(&a.file_name)).unwrap_or_default(),
            ),
            ("AUX_URL", aux.map(|a| plain(&a.url)).unwrap_or_default()),
            ("FITS_URL", plain(&inputs.fits_url)),
            ("CAL_VERSION", plain(&inputs.calibration_version)),
            (
                "ELUT_NAME",
                plain(inputs.elut_file.as_deref().unwrap_or("none")),
            ),
            (
                "ELUT_CORR",
                if inputs.elut_file.is_some() { "1" } else { "0" }.to_string(),
            ),
            ("PARAMETERS", plain(&serde_json::to_string(p)?)),
            ("T0", plain(&inputs.time_range_utc[0])),
            ("T1", plain(&inputs.time_range_utc[1])),
            ("E0", idl_f64(inputs.energy_range_kev[0])),
            ("E1", idl_f64(inputs.energy_range_kev[1])),
            ("CX_STIX", idl_f64(inputs.center_stix_arcsec[0])),
            ("CY_STIX", idl_f64(inputs.center_stix_arcsec[1])),
            ("CX_HPC", idl_f64(inputs.center_hpc_arcsec[0])),
            ("CY_HPC", idl_f64(inputs.center_hpc_arcsec[1])),
            ("SIZE", inputs.image_size_px.to_string()),
            ("PIXEL", idl_f64(inputs.pixel_arcsec)),
            ("DETECTORS", detectors.join(", ")),
            ("ALGORITHM", plain(&inputs.algorithm)),
            (
                "CLEAN_NITER",
                (num(&clean, "niter", 200.0) as i64).to_string(),
            ),
            (
                "CLEAN_UNIFORM",
                if clean.get("weighting").and_then(|w| w.as_str()) == Some("uniform") {
                    "1".to_string()
                } else {
                    "0".to_string()
                },
            ),
            ("CLEAN_GAIN", idl_f64(num(&clean, "gain", 0.1))),
            ("CLEAN_BEAM", idl_f64(num(&clean, "beam_fwhm_arcsec", 20.0))),
            ("FWDFIT_SHAPE", plain(shape)),
            ("OUT_NAME", plain(&stem)),
        ],
    ))
}

/// One frame of an animation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnimationFrame {
    /// `Image.id`.
    pub image_id: String,
    /// FITS URL.
    pub fits_url: String,
    /// FITS file name.
    pub fits_file_name: String,
    /// Interval start, UTC ISO.
    pub time_start: String,
    /// Band, keV.
    pub energy_low_kev: f64,
    /// Band, keV.
    pub energy_high_kev: f64,
    /// Algorithm name.
    pub algorithm: String,
}

/// The inputs of the animation template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnimationInputs {
    /// `Animation.id`.
    pub animation_id: String,
    /// Frames per second.
    pub fps: f64,
    /// The GIF the template writes.
    pub gif_name: String,
    /// The frames (the template sorts them by time).
    pub frames: Vec<AnimationFrame>,
    /// Software that wrote the template.
    pub software_version: String,
}

/// The Python animation template (sunpy + matplotlib, GIF written with Pillow).
pub fn animation_python(inputs: &AnimationInputs) -> Result<String, ScriptError> {
    if inputs.frames.is_empty() || !(inputs.fps.is_finite() && inputs.fps > 0.0) {
        return Err(ScriptError::Invalid(
            "an animation needs frames and fps > 0".into(),
        ));
    }
    Ok(fill(
        ANIMATION_PY,
        &[
            ("N_FRAMES", inputs.frames.len().to_string()),
            (
                "TITLE",
                plain(&format!("animation {}", inputs.animation_id)),
            ),
            ("SOFTWARE_VERSION", plain(&inputs.software_version)),
            ("INPUTS_JSON", python_json_literal(inputs)?),
        ],
    ))
}

/// The inputs of the overlay template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverlayInputs {
    /// The base map.
    pub base: AnimationFrame,
    /// The maps drawn as contours.
    pub contours: Vec<AnimationFrame>,
    /// Contour levels, percent of each map's maximum.
    pub levels_percent: Vec<f64>,
    /// The PNG the template writes.
    pub png_name: String,
    /// Software that wrote the template.
    pub software_version: String,
}

/// The Python overlay template (sunpy contours on a sunpy map).
pub fn overlay_python(inputs: &OverlayInputs) -> Result<String, ScriptError> {
    if inputs.contours.is_empty()
        || inputs.levels_percent.is_empty()
        || inputs
            .levels_percent
            .iter()
            .any(|l| !(l.is_finite() && *l > 0.0 && *l <= 100.0))
    {
        return Err(ScriptError::Invalid(
            "an overlay needs contour maps and levels in (0, 100] %".into(),
        ));
    }
    Ok(fill(
        OVERLAY_PY,
        &[
            (
                "TITLE",
                plain(&format!(
                    "{} contour maps on {}",
                    inputs.contours.len(),
                    inputs.base.image_id
                )),
            ),
            ("SOFTWARE_VERSION", plain(&inputs.software_version)),
            ("INPUTS_JSON", python_json_literal(inputs)?),
        ],
    ))
}
