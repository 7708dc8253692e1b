//! Flare detection in a science file's own light curve (used when no listed flare overlaps
//! the file). It adapts the Data Center's QL rules (`shared/docs/stix-imaging.md` G,
//! `flare_detection.py`: SNIP baseline, height b + 2√b, end where the curve falls below
//! b + √b, `flare_id = YYMMDDHHMM` of the peak) to L1 light curves, which have few bins of
//! variable length (4–80 s, A.3) instead of thousands of 4 s QL bins:
//!
//! * **Rates, not counts.** Each bin is compared as a rate r = counts / duration, and every
//!   threshold is stated for the bin's own expected background counts μ = b·Δt, so short and
//!   long bins are judged fairly.
//! * **Baseline b** (counts/s), a clipped mean in the spirit of SNIP's clipping from below:
//!   start from a low quantile of the bin rates (default the 10th percentile, lower nearest
//!   rank), then repeatedly take b = Σcounts/Σduration over the bins whose counts are
//!   ≤ b·Δt + `baseline_clip_sigma`·√(b·Δt) (default 2σ), until the set of bins is stable
//!   (at most `baseline_iterations`, default 10). The quantile alone sits ~1.3σ below the
//!   true background in pure noise (which would make noise look significant); the clipped
//!   mean removes that bias to ≈ −0.05σ while the flare's bins stay excluded. With tens of
//!   bins a SNIP filter has nothing to work on; when the whole file flares the baseline errs
//!   high, which only narrows the flaring time. One constant baseline per file (≤ ~1 h).
//! * **Peak significance (Poisson).** A candidate peak bin needs
//!   z = (counts − μ)/√μ ≥ `min_peak_sigma` (default 5; μ floored at 1 count), *and* the
//!   DC height rule translated to rates: r − b ≥ `height_sigma_ql`·√(b·τ)/τ with the QL bin
//!   τ = 4 s and `height_sigma_ql` = 2 (G: height b + 2√b on 4 s counts). The first guards
//!   short, low-count bins; the second stops slow drifts in long, high-count bins (where a
//!   few % is already many σ) from counting as flares.
//! * **Start/end.** From the peak, walk outwards while the bin's counts stay above
//!   μ + `end_margin_sigma`·√μ (G: b + √b); the flare runs from the first such bin's start
//!   to the last one's end. A flare touching the file edge is flagged as truncated.
//! * **Several flares.** Peaks are taken in decreasing rate; bins already inside a flare are
//!   never a new peak nor crossed by another flare's walk (G: overlapping weaker peaks are
//!   not major). Flares shorter than `min_duration_seconds` (G: width ≥ 15 QL bins = 60 s)
//!   are dropped. Results are sorted by peak time.
//! * **Peak time** = centre of the peak bin; `flare_id = YYMMDDHHMM` of it (UTC).
//! * **A single bin** has no detectable flare: the whole file is reported as the flaring
//!   time with [`DetectionBasis::SingleBinWholeFile`].

use crate::energy::EnergyBand;
use crate::lightcurve::{LightCurve, TimeBin};
use crate::time_range::{TimeRange, format_utc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version of the detection rules above, stored with every detected flare.
pub const DETECTOR_VERSION: &str = "lc-baseline-v1";

/// The DC quick-look bin length in seconds, to which the height rule refers (G).
pub const QL_BIN_SECONDS: f64 = 4.0;

/// Why detection settings are impossible.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum DetectionSettingsError {
    /// A setting is out of its range.
    #[error("flare detection setting {name} = {value} is invalid: {expected}")]
    OutOfRange {
        /// Setting name.
        name: &'static str,
        /// Value given.
        value: f64,
        /// What is allowed.
        expected: &'static str,
    },
}

/// Tunable numbers of the detector (serde; defaults from section G as explained above).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectionSettings {
    /// Quantile of the bin rates taken as the baseline, in [0, 1]. Default 0.1.
    pub baseline_quantile: f64,
    /// Bins more than this many σ above the baseline are left out of its mean. Default 2.
    pub baseline_clip_sigma: f64,
    /// At most this many clipping passes. Default 10.
    pub baseline_iterations: usize,
    /// Minimum Poisson significance (σ) of the peak bin's excess over the baseline. Default 5.
    pub min_peak_sigma: f64,
    /// DC height rule in σ of a 4 s QL bin of baseline counts. Default 2 (G).
    pub height_sigma_ql: f64,
    /// A bin still belongs to the flare while its counts exceed μ + this·√μ. Default 1 (G).
    pub end_margin_sigma: f64,
    /// Flares shorter than this are dropped, seconds. Default 60 (G: 15 QL bins).
    pub min_duration_seconds: f64,
    /// At most this many flares per file (the brightest). Default 20.
    pub max_flares: usize,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        Self {
            baseline_quantile: 0.1,
            baseline_clip_sigma: 2.0,
            baseline_iterations: 10,
            min_peak_sigma: 5.0,
            height_sigma_ql: 2.0,
            end_margin_sigma: 1.0,
            min_duration_seconds: 60.0,
            max_flares: 20,
        }
    }
}

impl DetectionSettings {
    /// Checks every number; [`detect_flares`] with invalid settings finds nothing.
    pub fn check(&self) -> Result<(), DetectionSettingsError> {
        let checks: [(&'static str, f64, bool, &'static str); 6] = [
            (
                "baseline_clip_sigma",
                self.baseline_clip_sigma,
                self.baseline_clip_sigma.is_finite() && self.baseline_clip_sigma >= 0.0,
                "a finite number ≥ 0",
            ),
            (
                "baseline_quantile",
                self.baseline_quantile,
                (0.0..=1.0).contains(&self.baseline_quantile),
                "a number in [0, 1]",
            ),
            (
                "min_peak_sigma",
                self.min_peak_sigma,
                self.min_peak_sigma.is_finite() && self.min_peak_sigma >= 0.0,
                "a finite number ≥ 0",
            ),
            (
                "height_sigma_ql",
                self.height_sigma_ql,
                self.height_sigma_ql.is_finite() && self.height_sigma_ql >= 0.0,
                "a finite number ≥ 0",
            ),
            (
                "end_margin_sigma",
                self.end_margin_sigma,
                self.end_margin_sigma.is_finite() && self.end_margin_sigma >= 0.0,
                "a finite number ≥ 0",
            ),
            (
                "min_duration_seconds",
                self.min_duration_seconds,
                self.min_duration_seconds.is_finite() && self.min_duration_seconds >= 0.0,
                "a finite number of seconds ≥ 0",
            ),
        ];
        for (name, value, ok, expected) in checks {
            if !ok {
                return Err(DetectionSettingsError::OutOfRange {
                    name,
                    value,
                    expected,
                });
            }
        }
        Ok(())
    }
}

/// How a detected flare was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DetectionBasis {
    /// A significant peak above the baseline.
    Peak,
    /// The file has a single time bin: nothing can be detected, the whole file is the
    /// flaring time.
    SingleBinWholeFile,
}

/// A flare found in a light curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedFlare {
    /// `YYMMDDHHMM` of the peak time, UTC.
    pub flare_id: String,
    /// Flaring time: first to last bin above baseline + margin.
    pub range: TimeRange,
    /// Peak time (centre of the peak bin).
    pub peak: DateTime<Utc>,
    /// The peak bin.
    pub peak_bin: TimeBin,
    /// Rate in the peak bin, counts/s.
    pub peak_rate_cps: f64,
    /// Baseline rate, counts/s (`None` for a single bin).
    pub baseline_rate_cps: Option<f64>,
    /// Poisson significance of the peak bin's excess, σ (`None` for a single bin).
    pub peak_significance_sigma: Option<f64>,
    /// The light curve's band (actual edges).
    pub band: EnergyBand,
    /// The flare was still above baseline at the file's first bin.
    pub truncated_at_start: bool,
    /// The flare was still above baseline at the file's last bin.
    pub truncated_at_end: bool,
    /// How it was found.
    pub basis: DetectionBasis,
    /// [`DETECTOR_VERSION`].
    pub detector_version: String,
    /// A human sentence about the detection.
    pub note: String,
}

/// STIX-style flare id `YYMMDDHHMM` of a UTC time.
pub fn flare_id_for(t: DateTime<Utc>) -> String {
    t.format("%y%m%d%H%M").to_string()
}

/// Lower nearest-rank quantile of finite values (`None` if there are none).
fn low_quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let k = ((v.len() - 1) as f64 * q).floor() as usize;
    v.get(k.min(v.len() - 1)).copied()
}

/// The clipped-mean baseline (counts/s) starting from `b0` (see the module notes).
fn clipped_baseline(
    lc: &LightCurve,
    durations: &[f64],
    usable: &[bool],
    b0: f64,
    settings: &DetectionSettings,
) -> f64 {
    let mut b = b0;
    let mut previous: Option<Vec<bool>> = None;
    for _ in 0..settings.baseline_iterations {
        let quiet: Vec<bool> = (0..durations.len())
            .map(|i| {
                let mu = b * durations[i];
                usable[i] && lc.counts[i] <= mu + settings.baseline_clip_sigma * mu.max(1.0).sqrt()
            })
            .collect();
        if previous.as_ref() == Some(&quiet) {
            break;
        }
        let (c, d) = (0..durations.len())
            .filter(|&i| quiet[i])
            .fold((0.0, 0.0), |(c, d), i| (c + lc.counts[i], d + durations[i]));
        if d <= 0.0 {
            break;
        }
        b = (c / d).max(0.0);
        previous = Some(quiet);
    }
    b
}

/// Detects flares in `lc` (meant for the 4–10 keV curve) with the rules of this module.
pub fn detect_flares(lc: &LightCurve, settings: &DetectionSettings) -> Vec<DetectedFlare> {
    let n = lc.bins.len().min(lc.counts.len());
    if n == 0 || settings.check().is_err() {
        return Vec::new();
    }
    if n == 1 {
        let bin = lc.bins[0];
        let Ok(range) = TimeRange::new(bin.start, bin.end) else {
            return Vec::new();
        };
        let peak = bin.center();
        return vec![DetectedFlare {
            flare_id: flare_id_for(peak),
            range,
            peak,
            peak_bin: bin,
            peak_rate_cps: lc.rate(0),
            baseline_rate_cps: None,
            peak_significance_sigma: None,
            band: lc.band,
            truncated_at_start: true,
            truncated_at_end: true,
            basis: DetectionBasis::SingleBinWholeFile,
            detector_version: DETECTOR_VERSION.to_string(),
            note: format!(
                "single time bin {range}: no flare can be detected, the whole file is taken as the flaring time"
            ),
        }];
    }
    let durations: Vec<f64> = lc.bins[..n].iter().map(TimeBin::duration_seconds).collect();
    let usable: Vec<bool> = (0..n)
        .map(|i| durations[i] > 0.0 && lc.counts[i].is_finite())
        .collect();
    let rates: Vec<f64> = (0..n)
        .map(|i| {
            if usable[i] {
                lc.counts[i] / durations[i]
            } else {
                f64::NAN
            }
        })
        .collect();
    let Some(b0) = low_quantile(&rates, settings.baseline_quantile).map(|b| b.max(0.0)) else {
        return Vec::new();
    };
    let b = clipped_baseline(lc, &durations, &usable, b0, settings);
    let mu = |i: usize| (b * durations[i]).max(1.0);
    let z = |i: usize| (lc.counts[i] - b * durations[i]) / mu(i).sqrt();
    let ql_counts = (b * QL_BIN_SECONDS).max(1.0);
    let min_excess_rate = settings.height_sigma_ql * ql_counts.sqrt() / QL_BIN_SECONDS;
    let flaring = |i: usize| {
        usable[i] && lc.counts[i] > b * durations[i] + settings.end_margin_sigma * mu(i).sqrt()
    };
    let peak_ok =
        |i: usize| usable[i] && z(i) >= settings.min_peak_sigma && rates[i] - b >= min_excess_rate;

    let mut order: Vec<usize> = (0..n).filter(|&i| usable[i]).collect();
    order.sort_by(|&x, &y| rates[y].total_cmp(&rates[x]).then(x.cmp(&y)));
    let mut used = vec![false; n];
    let mut flares = Vec::new();
    for p in order {
        if flares.len() >= settings.max_flares {
            break;
        }
        if used[p] || !peak_ok(p) {
            continue;
        }
        let mut lo = p;
        while lo > 0 && !used[lo - 1] && flaring(lo - 1) {
            lo -= 1;
        }
        let mut hi = p;
        while hi + 1 < n && !used[hi + 1] && flaring(hi + 1) {
            hi += 1;
        }
        used[lo..=hi].iter_mut().for_each(|u| *u = true);
        let Ok(range) = TimeRange::new(lc.bins[lo].start, lc.bins[hi].end) else {
            continue;
        };
        if range.duration_seconds() < settings.min_duration_seconds {
            continue;
        }
        let peak_bin = lc.bins[p];
        let peak = peak_bin.center();
        flares.push(DetectedFlare {
            flare_id: flare_id_for(peak),
            range,
            peak,
            peak_bin,
            peak_rate_cps: rates[p],
            baseline_rate_cps: Some(b),
            peak_significance_sigma: Some(z(p)),
            band: lc.band,
            truncated_at_start: lo == 0,
            truncated_at_end: hi + 1 == n,
            basis: DetectionBasis::Peak,
            detector_version: DETECTOR_VERSION.to_string(),
            note: format!(
                "peak {:.1} counts/s at {} ({:.1} σ above the baseline {:.1} counts/s); flaring from {} to {}",
                rates[p],
                format_utc(&peak),
                z(p),
                b,
                format_utc(&range.start),
                format_utc(&range.end)
            ),
        });
    }
    flares.sort_by_key(|f| f.peak);
    flares
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_quantile_is_nearest_rank_and_skips_nan() {
        assert_eq!(
            low_quantile(&[5.0, 1.0, f64::NAN, 3.0, 2.0, 4.0], 0.25),
            Some(2.0)
        );
        assert_eq!(low_quantile(&[5.0, 1.0], 0.0), Some(1.0));
        assert_eq!(low_quantile(&[f64::NAN], 0.1), None);
    }

    #[test]
    fn flare_id_is_yymmddhhmm() {
        let t = crate::time_range::parse_utc("2022-11-11T11:36:56.074").unwrap();
        assert_eq!(flare_id_for(t), "2211111136");
    }
}
