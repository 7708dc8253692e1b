//! The discrete Fourier operator between an n×n image (per arcsec²) and K visibilities,
//! built once and applied many times by MEM_GE and EM (`shared/docs/stix-imaging.md` E.3, E.4).
//!
//! Forward: `V_k = Δ²·Σ_j x_j·exp(+2πi(u_k x_j + v_k y_j))` (the D.7 convention), returned as
//! (Re, Im). Adjoint: `g_j = Δ²·Σ_k (r_k cos θ_kj + s_k sin θ_kj)`. The phase is separable,
//! `θ = a_k(ix) + b_k(iy)`, so each application is matrix products plus O(K·n) work instead
//! of K·n² trigonometric evaluations. The pixel axis is symmetric about the centre
//! (x_{n−1−i} = −x_i), so cos(a(x)) is even and sin(a(x)) odd: folding the image columns
//! into their even and odd parts halves the products (n×⌈n/2⌉·⌈n/2⌉×K and n×⌊n/2⌋·⌊n/2⌋×K).

use super::grid::ImageGrid;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Zip, s};
use std::f64::consts::TAU;

/// A precomputed DFT operator for fixed (u,v) points and grid.
#[derive(Debug, Clone)]
pub struct DftOperator {
    n: usize,
    k: usize,
    pixel_area: f64,
    /// `[ix][k]` = cos(2π u_k x_ix) for k < K, sin(…) for K ≤ k < 2K (all columns; Gram).
    ax: Array2<f64>,
    /// cos(2π u_k x_ix) for ix < ⌈n/2⌉, `[ix][k]`.
    ac_half: Array2<f64>,
    /// sin(2π u_k x_ix) for ix < ⌊n/2⌋, `[ix][k]`.
    as_half: Array2<f64>,
    /// cos(2π v_k y_iy), `[k][iy]`.
    by_c: Array2<f64>,
    /// sin(2π v_k y_iy), `[k][iy]`.
    by_s: Array2<f64>,
    /// cos(2π v_k y_iy), `[iy][k]`.
    cy_t: Array2<f64>,
    /// sin(2π v_k y_iy), `[iy][k]`.
    sy_t: Array2<f64>,
}

/// Scratch buffers of one operator, so that repeated applications do not allocate.
#[derive(Debug, Clone)]
pub struct DftScratch {
    /// Even part of the image columns, n×⌈n/2⌉.
    xe: Array2<f64>,
    /// Odd part of the image columns, n×⌊n/2⌋.
    xo: Array2<f64>,
    /// Products with the cos and sin tables, n×K each.
    pc: Array2<f64>,
    ps: Array2<f64>,
    /// Adjoint coefficients, n×K each.
    b1: Array2<f64>,
    b2: Array2<f64>,
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
        let half_e = n.div_ceil(2);
        let half_o = n / 2;
        let ac_half = ax.slice(ndarray::s![0..half_e, 0..k]).to_owned();
        let as_half = ax.slice(ndarray::s![0..half_o, k..2 * k]).to_owned();
        Self {
            n,
            k,
            pixel_area: grid.pixel_arcsec * grid.pixel_arcsec,
            ax,
            ac_half,
            as_half,
            cy_t: by_c.t().as_standard_layout().into_owned(),
            sy_t: by_s.t().as_standard_layout().into_owned(),
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
        let (n, k) = (self.n, self.k);
        DftScratch {
            xe: Array2::zeros((n, n.div_ceil(2))),
            xo: Array2::zeros((n, n / 2)),
            pc: Array2::zeros((n, k)),
            ps: Array2::zeros((n, k)),
            b1: Array2::zeros((n, k)),
            b2: Array2::zeros((n, k)),
        }
    }

    /// Forward transform of `image` (`[iy][ix]`, per arcsec²) into `re`, `im` (length K).
    /// Returns Σ image (the plain pixel sum, found while folding).
    pub fn forward(
        &self,
        image: ArrayView2<f64>,
        scratch: &mut DftScratch,
        re: &mut [f64],
        im: &mut [f64],
    ) -> f64 {
        // Fold the columns: even part x(i) + x(n−1−i), odd part x(i) − x(n−1−i).
        let n = self.n;
        let h = n / 2;
        let mut total = 0.0;
        Zip::from(scratch.xe.slice_mut(s![.., ..h]))
            .and(&mut scratch.xo)
            .and(image.slice(s![.., ..h]))
            .and(image.slice(s![.., n - h..;-1]))
            .for_each(|e, o, &l, &r| {
                *e = l + r;
                *o = l - r;
                total += l + r;
            });
        if n % 2 == 1 {
            scratch.xe.column_mut(h).assign(&image.column(h));
            total += image.column(h).sum();
        }
        // pc[iy][k] = Σ_ix x[iy][ix]·cos(a_k(ix)), ps likewise with sin.
        general_mat_mul(1.0, &scratch.xe, &self.ac_half, 0.0, &mut scratch.pc);
        general_mat_mul(1.0, &scratch.xo, &self.as_half, 0.0, &mut scratch.ps);
        re.fill(0.0);
        im.fill(0.0);
        let mut rv = ArrayViewMut1::from(re);
        let mut iv = ArrayViewMut1::from(im);
        for iy in 0..n {
            Zip::from(&mut rv)
                .and(&mut iv)
                .and(scratch.pc.row(iy))
                .and(scratch.ps.row(iy))
                .and(self.cy_t.row(iy))
                .and(self.sy_t.row(iy))
                .for_each(|sr, si, &pc, &ps, &cy, &sy| {
                    *sr += pc * cy - ps * sy;
                    *si += pc * sy + ps * cy;
                });
        }
        let area = self.pixel_area;
        rv.mapv_inplace(|x| x * area);
        iv.mapv_inplace(|x| x * area);
        total
    }

    /// Adjoint: `out[iy][ix] = Δ²·Σ_k (r_k cos θ + s_k sin θ)` (overwrites `out`).
    pub fn adjoint(&self, r: &[f64], s: &[f64], scratch: &mut DftScratch, out: ArrayViewMut2<f64>) {
        self.adjoint_apply(r, s, scratch, out, |o, g| *o = g);
    }

    /// The adjoint value g of every pixel handed to `apply(&mut out[iy][ix], g)`, so that a
    /// caller can fuse its own pixel update into the final pass.
    pub fn adjoint_apply(
        &self,
        r: &[f64],
        s: &[f64],
        scratch: &mut DftScratch,
        mut out: ArrayViewMut2<f64>,
        apply: impl Fn(&mut f64, f64),
    ) {
        let n = self.n;
        let area = self.pixel_area;
        let rv = ArrayView1::from(r);
        let sv = ArrayView1::from(s);
        Zip::from(&mut scratch.b1)
            .and(&mut scratch.b2)
            .and(&self.cy_t)
            .and(&self.sy_t)
            .and_broadcast(&rv)
            .and_broadcast(&sv)
            .for_each(|b1, b2, &cb, &sb, &r, &s| {
                *b1 = (r * cb + s * sb) * area;
                *b2 = (s * cb - r * sb) * area;
            });
        // Even part E = B1·cosᵀ on the left half (and centre), odd part O = B2·sinᵀ;
        // out(i) = E + O, out(n−1−i) = E − O.
        general_mat_mul(1.0, &scratch.b1, &self.ac_half.t(), 0.0, &mut scratch.xe);
        general_mat_mul(1.0, &scratch.b2, &self.as_half.t(), 0.0, &mut scratch.xo);
        let h = n / 2;
        Zip::from(out.slice_mut(s![.., ..h]))
            .and(scratch.xe.slice(s![.., ..h]))
            .and(&scratch.xo)
            .for_each(|x, &e, &o| apply(x, e + o));
        Zip::from(out.slice_mut(s![.., n - h..;-1]))
            .and(scratch.xe.slice(s![.., ..h]))
            .and(&scratch.xo)
            .for_each(|x, &e, &o| apply(x, e - o));
        if n % 2 == 1 {
            Zip::from(out.column_mut(h))
                .and(scratch.xe.column(h))
                .for_each(|x, &e| apply(x, e));
        }
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

    fn setup(n: usize) -> (Vec<f64>, Vec<f64>, ImageGrid, Array2<f64>) {
        let u: Vec<f64> = (0..7).map(|k| 0.003 * (k as f64 + 1.0) * 0.9).collect();
        let v: Vec<f64> = (0..7).map(|k| -0.004 + 0.0013 * k as f64).collect();
        let grid = ImageGrid {
            n,
            pixel_arcsec: 1.5,
        };
        let img = Array2::from_shape_fn((n, n), |(i, j)| ((i * 7 + j * 3) % 11) as f64 + 0.5);
        (u, v, grid, img)
    }

    /// Slow direct sums against the separable operator, forward, adjoint and Gram.
    #[test]
    fn operator_matches_direct_sums() {
        for n in [21, 20] {
            check_direct_sums(n);
        }
    }

    fn check_direct_sums(n: usize) {
        let (u, v, grid, img) = setup(n);
        let op = DftOperator::new(&u, &v, &grid);
        let mut sc = op.scratch();
        let (mut re, mut im) = (vec![0.0; 7], vec![0.0; 7]);
        op.forward(img.view(), &mut sc, &mut re, &mut im);
        let ax = grid.axis_arcsec();
        let area = 1.5 * 1.5;
        for k in 0..7 {
            let (mut r, mut i) = (0.0, 0.0);
            for iy in 0..n {
                for ix in 0..n {
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
        let mut out = Array2::zeros((n, n));
        op.adjoint(&r, &s, &mut sc, out.view_mut());
        for iy in 0..n {
            for ix in 0..n {
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
        let rows = Array2::from_shape_fn((14, n * n), |(row, j)| {
            let k = row % 7;
            let (iy, ix) = (j / n, j % n);
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
