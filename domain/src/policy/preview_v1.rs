//! The `preview-v1` selection policy: which time/energy boxes of a flare get a preview
//! image. It is a new product rule (`shared/docs/stix-imaging.md` G: "60 s every 10 min from
//! the peak" is in no existing code), built on the 2022 DC rule (bands 4–10 and 16–28 keV,
//! 60 s at the peak, `MIN_COUNTS = 10000`, whole flare as fallback). Every number is a
//! setting, and every box stores the policy version and its inputs.
//!
//! Per band (one light curve per band, actual band edges from the file):
//! 1. W = flare window ∩ file. The band's peak is the bin of maximal rate among the bins
//!    overlapping W (the earliest on ties); t_p is its centre.
//! 2. *Single-bin data* → one `whole_flare` box over W.
//! 3. *Big* flare: the `window_seconds` window centred at t_p (clipped to the file) holds
//!    ≥ `min_counts` → boxes centred at t_p + k·`cadence_seconds`, k = 0, ±1, ±2, … while
//!    the window stays inside W (k = 0 is always kept, clipped to the file). Each box needs
//!    ≥ `min_counts`, else it becomes a skip.
//! 4. *Small* flare → one `whole_flare` box over W.
//! 5. A box's counts are those of the whole bins containing its edges
//!    ([`LightCurve::counts_in`], A.3) — the bins imaging will use. Below `min_counts` the
//!    box is recorded as a [`SkippedBox`] with a human reason.
//!
//! Ordering is deterministic: bands in the order of `curves`, then boxes by time.

use crate::energy::EnergyBand;
use crate::lightcurve::{LightCurve, TimeBin, coverage};
use crate::policy::flare_window::{FlareWindow, intersect};
use crate::time_range::TimeRange;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Version of this policy, stored on every planned box and skip.
pub const POLICY_VERSION: &str = "preview-v1";

/// Longest window or cadence accepted, seconds (one year), so that time arithmetic cannot
/// overflow.
const MAX_SECONDS: f64 = 366.0 * 86_400.0;

/// Why preview settings are impossible.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum PreviewSettingsError {
    /// A number is out of range.
    #[error("preview setting {name} = {value} is invalid: {expected}")]
    OutOfRange {
        /// Setting name.
        name: &'static str,
        /// Value given.
        value: f64,
        /// What is allowed.
        expected: &'static str,
    },
    /// A band is impossible.
    #[error("preview band {low_kev}–{high_kev} keV is impossible: need 0 < low < high")]
    Band {
        /// Lower edge given.
        low_kev: f64,
        /// Upper edge given.
        high_kev: f64,
    },
    /// No band at all.
    #[error("preview settings name no energy band")]
    NoBands,
}

/// The numbers of `preview-v1` (serde; the pipeline exposes them as service settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreviewSettings {
    /// Requested bands `[low, high]` in keV. Default `[[4, 10], [16, 28]]` (G, DC 2022).
    pub bands_kev: Vec<[f64; 2]>,
    /// A box needs at least this many counts. Default 10 000 (G, DC 2022 `MIN_COUNTS`).
    pub min_counts: f64,
    /// Length of a peak/cadence window, seconds. Default 60 (G).
    pub window_seconds: f64,
    /// Spacing of the cadence windows from the peak, seconds. Default 600 (10 min).
    pub cadence_seconds: f64,
    /// `preview-v2`: a box needs at least this many background-subtracted counts. Default
    /// 10 000 (the DC's `MIN_COUNTS`, applied to net instead of total counts; issue #11).
    pub min_net_counts: f64,
}

impl Default for PreviewSettings {
    fn default() -> Self {
        Self {
            bands_kev: vec![[4.0, 10.0], [16.0, 28.0]],
            min_counts: 10_000.0,
            window_seconds: 60.0,
            cadence_seconds: 600.0,
            min_net_counts: 10_000.0,
        }
    }
}

impl PreviewSettings {
    /// Checks every number.
    pub fn check(&self) -> Result<(), PreviewSettingsError> {
        if self.bands_kev.is_empty() {
            return Err(PreviewSettingsError::NoBands);
        }
        for &[low_kev, high_kev] in &self.bands_kev {
            if EnergyBand::new(low_kev, high_kev).is_err() {
                return Err(PreviewSettingsError::Band { low_kev, high_kev });
            }
        }
        let seconds = |name, value: f64| {
            if value.is_finite() && value > 0.0 && value <= MAX_SECONDS {
                Ok(())
            } else {
                Err(PreviewSettingsError::OutOfRange {
                    name,
                    value,
                    expected: "a number of seconds > 0 and ≤ one year",
                })
            }
        };
        seconds("window_seconds", self.window_seconds)?;
        seconds("cadence_seconds", self.cadence_seconds)?;
        for (name, value) in [
            ("min_counts", self.min_counts),
            ("min_net_counts", self.min_net_counts),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(PreviewSettingsError::OutOfRange {
                    name,
                    value,
                    expected: "a finite number ≥ 0",
                });
            }
        }
        Ok(())
    }
}

/// What kind of box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BoxKind {
    /// The window centred at the band's peak (k = 0).
    Peak,
    /// The window centred at peak + step·cadence (step ≠ 0, negative = before the peak).
    Cadence {
        /// The signed step k.
        step: i64,
    },
    /// The whole flaring time in the file (small flare or single-bin data).
    WholeFlare,
}

/// A box to image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedBox {
    /// The actual band of the light curve (energy-group edges), keV.
    pub band: EnergyBand,
    /// The requested interval (window clipped to the file, or flare ∩ file).
    pub requested: TimeRange,
    /// The whole bins that contain the requested edges (what imaging uses).
    pub actual: TimeRange,
    /// Counts in `actual` in this band (`preview-v2`: in the summed pixels of the imaging
    /// detectors, before background subtraction).
    pub counts: f64,
    /// `preview-v2`: live-time-scaled background counts in the same pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_counts: Option<f64>,
    /// `preview-v2`: background-subtracted counts, the figure the threshold applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_counts: Option<f64>,
    /// Kind of box.
    pub kind: BoxKind,
    /// [`POLICY_VERSION`].
    pub policy_version: String,
    /// The policy inputs (settings, flare, file, peak, classification), as JSON.
    pub inputs: serde_json::Value,
}

/// A box the policy decided not to image, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedBox {
    /// The actual band of the light curve, keV.
    pub band: EnergyBand,
    /// The interval that was considered.
    pub requested: TimeRange,
    /// Counts found there (0 when none could be counted).
    pub counts: f64,
    /// `preview-v2`: scaled background counts found there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_counts: Option<f64>,
    /// `preview-v2`: net counts found there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_counts: Option<f64>,
    /// Kind of box considered, if the policy got that far.
    pub kind: Option<BoxKind>,
    /// Why, for the user: "only 7 532 counts in 4–10 keV, below min_counts 10 000".
    pub reason: String,
    /// [`POLICY_VERSION`].
    pub policy_version: String,
    /// The policy inputs, as JSON.
    pub inputs: serde_json::Value,
}

/// The outcome of [`plan_boxes`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PreviewPlan {
    /// Boxes to image, by band then time.
    pub boxes: Vec<PlannedBox>,
    /// Boxes not imaged, with reasons, by band then time.
    pub skips: Vec<SkippedBox>,
}

/// Thousands grouped with spaces: `7532.4` → `7 532`.
pub(crate) fn group_thousands(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    if x.round() < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// `4–10 keV`.
pub(crate) fn band_label(b: &EnergyBand) -> String {
    format!("{}–{} keV", b.low_kev, b.high_kev)
}

/// The settings band that overlaps `band` most, if any.
fn requested_band(settings: &PreviewSettings, band: &EnergyBand) -> Option<[f64; 2]> {
    settings
        .bands_kev
        .iter()
        .map(|&[lo, hi]| ([lo, hi], hi.min(band.high_kev) - lo.max(band.low_kev)))
        .filter(|(_, overlap)| *overlap > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(b, _)| b)
}

/// Seconds as a chrono duration (microsecond resolution).
fn seconds(s: f64) -> Duration {
    Duration::microseconds((s * 1e6).round() as i64)
}

/// `[centre − half, centre + half]`, if representable.
fn window_at(centre: DateTime<Utc>, half: Duration) -> Option<TimeRange> {
    let start = centre.checked_sub_signed(half)?;
    let end = centre.checked_add_signed(half)?;
    TimeRange::new(start, end).ok()
}

/// What was found about the band's peak.
#[derive(Debug, Clone, Serialize)]
struct PeakFacts {
    bin: TimeBin,
    time: DateTime<Utc>,
    rate_cps: f64,
    window_counts: f64,
}

/// The policy inputs recorded on every box and skip of one band.
#[derive(Debug, Clone, Serialize)]
struct Inputs<'a> {
    policy_version: &'a str,
    settings: &'a PreviewSettings,
    flare: &'a FlareWindow,
    band_kev: [f64; 2],
    requested_band_kev: Option<[f64; 2]>,
    file_range: Option<TimeRange>,
    flare_in_file: Option<TimeRange>,
    classification: Option<&'static str>,
    peak: Option<PeakFacts>,
    step: Option<i64>,
    centre: Option<DateTime<Utc>>,
}

impl Inputs<'_> {
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Plans the preview boxes of one flare over the light curves of the file (one per band,
/// actual band edges). Invalid settings or unusable curves give skips with the reason.
pub fn plan_boxes(
    flare: &FlareWindow,
    curves: &[LightCurve],
    settings: &PreviewSettings,
) -> PreviewPlan {
    let rule = CountRule {
        policy_version: POLICY_VERSION,
        threshold_name: "min_counts",
        threshold: settings.min_counts,
        count: &|curve: &LightCurve, r: &TimeRange| {
            curve
                .counts_in(r)
                .map(|(counts, actual)| Counted {
                    counts,
                    background: None,
                    net: None,
                    actual,
                })
                .map_err(|e| e.to_string())
        },
    };
    plan_with(flare, curves, settings, &rule)
}

/// What counting one requested interval found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Counted {
    /// Total counts.
    pub counts: f64,
    /// Scaled background, when known.
    pub background: Option<f64>,
    /// Net counts, when a background is part of the rule.
    pub net: Option<f64>,
    /// The whole bins used.
    pub actual: TimeRange,
}

impl Counted {
    /// The figure the threshold applies to: net counts when known, else total counts.
    fn decisive(&self) -> f64 {
        self.net.unwrap_or(self.counts)
    }
}

/// How a policy version counts a box and what it requires.
pub(crate) struct CountRule<'a> {
    /// The version recorded on boxes and skips.
    pub policy_version: &'a str,
    /// Name of the threshold setting, for skip reasons.
    pub threshold_name: &'a str,
    /// The threshold.
    pub threshold: f64,
    /// Counts a requested interval of a band.
    #[allow(clippy::type_complexity)]
    pub count: &'a dyn Fn(&LightCurve, &TimeRange) -> Result<Counted, String>,
}

/// The box geometry of `preview-v1` (also used by `preview-v2`) with a counting rule.
pub(crate) fn plan_with(
    flare: &FlareWindow,
    curves: &[LightCurve],
    settings: &PreviewSettings,
    rule: &CountRule<'_>,
) -> PreviewPlan {
    let mut plan = PreviewPlan::default();
    for curve in curves {
        plan_band(flare, curve, settings, rule, &mut plan);
    }
    plan
}

fn plan_band(
    flare: &FlareWindow,
    curve: &LightCurve,
    settings: &PreviewSettings,
    rule: &CountRule<'_>,
    plan: &mut PreviewPlan,
) {
    let band = curve.band;
    let version = rule.policy_version;
    let mut inputs = Inputs {
        policy_version: version,
        settings,
        flare,
        band_kev: [band.low_kev, band.high_kev],
        requested_band_kev: requested_band(settings, &band),
        file_range: coverage(&curve.bins),
        flare_in_file: None,
        classification: None,
        peak: None,
        step: None,
        centre: None,
    };
    let skip = |plan: &mut PreviewPlan,
                inputs: &Inputs,
                requested,
                counted: Option<&Counted>,
                kind,
                reason| {
        plan.skips.push(SkippedBox {
            band,
            requested,
            counts: counted.map_or(0.0, |c| c.counts),
            background_counts: counted.and_then(|c| c.background),
            net_counts: counted.and_then(|c| c.net),
            kind,
            reason,
            policy_version: version.to_string(),
            inputs: inputs.json(),
        });
    };
    if let Err(e) = settings.check() {
        return skip(plan, &inputs, flare.range, None, None, e.to_string());
    }
    if curve.counts.len() != curve.bins.len() {
        let reason = format!(
            "the {} light curve has {} bins but {} counts",
            band_label(&band),
            curve.bins.len(),
            curve.counts.len()
        );
        return skip(plan, &inputs, flare.range, None, None, reason);
    }
    let Some(file) = inputs.file_range else {
        let reason = format!("the {} light curve has no time bins", band_label(&band));
        return skip(plan, &inputs, flare.range, None, None, reason);
    };
    let Some(w) = intersect(&flare.range, &file) else {
        let reason = format!(
            "flare {} ({}) is not inside the file ({file})",
            flare.flare_id, flare.range
        );
        return skip(plan, &inputs, flare.range, None, None, reason);
    };
    inputs.flare_in_file = Some(w);

    // Evaluates one requested interval: a box if it holds ≥ the threshold, else a skip.
    let evaluate =
        |plan: &mut PreviewPlan, inputs: &Inputs, requested: TimeRange, kind| match (rule.count)(
            curve, &requested,
        ) {
            Ok(c) if c.decisive() >= rule.threshold => plan.boxes.push(PlannedBox {
                band,
                requested,
                actual: c.actual,
                counts: c.counts,
                background_counts: c.background,
                net_counts: c.net,
                kind,
                policy_version: version.to_string(),
                inputs: inputs.json(),
            }),
            Ok(c) => {
                let reason = match (c.net, c.background) {
                    (Some(net), Some(bkg)) => format!(
                        "only {} net counts in {} ({} total − {} background), below {} {}",
                        group_thousands(net),
                        band_label(&band),
                        group_thousands(c.counts),
                        group_thousands(bkg),
                        rule.threshold_name,
                        group_thousands(rule.threshold)
                    ),
                    _ => format!(
                        "only {} counts in {}, below {} {}",
                        group_thousands(c.counts),
                        band_label(&band),
                        rule.threshold_name,
                        group_thousands(rule.threshold)
                    ),
                };
                skip(plan, inputs, requested, Some(&c), Some(kind), reason)
            }
            Err(e) => skip(plan, inputs, requested, None, Some(kind), e),
        };

    if curve.bins.len() == 1 {
        inputs.classification = Some("single_bin");
        return evaluate(plan, &inputs, w, BoxKind::WholeFlare);
    }
    let peak_index = (0..curve.bins.len())
        .filter(|&i| {
            let b = &curve.bins[i];
            b.start < w.end && b.end > w.start && b.duration_seconds() > 0.0
        })
        .max_by(|&a, &b| curve.rate(a).total_cmp(&curve.rate(b)).then(b.cmp(&a)));
    let Some(p) = peak_index else {
        inputs.classification = Some("small");
        return evaluate(plan, &inputs, w, BoxKind::WholeFlare);
    };
    let bin = curve.bins[p];
    let t_peak = bin.center();
    let half = seconds(settings.window_seconds / 2.0);
    let peak_window = window_at(t_peak, half).and_then(|r| intersect(&r, &file));
    let Some(peak_window) = peak_window else {
        inputs.classification = Some("small");
        return evaluate(plan, &inputs, w, BoxKind::WholeFlare);
    };
    let window_counts = (rule.count)(curve, &peak_window).map_or(0.0, |c| c.decisive());
    inputs.peak = Some(PeakFacts {
        bin,
        time: t_peak,
        rate_cps: curve.rate(p),
        window_counts,
    });
    if window_counts < rule.threshold {
        inputs.classification = Some("small");
        return evaluate(plan, &inputs, w, BoxKind::WholeFlare);
    }
    inputs.classification = Some("big");
    inputs.step = Some(0);
    inputs.centre = Some(t_peak);
    let first_box = plan.boxes.len();
    let first_skip = plan.skips.len();
    evaluate(plan, &inputs, peak_window, BoxKind::Peak);
    // At most this many steps fit in W on either side.
    let max_steps = (w.duration_seconds() / settings.cadence_seconds).ceil() as i64 + 1;
    for dir in [-1i64, 1] {
        for k in (1..=max_steps).map(|m| m * dir) {
            let centre = t_peak.checked_add_signed(seconds(k as f64 * settings.cadence_seconds));
            let Some(requested) = centre.and_then(|c| window_at(c, half)) else {
                break;
            };
            if requested.start < w.start || requested.end > w.end {
                break;
            }
            inputs.step = Some(k);
            inputs.centre = centre;
            evaluate(plan, &inputs, requested, BoxKind::Cadence { step: k });
        }
    }
    plan.boxes[first_box..].sort_by_key(|b| b.requested.start);
    plan.skips[first_skip..].sort_by_key(|s| s.requested.start);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands_with_spaces() {
        assert_eq!(group_thousands(7532.4), "7 532");
        assert_eq!(group_thousands(10_000.0), "10 000");
        assert_eq!(group_thousands(999.0), "999");
        assert_eq!(group_thousands(1_234_567.0), "1 234 567");
        assert_eq!(group_thousands(-1234.0), "-1 234");
    }

    #[test]
    fn settings_are_checked() {
        assert!(PreviewSettings::default().check().is_ok());
        let bad = PreviewSettings {
            cadence_seconds: 0.0,
            ..Default::default()
        };
        assert!(matches!(
            bad.check(),
            Err(PreviewSettingsError::OutOfRange {
                name: "cadence_seconds",
                ..
            })
        ));
        let bad = PreviewSettings {
            bands_kev: vec![[10.0, 4.0]],
            ..Default::default()
        };
        assert!(matches!(
            bad.check(),
            Err(PreviewSettingsError::Band { .. })
        ));
    }
}
