//! The flux-constrained entropy prox of MEM_GE (`shared/docs/stix-imaging.md` E.3): the
//! per-pixel root `c − y + a·ln(c/m) = 0` and the Dykstra loop with the flux hyperplane.
//!
//! The Dykstra alternation of E.3 between the hyperplane projection and the entropy prox
//! keeps a uniform shift: its k-th entropy-prox argument is exactly `z + μ_k` with the scalar
//! `μ_{k+1} = μ_k + (f − Σx_k)/N_pix`, `μ_1 = (f − Σz)/N_pix` (the projection auxiliary is
//! −μ_k on every pixel, and the prox auxiliary telescopes to `z + μ_k − x_k`). So each round
//! is one sweep of the per-pixel prox at `z + μ`, with no auxiliary images.
//!
//! The sweep solves 8 pixels in lock step with branch-free code (two Halley steps from the
//! warm start, a polynomial exponential), which the compiler vectorises; a lane that is cold,
//! far from its previous root or not converged after the two steps is redone by the scalar
//! solver [`prox_entropy_pixel`] from its previous state, so every pixel meets the scalar
//! solver's stopping rule.

use rayon::prelude::*;

/// Per-pixel state of the entropy prox: the last input y and its solution (ln c, c).
#[derive(Debug, Clone, Copy)]
pub(super) struct PixelState {
    pub(super) y: f64,
    pub(super) t: f64,
    pub(super) c: f64,
}

#[cfg(test)]
impl PixelState {
    pub(super) const COLD: PixelState = PixelState {
        y: f64::NAN,
        t: f64::NAN,
        c: f64::NAN,
    };
}

/// e^d: the degree-7 Taylor polynomial for |d| < 0.1 (truncation < 3e−13 relative), else
/// the library exponential.
#[inline(always)]
fn exp_near(d: f64) -> f64 {
    if d.abs() < 0.1 {
        1.0 + d
            * (1.0
                + d * (0.5
                    + d * (1.0 / 6.0
                        + d * (1.0 / 24.0
                            + d * (1.0 / 120.0 + d * (1.0 / 720.0 + d * (1.0 / 5040.0)))))))
    } else {
        d.exp()
    }
}

/// Largest |argument| of [`exp_lanes`] (the result stays a normal number).
const EXP_ARG_MAX: f64 = 700.0;

/// Pixels solved in lock step.
const LANES: usize = 32;

/// Lane vector.
type Lanes = [f64; LANES];

/// e^x per lane for |x| ≤ [`EXP_ARG_MAX`], branch-free and lane-innermost so that it
/// vectorises with independent chains: x = k·ln 2 + r with |r| ≤ ln2/2 (Cody–Waite split of
/// ln 2), e^r by its degree-12 Taylor polynomial (truncation < 2e−16 relative), 2^k built in
/// the exponent bits. Arguments outside the range are clamped (callers reject those lanes).
#[inline(always)]
fn exp_lanes(x: &Lanes) -> Lanes {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // 1.5·2^52: adding it rounds to an integer held in the low mantissa bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let (mut r, mut kt) = ([0.0; LANES], [0.0; LANES]);
    for l in 0..LANES {
        let xl = x[l].clamp(-EXP_ARG_MAX, EXP_ARG_MAX);
        kt[l] = xl * std::f64::consts::LOG2_E + SHIFTER;
        let k = kt[l] - SHIFTER;
        r[l] = (xl - k * LN2_HI) - k * LN2_LO;
    }
    let mut p = [1.0 / 479_001_600.0; LANES];
    for d in [
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        for l in 0..LANES {
            p[l] = p[l] * r[l] + 1.0 / d;
        }
    }
    for l in 0..LANES {
        p[l] *= f64::from_bits(kt[l].to_bits().wrapping_add(1023) << 52);
    }
    p
}

/// Largest |argument| of [`exp_small_lanes`].
const EXP_SMALL_MAX: f64 = 0.02;

/// e^d per lane for |d| ≤ [`EXP_SMALL_MAX`]: degree-6 Taylor polynomial (truncation
/// < 3e−16 relative). Larger arguments give a wrong value: callers reject those lanes.
#[inline(always)]
fn exp_small_lanes(d: &Lanes) -> Lanes {
    let mut p = [1.0 / 720.0; LANES];
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        for l in 0..LANES {
            p[l] = p[l] * d[l] + c;
        }
    }
    p
}

/// Per-pixel entropy prox: solves `c − y + a·ln(c/m) = 0` for c > 0 by Newton's method in
/// t = ln c. f(t) = eᵗ + a·t − (y + a ln m) is convex and increasing, so Newton converges from
/// any start (monotonically after the first step). Warm start: the previous solution moved by
/// the exact first Newton step for the changed y, (y − y_prev)/(c_prev + a), capped by an
/// analytic upper bound of the root after a big move to the right. The exponential
/// is carried along with t (c ← c·e^{Δt}, [`exp_near`]), so the small moves of a warm start
/// need no library exponential. Steps are Halley's (cubic convergence; Newton's where
/// Halley's denominator degenerates far right of the root), stopping once the error left
/// after a step is below ≈1e−9 (step ≤ 1e−3 for Halley, ≤ 3e−5 for Newton).
pub(super) fn prox_entropy_pixel(y: f64, a: f64, ln_m: f64, st: &mut PixelState) -> f64 {
    let target = y + a * ln_m;
    // Upper bounds of the root: c ≤ max(y, m) and c ≤ m·exp(y/a).
    let upper = || (y.max(ln_m.exp())).ln().min(ln_m + y / a);
    let (t, e) = if st.t.is_finite() {
        let dt = (y - st.y) / (st.c + a);
        if dt <= 1.0 {
            (st.t + dt, st.c * exp_near(dt))
        } else {
            // A big move to the right: the Newton step from the old root is an upper bound
            // too, but far right of the root Newton gains only ≈1 in t per step, so start
            // from the smaller bound.
            let t0 = upper().min(st.t + dt);
            (t0, t0.exp())
        }
    } else {
        let t0 = upper();
        (t0, t0.exp())
    };
    let (t, e) = halley_from(target, a, t, e);
    *st = PixelState { y, t, c: e };
    e
}

/// The Halley iteration of [`prox_entropy_pixel`] for `eᵗ + a t = target` from (t, e = eᵗ).
fn halley_from(target: f64, a: f64, mut t: f64, mut e: f64) -> (f64, f64) {
    for _ in 0..200 {
        // Halley step (cubic convergence): f = eᵗ + a t − K, f′ = eᵗ + a, f″ = eᵗ.
        let f = e + a * t - target;
        let d1 = e + a;
        let den = 2.0 * d1 * d1 - f * e;
        // Far right of the root Halley's denominator degenerates: take the Newton step there.
        let halley = den > d1 * d1;
        let step = if halley { 2.0 * f * d1 / den } else { f / d1 };
        t -= step;
        e *= exp_near(-step);
        // Error after the step: O(step³) for Halley, O(step²) for Newton; both < 1e−9 here.
        if step.abs() <= if halley { 1e-3 } else { 3e-5 } {
            break;
        }
    }
    (t, e)
}

/// Pixels per rayon task (a multiple of [`LANES`]).
const CHUNK: usize = 1024;

/// Range of warm-start moves Δt the lock-step path accepts (the scalar solver's uncapped
/// warm start; beyond it the scalar solver takes the pixel).
const LANE_DT_RANGE: (f64, f64) = (-50.0, 1.0);

/// The entropy prox of `LANES` pixels at `y` in lock step: the scalar solver's warm start
/// and two of its steps, without branches, every operation lane-innermost; e = eᵗ is
/// recomputed in full after the warm start and the first step, and carried by the short
/// exponential over the second (small) step. Returns, per lane, whether a step met the scalar
/// stopping rule (then `t`, `e` hold the root; false for second steps too large for the short
/// exponential or t outside the range of [`exp_lanes`]), and whether the lane was warm and
/// near (else the lane is left to the scalar solver from its previous state).
#[inline(always)]
fn lanes_two_steps(
    y: &Lanes,
    a: f64,
    ln_m: f64,
    st: [&Lanes; 3],
    t: &mut Lanes,
    e: &mut Lanes,
) -> ([bool; LANES], [bool; LANES]) {
    let [st_y, st_t, st_c] = st;
    let mut ok = [true; LANES];
    let mut near = [false; LANES];
    for l in 0..LANES {
        let dt = (y[l] - st_y[l]) / (st_c[l] + a);
        t[l] = st_t[l] + dt;
        // NaN (cold lane) fails this test.
        near[l] = dt >= LANE_DT_RANGE.0 && dt <= LANE_DT_RANGE.1 && t[l].abs() <= EXP_ARG_MAX;
    }
    *e = exp_lanes(t);
    let mut converged = [false; LANES];
    let mut step = [0.0; LANES];
    for first in [true, false] {
        for l in 0..LANES {
            let target = y[l] + a * ln_m;
            let f = e[l] + a * t[l] - target;
            let d1 = e[l] + a;
            let den = 2.0 * d1 * d1 - f * e[l];
            let halley = den > d1 * d1;
            let s = if halley { 2.0 * f * d1 / den } else { f / d1 };
            step[l] = -s;
            t[l] -= s;
            let tol = if halley { 1e-3 } else { 3e-5 };
            // Once a step met the rule, later steps only refine.
            converged[l] |= s.abs() <= tol;
        }
        if first {
            // The first step may be large (after a far warm start): full exponential.
            *e = exp_lanes(t);
            for l in 0..LANES {
                ok[l] &= t[l].abs() <= EXP_ARG_MAX;
            }
        } else {
            let g = exp_small_lanes(&step);
            for l in 0..LANES {
                e[l] *= g[l];
                ok[l] &= step[l].abs() <= EXP_SMALL_MAX;
            }
        }
    }
    for l in 0..LANES {
        ok[l] &= converged[l] && near[l];
    }
    (ok, near)
}

/// [`sweep_chunk`] compiled for the widest vector unit the CPU has (AVX-512, AVX2, else the
/// baseline). The code has no fused multiply-adds and no reassociation, so every variant
/// gives bit-identical results.
fn sweep_chunk_dispatch(
    z: &[f64],
    mu: f64,
    a: f64,
    ln_m: f64,
    out: &mut [f64],
    state: [&mut [f64]; 3],
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { sweep_chunk_avx512(z, mu, a, ln_m, out, state) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { sweep_chunk_avx2(z, mu, a, ln_m, out, state) };
        }
    }
    sweep_chunk(z, mu, a, ln_m, out, state)
}

/// [`sweep_chunk`] with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sweep_chunk_avx512(
    z: &[f64],
    mu: f64,
    a: f64,
    ln_m: f64,
    out: &mut [f64],
    state: [&mut [f64]; 3],
) -> f64 {
    sweep_chunk(z, mu, a, ln_m, out, state)
}

/// [`sweep_chunk`] with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sweep_chunk_avx2(
    z: &[f64],
    mu: f64,
    a: f64,
    ln_m: f64,
    out: &mut [f64],
    state: [&mut [f64]; 3],
) -> f64 {
    sweep_chunk(z, mu, a, ln_m, out, state)
}

/// One sweep over a chunk: `out = prox(z + mu)` with the state (y, ln c, c per pixel)
/// updated; returns Σ out.
#[inline(always)]
fn sweep_chunk(
    z: &[f64],
    mu: f64,
    a: f64,
    ln_m: f64,
    out: &mut [f64],
    state: [&mut [f64]; 3],
) -> f64 {
    let [st_y, st_t, st_c] = state;
    let mut sum = 0.0;
    let (zc, z_tail) = z.as_chunks::<LANES>();
    let (oc, o_tail) = out.as_chunks_mut::<LANES>();
    let (yc, y_tail) = st_y.as_chunks_mut::<LANES>();
    let (tc, t_tail) = st_t.as_chunks_mut::<LANES>();
    let (cc, c_tail) = st_c.as_chunks_mut::<LANES>();
    for ((((zl, ol), yl), tl), cl) in zc.iter().zip(oc).zip(yc).zip(tc).zip(cc) {
        let mut y = [0.0; LANES];
        for l in 0..LANES {
            y[l] = zl[l] + mu;
        }
        let (mut t, mut e) = ([0.0; LANES], [0.0; LANES]);
        let (ok, near) = lanes_two_steps(&y, a, ln_m, [yl, tl, cl], &mut t, &mut e);
        for l in 0..LANES {
            if ok[l] {
                continue;
            }
            if near[l] {
                // Not converged in two steps: continue the scalar iteration from here.
                (t[l], e[l]) = halley_from(y[l] + a * ln_m, a, t[l], t[l].exp());
            } else {
                let mut st = PixelState {
                    y: yl[l],
                    t: tl[l],
                    c: cl[l],
                };
                prox_entropy_pixel(y[l], a, ln_m, &mut st);
                t[l] = st.t;
                e[l] = st.c;
            }
        }
        *ol = e;
        *yl = y;
        *tl = t;
        *cl = e;
        for v in e {
            sum += v;
        }
    }
    // The tail (fewer than LANES pixels) by the scalar solver.
    for ((((&zi, oi), yi), ti), ci) in z_tail
        .iter()
        .zip(o_tail)
        .zip(y_tail)
        .zip(t_tail)
        .zip(c_tail)
    {
        let mut st = PixelState {
            y: *yi,
            t: *ti,
            c: *ci,
        };
        *oi = prox_entropy_pixel(zi + mu, a, ln_m, &mut st);
        *yi = st.y;
        *ti = st.t;
        *ci = st.c;
        sum += *oi;
    }
    sum
}

/// Buffers of [`prox`]: the per-pixel warm-start state of the entropy prox.
pub(super) struct ProxWork {
    /// Last input y of the entropy prox per pixel.
    st_y: Vec<f64>,
    /// Its solution ln c (NaN before the first call).
    pub(super) st_t: Vec<f64>,
    /// Its solution c.
    st_c: Vec<f64>,
    /// Σ of each chunk of the last sweep (summed in order: the same on any thread count).
    sums: Vec<f64>,
}

impl ProxWork {
    pub(super) fn new(npix: usize) -> Self {
        Self {
            st_y: vec![0.0; npix],
            st_t: vec![f64::NAN; npix],
            st_c: vec![0.0; npix],
            sums: vec![0.0; npix.div_ceil(CHUNK)],
        }
    }

    /// One sweep `out = prox(z + mu)`, chunks in parallel; returns Σ out.
    fn sweep(&mut self, z: &[f64], mu: f64, a: f64, ln_m: f64, out: &mut [f64]) -> f64 {
        (
            z.par_chunks(CHUNK),
            out.par_chunks_mut(CHUNK),
            self.st_y.par_chunks_mut(CHUNK),
            self.st_t.par_chunks_mut(CHUNK),
            self.st_c.par_chunks_mut(CHUNK),
            self.sums.par_iter_mut(),
        )
            .into_par_iter()
            .for_each(|(z, out, sy, st, sc, sum)| {
                *sum = sweep_chunk_dispatch(z, mu, a, ln_m, out, [sy, st, sc]);
            });
        self.sums.iter().sum()
    }
}

/// Proximal operator of `a·H` restricted to the flux hyperplane Σx = f (the Dykstra
/// alternation of E.3 in its scalar-shift form, see the module doc) of `z` into `out`, until
/// |Σx − f| ≤ 1 % of f or 250 rounds. Returns the number of rounds used.
pub(super) fn prox(z: &[f64], f: f64, a: f64, ln_m: f64, out: &mut [f64], w: &mut ProxWork) -> u32 {
    let npix = z.len() as f64;
    let mut mu = (f - z.iter().sum::<f64>()) / npix;
    let mut rounds = 0;
    for i in 0..250 {
        rounds = i + 1;
        let sum = w.sweep(z, mu, a, ln_m, out);
        if (sum - f).abs() <= 0.01 * f {
            break;
        }
        mu += (f - sum) / npix;
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_prox_solves_its_equation() {
        let (a, m) = (0.7, 0.02f64);
        for y in [-5.0, -0.1, 0.0, 0.01, 0.5, 3.0, 200.0] {
            let mut s = PixelState::COLD;
            let c = prox_entropy_pixel(y, a, m.ln(), &mut s);
            let resid = c - y + a * (c / m).ln();
            assert!(
                c > 0.0 && resid.abs() < 1e-7 * (1.0 + y.abs()),
                "y={y} c={c} r={resid}"
            );
            // Warm start from the solution for a far-away y gives the same root.
            for other in [y - 40.0, y + 3.0, y + 300.0] {
                let mut s2 = PixelState::COLD;
                prox_entropy_pixel(other, a, m.ln(), &mut s2);
                let c2 = prox_entropy_pixel(y, a, m.ln(), &mut s2);
                assert!(
                    (c - c2).abs() < 1e-7 * (1.0 + c),
                    "{y} from {other}: {c} {c2}"
                );
            }
        }
    }

    #[test]
    fn polynomial_exps_match_the_library() {
        let exp1 = |x: f64| exp_lanes(&[x; LANES])[LANES - 1];
        let mut x = -EXP_ARG_MAX;
        while x <= EXP_ARG_MAX {
            let (p, l) = (exp1(x), x.exp());
            assert!((p - l).abs() <= 4.0 * f64::EPSILON * l, "{x}: {p} {l}");
            x += 0.0137;
        }
        for x in [0.0, 1e-300, -1e-12, 0.5 * std::f64::consts::LN_2] {
            assert!((exp1(x) - x.exp()).abs() <= 2.0 * f64::EPSILON * x.exp());
        }
        let mut d = -EXP_SMALL_MAX;
        while d <= EXP_SMALL_MAX {
            let (p, l) = (exp_small_lanes(&[d; LANES])[0], d.exp());
            assert!((p - l).abs() <= 2.0 * f64::EPSILON * l, "{d}: {p} {l}");
            d += 1.3e-4;
        }
    }

    /// The lock-step sweep against the scalar solver pixel by pixel, over warm starts near
    /// and far (cold pixels, big jumps, a tail shorter than a lane group).
    #[test]
    fn lock_step_sweep_matches_the_scalar_solver() {
        let (a, ln_m) = (0.35, (0.05f64).ln());
        let npix = 3 * CHUNK + 13;
        let mut w = ProxWork::new(npix);
        let mut scalar = vec![PixelState::COLD; npix];
        let mut out = vec![0.0; npix];
        for round in 0..6 {
            let z: Vec<f64> = (0..npix)
                .map(|i| {
                    let s = ((i * 7919 + round * 104_729) % 1000) as f64 / 1000.0;
                    match (i + round) % 5 {
                        0 => 20.0 * s - 10.0,
                        1 => 0.01 * s,
                        2 => 300.0 * s,
                        _ => s - 0.5 + 0.001 * round as f64,
                    }
                })
                .collect();
            let mu = 0.01 * round as f64;
            let sum = w.sweep(&z, mu, a, ln_m, &mut out);
            let mut expect = 0.0;
            for i in 0..npix {
                let c = prox_entropy_pixel(z[i] + mu, a, ln_m, &mut scalar[i]);
                expect += c;
                let resid = c - (z[i] + mu) + a * (c.ln() - ln_m);
                assert!(resid.abs() < 1e-8 * (1.0 + c), "scalar {i}: {resid}");
                assert!(
                    (out[i] - c).abs() <= 1e-9 * c,
                    "round {round} pixel {i}: {} vs {c}",
                    out[i]
                );
                assert!((w.st_t[i] - c.ln()).abs() <= 1e-9 * (1.0 + c.ln().abs()));
            }
            assert!((sum - expect).abs() <= 1e-9 * expect);
        }
    }

    /// The variant compiled for this CPU's vector unit gives the same bits as the baseline.
    #[test]
    fn vector_variants_are_bit_identical() {
        let (a, ln_m) = (0.2, (0.01f64).ln());
        let n = 4 * LANES + 5;
        let z: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let mut st = [vec![0.0; n], vec![f64::NAN; n], vec![0.0; n]];
        let mut out = vec![0.0; n];
        let [y, t, c] = &mut st;
        sweep_chunk(&z, 0.0, a, ln_m, &mut out, [y, t, c]);
        let mut st2 = st.clone();
        let (mut o1, mut o2) = (vec![0.0; n], vec![0.0; n]);
        let [y, t, c] = &mut st;
        let s1 = sweep_chunk(&z, 0.05, a, ln_m, &mut o1, [y, t, c]);
        let [y, t, c] = &mut st2;
        let s2 = sweep_chunk_dispatch(&z, 0.05, a, ln_m, &mut o2, [y, t, c]);
        assert_eq!(s1.to_bits(), s2.to_bits());
        assert!(o1.iter().zip(&o2).all(|(p, q)| p.to_bits() == q.to_bits()));
        assert_eq!(st, st2);
    }
}
