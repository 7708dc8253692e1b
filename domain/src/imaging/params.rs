//! Imaging parameters: the user-facing [`ImagingParams`] (every field optional, serde) and
//! the checked [`ValidParams`] the algorithms take (parse, don't validate).
//!
//! Defaults are those of the STIX demo and Data Center (`shared/docs/stix-imaging.md` E.1–E.5
//! and table H): 129 px of 2″, CLEAN 200 iterations / gain 0.1 / 20″ beam / natural, MEM
//! maxiter 1000 / tol 1e−3 / F = max|V|, EM maxiter 5000 / tol 1e−3, FWDFIT by the DC rule.

use super::Algorithm;
use super::bp::Weighting;
use super::grid::ImageGrid;
use serde::{Deserialize, Serialize};

/// Smallest accepted image side, pixels.
pub const MIN_SIZE_PX: usize = 16;
/// Largest accepted image side, pixels.
pub const MAX_SIZE_PX: usize = 1025;
/// Accepted pixel sizes, arcsec (inclusive).
pub const PIXEL_ARCSEC_RANGE: (f64, f64) = (0.05, 100.0);
/// Largest accepted iteration limit of any iterative algorithm.
pub const MAX_ITERATIONS: u32 = 1_000_000;
/// Largest number of sources of the FWDFIT `multi` shape.
pub const MAX_FWDFIT_SOURCES: u32 = 4;

/// Why parameters were rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// A value is outside its accepted range.
    #[error("{name} = {value} is out of range: {expected}")]
    OutOfRange {
        /// Parameter name as in the JSON.
        name: &'static str,
        /// The value given, as text.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
}

fn out_of_range(name: &'static str, value: impl ToString, expected: &'static str) -> ParamsError {
    ParamsError::OutOfRange {
        name,
        value: value.to_string(),
        expected,
    }
}

/// How MEM_GE chooses the total flux F of its constraint (E.3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemTotalFlux {
    /// F = max|V| (the DC and `stx_imaging_pipeline` choice; the default).
    MaxAmplitude,
    /// F from a projected-Landweber positive least-squares fit (`vis_estimate_flux`).
    Estimate,
    /// A fixed value in counts s⁻¹ keV⁻¹ cm⁻².
    Value(f64),
}

/// The VIS_FWDFIT source model (E.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FwdfitShape {
    /// The DC rule: `ellipse` if E_high < 16 keV, else two circles (`multi`).
    Auto,
    /// One circular Gaussian.
    Circle,
    /// One elliptical Gaussian.
    Ellipse,
    /// Several circular Gaussians (`fwdfit_sources` of them).
    Multi,
    /// One curved elliptical (loop) source.
    Loop,
}

/// User imaging parameters; every field is optional and documented with its default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImagingParams {
    /// Algorithm (default `clean`).
    pub algorithm: Option<Algorithm>,
    /// Image side in pixels, 16…1025 (default 129). CLEAN forces it odd (E.2); the other
    /// algorithms keep it.
    pub size_px: Option<usize>,
    /// Pixel size in arcsec (default 2).
    pub pixel_arcsec: Option<f64>,
    /// CLEAN iterations (default 200).
    pub clean_niter: Option<u32>,
    /// CLEAN loop gain, (0, 1] (default 0.1).
    pub clean_gain: Option<f64>,
    /// CLEAN beam FWHM in arcsec (default 20); 0 means the E.2 formula from the (u,v) points.
    pub clean_beam_fwhm_arcsec: Option<f64>,
    /// CLEAN weighting (default natural).
    pub clean_weighting: Option<Weighting>,
    /// CLEAN stops when the largest |residual| is negative (default true).
    pub clean_negative_max: Option<bool>,
    /// MEM_GE iteration limit (default 1000).
    pub mem_maxiter: Option<u32>,
    /// MEM_GE relative-change tolerance (default 1e−3).
    pub mem_tol: Option<f64>,
    /// MEM_GE total flux (default `max-amplitude`).
    pub mem_total_flux: Option<MemTotalFlux>,
    /// EM iteration limit (default 5000).
    pub em_maxiter: Option<u32>,
    /// EM stopping tolerance (default 1e−3).
    pub em_tol: Option<f64>,
    /// FWDFIT shape (default `auto`, the DC rule).
    pub fwdfit_shape: Option<FwdfitShape>,
    /// Number of circles of the `multi` shape, 1…4 (default 2).
    pub fwdfit_sources: Option<u32>,
    /// FWDFIT: 20 refits on perturbed visibilities for 1σ uncertainties (default false).
    pub fwdfit_uncertainty: Option<bool>,
    /// FWDFIT PSO random seed (default 1).
    pub fwdfit_seed: Option<u64>,
}

/// CLEAN settings after checking (E.2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CleanParams {
    /// Iterations.
    pub niter: u32,
    /// Loop gain.
    pub gain: f64,
    /// Beam FWHM in arcsec; `None` = the E.2 formula.
    pub beam_fwhm_arcsec: Option<f64>,
    /// Weighting of the dirty map, the PSF and the default beam.
    pub weighting: Weighting,
    /// Stop on a negative maximum.
    pub negative_max: bool,
}

impl Default for CleanParams {
    fn default() -> Self {
        Self {
            niter: 200,
            gain: 0.1,
            beam_fwhm_arcsec: Some(20.0),
            weighting: Weighting::Natural,
            negative_max: true,
        }
    }
}

/// MEM_GE settings after checking (E.3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemParams {
    /// Iteration limit.
    pub maxiter: u32,
    /// Relative-change tolerance.
    pub tol: f64,
    /// Total flux rule.
    pub total_flux: MemTotalFlux,
}

impl Default for MemParams {
    fn default() -> Self {
        Self {
            maxiter: 1000,
            tol: 1e-3,
            total_flux: MemTotalFlux::MaxAmplitude,
        }
    }
}

/// EM settings after checking (E.4).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EmParams {
    /// Iteration limit.
    pub maxiter: u32,
    /// Stopping tolerance.
    pub tol: f64,
}

impl Default for EmParams {
    fn default() -> Self {
        Self {
            maxiter: 5000,
            tol: 1e-3,
        }
    }
}

/// FWDFIT settings after checking (E.5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FwdfitParams {
    /// Shape (`Auto` is resolved by the caller from the energy band).
    pub shape: FwdfitShape,
    /// Number of circles for `Multi`.
    pub sources: u32,
    /// Whether to estimate uncertainties.
    pub uncertainty: bool,
    /// PSO seed.
    pub seed: u64,
}

impl Default for FwdfitParams {
    fn default() -> Self {
        Self {
            shape: FwdfitShape::Auto,
            sources: 2,
            uncertainty: false,
            seed: 1,
        }
    }
}

/// Checked parameters: every value in range, every default filled in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValidParams {
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Image side as requested, pixels.
    pub size_px: usize,
    /// Pixel size, arcsec.
    pub pixel_arcsec: f64,
    /// CLEAN settings.
    pub clean: CleanParams,
    /// MEM settings.
    pub mem: MemParams,
    /// EM settings.
    pub em: EmParams,
    /// FWDFIT settings.
    pub fwdfit: FwdfitParams,
}

impl ValidParams {
    /// The grid the chosen algorithm uses: CLEAN forces n odd (n → 2⌊n/2⌋+1, E.2), the
    /// others keep the requested n.
    pub fn grid(&self) -> ImageGrid {
        let n = if self.algorithm == Algorithm::Clean {
            2 * (self.size_px / 2) + 1
        } else {
            self.size_px
        };
        ImageGrid {
            n,
            pixel_arcsec: self.pixel_arcsec,
        }
    }

    /// The defaults (what `ImagingParams::default().check()` gives) for one algorithm.
    pub fn defaults_for(algorithm: Algorithm) -> Self {
        Self {
            algorithm,
            size_px: 129,
            pixel_arcsec: 2.0,
            clean: CleanParams::default(),
            mem: MemParams::default(),
            em: EmParams::default(),
            fwdfit: FwdfitParams::default(),
        }
    }
}

fn check_iter(name: &'static str, v: Option<u32>, default: u32) -> Result<u32, ParamsError> {
    match v {
        None => Ok(default),
        Some(x) if (1..=MAX_ITERATIONS).contains(&x) => Ok(x),
        Some(x) => Err(out_of_range(name, x, "1…1000000")),
    }
}

fn check_tol(name: &'static str, v: Option<f64>, default: f64) -> Result<f64, ParamsError> {
    match v {
        None => Ok(default),
        Some(x) if x.is_finite() && x > 0.0 && x < 1.0 => Ok(x),
        Some(x) => Err(out_of_range(name, x, "0 < tol < 1")),
    }
}

impl ImagingParams {
    /// Checks every value once and fills in the defaults.
    pub fn check(&self) -> Result<ValidParams, ParamsError> {
        let algorithm = self.algorithm.unwrap_or(Algorithm::Clean);
        let size_px = self.size_px.unwrap_or(129);
        if !(MIN_SIZE_PX..=MAX_SIZE_PX).contains(&size_px) {
            return Err(out_of_range("size_px", size_px, "16…1025 pixels"));
        }
        let pixel_arcsec = self.pixel_arcsec.unwrap_or(2.0);
        if !(pixel_arcsec.is_finite()
            && pixel_arcsec >= PIXEL_ARCSEC_RANGE.0
            && pixel_arcsec <= PIXEL_ARCSEC_RANGE.1)
        {
            return Err(out_of_range(
                "pixel_arcsec",
                pixel_arcsec,
                "0.05…100 arcsec",
            ));
        }
        let gain = self.clean_gain.unwrap_or(0.1);
        if !(gain.is_finite() && gain > 0.0 && gain <= 1.0) {
            return Err(out_of_range("clean_gain", gain, "0 < gain ≤ 1"));
        }
        let beam = self.clean_beam_fwhm_arcsec.unwrap_or(20.0);
        if !(beam.is_finite() && (0.0..=3600.0).contains(&beam)) {
            return Err(out_of_range(
                "clean_beam_fwhm_arcsec",
                beam,
                "0 (automatic) or a FWHM up to 3600 arcsec",
            ));
        }
        let clean = CleanParams {
            niter: check_iter("clean_niter", self.clean_niter, 200)?,
            gain,
            beam_fwhm_arcsec: (beam > 0.0).then_some(beam),
            weighting: self.clean_weighting.unwrap_or(Weighting::Natural),
            negative_max: self.clean_negative_max.unwrap_or(true),
        };
        let total_flux = self.mem_total_flux.unwrap_or(MemTotalFlux::MaxAmplitude);
        if let MemTotalFlux::Value(f) = total_flux
            && !(f.is_finite() && f > 0.0)
        {
            return Err(out_of_range(
                "mem_total_flux",
                f,
                "max-amplitude, estimate or a positive flux",
            ));
        }
        let mem = MemParams {
            maxiter: check_iter("mem_maxiter", self.mem_maxiter, 1000)?,
            tol: check_tol("mem_tol", self.mem_tol, 1e-3)?,
            total_flux,
        };
        let em = EmParams {
            maxiter: check_iter("em_maxiter", self.em_maxiter, 5000)?,
            tol: check_tol("em_tol", self.em_tol, 1e-3)?,
        };
        let sources = self.fwdfit_sources.unwrap_or(2);
        if !(1..=MAX_FWDFIT_SOURCES).contains(&sources) {
            return Err(out_of_range("fwdfit_sources", sources, "1…4"));
        }
        let fwdfit = FwdfitParams {
            shape: self.fwdfit_shape.unwrap_or(FwdfitShape::Auto),
            sources,
            uncertainty: self.fwdfit_uncertainty.unwrap_or(false),
            seed: self.fwdfit_seed.unwrap_or(1),
        };
        Ok(ValidParams {
            algorithm,
            size_px,
            pixel_arcsec,
            clean,
            mem,
            em,
            fwdfit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_demo_and_dc_values() {
        let p = ImagingParams::default().check().unwrap();
        assert_eq!(p, ValidParams::defaults_for(Algorithm::Clean));
        assert_eq!(p.grid().n, 129);
        assert_eq!(p.clean.niter, 200);
        assert_eq!(p.clean.beam_fwhm_arcsec, Some(20.0));
    }

    #[test]
    fn clean_forces_odd_size_only_for_clean() {
        let mut q = ImagingParams {
            size_px: Some(128),
            ..Default::default()
        };
        assert_eq!(q.check().unwrap().grid().n, 129);
        q.algorithm = Some(Algorithm::Mem);
        assert_eq!(q.check().unwrap().grid().n, 128);
    }

    #[test]
    fn nonsense_is_rejected_with_the_parameter_name() {
        let cases = [
            ImagingParams {
                size_px: Some(8),
                ..Default::default()
            },
            ImagingParams {
                size_px: Some(4096),
                ..Default::default()
            },
            ImagingParams {
                pixel_arcsec: Some(f64::NAN),
                ..Default::default()
            },
            ImagingParams {
                clean_gain: Some(1.5),
                ..Default::default()
            },
            ImagingParams {
                clean_niter: Some(0),
                ..Default::default()
            },
            ImagingParams {
                mem_tol: Some(-1.0),
                ..Default::default()
            },
            ImagingParams {
                mem_total_flux: Some(MemTotalFlux::Value(-3.0)),
                ..Default::default()
            },
            ImagingParams {
                fwdfit_sources: Some(9),
                ..Default::default()
            },
        ];
        for c in cases {
            let e = c.check().unwrap_err();
            assert!(e.to_string().contains("out of range"), "{e}");
        }
    }

    #[test]
    fn json_round_trip_and_unknown_fields() {
        let p: ImagingParams = serde_json::from_str(
            r#"{"algorithm":"mem","mem_total_flux":"estimate","fwdfit_shape":"loop","clean_weighting":"uniform"}"#,
        )
        .unwrap();
        let v = p.check().unwrap();
        assert_eq!(v.mem.total_flux, MemTotalFlux::Estimate);
        assert_eq!(v.fwdfit.shape, FwdfitShape::Loop);
        let p: ImagingParams =
            serde_json::from_str(r#"{"mem_total_flux":{"value":12.5}}"#).unwrap();
        assert_eq!(p.check().unwrap().mem.total_flux, MemTotalFlux::Value(12.5));
        assert!(serde_json::from_str::<ImagingParams>(r#"{"sise_px":3}"#).is_err());
    }
}
