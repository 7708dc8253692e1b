//! The `preview-v2` selection policy (issue #11): the box geometry of
//! [`super::preview_v1`] (peak window, cadence windows, whole-flare fallback), but a box is
//! imaged only when its **background-subtracted** counts reach `min_net_counts`
//! (default 10 000). `preview-v1` counted total counts, so a background-dominated box (the
//! 2022-11-13 16–28 keV box: 13 226 counts of which 12 412 background) was imaged and showed
//! noise, while a box with fewer but real counts could be skipped.
//!
//! The counts are the ones the image records (`CNTS_TOT`, `CNTS_BKG`): the summed top+bottom
//! pixels of the 30 imaging detectors over the whole bins of the box, the background file's
//! counts scaled by live time (D.3), with the same calibration options as the images (ELUT).
//! Without a background file the net counts equal the total counts. Every box and skip
//! records total, background and net counts; a skip says them in its reason.

use super::preview_v1::{
    CountRule, Counted, PlannedBox, PreviewPlan, PreviewSettings, SkippedBox, plan_with,
};
use crate::calibration::{CalibratedRates, CalibrationOptions, SumCase};
use crate::energy::EnergyBand;
use crate::l1::PixelData;
use crate::lightcurve::LightCurve;
use crate::policy::flare_window::FlareWindow;
use crate::selection::select;
use crate::time_range::TimeRange;
use serde::{Deserialize, Serialize};

/// Version of this policy, stored on every planned box, skip and image.
pub const POLICY_VERSION: &str = "preview-v2";

/// The counts of one box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NetCounts {
    /// Counts before background subtraction.
    pub total: f64,
    /// Live-time-scaled background counts.
    pub background: f64,
    /// `total − background`.
    pub net: f64,
}

/// Net counts of the science file in `band` over `time` (whole bins), as the images count
/// them (see the module documentation).
pub fn net_counts(
    sci: &PixelData,
    bkg: Option<&PixelData>,
    band: &EnergyBand,
    time: &TimeRange,
    options: CalibrationOptions,
) -> Result<NetCounts, String> {
    let sel = select(sci, time, band).map_err(|e| e.to_string())?;
    let rates = CalibratedRates::compute_with(sci, bkg, &sel, SumCase::TopBot, options)
        .map_err(|e| e.to_string())?;
    Ok(NetCounts {
        total: rates.total_counts,
        background: rates.background_counts,
        net: rates.total_counts - rates.background_counts,
    })
}

/// Plans the boxes of one flare under `preview-v2`; `net` counts a band over the whole bins
/// of a box (normally [`net_counts`] with the file and its background).
pub fn plan_boxes(
    flare: &FlareWindow,
    curves: &[LightCurve],
    settings: &PreviewSettings,
    net: &dyn Fn(&EnergyBand, &TimeRange) -> Result<NetCounts, String>,
) -> PreviewPlan {
    let count = |curve: &LightCurve, r: &TimeRange| -> Result<Counted, String> {
        let (_, actual) = curve.counts_in(r).map_err(|e| e.to_string())?;
        let n = net(&curve.band, &actual)?;
        Ok(Counted {
            counts: n.total,
            background: Some(n.background),
            net: Some(n.net),
            actual,
        })
    };
    let rule = CountRule {
        policy_version: POLICY_VERSION,
        threshold_name: "min_net_counts",
        threshold: settings.min_net_counts,
        count: &count,
    };
    plan_with(flare, curves, settings, &rule)
}

/// The net counts recorded on a planned box, when the policy recorded them.
pub fn box_counts(b: &PlannedBox) -> Option<NetCounts> {
    Some(NetCounts {
        total: b.counts,
        background: b.background_counts?,
        net: b.net_counts?,
    })
}

/// The net counts recorded on a skip, when the policy recorded them.
pub fn skip_counts(s: &SkippedBox) -> Option<NetCounts> {
    Some(NetCounts {
        total: s.counts,
        background: s.background_counts?,
        net: s.net_counts?,
    })
}
