//! The discrete Fourier operator between an n×n image (per arcsec²) and K visibilities,
//! built once and applied many times by MEM_GE and EM (`shared/docs/stix-imaging.md` E.3, E.4).
//!
//! Forward: `V_k = Δ²·Σ_j x_j·exp(+2πi(u_k x_j + v_k y_j))` (the D.7 convention), returned as
//! (Re, Im). Adjoint: `g_j = Δ²·Σ_k (r_k cos θ_kj + s_k sin θ_kj)`. The phase is separable,
//! `θ = a_k(ix) + b_k(iy)`, so each application is matrix products plus O(K·n) work instead
//! of K·n² trigonometric evaluations. The pixel axis is symmetric about the centre
//! (x_{n−1−i} = −x_i), so cos(a(x)) is even and sin(a(x)) odd: folding the image columns
//! into their even and odd parts halves the products (n×⌈n/2⌉·⌈n/2⌉×K and n×⌊n/2⌋·⌊n/2⌋×K).

mod kernel;

use super::grid::ImageGrid;
use kernel::{WIDTH, matmul, panels};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::f64::consts::TAU;

/// A precomputed DFT operator for fixed (u,v) points and grid.
///
/// Tables are row-major with rows zero-padded to a multiple of the kernel's vector width:
/// K → `kp` columns, and the half axes ⌈n/2⌉, ⌊n/2⌋ → `hep`, `hop` columns.
#[derive(Debug, Clone)]
pub struct DftOperator {
    n: usize,
    k: usize,
    pixel_area: f64,
    /// K padded to a multiple of the kernel width.
    kp: usize,
    /// ⌈n/2⌉ and ⌊n/2⌋ padded to a multiple of the kernel width.
    hep: usize,
    hop: usize,
    /// `[ix][k]` = cos(2π u_k x_ix) for k < K, sin(…) for K ≤ k < 2K (all columns; Gram).
    ax: Array2<f64>,
    /// cos(2π u_k x_ix), ix < ⌈n/2⌉ by k < kp, in the kernel's panel layout.
    ac_half: Vec<f64>,
    /// sin(2π u_k x_ix), ix < ⌊n/2⌋ by k < kp, panel layout.
    as_half: Vec<f64>,
    /// `ac_half` transposed, k < K by ix < hep, panel layout.
    ac_half_t: Vec<f64>,
    /// `as_half` transposed, k < K by ix < hop, panel layout.
    as_half_t: Vec<f64>,
    /// cos(2π v_k y_iy), `[k][iy]`.
    by_c: Array2<f64>,
    /// sin(2π v_k y_iy), `[k][iy]`.
    by_s: Array2<f64>,
    /// cos(2π v_k y_iy), `[iy][k]`, n×kp.
    cy_t: Vec<f64>,
    /// sin(2π v_k y_iy), `[iy][k]`, n×kp.
    sy_t: Vec<f64>,
}

/// Scratch buffers of one operator, so that repeated applications do not allocate.
#[derive(Debug, Clone)]
pub struct DftScratch {
    /// The image in standard layout when the caller's view is not.
    img: Vec<f64>,
    /// Even part of the image columns, n×⌈n/2⌉.
    xe: Vec<f64>,
    /// Odd part of the image columns, n×⌊n/2⌋.
    xo: Vec<f64>,
    /// Products with the cos and sin tables, n×kp each.
    pc: Vec<f64>,
    ps: Vec<f64>,
    /// Adjoint coefficients, n×kp each (padding stays zero).
    b1: Vec<f64>,
    b2: Vec<f64>,
    /// Even and odd parts of the adjoint, n×hep and n×hop.
    ev: Vec<f64>,
    ov: Vec<f64>,
    /// Σ over rows of the forward, kp each.
    acc_re: Vec<f64>,
    acc_im: Vec<f64>,
    /// Packing buffer of the product kernel.
    pack: Vec<f64>,
}

/// Σ x with [`WIDTH`] independent partial sums (vectorises; a single running sum is a
/// chain of dependent additions).
fn lane_sum(x: &[f64]) -> f64 {
    let (chunks, tail) = x.as_chunks::<WIDTH>();
    let mut part = [0.0; WIDTH];
    for c in chunks {
        for l in 0..WIDTH {
            part[l] += c[l];
        }
    }
    part.iter().sum::<f64>() + tail.iter().sum::<f64>()
}

/// `x` rounded up to a multiple of the kernel width.
fn pad(x: usize) -> usize {
    x.div_ceil(WIDTH) * WIDTH
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
        let (kp, hep, hop) = (pad(k), pad(half_e), pad(half_o));
        let ac_half = panels(half_e, kp, |ix, j| if j < k { ax[[ix, j]] } else { 0.0 });
        let as_half = panels(
            half_o,
            kp,
            |ix, j| if j < k { ax[[ix, k + j]] } else { 0.0 },
        );
        let ac_half_t = panels(k, hep, |j, ix| if ix < half_e { ax[[ix, j]] } else { 0.0 });
        let as_half_t = panels(
            k,
            hop,
            |j, ix| if ix < half_o { ax[[ix, k + j]] } else { 0.0 },
        );
        let mut cy_t = vec![0.0; n * kp];
        let mut sy_t = vec![0.0; n * kp];
        for j in 0..k {
            for iy in 0..n {
                cy_t[iy * kp + j] = by_c[[j, iy]];
                sy_t[iy * kp + j] = by_s[[j, iy]];
            }
        }
        Self {
            n,
            k,
            pixel_area: grid.pixel_arcsec * grid.pixel_arcsec,
            kp,
            hep,
            hop,
            ax,
            ac_half,
            as_half,
            ac_half_t,
            as_half_t,
            by_c,
            by_s,
            cy_t,
            sy_t,
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
        let (n, kp) = (self.n, self.kp);
        DftScratch {
            img: Vec::new(),
            xe: vec![0.0; n * n.div_ceil(2)],
            xo: vec![0.0; n * (n / 2)],
            pc: vec![0.0; n * kp],
            ps: vec![0.0; n * kp],
            b1: vec![0.0; n * kp],
            b2: vec![0.0; n * kp],
            ev: vec![0.0; n * self.hep],
            ov: vec![0.0; n * self.hop],
            acc_re: vec![0.0; kp],
            acc_im: vec![0.0; kp],
            pack: Vec::with_capacity(8 * n.max(kp)),
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
        let n = self.n;
        let (he, ho, kp) = (n.div_ceil(2), n / 2, self.kp);
        let img: &[f64] = match image.as_slice() {
            Some(x) => x,
            None => {
                scratch.img.clear();
                scratch.img.extend(image.iter());
                &scratch.img
            }
        };
        // Fold the columns: even part x(i) + x(n−1−i), odd part x(i) − x(n−1−i).
        let mut total = 0.0;
        for iy in 0..n {
            let row = &img[iy * n..][..n];
            let xe = &mut scratch.xe[iy * he..][..he];
            let xo = &mut scratch.xo[iy * ho..][..ho];
            let (left, right) = row.split_at(n - ho);
            for (((e, o), &l), &r) in xe
                .iter_mut()
                .zip(xo.iter_mut())
                .zip(left)
                .zip(right.iter().rev())
            {
                *e = l + r;
                *o = l - r;
            }
            if n % 2 == 1 {
                xe[ho] = row[ho];
            }
            total += lane_sum(xe);
        }
        // pc[iy][k] = Σ_ix x[iy][ix]·cos(a_k(ix)), ps likewise with sin.
        matmul(
            &scratch.xe,
            he,
            n,
            he,
            &self.ac_half,
            kp,
            &mut scratch.pc,
            &mut scratch.pack,
        );
        matmul(
            &scratch.xo,
            ho,
            n,
            ho,
            &self.as_half,
            kp,
            &mut scratch.ps,
            &mut scratch.pack,
        );
        let (ar, ai) = (&mut scratch.acc_re, &mut scratch.acc_im);
        ar.fill(0.0);
        ai.fill(0.0);
        for (((pc, ps), cy), sy) in scratch
            .pc
            .chunks_exact(kp)
            .zip(scratch.ps.chunks_exact(kp))
            .zip(self.cy_t.chunks_exact(kp))
            .zip(self.sy_t.chunks_exact(kp))
        {
            for ((((r, i), &pc), &ps), (&cy, &sy)) in ar
                .iter_mut()
                .zip(ai.iter_mut())
                .zip(pc)
                .zip(ps)
                .zip(cy.iter().zip(sy))
            {
                *r += pc * cy - ps * sy;
                *i += pc * sy + ps * cy;
            }
        }
        let area = self.pixel_area;
        for j in 0..self.k.min(re.len()).min(im.len()) {
            re[j] = ar[j] * area;
            im[j] = ai[j] * area;
        }
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
        let (k, kp, hep, hop) = (
            self.k.min(r.len()).min(s.len()),
            self.kp,
            self.hep,
            self.hop,
        );
        let area = self.pixel_area;
        for (((b1, b2), cy), sy) in scratch
            .b1
            .chunks_exact_mut(kp)
            .zip(scratch.b2.chunks_exact_mut(kp))
            .zip(self.cy_t.chunks_exact(kp))
            .zip(self.sy_t.chunks_exact(kp))
        {
            for j in 0..k {
                b1[j] = (r[j] * cy[j] + s[j] * sy[j]) * area;
                b2[j] = (s[j] * cy[j] - r[j] * sy[j]) * area;
            }
        }
        // Even part E = B1·cosᵀ on the left half (and centre), odd part O = B2·sinᵀ;
        // out(i) = E + O, out(n−1−i) = E − O.
        matmul(
            &scratch.b1,
            kp,
            n,
            k,
            &self.ac_half_t,
            hep,
            &mut scratch.ev,
            &mut scratch.pack,
        );
        matmul(
            &scratch.b2,
            kp,
            n,
            k,
            &self.as_half_t,
            hop,
            &mut scratch.ov,
            &mut scratch.pack,
        );
        let h = n / 2;
        for (iy, mut row) in out.rows_mut().into_iter().enumerate() {
            let ev = &scratch.ev[iy * hep..][..hep];
            let ov = &scratch.ov[iy * hop..][..hop];
            match row.as_slice_mut() {
                Some(row) => {
                    let (left, right) = row.split_at_mut(n - h);
                    // Blocks of WIDTH pixels from the edges inwards (the right half runs
                    // backwards; whole blocks let the compiler vectorise the reversal).
                    let blocks = h / WIDTH;
                    for (((lc, rc), ec), oc) in left[..blocks * WIDTH]
                        .chunks_exact_mut(WIDTH)
                        .zip(right.rchunks_exact_mut(WIDTH))
                        .zip(ev.chunks_exact(WIDTH))
                        .zip(ov.chunks_exact(WIDTH))
                    {
                        for i in 0..WIDTH {
                            apply(&mut lc[i], ec[i] + oc[i]);
                            apply(&mut rc[WIDTH - 1 - i], ec[i] - oc[i]);
                        }
                    }
                    for ix in blocks * WIDTH..h {
                        apply(&mut left[ix], ev[ix] + ov[ix]);
                        apply(&mut right[h - 1 - ix], ev[ix] - ov[ix]);
                    }
                    if n % 2 == 1 {
                        apply(&mut left[h], ev[h]);
                    }
                }
                None => {
                    for ix in 0..h {
                        apply(&mut row[ix], ev[ix] + ov[ix]);
                        apply(&mut row[n - 1 - ix], ev[ix] - ov[ix]);
                    }
                    if n % 2 == 1 {
                        apply(&mut row[h], ev[h]);
                    }
                }
            }
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
