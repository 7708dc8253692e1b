//! Back-projection and the dirty beam (`shared/docs/stix-imaging.md` E.1).
//!
//! `BP(x,y) = Σ_k w_k·Re[V_k·exp(−2πi(u_k x + v_k y))]` with Σw = 1. The exponential is
//! separable in x and y, so the map is two small matrix products
//! `BP = Bᵣᵀ·Aᵣ − Bᵢᵀ·Aᵢ` with `A[k][ix] = exp(−2πi u_k x_ix)` and
//! `B[k][iy] = w_k V_k exp(−2πi v_k y_iy)`: O(K·n²) multiply-adds in a BLAS-like kernel
//! instead of K·n² complex exponentials.

use super::grid::ImageGrid;
use crate::visfile::Visibility;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;

/// Visibility weighting of E.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weighting {
    /// w = 1.
    Natural,
    /// w ∝ |k| = √(u²+v²) (the SSW/RHESSI definition).
    Uniform,
}

/// Weights of the given weighting, normalised so that Σw = 1. Empty input gives no weights.
pub fn weights(vis: &[Visibility], weighting: Weighting) -> Vec<f64> {
    let raw: Vec<f64> = vis
        .iter()
        .map(|v| match weighting {
            Weighting::Natural => 1.0,
            Weighting::Uniform => v.u.hypot(v.v),
        })
        .collect();
    let total: f64 = raw.iter().sum();
    if total > 0.0 {
        raw.iter().map(|w| w / total).collect()
    } else {
        raw
    }
}

/// `exp(−2πi f·x_i)` for every frequency f and pixel offset x_i: (cos, sin) tables `[k][i]`.
fn phase_tables(freqs: impl Iterator<Item = f64>, axis: &[f64]) -> (Array2<f64>, Array2<f64>) {
    let freqs: Vec<f64> = freqs.collect();
    let mut c = Array2::<f64>::zeros((freqs.len(), axis.len()));
    let mut s = Array2::<f64>::zeros((freqs.len(), axis.len()));
    for (k, f) in freqs.iter().enumerate() {
        for (i, x) in axis.iter().enumerate() {
            let (sn, cs) = (-TAU * f * x).sin_cos();
            c[[k, i]] = cs;
            s[[k, i]] = sn;
        }
    }
    (c, s)
}

/// Back-projects complex values `(re_k, im_k)` already multiplied by their weights.
/// Returns `Σ_k Re[(re_k + i·im_k)·exp(−2πi(u_k x + v_k y))]` on the grid, `[iy][ix]`.
pub fn back_project_weighted(
    u: &[f64],
    v: &[f64],
    re: &[f64],
    im: &[f64],
    grid: &ImageGrid,
) -> Array2<f64> {
    let axis = grid.axis_arcsec();
    let (ax_c, ax_s) = phase_tables(u.iter().copied(), &axis);
    let (ay_c, ay_s) = phase_tables(v.iter().copied(), &axis);
    let k = u.len();
    // B[k][iy] = (re + i im)(cy + i sy)
    let mut br = Array2::<f64>::zeros((k, grid.n));
    let mut bi = Array2::<f64>::zeros((k, grid.n));
    for j in 0..k {
        for iy in 0..grid.n {
            let (cy, sy) = (ay_c[[j, iy]], ay_s[[j, iy]]);
            br[[j, iy]] = re[j] * cy - im[j] * sy;
            bi[[j, iy]] = re[j] * sy + im[j] * cy;
        }
    }
    // Re[B·A] = Br·Ac − Bi·As, summed over k: (n×K)(K×n).
    br.t().dot(&ax_c) - bi.t().dot(&ax_s)
}

/// The back-projection map of E.1 (flux units, not per arcsec²): a point source of flux F at
/// the phase centre gives a peak of F.
pub fn back_project(vis: &[Visibility], grid: &ImageGrid, weighting: Weighting) -> Array2<f64> {
    let w = weights(vis, weighting);
    let u: Vec<f64> = vis.iter().map(|x| x.u).collect();
    let v: Vec<f64> = vis.iter().map(|x| x.v).collect();
    let re: Vec<f64> = vis.iter().zip(&w).map(|(x, w)| x.real * w).collect();
    let im: Vec<f64> = vis.iter().zip(&w).map(|(x, w)| x.imag * w).collect();
    back_project_weighted(&u, &v, &re, &im, grid)
}

/// The dirty beam `Σ w_k cos(2π(u_k x + v_k y))` (peak 1 at the centre) on `grid`.
pub fn psf(vis: &[Visibility], grid: &ImageGrid, weighting: Weighting) -> Array2<f64> {
    let w = weights(vis, weighting);
    let u: Vec<f64> = vis.iter().map(|x| x.u).collect();
    let v: Vec<f64> = vis.iter().map(|x| x.v).collect();
    let zeros = vec![0.0; w.len()];
    back_project_weighted(&u, &v, &w, &zeros, grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vis_of_point(flux: f64, at: [f64; 2]) -> Vec<Visibility> {
        // A ring of (u,v) points like STIX's coarse grids.
        (0..24)
            .map(|k| {
                let r = 0.0025 + 0.0015 * (k / 3) as f64;
                let a = (k as f64) * 0.7;
                let (u, v) = (r * a.cos(), r * a.sin());
                let ph = TAU * (u * at[0] + v * at[1]);
                Visibility {
                    label: format!("{k}"),
                    isc: k as u8 + 1,
                    u,
                    v,
                    real: flux * ph.cos(),
                    imag: flux * ph.sin(),
                    amplitude_error: 1.0,
                    used: true,
                }
            })
            .collect()
    }

    /// Slow, obviously correct reference: the direct sum of E.1.
    fn direct(vis: &[Visibility], grid: &ImageGrid, weighting: Weighting) -> Array2<f64> {
        let w = weights(vis, weighting);
        let axis = grid.axis_arcsec();
        Array2::from_shape_fn((grid.n, grid.n), |(iy, ix)| {
            vis.iter()
                .zip(&w)
                .map(|(v, w)| {
                    let ph = -TAU * (v.u * axis[ix] + v.v * axis[iy]);
                    w * (v.real * ph.cos() - v.imag * ph.sin())
                })
                .sum()
        })
    }

    #[test]
    fn separable_form_equals_direct_sum() {
        let vis = vis_of_point(3.0, [10.0, -6.0]);
        let grid = ImageGrid {
            n: 33,
            pixel_arcsec: 2.0,
        };
        for wt in [Weighting::Natural, Weighting::Uniform] {
            let fast = back_project(&vis, &grid, wt);
            let slow = direct(&vis, &grid, wt);
            let err = (&fast - &slow)
                .mapv(f64::abs)
                .fold(0.0f64, |a, &b| a.max(b));
            assert!(err < 1e-12, "max difference {err}");
        }
    }

    #[test]
    fn point_source_peaks_at_its_position_with_its_flux() {
        let vis = vis_of_point(5.0, [10.0, -6.0]);
        let grid = ImageGrid {
            n: 65,
            pixel_arcsec: 2.0,
        };
        let map = back_project(&vis, &grid, Weighting::Natural);
        let (mut best, mut at) = (f64::MIN, (0, 0));
        for ((iy, ix), &v) in map.indexed_iter() {
            if v > best {
                best = v;
                at = (iy, ix);
            }
        }
        assert_eq!(grid.offset_arcsec(at.1), 10.0);
        assert_eq!(grid.offset_arcsec(at.0), -6.0);
        assert!((best - 5.0).abs() < 1e-9);
        let beam = psf(&vis, &grid, Weighting::Natural);
        assert!((beam[[32, 32]] - 1.0).abs() < 1e-12);
    }
}
