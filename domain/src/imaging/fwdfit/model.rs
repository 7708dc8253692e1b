//! VIS_FWDFIT source models and their visibilities (`shared/docs/stix-imaging.md` E.5).
//!
//! Positions are offsets from the phase centre in the STIX frame. The fit variables (x′, y′)
//! live in a box aligned with the HPC axes; the STIX offset is
//! `x = cos r·x′ + sin r·y′`, `y = −sin r·x′ + cos r·y′` (r = roll), i.e. Δstx = R(−(90°+r))·Δhpc.
//!
//! - circle `[F, x′, y′, FWHM]`: `V = F·exp(−π²FWHM²|k|²/(4 ln 2))·e^{2πi(ux+vy)}`;
//! - ellipse `[F, x′, y′, FWHM, εcos, εsin]`: ecmsr = √(εcos²+εsin²), FWHM_max = FWHM·e^{ecmsr/2},
//!   FWHM_min = FWHM·e^{−ecmsr/2}, major axis at α = atan2(εsin, εcos) counter-clockwise from
//!   STIX +x;
//! - loop `[F, x′, y′, FWHM, εcos, εsin, loop angle]`: the ellipse bent along a circular arc
//!   turning by the loop angle, drawn as binomially weighted circles of FWHM_min (21
//!   binomial weights, those below 1 % dropped and the rest renormalised) spaced so that the
//!   straight chain has the ellipse's second moment along the major axis; the flux-weighted
//!   centroid of the chain is at (x, y). (E.5 only outlines the GSW loop; this is our own
//!   construction with the same parameters.)

use std::f64::consts::{LN_2, PI, TAU};

/// `π²/(4 ln 2)`: Gaussian visibility exponent per FWHM²·|k|².
pub const GAUSS_K: f64 = PI * PI / (4.0 * LN_2);
/// FWHM = σ·2√(2 ln 2).
pub const FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949;

/// Number of fit parameters of one source of each kind.
pub const CIRCLE_PARAMS: usize = 4;
/// Parameters of an ellipse.
pub const ELLIPSE_PARAMS: usize = 6;
/// Parameters of a loop.
pub const LOOP_PARAMS: usize = 7;

/// A source in STIX-frame terms, as evaluated by the models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    /// Flux.
    pub flux: f64,
    /// STIX-frame offset, arcsec.
    pub x: f64,
    /// STIX-frame offset, arcsec.
    pub y: f64,
    /// FWHM along the major axis, arcsec.
    pub fwhm_major: f64,
    /// FWHM along the minor axis, arcsec.
    pub fwhm_minor: f64,
    /// Major-axis angle, radians counter-clockwise from STIX +x.
    pub angle_rad: f64,
}

/// Eccentricity variables → (FWHM_max, FWHM_min, α).
pub fn ellipse_axes(fwhm: f64, ecos: f64, esin: f64) -> (f64, f64, f64) {
    let ecmsr = ecos.hypot(esin);
    let f = (ecmsr / 2.0).exp();
    (fwhm * f, fwhm / f, esin.atan2(ecos))
}

/// The relative weights and along/across-axis positions (in units where the chain's
/// spacing is `spacing`) of the loop's circles, before rotation.
pub fn loop_chain(fwhm_major: f64, fwhm_minor: f64, loop_angle_rad: f64) -> Vec<(f64, f64, f64)> {
    // 21 binomial weights C(20, i)/2²⁰, keep ≥ 1 %.
    let mut w = [1.0f64; 21];
    for i in 1..21 {
        w[i] = w[i - 1] * (21 - i) as f64 / i as f64;
    }
    let total: f64 = w.iter().sum();
    let kept: Vec<(f64, f64)> = w
        .iter()
        .enumerate()
        .map(|(i, &x)| (i as f64 - 10.0, x / total))
        .filter(|(_, x)| *x >= 0.01)
        .collect();
    let norm: f64 = kept.iter().map(|(_, x)| x).sum();
    let var: f64 = kept.iter().map(|(i, x)| i * i * x / norm).sum();
    let s_maj = fwhm_major / FWHM_PER_SIGMA;
    let s_min = fwhm_minor / FWHM_PER_SIGMA;
    let spacing = ((s_maj * s_maj - s_min * s_min).max(0.0) / var).sqrt();
    let span = kept.last().map_or(0.0, |(i, _)| *i) - kept.first().map_or(0.0, |(i, _)| *i);
    let kappa = if span > 0.0 && spacing > 0.0 {
        loop_angle_rad / (span * spacing)
    } else {
        0.0
    };
    let mut pts: Vec<(f64, f64, f64)> = kept
        .iter()
        .map(|&(i, x)| {
            let s = i * spacing;
            let (a, b) = if kappa.abs() < 1e-12 {
                (s, 0.0)
            } else {
                ((kappa * s).sin() / kappa, (1.0 - (kappa * s).cos()) / kappa)
            };
            (x / norm, a, b)
        })
        .collect();
    let cb: f64 = pts.iter().map(|(w, _, b)| w * b).sum();
    for p in &mut pts {
        p.2 -= cb;
    }
    pts
}

/// (sin θ, cos θ) for |θ| up to ~1e5 rad, inlined for the fit's inner loop (the library
/// `sin_cos` call dominated VIS_FWDFIT). θ = k·π/2 + r with |r| ≤ π/4 (Cody–Waite with the
/// fdlibm two-part π/2), sin r and cos r by Taylor polynomials to r¹⁵ and r¹⁴ (truncation
/// < 2e−15), the quadrant k mod 4 selecting and signing them. Absolute error ≲ 1e−15·(1+|θ|/π).
#[inline(always)]
pub fn fast_sin_cos(theta: f64) -> (f64, f64) {
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    const PIO2_HI: f64 = 1.570_796_326_734_125_6;
    const PIO2_LO: f64 = 6.077_100_506_506_192e-11;
    let kf = (theta * std::f64::consts::FRAC_2_PI + SHIFTER) - SHIFTER;
    let r = (theta - kf * PIO2_HI) - kf * PIO2_LO;
    let r2 = r * r;
    let sin_r = r + r
        * r2
        * (-1.0 / 6.0
            + r2 * (1.0 / 120.0
                + r2 * (-1.0 / 5_040.0
                    + r2 * (1.0 / 362_880.0
                        + r2 * (-1.0 / 39_916_800.0
                            + r2 * (1.0 / 6_227_020_800.0 + r2 * (-1.0 / 1_307_674_368_000.0)))))));
    let cos_r = 1.0
        + r2 * (-0.5
            + r2 * (1.0 / 24.0
                + r2 * (-1.0 / 720.0
                    + r2 * (1.0 / 40_320.0
                        + r2 * (-1.0 / 3_628_800.0
                            + r2 * (1.0 / 479_001_600.0 + r2 * (-1.0 / 87_178_291_200.0)))))));
    let q = (kf as i64) & 3;
    let (s, c) = if q & 1 == 1 {
        (cos_r, sin_r)
    } else {
        (sin_r, cos_r)
    };
    let s = if q & 2 == 2 { -s } else { s };
    let c = if (q + 1) & 2 == 2 { -c } else { c };
    (s, c)
}

/// Visibility of one elliptical Gaussian at (u, v) as (Re, Im).
#[inline]
pub fn gaussian_vis(g: &Gaussian, u: f64, v: f64) -> (f64, f64) {
    let (sa, ca) = g.angle_rad.sin_cos();
    let up = u * ca + v * sa;
    let vp = -u * sa + v * ca;
    let amp =
        g.flux * (-GAUSS_K * ((up * g.fwhm_major).powi(2) + (vp * g.fwhm_minor).powi(2))).exp();
    let (s, c) = fast_sin_cos(TAU * (u * g.x + v * g.y));
    (amp * c, amp * s)
}

/// Value per arcsec² of an elliptical Gaussian at an offset (x, y).
#[inline]
pub fn gaussian_brightness(g: &Gaussian, x: f64, y: f64) -> f64 {
    let sa_ = g.fwhm_major / FWHM_PER_SIGMA;
    let sb_ = g.fwhm_minor / FWHM_PER_SIGMA;
    if sa_ <= 0.0 || sb_ <= 0.0 {
        return 0.0;
    }
    let (s, c) = g.angle_rad.sin_cos();
    let (dx, dy) = (x - g.x, y - g.y);
    let a = dx * c + dy * s;
    let b = -dx * s + dy * c;
    g.flux / (TAU * sa_ * sb_) * (-0.5 * (a * a / (sa_ * sa_) + b * b / (sb_ * sb_))).exp()
}

/// The circles of a loop source as Gaussians in the STIX frame.
pub fn loop_gaussians(g: &Gaussian, loop_angle_rad: f64) -> Vec<Gaussian> {
    let (s, c) = g.angle_rad.sin_cos();
    loop_chain(g.fwhm_major, g.fwhm_minor, loop_angle_rad)
        .into_iter()
        .map(|(w, a, b)| Gaussian {
            flux: g.flux * w,
            x: g.x + a * c - b * s,
            y: g.y + a * s + b * c,
            fwhm_major: g.fwhm_minor,
            fwhm_minor: g.fwhm_minor,
            angle_rad: 0.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic visibility of a Gaussian against a direct sum over a fine image.
    #[test]
    fn gaussian_visibility_matches_direct_transform() {
        let g = Gaussian {
            flux: 7.0,
            x: 6.0,
            y: -4.0,
            fwhm_major: 18.0,
            fwhm_minor: 9.0,
            angle_rad: 0.6,
        };
        let (u, v) = (0.012, -0.02);
        let (re, im) = gaussian_vis(&g, u, v);
        let (mut r, mut i) = (0.0, 0.0);
        let step = 0.5;
        for iy in -200..=200 {
            for ix in -200..=200 {
                let (x, y) = (ix as f64 * step, iy as f64 * step);
                let b = gaussian_brightness(&g, x, y) * step * step;
                let ph = TAU * (u * x + v * y);
                r += b * ph.cos();
                i += b * ph.sin();
            }
        }
        assert!((r - re).abs() < 1e-6 * 7.0, "{r} {re}");
        assert!((i - im).abs() < 1e-6 * 7.0, "{i} {im}");
    }

    #[test]
    fn fast_sin_cos_matches_libm() {
        let mut t = -2000.0;
        while t <= 2000.0 {
            let (s, c) = fast_sin_cos(t);
            let (s0, c0) = t.sin_cos();
            let tol = 1e-15 * (4.0 + t.abs());
            assert!(
                (s - s0).abs() <= tol && (c - c0).abs() <= tol,
                "{t}: {s} {s0} {c} {c0}"
            );
            t += 0.0137;
        }
        for t in [
            0.0,
            1e-300,
            -0.0,
            std::f64::consts::FRAC_PI_4,
            3.0 * std::f64::consts::FRAC_PI_2,
        ] {
            let (s, c) = fast_sin_cos(t);
            assert!((s - t.sin()).abs() < 1e-15 && (c - t.cos()).abs() < 1e-15);
        }
    }

    #[test]
    fn straight_loop_has_the_ellipse_second_moment() {
        let chain = loop_chain(30.0, 10.0, 0.0);
        let w: f64 = chain.iter().map(|c| c.0).sum();
        let m2: f64 = chain.iter().map(|c| c.0 * c.1 * c.1).sum();
        let s_maj = 30.0 / FWHM_PER_SIGMA;
        let s_min = 10.0 / FWHM_PER_SIGMA;
        assert!((w - 1.0).abs() < 1e-12);
        assert!((m2 + s_min * s_min - s_maj * s_maj).abs() < 1e-9);
        assert!(chain.len() <= 21 && chain.len() >= 5);
    }
}
