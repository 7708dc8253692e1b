//! VIS_FWDFIT with particle-swarm optimisation (`shared/docs/stix-imaging.md` E.5, after GSW
//! `vis_fwdfit_pso.pro`).
//!
//! Minimises `χ²_red = Σ_{Re,Im}(V_model − V_obs)²/σ² / (2N_vis − N_par)` (N_par counts 8 per
//! loop as the GSW does) with [`pso`] inside the E.5 bounds (φ = max|V|): flux [0.1φ, 1.5φ],
//! x′, y′ ±100″ in an HPC-aligned box around the phase centre, FWHM [1, 100]″, εcos [−5, 5],
//! εsin [0, 1], loop angle [−180°, 180°]. Runs: 1 for a circle or ellipse, 5 for a loop, 20 for
//! several sources; the best is kept. Runs are independent (seeded by `seed` and the run
//! index) and run in parallel with rayon, so the result does not depend on the thread count.
//! With `uncertainty`, 20 refits on visibilities perturbed by σ give 1σ parameter spreads.

pub mod model;
pub mod pso;

use super::FittedSource;
use super::grid::ImageGrid;
use super::params::FwdfitShape;
use crate::visfile::Visibility;
use model::{Gaussian, gaussian_brightness, loop_gaussians};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::f64::consts::TAU;

/// Why VIS_FWDFIT could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FwdfitError {
    /// Fewer data than parameters.
    #[error("{n_vis} visibilities cannot constrain {n_par} parameters (need 2·N_vis > N_par)")]
    TooFewVisibilities {
        /// Visibilities given.
        n_vis: usize,
        /// Parameters of the model.
        n_par: usize,
    },
    /// All amplitudes are zero.
    #[error("all visibility amplitudes are zero")]
    NoSignal,
    /// `Auto` must be resolved before fitting.
    #[error("the FWDFIT shape 'auto' must be resolved from the energy band before fitting")]
    UnresolvedShape,
    /// A value is not finite.
    #[error("non-finite visibility, error or roll angle")]
    NonFinite,
}

impl FwdfitError {
    /// True when the input is at fault.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, FwdfitError::UnresolvedShape)
    }
}

/// What to fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FwdfitOptions {
    /// Source model (not `Auto`).
    pub shape: FwdfitShape,
    /// Number of circles for `Multi`.
    pub sources: usize,
    /// Estimate uncertainties from 20 perturbed refits.
    pub uncertainty: bool,
    /// PSO seed.
    pub seed: u64,
    /// Spacecraft roll, degrees (orients the HPC-aligned position box).
    pub roll_deg: f64,
}

/// Result of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitResult {
    /// Fitted sources (for `multi`, sorted by decreasing flux).
    pub sources: Vec<FittedSource>,
    /// Reduced χ² of the best run.
    pub chi2_reduced: f64,
    /// PSO runs made.
    pub runs: usize,
    /// Iterations of the best run.
    pub iterations: usize,
    /// Number of fit parameters.
    pub n_parameters: usize,
    /// The best parameter vector (fit variables, HPC-aligned box).
    pub best: Vec<f64>,
}

/// The fit problem: data, bounds and the model layout.
#[derive(Debug, Clone)]
pub struct Problem {
    tu: Vec<f64>,
    tv: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    k2: Vec<f64>,
    re: Vec<f64>,
    im: Vec<f64>,
    w: Vec<f64>,
    cos_r: f64,
    sin_r: f64,
    shape: FwdfitShape,
    n_src: usize,
    dof: f64,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl Problem {
    /// Sets up the problem for `vis` (checks the data).
    pub fn new(vis: &[Visibility], options: &FwdfitOptions) -> Result<Self, FwdfitError> {
        if vis.iter().any(|v| !v.is_usable()) || !options.roll_deg.is_finite() {
            return Err(FwdfitError::NonFinite);
        }
        let (n_src, per, counted) = match options.shape {
            FwdfitShape::Auto => return Err(FwdfitError::UnresolvedShape),
            FwdfitShape::Circle => (1, model::CIRCLE_PARAMS, model::CIRCLE_PARAMS),
            FwdfitShape::Ellipse => (1, model::ELLIPSE_PARAMS, model::ELLIPSE_PARAMS),
            FwdfitShape::Loop => (1, model::LOOP_PARAMS, 8),
            FwdfitShape::Multi => (options.sources.max(1), model::CIRCLE_PARAMS, 4),
        };
        let n_par = n_src * per;
        let dof = 2 * vis.len() as i64 - (n_src * counted) as i64;
        if dof <= 0 {
            return Err(FwdfitError::TooFewVisibilities {
                n_vis: vis.len(),
                n_par,
            });
        }
        let phi = vis.iter().map(Visibility::amplitude).fold(0.0, f64::max);
        if phi <= 0.0 {
            return Err(FwdfitError::NoSignal);
        }
        let mut lower = Vec::with_capacity(n_par);
        let mut upper = Vec::with_capacity(n_par);
        for _ in 0..n_src {
            lower.extend([0.1 * phi, -100.0, -100.0, 1.0]);
            upper.extend([1.5 * phi, 100.0, 100.0, 100.0]);
            if per >= model::ELLIPSE_PARAMS {
                lower.extend([-5.0, 0.0]);
                upper.extend([5.0, 1.0]);
            }
            if per == model::LOOP_PARAMS {
                lower.push(-180.0);
                upper.push(180.0);
            }
        }
        let (sin_r, cos_r) = options.roll_deg.to_radians().sin_cos();
        Ok(Self {
            tu: vis.iter().map(|v| TAU * v.u).collect(),
            tv: vis.iter().map(|v| TAU * v.v).collect(),
            u: vis.iter().map(|v| v.u).collect(),
            v: vis.iter().map(|v| v.v).collect(),
            k2: vis.iter().map(|v| v.u * v.u + v.v * v.v).collect(),
            re: vis.iter().map(|v| v.real).collect(),
            im: vis.iter().map(|v| v.imag).collect(),
            w: vis
                .iter()
                .map(|v| 1.0 / (v.amplitude_error * v.amplitude_error))
                .collect(),
            cos_r,
            sin_r,
            shape: options.shape,
            n_src,
            dof: dof as f64,
            lower,
            upper,
        })
    }

    /// Number of fit parameters.
    pub fn n_parameters(&self) -> usize {
        self.lower.len()
    }

    /// Lower and upper bounds of the fit variables.
    pub fn bounds(&self) -> (&[f64], &[f64]) {
        (&self.lower, &self.upper)
    }

    /// STIX-frame offset of the fit variables (x′, y′).
    pub fn stix_offset(&self, xp: f64, yp: f64) -> (f64, f64) {
        (
            self.cos_r * xp + self.sin_r * yp,
            -self.sin_r * xp + self.cos_r * yp,
        )
    }

    /// The sources of a parameter vector, with the loop angle in radians for loops.
    pub fn gaussians(&self, p: &[f64]) -> Vec<(Gaussian, Option<f64>)> {
        let per = self.n_parameters() / self.n_src;
        p.chunks(per)
            .map(|q| {
                let (x, y) = self.stix_offset(q[1], q[2]);
                let (maj, min, ang) = if per >= model::ELLIPSE_PARAMS {
                    model::ellipse_axes(q[3], q[4], q[5])
                } else {
                    (q[3], q[3], 0.0)
                };
                let g = Gaussian {
                    flux: q[0],
                    x,
                    y,
                    fwhm_major: maj,
                    fwhm_minor: min,
                    angle_rad: ang,
                };
                let loop_angle = (per == model::LOOP_PARAMS).then(|| q[6].to_radians());
                (g, loop_angle)
            })
            .collect()
    }

    /// Reduced χ² of parameters `p`; `buf` holds 2N model values (scratch).
    pub fn chi2_reduced(&self, p: &[f64], buf: &mut [f64]) -> f64 {
        let k = self.re.len();
        let (mre, mim) = buf.split_at_mut(k);
        mre.fill(0.0);
        mim.fill(0.0);
        match self.shape {
            FwdfitShape::Circle | FwdfitShape::Multi => {
                for q in p.chunks(model::CIRCLE_PARAMS) {
                    let (x, y) = self.stix_offset(q[1], q[2]);
                    let f2 = q[3] * q[3] * model::GAUSS_K;
                    for j in 0..k {
                        let amp = q[0] * (-f2 * self.k2[j]).exp();
                        let (s, c) = model::fast_sin_cos(self.tu[j] * x + self.tv[j] * y);
                        mre[j] += amp * c;
                        mim[j] += amp * s;
                    }
                }
            }
            _ => {
                for (g, loop_angle) in self.gaussians(p) {
                    let parts = match loop_angle {
                        Some(a) => loop_gaussians(&g, a),
                        None => vec![g],
                    };
                    for part in &parts {
                        for j in 0..k {
                            let (r, i) = model::gaussian_vis(part, self.u[j], self.v[j]);
                            mre[j] += r;
                            mim[j] += i;
                        }
                    }
                }
            }
        }
        let mut chi = 0.0;
        for j in 0..k {
            let dr = mre[j] - self.re[j];
            let di = mim[j] - self.im[j];
            chi += (dr * dr + di * di) * self.w[j];
        }
        chi / self.dof
    }

    /// Replaces the data by a perturbed copy (Re, Im + σ·N(0,1)).
    fn perturbed(&self, rng: &mut ChaCha8Rng) -> Self {
        let mut p = self.clone();
        for j in 0..p.re.len() {
            let sigma = 1.0 / p.w[j].sqrt();
            p.re[j] += sigma * normal(rng);
            p.im[j] += sigma * normal(rng);
        }
        p
    }

    /// Runs the PSO `runs` times (in parallel) and keeps the best.
    fn best_of(
        &self,
        runs: usize,
        seed: u64,
        cancel: crate::imaging::cancel::CancelCheck<'_>,
    ) -> pso::PsoResult {
        let settings = pso::PsoSettings::for_dim(self.n_parameters());
        let results: Vec<pso::PsoResult> = (0..runs)
            .into_par_iter()
            .map(|r| {
                let mut buf = vec![0.0; 2 * self.re.len()];
                pso::minimise_cancellable(
                    |p| self.chi2_reduced(p, &mut buf),
                    &self.lower,
                    &self.upper,
                    &settings,
                    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        .wrapping_add(r as u64),
                    cancel,
                )
            })
            .collect();
        let mut best: Option<pso::PsoResult> = None;
        for r in results {
            if best.as_ref().is_none_or(|b| r.value < b.value) {
                best = Some(r);
            }
        }
        best.unwrap_or(pso::PsoResult {
            best: self.lower.clone(),
            value: f64::INFINITY,
            iterations: 0,
        })
    }

    /// The fitted sources of `p` (multi: sorted by decreasing flux).
    pub fn sources(&self, p: &[f64]) -> Vec<FittedSource> {
        let mut out: Vec<FittedSource> = self
            .gaussians(p)
            .into_iter()
            .map(|(g, loop_angle)| {
                let ellipse = matches!(self.shape, FwdfitShape::Ellipse | FwdfitShape::Loop);
                let shape = match self.shape {
                    FwdfitShape::Ellipse => "ellipse",
                    FwdfitShape::Loop => "loop",
                    _ => "circle",
                };
                FittedSource {
                    shape: shape.to_string(),
                    flux: g.flux,
                    offset_arcsec: [g.x, g.y],
                    fwhm_arcsec: (g.fwhm_major * g.fwhm_minor).sqrt(),
                    fwhm_major_minor_arcsec: ellipse.then_some([g.fwhm_major, g.fwhm_minor]),
                    angle_deg: ellipse.then_some(g.angle_rad.to_degrees().rem_euclid(180.0)),
                    loop_angle_deg: loop_angle.map(f64::to_degrees),
                    uncertainties: None,
                }
            })
            .collect();
        if self.shape == FwdfitShape::Multi {
            out.sort_by(|a, b| b.flux.total_cmp(&a.flux));
        }
        out
    }
}

/// A standard normal deviate (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// Runs per shape (E.5).
pub fn runs_for(shape: FwdfitShape, sources: usize) -> usize {
    match shape {
        FwdfitShape::Loop => 5,
        FwdfitShape::Multi if sources > 1 => 20,
        _ => 1,
    }
}

/// Named scalar parameters of a source, for the uncertainty spread.
fn named(s: &FittedSource) -> Vec<(&'static str, f64)> {
    let mut v = vec![
        ("flux", s.flux),
        ("x_arcsec", s.offset_arcsec[0]),
        ("y_arcsec", s.offset_arcsec[1]),
        ("fwhm_arcsec", s.fwhm_arcsec),
    ];
    if let Some([a, b]) = s.fwhm_major_minor_arcsec {
        v.push(("fwhm_major_arcsec", a));
        v.push(("fwhm_minor_arcsec", b));
    }
    if let Some(a) = s.angle_deg {
        v.push(("angle_deg", a));
    }
    if let Some(a) = s.loop_angle_deg {
        v.push(("loop_angle_deg", a));
    }
    v
}

/// Fits `vis` (offsets relative to their phase centre).
pub fn fit(vis: &[Visibility], options: &FwdfitOptions) -> Result<FitResult, FwdfitError> {
    fit_cancellable(vis, options, &crate::imaging::cancel::never)
}

/// [`fit`], stopping every swarm early when `cancel` says so between iterations.
pub fn fit_cancellable(
    vis: &[Visibility],
    options: &FwdfitOptions,
    cancel: crate::imaging::cancel::CancelCheck<'_>,
) -> Result<FitResult, FwdfitError> {
    let problem = Problem::new(vis, options)?;
    let runs = runs_for(options.shape, options.sources);
    let best = problem.best_of(runs, options.seed, cancel);
    let mut sources = problem.sources(&best.best);
    if options.uncertainty {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0x5EED_u64);
        let perturbed: Vec<Problem> = (0..20).map(|_| problem.perturbed(&mut rng)).collect();
        let refits: Vec<Vec<FittedSource>> = perturbed
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let r = p.best_of(runs, options.seed.wrapping_add(1000 + i as u64), cancel);
                p.sources(&r.best)
            })
            .collect();
        for (si, s) in sources.iter_mut().enumerate() {
            let base = named(s);
            let mut map = serde_json::Map::new();
            for (pi, (name, _)) in base.iter().enumerate() {
                let vals: Vec<f64> = refits
                    .iter()
                    .filter_map(|r| r.get(si).map(|x| named(x)[pi].1))
                    .collect();
                let n = vals.len() as f64;
                if n < 2.0 {
                    continue;
                }
                let mean = vals.iter().sum::<f64>() / n;
                let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
                map.insert((*name).to_string(), serde_json::json!(var.sqrt()));
            }
            s.uncertainties = Some(map);
        }
    }
    Ok(FitResult {
        sources,
        chi2_reduced: best.value,
        runs,
        iterations: best.iterations,
        n_parameters: problem.n_parameters(),
        best: best.best,
    })
}

/// The model map: the fitted Gaussians per arcsec² at the pixel centres of `grid`.
pub fn model_map(sources: &[FittedSource], grid: &ImageGrid) -> Array2<f64> {
    let mut parts = Vec::new();
    for s in sources {
        let [maj, min] = s.fwhm_major_minor_arcsec.unwrap_or([s.fwhm_arcsec; 2]);
        let g = Gaussian {
            flux: s.flux,
            x: s.offset_arcsec[0],
            y: s.offset_arcsec[1],
            fwhm_major: maj,
            fwhm_minor: min,
            angle_rad: s.angle_deg.unwrap_or(0.0).to_radians(),
        };
        match s.loop_angle_deg {
            Some(a) => parts.extend(loop_gaussians(&g, a.to_radians())),
            None => parts.push(g),
        }
    }
    let axis = grid.axis_arcsec();
    Array2::from_shape_fn((grid.n, grid.n), |(iy, ix)| {
        parts
            .iter()
            .map(|g| gaussian_brightness(g, axis[ix], axis[iy]))
            .sum()
    })
}
