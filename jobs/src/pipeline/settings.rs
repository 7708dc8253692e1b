//! The preview pipeline's settings (service settings `[preview]`), stored in every preview
//! job's request so that a job is reproducible, and as policy inputs on every image.

use domain::imaging::Algorithm;
use domain::policy::flare_detection::DetectionSettings;
use domain::policy::preview_v1::PreviewSettings;
use serde::{Deserialize, Serialize};

/// Which selection policy decides the boxes of the previews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SelectionPolicy {
    /// `preview-v1`: a box needs `min_counts` total counts (the Data Center's rule).
    #[serde(rename = "preview-v1")]
    PreviewV1,
    /// `preview-v2`: a box needs `min_net_counts` background-subtracted counts (issue #11).
    #[default]
    #[serde(rename = "preview-v2")]
    PreviewV2,
}

impl SelectionPolicy {
    /// The version string stored on every box, skip and image.
    pub fn version(self) -> &'static str {
        match self {
            SelectionPolicy::PreviewV1 => domain::policy::preview_v1::POLICY_VERSION,
            SelectionPolicy::PreviewV2 => domain::policy::preview_v2::POLICY_VERSION,
        }
    }
}

/// Everything the preview of one science file depends on besides the files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineSettings {
    /// The selection policy (`selection_policy`, default `preview-v2`).
    pub selection_policy: SelectionPolicy,
    /// The selection numbers (bands, min_counts, min_net_counts, window, cadence).
    pub policy: PreviewSettings,
    /// Apply the ELUT energy-edge correction (section B; `elut_correction`, default on). The
    /// outcome is recorded per image (`calibration_version`, FITS `ELUT`).
    pub elut_correction: bool,
    /// Flare detection settings used when no listed flare overlaps the file.
    pub detection: DetectionSettings,
    /// Background search window, ± days (section G: 15).
    pub background_max_days: f64,
    /// Image side, pixels (DC: 128 → 129 for CLEAN; section E.1).
    pub image_size_px: usize,
    /// Pixel size, arcsec (section E.1).
    pub pixel_arcsec: f64,
    /// Algorithms run for every box.
    pub algorithms: Vec<Algorithm>,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            selection_policy: SelectionPolicy::default(),
            policy: PreviewSettings::default(),
            elut_correction: true,
            detection: DetectionSettings::default(),
            background_max_days: domain::policy::background::DEFAULT_MAX_DAYS,
            image_size_px: 129,
            pixel_arcsec: 2.0,
            algorithms: vec![
                Algorithm::Bp,
                Algorithm::Clean,
                Algorithm::Mem,
                Algorithm::Em,
                Algorithm::Fwdfit,
            ],
        }
    }
}

impl PipelineSettings {
    /// The calibration options of the previews.
    pub fn calibration(&self) -> domain::calibration::CalibrationOptions {
        domain::calibration::CalibrationOptions {
            elut_correction: self.elut_correction,
        }
    }

    /// Checks the numbers once; a message names the bad one.
    pub fn check(&self) -> Result<(), String> {
        self.policy.check().map_err(|e| e.to_string())?;
        self.detection.check().map_err(|e| e.to_string())?;
        if !(self.background_max_days.is_finite() && self.background_max_days >= 0.0) {
            return Err(format!(
                "background_max_days must be ≥ 0, got {}",
                self.background_max_days
            ));
        }
        if self.algorithms.is_empty() {
            return Err("at least one algorithm is needed".into());
        }
        let probe = domain::imaging::params::ImagingParams {
            size_px: Some(self.image_size_px),
            pixel_arcsec: Some(self.pixel_arcsec),
            ..Default::default()
        };
        probe.check().map(|_| ()).map_err(|e| e.to_string())
    }
}
