//! Counts per detector and pixel over a selection, with compression and Poisson variance,
//! and live-time-scaled background subtraction (`shared/docs/stix-imaging.md` A.3, D.2, D.3).

use crate::instrument::{N_DETECTORS, N_PIXELS};
use crate::l1::PixelData;
use std::ops::RangeInclusive;

/// Counts and variances `[det 0..32][pixel 0..12]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelCounts {
    /// Counts (after background subtraction when applied).
    pub counts: [[f64; N_PIXELS]; N_DETECTORS],
    /// Variance: `Σ(σ_comp² + N)` plus the scaled background variance.
    pub variance: [[f64; N_PIXELS]; N_DETECTORS],
}

impl PixelCounts {
    /// Sums counts over bins and energy groups: `C = ΣN`, `σ² = Σ(σ_comp² + N)` (A.3, D.2).
    pub fn sum(pd: &PixelData, bins: RangeInclusive<usize>, groups: RangeInclusive<usize>) -> Self {
        Self::sum_corrected(pd, bins, groups, None)
    }

    /// [`PixelCounts::sum`] with the ELUT edge correction: counts of the band's first and last
    /// group scaled by the factor of their detector and pixel, their σ likewise (section B;
    /// [`super::elut`]).
    pub fn sum_corrected(
        pd: &PixelData,
        bins: RangeInclusive<usize>,
        groups: RangeInclusive<usize>,
        elut: Option<&super::elut::ElutCorrection>,
    ) -> Self {
        let ne = pd.n_energies();
        let (e0, e1) = (*groups.start(), *groups.end());
        let mut counts = [[0.0; N_PIXELS]; N_DETECTORS];
        let mut variance = [[0.0; N_PIXELS]; N_DETECTORS];
        for t in bins {
            let c = pd.counts.index_axis(ndarray::Axis(0), t);
            let s = pd.counts_comp_err.index_axis(ndarray::Axis(0), t);
            let (Some(c), Some(s)) = (c.to_slice(), s.to_slice()) else {
                continue;
            };
            for d in 0..N_DETECTORS {
                for p in 0..N_PIXELS {
                    let base = (d * N_PIXELS + p) * ne;
                    let (mut n, mut v) = (0.0, 0.0);
                    for e in e0..=e1 {
                        let (x, se) = (c[base + e], s[base + e]);
                        match elut {
                            Some(k) => {
                                let f = k.factor(d, p, e);
                                n += f * x;
                                v += f * f * (se * se + x);
                            }
                            None => {
                                n += x;
                                v += se * se + x;
                            }
                        }
                    }
                    counts[d][p] += n;
                    variance[d][p] += v;
                }
            }
        }
        Self { counts, variance }
    }

    /// Total counts over the given detectors (0-based) and pixels.
    pub fn total(&self, dets: impl Iterator<Item = usize>, pixels: &[usize]) -> f64 {
        dets.map(|d| pixels.iter().map(|&p| self.counts[d][p]).sum::<f64>())
            .sum()
    }

    /// Subtracts a background scaled by `live_sci[d]/live_bkg[d]` on the given pixels; adds
    /// `(σ_bkg·scale)²` to the variance (D.3). Returns the scaled background of every
    /// detector and pixel of the background file (also those not subtracted).
    pub fn subtract_background(
        &mut self,
        bkg: &PixelCounts,
        live_sci: &[f64; N_DETECTORS],
        live_bkg: &[f64; N_DETECTORS],
        pixels: &[usize],
    ) -> [[f64; N_PIXELS]; N_DETECTORS] {
        let mut scaled = [[0.0; N_PIXELS]; N_DETECTORS];
        for d in 0..N_DETECTORS {
            let scale = if live_bkg[d] > 0.0 {
                live_sci[d] / live_bkg[d]
            } else {
                0.0
            };
            for (out, b) in scaled[d].iter_mut().zip(bkg.counts[d].iter()) {
                *out = b * scale;
            }
            for &p in pixels {
                let b = scaled[d][p];
                self.counts[d][p] -= b;
                self.variance[d][p] += bkg.variance[d][p] * scale * scale;
            }
        }
        scaled
    }
}
