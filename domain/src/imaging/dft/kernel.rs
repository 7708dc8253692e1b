//! The small dense product `C = A·B` behind the separable DFT (`shared/docs/stix-imaging.md`
//! E.3, E.4): A is m×p (row stride `lda`), B is p×w with w a multiple of [`WIDTH`], stored as
//! column panels ([`panels`]), C is m×w row-major. Shapes are tiny (m = n ≈ 129, p and
//! w ≤ ≈72), so a register-blocked loop beats a general GEMM. The loop is compiled for
//! AVX-512 (with fused multiply-adds, ≈5 % faster for EM) or AVX2 when the CPU has them
//! (runtime detection). Every variant sums in the same order; the fused variant differs
//! from the others only by rounding (one rounding less per term).

/// Column block: one 512-bit vector of f64.
pub(super) const WIDTH: usize = 8;

/// Rows per register block.
const ROWS: usize = 8;

/// B (p×w, w a multiple of [`WIDTH`]) in panel layout: panel jb holds, for each q, the
/// entries `b(q, jb·WIDTH + l)`, l < WIDTH, contiguously.
pub(super) fn panels(p: usize, w: usize, b: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(p * w);
    for jb in (0..w).step_by(WIDTH) {
        for q in 0..p {
            out.extend((0..WIDTH).map(|l| b(q, jb + l)));
        }
    }
    out
}

/// `c[i][j] = Σ_q a[i·lda + q]·B(q, j)` for i < m, j < w (`c` has row stride w; B in
/// [`panels`] layout). `pack` is scratch.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    a: &[f64],
    lda: usize,
    m: usize,
    p: usize,
    b: &[f64],
    w: usize,
    c: &mut [f64],
    pack: &mut Vec<f64>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { matmul_avx512(a, lda, m, p, b, w, c, pack) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { matmul_avx2(a, lda, m, p, b, w, c, pack) };
        }
    }
    matmul_generic::<false>(a, lda, m, p, b, w, c, pack)
}

/// [`matmul_generic`] with AVX-512F and fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[allow(clippy::too_many_arguments)]
fn matmul_avx512(
    a: &[f64],
    lda: usize,
    m: usize,
    p: usize,
    b: &[f64],
    w: usize,
    c: &mut [f64],
    pack: &mut Vec<f64>,
) {
    matmul_generic::<true>(a, lda, m, p, b, w, c, pack)
}

/// [`matmul_generic`] with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
fn matmul_avx2(
    a: &[f64],
    lda: usize,
    m: usize,
    p: usize,
    b: &[f64],
    w: usize,
    c: &mut [f64],
    pack: &mut Vec<f64>,
) {
    matmul_generic::<false>(a, lda, m, p, b, w, c, pack)
}

/// The product, `ROWS` rows × `WIDTH` columns of accumulators at a time; each block of A rows
/// is first packed q-major (`ROWS` values per q, zeros past row m). `FMA`: fused
/// multiply-adds (only where the CPU has them: elsewhere `mul_add` is a slow library call).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn matmul_generic<const FMA: bool>(
    a: &[f64],
    lda: usize,
    m: usize,
    p: usize,
    b: &[f64],
    w: usize,
    c: &mut [f64],
    pack: &mut Vec<f64>,
) {
    pack.clear();
    pack.resize(p * ROWS, 0.0);
    for i0 in (0..m).step_by(ROWS) {
        let rows = ROWS.min(m - i0);
        for r in 0..ROWS {
            if r < rows {
                let src = &a[(i0 + r) * lda..][..p];
                for (q, &v) in src.iter().enumerate() {
                    pack[q * ROWS + r] = v;
                }
            } else {
                for q in 0..p {
                    pack[q * ROWS + r] = 0.0;
                }
            }
        }
        let (at, _) = pack.as_chunks::<ROWS>();
        for (jb, panel) in b.chunks_exact(p * WIDTH).take(w / WIDTH).enumerate() {
            let (bt, _) = panel.as_chunks::<WIDTH>();
            let mut acc = [[0.0f64; WIDTH]; ROWS];
            for (aq, bq) in at.iter().zip(bt) {
                for r in 0..ROWS {
                    for l in 0..WIDTH {
                        acc[r][l] = if FMA {
                            aq[r].mul_add(bq[l], acc[r][l])
                        } else {
                            acc[r][l] + aq[r] * bq[l]
                        };
                    }
                }
            }
            for (r, acc_r) in acc.iter().take(rows).enumerate() {
                c[(i0 + r) * w + jb * WIDTH..][..WIDTH].copy_from_slice(acc_r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_matches_direct_sums_in_the_dispatched_and_baseline_variants() {
        for (m, p, w) in [(21, 11, 16), (8, 3, 8), (5, 24, 72), (129, 65, 24)] {
            let lda = p + 3;
            let a: Vec<f64> = (0..m * lda)
                .map(|i| ((i * 37) % 101) as f64 / 7.0 - 5.0)
                .collect();
            let b: Vec<f64> = (0..p * w)
                .map(|i| ((i * 53) % 97) as f64 / 11.0 - 4.0)
                .collect();
            let bp = panels(p, w, |q, j| b[q * w + j]);
            let mut pack = Vec::new();
            let mut c = vec![f64::NAN; m * w];
            matmul(&a, lda, m, p, &bp, w, &mut c, &mut pack);
            let mut g = vec![f64::NAN; m * w];
            matmul_generic::<false>(&a, lda, m, p, &bp, w, &mut g, &mut pack);
            for i in 0..m {
                for j in 0..w {
                    let s: f64 = (0..p).map(|q| a[i * lda + q] * b[q * w + j]).sum();
                    assert!((s - c[i * w + j]).abs() <= 1e-12 * (1.0 + s.abs()));
                    assert!((s - g[i * w + j]).abs() <= 1e-12 * (1.0 + s.abs()));
                }
            }
        }
    }
}
