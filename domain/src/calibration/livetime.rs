//! Live time per detector from the trigger accumulators (`shared/docs/stix-imaging.md` D.1;
//! GSW `stx_livetime_fraction.pro`, stixpy `calibration/livetime.py`).

use crate::instrument::{N_DETECTORS, subcollimators};
use crate::l1::PixelData;
use std::ops::RangeInclusive;

/// Read-out time τ, seconds (D.1).
pub const TAU_SECONDS: f64 = 10.1e-6;
/// Latency η, seconds (D.1).
pub const ETA_SECONDS: f64 = 1.1e-6;
/// Pile-up factor β (D.1).
pub const BETA: f64 = 0.940_591_04;

/// Live fraction for a trigger rate in s⁻¹: `n = r/(1 − r(τ+η))`,
/// `f = exp(−β·η·n)/(1 + (τ+η)·n)`. Returns 0 for rates the dead-time model cannot invert.
pub fn live_fraction(trigger_rate_per_s: f64) -> f64 {
    let tt = TAU_SECONDS + ETA_SECONDS;
    let denom = 1.0 - trigger_rate_per_s * tt;
    if denom.is_nan() || denom <= 0.0 || !trigger_rate_per_s.is_finite() {
        return 0.0;
    }
    let n = trigger_rate_per_s / denom;
    (-BETA * ETA_SECONDS * n).exp() / (1.0 + tt * n)
}

/// Live time `Σ_t f·Δt` (seconds) of each detector (index det − 1) over the given bins.
pub fn live_times(pd: &PixelData, bins: RangeInclusive<usize>) -> [f64; N_DETECTORS] {
    let mut lt = [0.0; N_DETECTORS];
    for t in bins {
        let dt = pd.durations_seconds[t];
        if dt <= 0.0 {
            continue;
        }
        for s in subcollimators() {
            let rate = pd.triggers[t][s.trigger_accumulator] / dt;
            lt[s.index0()] += live_fraction(rate) * dt;
        }
    }
    lt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_fraction_limits() {
        assert!((live_fraction(0.0) - 1.0).abs() < 1e-15);
        // At 10⁴ triggers/s: n = 1e4/(1 − 0.112) and f = exp(−βηn)/(1+(τ+η)n).
        let n = 1e4 / (1.0 - 1e4 * 11.2e-6);
        let f = (-BETA * 1.1e-6 * n).exp() / (1.0 + 11.2e-6 * n);
        assert!((live_fraction(1e4) - f).abs() < 1e-15);
        assert!(live_fraction(1e4) < 0.9 && live_fraction(1e4) > 0.8);
        assert_eq!(live_fraction(1e6), 0.0);
    }
}
