//! The discrete Fourier operator between an n×n image (per arcsec²) and K visibilities,
//! built once and applied many times by MEM_GE and EM (`shared/docs/stix-imaging.md` E.3, E.4).
//!
//! Forward: `V_k = Δ²·Σ_j x_j·exp(+2πi(u_k x_j + v_k y_j))` (the D.7 convention), returned as
//! (Re, Im). Adjoint: `g_j = Δ²·Σ_k (r_k cos θ_kj + s_k sin θ_kj)`. The phase is separable,
//! `θ = a_k(ix) + b_k(iy)`, so each application is one n×n·n×2K matrix product plus O(K·n)
//! work instead of K·n² trigonometric evaluations.

use super::grid::ImageGrid;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::f64::consts::TAU;

/// A precomputed DFT operator for fixed (u,v) points and grid.
#[derive(Debug, Clone)]
pub struct DftOperator {
    n: usize,
    k: usize,
    pixel_area: f64,
    /// `[ix][k]` = cos(2π u_k x_ix) for k < K, sin(…) for K ≤ k < 2K.
    ax: Array2<f64>,
    /// cos(2π v_k y_iy), `[k][iy]`.
    by_c: Array2<f64>,
    /// sin(2π v_k y_iy), `[k][iy]`.
    by_s: Array2<f64>,
}

/// Scratch buffers of one operator, so that repeated applications do not allocate.
#[derive(Debug, Clone)]
pub struct DftScratch {
    /// n×2K product of the image with `ax`.
    p: Array2<f64>,
    /// n×2K coefficients of the adjoint.
    b: Array2<f64>,
}

impl DftOperator {
    /// Builds the tables for (u_k, v_k) in arcsec⁻¹ on `grid`.
    pub fn new(u: &[f64], v: &[f64], grid: &ImageGrid) -> Self {
        let n = grid.n;
        let k = u.len().min(v.len());
        let axis = grid.axis_arcsec();
        let mut ax = Array2::<f64>::zeros((n, 2 * k));
        let mut by_c = Array2::<f64>::zeros((k, n));
        let mut by_s = Array2::<f64>::zeros((k, n));
        for (i, &x) in axis.iter().enumerate() {
            for j in 0..k {
                let (s, c) = (TAU * u[j] * x).sin_cos();
                ax[[i, j]] = c;
                ax[[i, k + j]] = s;
                let (s, c) = (TAU * v[j] * x).sin_cos();
                by_c[[j, i]] = c;
                by_s[[j, i]] = s;
            }
        }
        Self {
            n,
            k,
            pixel_area: grid.pixel_arcsec * grid.pixel_arcsec,
            ax,
            by_c,
            by_s,
        }
    }

    /// Number of visibilities K.
    pub fn len(&self) -> usize {
        self.k
    }

    /// True when built for no visibilities.
    pub fn is_empty(&self) -> bool {
        self.k == 0
    }

    /// Image side n.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Fresh scratch buffers for this operator.
    pub fn scratch(&self) -> DftScratch {
        DftScratch {
            p: Array2::zeros((self.n, 2 * self.k)),
            b: Array2::zeros((self.n, 2 * self.k)),
        }
    }

    /// Forward transform of `image` (`[iy][ix]`, per arcsec²) into `re`, `im` (length K).
    pub fn forward(
        &self,
        image: ArrayView2<f64>,
        scratch: &mut DftScratch,
        re: &mut [f64],
        im: &mut [f64],
    ) {
        // p[iy][k] = Σ_ix x[iy][ix]·(cos | sin)(a_k(ix))
        general_mat_mul(1.0, &image, &self.ax, 0.0, &mut scratch.p);
        let k = self.k;
        for j in 0..k {
            let (mut sr, mut si) = (0.0, 0.0);
            let cy = self.by_c.row(j);
            let sy = self.by_s.row(j);
            for iy in 0..self.n {
                let pc = scratch.p[[iy, j]];
                let ps = scratch.p[[iy, k + j]];
                sr += pc * cy[iy] - ps * sy[iy];
                si += pc * sy[iy] + ps * cy[iy];
            }
            re[j] = sr * self.pixel_area;
            im[j] = si * self.pixel_area;
        }
    }

    /// Adjoint: `out[iy][ix] = Δ²·Σ_k (r_k cos θ + s_k sin θ)` (overwrites `out`).
    pub fn adjoint(
        &self,
        r: &[f64],
        s: &[f64],
        scratch: &mut DftScratch,
        mut out: ArrayViewMut2<f64>,
    ) {
        let k = self.k;
        for iy in 0..self.n {
            for j in 0..k {
                let (cb, sb) = (self.by_c[[j, iy]], self.by_s[[j, iy]]);
                scratch.b[[iy, j]] = (r[j] * cb + s[j] * sb) * self.pixel_area;
                scratch.b[[iy, k + j]] = (s[j] * cb - r[j] * sb) * self.pixel_area;
            }
        }
        general_mat_mul(1.0, &scratch.b, &self.ax.t(), 0.0, &mut out);
    }

    /// `‖A Aᵀ‖₂` of the real 2K-row operator [Re; Im] with rows divided by `sigma`
    /// (the MEM Lipschitz factor of E.3), from the 2K×2K Gram matrix built with 1-D sums
    /// and a power iteration.
    pub fn gram_norm(&self, sigma: &[f64]) -> f64 {
        let gram = self.gram(sigma);
        largest_eigenvalue(&gram)
    }

    /// The 2K×2K Gram matrix `A Aᵀ` of [Re; Im] rows divided by `sigma`.
    pub fn gram(&self, sigma: &[f64]) -> Array2<f64> {
        let k = self.k;
        let n = self.n;
        // Σ_ix exp(i(a_k ± a_l)) and Σ_iy exp(i(b_k ± b_l)) from the tables.
        let sum_x = |j: usize, l: usize, sign: f64| -> (f64, f64) {
            let (mut c, mut s) = (0.0, 0.0);
            for ix in 0..n {
                let (c1, s1) = (self.ax[[ix, j]], self.ax[[ix, k + j]]);
                let (c2, s2) = (self.ax[[ix, l]], sign * self.ax[[ix, k + l]]);
                c += c1 * c2 - s1 * s2;
                s += s1 * c2 + c1 * s2;
            }
            (c, s)
        };
        let sum_y = |j: usize, l: usize, sign: f64| -> (f64, f64) {
            let (mut c, mut s) = (0.0, 0.0);
            for iy in 0..n {
                let (c1, s1) = (self.by_c[[j, iy]], self.by_s[[j, iy]]);
                let (c2, s2) = (self.by_c[[l, iy]], sign * self.by_s[[l, iy]]);
                c += c1 * c2 - s1 * s2;
                s += s1 * c2 + c1 * s2;
            }
            (c, s)
        };
        let a2 = self.pixel_area * self.pixel_area;
        let mut g = Array2::<f64>::zeros((2 * k, 2 * k));
        for j in 0..k {
            for l in 0..k {
                // S± = Σ_pixels exp(i(θ_j ± θ_l))
                let (xp, yp) = (sum_x(j, l, 1.0), sum_y(j, l, 1.0));
                let (xm, ym) = (sum_x(j, l, -1.0), sum_y(j, l, -1.0));
                let sp = (xp.0 * yp.0 - xp.1 * yp.1, xp.0 * yp.1 + xp.1 * yp.0);
                let sm = (xm.0 * ym.0 - xm.1 * ym.1, xm.0 * ym.1 + xm.1 * ym.0);
                // cos·cos = ½(cos(−) + cos(+)), sin·sin = ½(cos(−) − cos(+)),
                // cos_j·sin_l = ½(sin(+) − sin(−)).
                let cc = 0.5 * (sm.0 + sp.0);
                let ss = 0.5 * (sm.0 - sp.0);
                let cs = 0.5 * (sp.1 - sm.1);
                let (wj, wl) = (sigma[j], sigma[l]);
                let w = a2 / (wj * wl);
                g[[j, l]] = cc * w;
                g[[k + j, k + l]] = ss * w;
                g[[j, k + l]] = cs * w;
                g[[k + l, j]] = cs * w;
            }
        }
        g
    }
}

/// Largest eigenvalue of a symmetric positive semi-definite matrix by power iteration.
pub fn largest_eigenvalue(m: &Array2<f64>) -> f64 {
    let dim = m.nrows();
    if dim == 0 {
        return 0.0;
    }
    let mut v = ndarray::Array1::<f64>::from_elem(dim, 1.0 / (dim as f64).sqrt());
    let mut lambda = 0.0;
    for _ in 0..1000 {
        let w = m.dot(&v);
        let norm = w.dot(&w).sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        let next = v.dot(&w);
        v = w / norm;
        if (next - lambda).abs() <= 1e-12 * next.abs() {
            return next;
        }
        lambda = next;
    }
    lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Vec<f64>, Vec<f64>, ImageGrid, Array2<f64>) {
        let u: Vec<f64> = (0..7).map(|k| 0.003 * (k as f64 + 1.0) * 0.9).collect();
        let v: Vec<f64> = (0..7).map(|k| -0.004 + 0.0013 * k as f64).collect();
        let grid = ImageGrid {
            n: 21,
            pixel_arcsec: 1.5,
        };
        let img = Array2::from_shape_fn((21, 21), |(i, j)| ((i * 7 + j * 3) % 11) as f64 + 0.5);
        (u, v, grid, img)
    }

    /// Slow direct sums against the separable operator, forward, adjoint and Gram.
    #[test]
    fn operator_matches_direct_sums() {
        let (u, v, grid, img) = setup();
        let op = DftOperator::new(&u, &v, &grid);
        let mut sc = op.scratch();
        let (mut re, mut im) = (vec![0.0; 7], vec![0.0; 7]);
        op.forward(img.view(), &mut sc, &mut re, &mut im);
        let ax = grid.axis_arcsec();
        let area = 1.5 * 1.5;
        for k in 0..7 {
            let (mut r, mut i) = (0.0, 0.0);
            for iy in 0..21 {
                for ix in 0..21 {
                    let th = TAU * (u[k] * ax[ix] + v[k] * ax[iy]);
                    r += img[[iy, ix]] * th.cos() * area;
                    i += img[[iy, ix]] * th.sin() * area;
                }
            }
            assert!((r - re[k]).abs() < 1e-9 * (1.0 + r.abs()));
            assert!((i - im[k]).abs() < 1e-9 * (1.0 + i.abs()));
        }
        let r: Vec<f64> = (0..7).map(|k| k as f64 - 2.0).collect();
        let s: Vec<f64> = (0..7).map(|k| 0.5 * k as f64).collect();
        let mut out = Array2::zeros((21, 21));
        op.adjoint(&r, &s, &mut sc, out.view_mut());
        for iy in 0..21 {
            for ix in 0..21 {
                let mut g = 0.0;
                for k in 0..7 {
                    let th = TAU * (u[k] * ax[ix] + v[k] * ax[iy]);
                    g += (r[k] * th.cos() + s[k] * th.sin()) * area;
                }
                assert!((g - out[[iy, ix]]).abs() < 1e-9);
            }
        }
        let sigma: Vec<f64> = (0..7).map(|k| 1.0 + k as f64).collect();
        let gram = op.gram(&sigma);
        // Dense rows [Re; Im]/σ.
        let rows = Array2::from_shape_fn((14, 441), |(row, j)| {
            let k = row % 7;
            let (iy, ix) = (j / 21, j % 21);
            let th = TAU * (u[k] * ax[ix] + v[k] * ax[iy]);
            let t = if row < 7 { th.cos() } else { th.sin() };
            t * area / sigma[k]
        });
        let dense = rows.dot(&rows.t());
        let err = (&dense - &gram)
            .mapv(f64::abs)
            .fold(0.0f64, |a, &b| a.max(b));
        assert!(err < 1e-8 * dense[[0, 0]], "gram error {err}");
    }
}
