//! Image reconstruction from calibrated visibilities (`shared/docs/stix-imaging.md` section E).
//!
//! Every algorithm works in the STIX frame on an n×n grid of Δ-arcsec pixels centred on the
//! phase centre ([`grid`]); the result is a [`Reconstruction`] that `output` turns into
//! FITS and PNG files.

pub mod bp;
pub mod cancel;
pub mod clean;
pub mod dft;
pub mod dispatch;
pub mod em;
pub mod fwdfit;
pub mod grid;
pub mod mem;
pub mod params;

pub use dispatch::{ImagingError, reconstruct, reconstruct_cancellable};
pub use grid::{ImageGrid, Map};

use serde::{Deserialize, Serialize};

/// The reconstruction algorithms offered, with their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Back-projection, natural weighting (E.1).
    Bp,
    /// Back-projection, uniform weighting (E.1).
    BpUniform,
    /// Högbom CLEAN (E.2).
    Clean,
    /// MEM_GE (E.3).
    Mem,
    /// Count-based expectation maximisation (E.4).
    Em,
    /// VIS_FWDFIT with particle-swarm optimisation (E.5).
    Fwdfit,
}

impl Algorithm {
    /// All algorithms, in the order the preview pipeline runs them.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Bp,
        Algorithm::BpUniform,
        Algorithm::Clean,
        Algorithm::Mem,
        Algorithm::Em,
        Algorithm::Fwdfit,
    ];

    /// The command-line / database name (`bp`, `bp-uniform`, `clean`, `mem`, `em`, `fwdfit`).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Bp => "bp",
            Algorithm::BpUniform => "bp-uniform",
            Algorithm::Clean => "clean",
            Algorithm::Mem => "mem",
            Algorithm::Em => "em",
            Algorithm::Fwdfit => "fwdfit",
        }
    }

    /// The name written in FITS `ALG_USED`, in the style of the GSW writer.
    pub fn fits_name(&self) -> &'static str {
        match self {
            Algorithm::Bp => "STX BP NATURAL",
            Algorithm::BpUniform => "STX BP UNIFORM",
            Algorithm::Clean => "STX CLEAN",
            Algorithm::Mem => "STX MEM_GE",
            Algorithm::Em => "STX EM",
            Algorithm::Fwdfit => "STX VIS_FWDFIT_PSO",
        }
    }

    /// Parses a command-line name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == text)
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One CLEAN component: a delta of `flux` at an offset from the phase centre.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CleanComponent {
    /// Offset from the phase centre in the STIX frame, arcsec.
    pub offset_arcsec: [f64; 2],
    /// Flux of the component (counts s⁻¹ keV⁻¹ cm⁻²).
    pub flux: f64,
}

/// What CLEAN returns besides the map.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanExtras {
    /// The components in the order found.
    pub components: Vec<CleanComponent>,
    /// The residual map, per arcsec², same grid as the image.
    pub residual: ndarray::Array2<f64>,
    /// FWHM of the clean beam used, arcsec.
    pub beam_fwhm_arcsec: f64,
}

/// One source fitted by VIS_FWDFIT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedSource {
    /// `circle`, `ellipse` or `loop`.
    pub shape: String,
    /// Total flux (counts s⁻¹ keV⁻¹ cm⁻²).
    pub flux: f64,
    /// Centre offset from the phase centre in the STIX frame, arcsec.
    pub offset_arcsec: [f64; 2],
    /// FWHM (geometric mean for ellipses), arcsec.
    pub fwhm_arcsec: f64,
    /// Major and minor FWHM for ellipses, arcsec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwhm_major_minor_arcsec: Option<[f64; 2]>,
    /// Angle of the major axis, counter-clockwise from STIX +x, degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub angle_deg: Option<f64>,
    /// Loop curvature angle, degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_angle_deg: Option<f64>,
    /// 1σ uncertainties of the parameters by name, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncertainties: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What VIS_FWDFIT returns besides the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FwdfitExtras {
    /// The fitted sources.
    pub sources: Vec<FittedSource>,
    /// Reduced χ² of the best fit.
    pub chi2_reduced: f64,
}

/// The result of one reconstruction.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    /// Which algorithm made it.
    pub algorithm: Algorithm,
    /// The image in the STIX frame.
    pub map: Map,
    /// The validated parameters actually used, as JSON (stored with every image).
    pub parameters: serde_json::Value,
    /// Convergence facts (iterations, stop reason, C-statistic, …), as JSON.
    pub diagnostics: serde_json::Value,
    /// CLEAN components and residual, for CLEAN.
    pub clean: Option<CleanExtras>,
    /// Fitted sources, for VIS_FWDFIT.
    pub fwdfit: Option<FwdfitExtras>,
}
