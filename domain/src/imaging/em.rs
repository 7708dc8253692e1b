//! Count-based expectation maximisation (`shared/docs/stix-imaging.md` E.4, after GSW
//! `stx_em.pro` / `stx_map2pixelabcd_matrix.pro` and stixpy `imaging/em.py`).
//!
//! Data y are the summed A, B, C, D rates (counts s⁻¹ keV⁻¹ cm⁻²) of N detectors. The system
//! matrix for detector i and pixel j at the STIX-frame position (x_j, y_j) is
//! `ψ_ij = 2π(u_i x_j + v_i y_j) − φ_i`, `H_A = M0 − 2M1 cos ψ`, `H_B = M0 − 2M1 sin ψ`,
//! `H_C = M0 + 2M1 cos ψ`, `H_D = M0 + 2M1 sin ψ`, all × Δ². It is never stored: `Hx` and `Hᵀz`
//! are the DFT operator of [`super::dft`] plus per-detector rotations by φ_i.
//! Iteration `x ← x·Hᵀ(y/Hx)/Hᵀ1` from x⁰ = 1, stopping rule of E.4 checked every 25
//! iterations after the 10th; the C-statistic is reported.
//!
//! M0, M1 are those of ideal grids (T = ¼: M0 = ¼, M1 = 4 sin(π/4)/π³), consistent with the
//! ≤2025 / stixpy amplitude calibration `π³/(8√2)` of D.7.

use super::dft::{DftOperator, DftScratch};
use super::grid::ImageGrid;
use super::params::EmParams;
use crate::visfile::DetectorRates;
use ndarray::Array2;
use std::f64::consts::{PI, TAU};

/// M0 of ideal grids (T = ¼).
pub const M0_IDEAL: f64 = 0.25;
/// M1 of ideal grids for large pixels: 4·sin(π/4)/π³ = 0.09122.
pub const M1_IDEAL: f64 = 4.0 * std::f64::consts::FRAC_1_SQRT_2 / (PI * PI * PI);

/// Why EM could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EmError {
    /// No detector rates were given.
    #[error("EM needs the summed A/B/C/D rates of at least one detector")]
    NoRates,
    /// A rate or (u,v) value is not finite.
    #[error("detector {isc}: non-finite rate, (u,v) or phase")]
    NonFinite {
        /// The detector.
        isc: u8,
    },
    /// All rates are zero or negative.
    #[error("EM needs some positive rates")]
    NoSignal,
}

/// Why the EM loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmStop {
    /// The E.4 criterion fell below the tolerance.
    Tolerance,
    /// `maxiter` was reached.
    MaxIterations,
    /// A model rate became non-positive (possible with negative background-subtracted data).
    NonPositiveModel,
}

/// Everything EM produces.
#[derive(Debug, Clone, PartialEq)]
pub struct EmResult {
    /// Image per arcsec².
    pub image: Array2<f64>,
    /// Iterations done.
    pub iterations: u32,
    /// Why the loop ended.
    pub stop: EmStop,
    /// Last value of the E.4 stopping criterion (NaN when never checked).
    pub criterion: f64,
    /// The C-statistic `(2/n_{y>0})Σ_{y>0}[y ln(y/Hx) + Hx − y]` of the final image.
    pub c_statistic: f64,
}

/// The EM system for fixed detectors, grid and map centre: built once, run many times.
#[derive(Debug, Clone)]
pub struct EmSystem {
    op: DftOperator,
    op2: DftOperator,
    /// (cos δ_i, sin δ_i) with δ_i = φ_i − 2π(u_i x_c + v_i y_c).
    rot: Vec<(f64, f64)>,
    /// Rates `[A, B, C, D]` per detector.
    y: Vec<[f64; 4]>,
    m0: f64,
    m1: f64,
    area: f64,
    n: usize,
}

impl EmSystem {
    /// Builds the system for `rates` with the map centre `center_stix_arcsec` (STIX frame).
    pub fn new(
        rates: &[DetectorRates],
        center_stix_arcsec: [f64; 2],
        grid: &ImageGrid,
    ) -> Result<Self, EmError> {
        if rates.is_empty() {
            return Err(EmError::NoRates);
        }
        for d in rates {
            let ok = d.u.is_finite()
                && d.v.is_finite()
                && d.calibration_phase_deg.is_finite()
                && d.rates.iter().all(|r| r.is_finite());
            if !ok {
                return Err(EmError::NonFinite { isc: d.isc });
            }
        }
        if !rates.iter().any(|d| d.rates.iter().any(|&r| r > 0.0)) {
            return Err(EmError::NoSignal);
        }
        let u: Vec<f64> = rates.iter().map(|d| d.u).collect();
        let v: Vec<f64> = rates.iter().map(|d| d.v).collect();
        let u2: Vec<f64> = u.iter().map(|x| 2.0 * x).collect();
        let v2: Vec<f64> = v.iter().map(|x| 2.0 * x).collect();
        let rot = rates
            .iter()
            .map(|d| {
                let delta = d.calibration_phase_deg.to_radians()
                    - TAU * (d.u * center_stix_arcsec[0] + d.v * center_stix_arcsec[1]);
                let (s, c) = delta.sin_cos();
                (c, s)
            })
            .collect();
        Ok(Self {
            op: DftOperator::new(&u, &v, grid),
            op2: DftOperator::new(&u2, &v2, grid),
            rot,
            y: rates.iter().map(|d| d.rates).collect(),
            m0: M0_IDEAL,
            m1: M1_IDEAL,
            area: grid.pixel_arcsec * grid.pixel_arcsec,
            n: grid.n,
        })
    }

    /// Number of detectors N.
    pub fn detectors(&self) -> usize {
        self.y.len()
    }

    /// Model rates `Hx` per detector `[A, B, C, D]`.
    pub fn forward(&self, x: &Array2<f64>, ws: &mut EmWork, out: &mut [[f64; 4]]) {
        let sum = self
            .op
            .forward(x.view(), &mut ws.dft, &mut ws.re, &mut ws.im);
        let s0 = sum * self.area * self.m0;
        for (i, o) in out.iter_mut().enumerate() {
            let (c, s) = self.rot[i];
            let cos_sum = ws.re[i] * c + ws.im[i] * s;
            let sin_sum = ws.im[i] * c - ws.re[i] * s;
            let a = 2.0 * self.m1;
            *o = [
                s0 - a * cos_sum,
                s0 - a * sin_sum,
                s0 + a * cos_sum,
                s0 + a * sin_sum,
            ];
        }
    }

    /// `Hᵀz` into `out` (overwritten).
    pub fn adjoint(&self, z: &[[f64; 4]], ws: &mut EmWork, out: &mut Array2<f64>) {
        let add = self.adjoint_coefficients(z, ws);
        self.op
            .adjoint_apply(&ws.re, &ws.im, &mut ws.dft, out.view_mut(), |o, g| {
                *o = g + add
            });
    }

    /// The EM update `x ← x·Hᵀz/Hᵀ1` with `Hᵀz` never stored.
    fn update(&self, z: &[[f64; 4]], ht1: f64, ws: &mut EmWork, x: &mut Array2<f64>) {
        let add = self.adjoint_coefficients(z, ws);
        let inv = 1.0 / ht1;
        self.op
            .adjoint_apply(&ws.re, &ws.im, &mut ws.dft, x.view_mut(), |xi, g| {
                *xi *= (g + add) * inv
            });
    }

    /// Puts the DFT-adjoint coefficients of `z` in `ws.re`, `ws.im`; returns the uniform
    /// M0 term `Δ²·M0·Σz`.
    fn adjoint_coefficients(&self, z: &[[f64; 4]], ws: &mut EmWork) -> f64 {
        let mut total = 0.0;
        for (i, zi) in z.iter().enumerate() {
            total += zi[0] + zi[1] + zi[2] + zi[3];
            let a = zi[2] - zi[0];
            let b = zi[3] - zi[1];
            let (c, s) = self.rot[i];
            ws.re[i] = 2.0 * self.m1 * (a * c - b * s);
            ws.im[i] = 2.0 * self.m1 * (a * s + b * c);
        }
        total * self.m0 * self.area
    }

    /// `Σ_i H_ij² w_i` for weights `w` per detector `[A, B, C, D]` (needs the 2ψ operator).
    fn adjoint_squared(&self, w: &[[f64; 4]], ws: &mut EmWork, out: &mut Array2<f64>) {
        let (m0, m1) = (self.m0, self.m1);
        let mut total = 0.0;
        for (i, wi) in w.iter().enumerate() {
            total += wi[0] + wi[1] + wi[2] + wi[3];
            let a = 4.0 * m0 * m1 * (wi[2] - wi[0]);
            let b = 4.0 * m0 * m1 * (wi[3] - wi[1]);
            let (c, s) = self.rot[i];
            ws.re[i] = a * c - b * s;
            ws.im[i] = a * s + b * c;
            // cos 2ψ = cos(2θ − 2δ): rotate by 2δ.
            let e = 2.0 * m1 * m1 * (wi[0] - wi[1] + wi[2] - wi[3]);
            let (c2, s2) = (c * c - s * s, 2.0 * s * c);
            ws.re2[i] = e * c2;
            ws.im2[i] = e * s2;
        }
        self.op.adjoint(&ws.re, &ws.im, &mut ws.dft, out.view_mut());
        self.op2
            .adjoint(&ws.re2, &ws.im2, &mut ws.dft, ws.tmp.view_mut());
        let add = total * (m0 * m0 + 2.0 * m1 * m1) * self.area;
        // The adjoints carry Δ² once; H² needs Δ⁴.
        let area = self.area;
        ndarray::Zip::from(out)
            .and(&ws.tmp)
            .for_each(|o, &t| *o = (*o + t + add) * area);
    }

    /// Fresh work buffers.
    pub fn work(&self) -> EmWork {
        let k = self.y.len();
        EmWork {
            dft: self.op.scratch(),
            re: vec![0.0; k],
            im: vec![0.0; k],
            re2: vec![0.0; k],
            im2: vec![0.0; k],
            tmp: Array2::zeros((self.n, self.n)),
        }
    }

    /// Runs the EM iteration.
    pub fn run(&self, params: &EmParams) -> EmResult {
        self.run_cancellable(params, &super::cancel::never)
    }

    /// [`Self::run`], stopping early when `cancel` says so between iterations.
    pub fn run_cancellable(
        &self,
        params: &EmParams,
        cancel: super::cancel::CancelCheck<'_>,
    ) -> EmResult {
        let n = self.n;
        let k = self.y.len();
        let mut ws = self.work();
        let mut x = Array2::<f64>::ones((n, n));
        let mut hx = vec![[0.0; 4]; k];
        let mut z = vec![[0.0; 4]; k];
        let mut htz = Array2::<f64>::zeros((n, n));
        let mut h2 = Array2::<f64>::zeros((n, n));
        // Hᵀ1 is uniform: 4·N·M0·Δ².
        let ht1 = 4.0 * k as f64 * self.m0 * self.area;
        let mut stop = EmStop::MaxIterations;
        let mut criterion = f64::NAN;
        let mut iterations = 0;
        for iter in 1..=params.maxiter {
            if cancel() {
                break;
            }
            self.forward(&x, &mut ws, &mut hx);
            if hx.iter().flatten().any(|&h| h <= 0.0 || !h.is_finite()) {
                stop = EmStop::NonPositiveModel;
                break;
            }
            for (zi, (yi, hi)) in z.iter_mut().zip(self.y.iter().zip(&hx)) {
                for c in 0..4 {
                    zi[c] = yi[c] / hi[c];
                }
            }
            iterations = iter;
            let check = iter > 10 && iter % 25 == 0;
            if !check {
                self.update(&z, ht1, &mut ws, &mut x);
                continue;
            }
            self.adjoint(&z, &mut ws, &mut htz);
            ndarray::Zip::from(&mut x)
                .and(&htz)
                .for_each(|xi, &g| *xi *= g / ht1);
            {
                for (zi, hi) in z.iter_mut().zip(&hx) {
                    for c in 0..4 {
                        zi[c] = 1.0 / hi[c];
                    }
                }
                self.adjoint_squared(&z, &mut ws, &mut h2);
                let (mut num, mut den) = (0.0, 0.0);
                ndarray::Zip::from(&x)
                    .and(&htz)
                    .and(&h2)
                    .for_each(|&xi, &g, &s| {
                        let t = xi * (ht1 - g);
                        num += t * t;
                        den += xi * xi * s;
                    });
                criterion = num / den;
                if criterion < params.tol {
                    stop = EmStop::Tolerance;
                    break;
                }
            }
        }
        self.forward(&x, &mut ws, &mut hx);
        let (mut c, mut npos) = (0.0, 0usize);
        for (yi, hi) in self.y.iter().zip(&hx) {
            for ch in 0..4 {
                if yi[ch] > 0.0 {
                    npos += 1;
                    c += yi[ch] * (yi[ch] / hi[ch]).ln() + hi[ch] - yi[ch];
                }
            }
        }
        let c_statistic = if npos > 0 {
            2.0 * c / npos as f64
        } else {
            f64::NAN
        };
        EmResult {
            image: x,
            iterations,
            stop,
            criterion,
            c_statistic,
        }
    }
}

/// Work buffers of [`EmSystem`].
#[derive(Debug, Clone)]
pub struct EmWork {
    dft: DftScratch,
    re: Vec<f64>,
    im: Vec<f64>,
    re2: Vec<f64>,
    im2: Vec<f64>,
    tmp: Array2<f64>,
}

/// Builds the system and runs EM.
pub fn em(
    rates: &[DetectorRates],
    center_stix_arcsec: [f64; 2],
    grid: &ImageGrid,
    params: &EmParams,
) -> Result<EmResult, EmError> {
    Ok(EmSystem::new(rates, center_stix_arcsec, grid)?.run(params))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operator form against a dense system matrix built from the E.4 formulas.
    #[test]
    fn operator_matches_dense_system_matrix() {
        let grid = ImageGrid {
            n: 9,
            pixel_arcsec: 3.0,
        };
        let centre = [40.0, -70.0];
        let rates: Vec<DetectorRates> = (0..3)
            .map(|i| DetectorRates {
                isc: i as u8 + 1,
                label: format!("{i}"),
                u: 0.003 * (i as f64 + 1.0),
                v: -0.002 + 0.004 * i as f64,
                calibration_phase_deg: 30.0 * i as f64 - 10.0,
                rates: [1.0, 2.0, 3.0, 4.0],
                errors: [0.1; 4],
            })
            .collect();
        let sys = EmSystem::new(&rates, centre, &grid).unwrap();
        let x = Array2::from_shape_fn((9, 9), |(i, j)| 1.0 + ((i * 5 + j) % 7) as f64);
        let mut ws = sys.work();
        let mut hx = vec![[0.0; 4]; 3];
        sys.forward(&x, &mut ws, &mut hx);
        let z: Vec<[f64; 4]> = (0..3)
            .map(|i| [0.3 * i as f64, 1.0, -0.5, 2.0 - i as f64])
            .collect();
        let mut htz = Array2::zeros((9, 9));
        sys.adjoint(&z, &mut ws, &mut htz);
        let mut h2 = Array2::zeros((9, 9));
        let w: Vec<[f64; 4]> = (0..3).map(|i| [1.0, 0.5, 2.0, 0.1 * i as f64]).collect();
        sys.adjoint_squared(&w, &mut ws, &mut h2);
        let axis = grid.axis_arcsec();
        let area = 9.0;
        for (i, d) in rates.iter().enumerate() {
            let mut dense = [0.0; 4];
            for iy in 0..9 {
                for ix in 0..9 {
                    let psi = TAU * (d.u * (centre[0] + axis[ix]) + d.v * (centre[1] + axis[iy]))
                        - d.calibration_phase_deg.to_radians();
                    let h = [
                        M0_IDEAL - 2.0 * M1_IDEAL * psi.cos(),
                        M0_IDEAL - 2.0 * M1_IDEAL * psi.sin(),
                        M0_IDEAL + 2.0 * M1_IDEAL * psi.cos(),
                        M0_IDEAL + 2.0 * M1_IDEAL * psi.sin(),
                    ];
                    for c in 0..4 {
                        dense[c] += h[c] * area * x[[iy, ix]];
                    }
                }
            }
            for c in 0..4 {
                assert!((dense[c] - hx[i][c]).abs() < 1e-9 * dense[c].abs());
            }
        }
        for iy in 0..9 {
            for ix in 0..9 {
                let (mut g, mut g2) = (0.0, 0.0);
                for (i, d) in rates.iter().enumerate() {
                    let psi = TAU * (d.u * (centre[0] + axis[ix]) + d.v * (centre[1] + axis[iy]))
                        - d.calibration_phase_deg.to_radians();
                    let h = [
                        M0_IDEAL - 2.0 * M1_IDEAL * psi.cos(),
                        M0_IDEAL - 2.0 * M1_IDEAL * psi.sin(),
                        M0_IDEAL + 2.0 * M1_IDEAL * psi.cos(),
                        M0_IDEAL + 2.0 * M1_IDEAL * psi.sin(),
                    ];
                    for c in 0..4 {
                        g += h[c] * area * z[i][c];
                        g2 += (h[c] * area).powi(2) * w[i][c];
                    }
                }
                assert!((g - htz[[iy, ix]]).abs() < 1e-9 * (1.0 + g.abs()));
                assert!((g2 - h2[[iy, ix]]).abs() < 1e-9 * (1.0 + g2.abs()));
            }
        }
    }
}
