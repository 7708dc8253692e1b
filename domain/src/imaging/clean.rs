//! Högbom CLEAN (`shared/docs/stix-imaging.md` E.2, after GSW `stx_vis_clean.pro`).
//!
//! Dirty map D0 = BP with the chosen weighting; the PSF is BP of unit visibilities on a
//! (2n+1)² grid, computed once and shifted. Each iteration takes the pixel of largest |D|,
//! stops if that extreme is negative (`negative_max`), removes `gain·D(peak)/max(PSF)` times the
//! shifted PSF from the whole map and records the component. Outputs are per arcsec²:
//! `image = conv(components, beam/Σbeam)/Δ² + D_resid/Σbeam/Δ²` (residual added without
//! convolution, as the GSW since 2021).

use super::CleanComponent;
use super::bp::{Weighting, back_project, psf, weights};
use super::grid::ImageGrid;
use super::params::CleanParams;
use crate::visfile::Visibility;
use ndarray::Array2;

/// FWHM = σ·2√(2 ln 2).
pub const FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949;

/// Why CLEAN could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CleanError {
    /// No visibilities were given.
    #[error("CLEAN needs at least one visibility")]
    NoVisibilities,
    /// CLEAN works on odd grids only (E.2).
    #[error("CLEAN needs an odd image size, got {0}")]
    EvenSize(usize),
}

/// Why the CLEAN loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CleanStop {
    /// All `niter` iterations were done.
    Iterations,
    /// The largest |residual| was negative.
    NegativeMaximum,
    /// The residual map is exactly zero.
    ZeroResidual,
}

/// Everything CLEAN produces.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanResult {
    /// CLEAN image, per arcsec².
    pub image: Array2<f64>,
    /// Residual map D_resid/Σbeam/Δ², per arcsec².
    pub residual: Array2<f64>,
    /// Dirty (BP) map D0/Σbeam/Δ², per arcsec².
    pub dirty: Array2<f64>,
    /// Components in the order found (flux in visibility units).
    pub components: Vec<CleanComponent>,
    /// Beam FWHM used, arcsec.
    pub beam_fwhm_arcsec: f64,
    /// Σ of the beam image pixels (peak 1).
    pub beam_sum: f64,
    /// Iterations done.
    pub iterations: u32,
    /// Why the loop ended.
    pub stop: CleanStop,
}

/// The E.2 default beam: `σ = 0.45·√(Σw/Σ(w/r²))`, r = 1/(2|k|), FWHM = σ·2√(2ln2).
/// About 31″ for natural weighting of the 24 visibilities 10→3.
pub fn default_beam_fwhm_arcsec(vis: &[Visibility], weighting: Weighting) -> f64 {
    let w = weights(vis, weighting);
    let (mut sw, mut swr) = (0.0, 0.0);
    for (v, w) in vis.iter().zip(&w) {
        let k = v.u.hypot(v.v);
        if k > 0.0 {
            let r = 1.0 / (2.0 * k);
            sw += w;
            swr += w / (r * r);
        }
    }
    if swr > 0.0 {
        0.45 * (sw / swr).sqrt() * FWHM_PER_SIGMA
    } else {
        0.0
    }
}

/// Runs Högbom CLEAN on `grid` (n must be odd).
pub fn clean(
    vis: &[Visibility],
    grid: &ImageGrid,
    params: &CleanParams,
) -> Result<CleanResult, CleanError> {
    if vis.is_empty() {
        return Err(CleanError::NoVisibilities);
    }
    let n = grid.n;
    if n.is_multiple_of(2) {
        return Err(CleanError::EvenSize(n));
    }
    let dirty0 = back_project(vis, grid, params.weighting);
    let big = ImageGrid {
        n: 2 * n + 1,
        pixel_arcsec: grid.pixel_arcsec,
    };
    let beam_psf = psf(vis, &big, params.weighting);
    let psf_peak = beam_psf[[n, n]];
    let mut resid = dirty0.clone();
    let mut components = Vec::new();
    // Component fluxes accumulated per pixel for the convolution.
    let mut comp_map = Array2::<f64>::zeros((n, n));
    let (mut peak, mut at) = abs_max(&resid);
    let mut stop = CleanStop::Iterations;
    let mut iterations = 0;
    for _ in 0..params.niter {
        if peak == 0.0 || psf_peak <= 0.0 {
            stop = CleanStop::ZeroResidual;
            break;
        }
        if params.negative_max && peak < 0.0 {
            stop = CleanStop::NegativeMaximum;
            break;
        }
        let f = params.gain * peak / psf_peak;
        let (iy, ix) = at;
        components.push(CleanComponent {
            offset_arcsec: [grid.offset_arcsec(ix), grid.offset_arcsec(iy)],
            flux: f,
        });
        comp_map[[iy, ix]] += f;
        iterations += 1;
        // Subtract f·PSF centred on (iy, ix) and find the next extreme in the same pass.
        let mut best = 0.0f64;
        let mut best_at = (0, 0);
        for y in 0..n {
            let prow = beam_psf.row(y + n - iy);
            let Some(prow) = prow.as_slice() else {
                continue;
            };
            let prow = &prow[n - ix..2 * n - ix];
            let mut row = resid.row_mut(y);
            let Some(row) = row.as_slice_mut() else {
                continue;
            };
            for (x, (r, p)) in row.iter_mut().zip(prow).enumerate() {
                *r -= f * p;
                if r.abs() > best.abs() {
                    best = *r;
                    best_at = (y, x);
                }
            }
        }
        peak = best;
        at = best_at;
    }
    let beam_fwhm_arcsec = match params.beam_fwhm_arcsec {
        Some(b) => b,
        None => default_beam_fwhm_arcsec(vis, params.weighting),
    };
    let sigma = beam_fwhm_arcsec / FWHM_PER_SIGMA;
    // 1-D beam profile by pixel distance d = −(n−1)…(n−1), index d + n − 1.
    let profile: Vec<f64> = (0..2 * n - 1)
        .map(|i| {
            let d = (i as f64 - (n as f64 - 1.0)) * grid.pixel_arcsec;
            if sigma > 0.0 {
                (-d * d / (2.0 * sigma * sigma)).exp()
            } else if d == 0.0 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let centred: f64 = profile[n / 2..n / 2 + n].iter().sum();
    let beam_sum = centred * centred;
    let area = grid.pixel_arcsec * grid.pixel_arcsec;
    let norm = 1.0 / (beam_sum * area);
    let mut image = resid.mapv(|r| r * norm);
    for ((cy, cx), &f) in comp_map.indexed_iter() {
        if f == 0.0 {
            continue;
        }
        let fx = &profile[n - 1 - cx..2 * n - 1 - cx];
        let fy = &profile[n - 1 - cy..2 * n - 1 - cy];
        for (y, gy) in fy.iter().enumerate() {
            let a = f * gy * norm;
            let mut row = image.row_mut(y);
            for (px, gx) in row.iter_mut().zip(fx) {
                *px += a * gx;
            }
        }
    }
    Ok(CleanResult {
        image,
        residual: resid.mapv(|r| r * norm),
        dirty: dirty0.mapv(|r| r * norm),
        components,
        beam_fwhm_arcsec,
        beam_sum,
        iterations,
        stop,
    })
}

fn abs_max(m: &Array2<f64>) -> (f64, (usize, usize)) {
    let mut best = 0.0f64;
    let mut at = (0, 0);
    for ((iy, ix), &v) in m.indexed_iter() {
        if v.abs() > best.abs() {
            best = v;
            at = (iy, ix);
        }
    }
    (best, at)
}
