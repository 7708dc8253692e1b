//! Particle-swarm optimisation in a box (`shared/docs/stix-imaging.md` E.5, after GSW
//! `swarmintelligence.pro`, itself modelled on MATLAB `particleswarm`).
//!
//! Each bird moves with `v ← W·v + c₁·r₁∘(p_self − x) + c₂·r₂∘(p_hood − x)` where p_hood is the
//! best personal best in a random neighbourhood; positions are clamped to the bounds (and the
//! clamped velocity components zeroed). The inertia W adapts in [0.1, 1.1] and the
//! neighbourhood grows while the global best stalls. Stop when the best value changed by less
//! than `tol·max(1,|best|)` over the last 20 iterations, or at `maxiter`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 2⁻³².
const TWO_POW_M32: f64 = 1.0 / 4_294_967_296.0;

/// PSO settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PsoSettings {
    /// Number of birds (100).
    pub birds: usize,
    /// Iteration limit (N_par × 100 in E.5).
    pub maxiter: usize,
    /// Relative tolerance on the best value over `stall_window` iterations (1e−6).
    pub tol: f64,
    /// Stall window (20).
    pub stall_window: usize,
    /// Inertia range ([0.1, 1.1]).
    pub inertia: (f64, f64),
    /// Self and social constants (1.49, 1.49).
    pub c_self: f64,
    /// Social constant.
    pub c_social: f64,
}

impl PsoSettings {
    /// The E.5 settings for `dim` parameters.
    pub fn for_dim(dim: usize) -> Self {
        Self {
            birds: 100,
            maxiter: 100 * dim,
            tol: 1e-6,
            stall_window: 20,
            inertia: (0.1, 1.1),
            c_self: 1.49,
            c_social: 1.49,
        }
    }
}

/// Result of one PSO run.
#[derive(Debug, Clone, PartialEq)]
pub struct PsoResult {
    /// Best position.
    pub best: Vec<f64>,
    /// Best value.
    pub value: f64,
    /// Iterations done.
    pub iterations: usize,
}

/// Minimises `f` over the box `[lower, upper]` with a generator seeded by `seed`.
pub fn minimise<F: FnMut(&[f64]) -> f64>(
    f: F,
    lower: &[f64],
    upper: &[f64],
    settings: &PsoSettings,
    seed: u64,
) -> PsoResult {
    minimise_cancellable(
        f,
        lower,
        upper,
        settings,
        seed,
        &crate::imaging::cancel::never,
    )
}

/// [`minimise`], stopping early when `cancel` says so between iterations.
pub fn minimise_cancellable<F: FnMut(&[f64]) -> f64>(
    mut f: F,
    lower: &[f64],
    upper: &[f64],
    settings: &PsoSettings,
    seed: u64,
    cancel: crate::imaging::cancel::CancelCheck<'_>,
) -> PsoResult {
    let dim = lower.len();
    let nb = settings.birds.max(2);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let range: Vec<f64> = lower.iter().zip(upper).map(|(l, u)| u - l).collect();
    let mut x = vec![0.0; nb * dim];
    let mut v = vec![0.0; nb * dim];
    for b in 0..nb {
        for d in 0..dim {
            x[b * dim + d] = lower[d] + range[d] * rng.random::<f64>();
            v[b * dim + d] = range[d] * (2.0 * rng.random::<f64>() - 1.0);
        }
    }
    let mut fx: Vec<f64> = (0..nb)
        .map(|b| sanitise(f(&x[b * dim..(b + 1) * dim])))
        .collect();
    let mut pbest = x.clone();
    let mut pbest_f = fx.clone();
    let (mut gbest_i, mut gbest_f) = argmin(&pbest_f);
    let min_hood = (nb / 4).max(2).min(nb - 1);
    let mut hood = min_hood;
    let mut w = settings.inertia.1;
    let mut counter = 0usize;
    let mut history = Vec::with_capacity(settings.maxiter + 1);
    history.push(gbest_f);
    let mut iterations = 0;
    // Virtual indices 0..nb−1 of "the other birds" (index o ≥ b stands for o + 1); partial
    // Fisher–Yates shuffles leave it a permutation, so it is never rebuilt.
    let mut others: Vec<usize> = (0..nb - 1).collect();
    for iter in 1..=settings.maxiter {
        if cancel() {
            break;
        }
        iterations = iter;
        for b in 0..nb {
            let mut hood_best = b;
            let mut hood_best_f = f64::INFINITY;
            if hood >= nb - 1 {
                // Everyone else: no sampling needed.
                for (o, &fo) in pbest_f.iter().enumerate() {
                    if o != b && fo < hood_best_f {
                        hood_best_f = fo;
                        hood_best = o;
                    }
                }
            } else {
                // Random neighbourhood of `hood` other birds: partial Fisher–Yates, two
                // 32-bit draws per 64-bit random word.
                let m = others.len();
                let mut word = 0u64;
                for s in 0..hood {
                    let bits = if s % 2 == 0 {
                        word = rng.random::<u64>();
                        word as u32
                    } else {
                        (word >> 32) as u32
                    };
                    let j = s + ((u64::from(bits) * (m - s) as u64) >> 32) as usize;
                    others.swap(s, j);
                    let o = others[s] + usize::from(others[s] >= b);
                    if pbest_f[o] < hood_best_f {
                        hood_best_f = pbest_f[o];
                        hood_best = o;
                    }
                }
            }
            let base = b * dim;
            for d in 0..dim {
                let i = base + d;
                // Two uniform deviates in [0, 1) from one 64-bit word.
                let word = rng.random::<u64>();
                let r1 = f64::from(word as u32) * TWO_POW_M32;
                let r2 = f64::from((word >> 32) as u32) * TWO_POW_M32;
                let mut vel = w * v[i]
                    + settings.c_self * r1 * (pbest[i] - x[i])
                    + settings.c_social * r2 * (pbest[hood_best * dim + d] - x[i]);
                let mut pos = x[i] + vel;
                if pos < lower[d] {
                    pos = lower[d];
                    vel = 0.0;
                } else if pos > upper[d] {
                    pos = upper[d];
                    vel = 0.0;
                }
                v[i] = vel;
                x[i] = pos;
            }
            fx[b] = sanitise(f(&x[base..base + dim]));
            if fx[b] < pbest_f[b] {
                pbest_f[b] = fx[b];
                pbest[base..base + dim].copy_from_slice(&x[base..base + dim]);
            }
        }
        let (bi, bf) = argmin(&pbest_f);
        if bf < gbest_f {
            gbest_f = bf;
            gbest_i = bi;
            counter = counter.saturating_sub(1);
            hood = min_hood;
        } else {
            counter += 1;
            hood = (hood + min_hood).min(nb - 1);
        }
        if counter < 2 {
            w *= 2.0;
        } else if counter > 5 {
            w /= 2.0;
        }
        w = w.clamp(settings.inertia.0, settings.inertia.1);
        history.push(gbest_f);
        if iter > settings.stall_window {
            let old = history[iter - settings.stall_window];
            if (old - gbest_f).abs() <= settings.tol * gbest_f.abs().max(1.0) {
                break;
            }
        }
    }
    PsoResult {
        best: pbest[gbest_i * dim..(gbest_i + 1) * dim].to_vec(),
        value: gbest_f,
        iterations,
    }
}

fn sanitise(v: f64) -> f64 {
    if v.is_nan() { f64::INFINITY } else { v }
}

fn argmin(v: &[f64]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (i, &x) in v.iter().enumerate() {
        if x < best.1 {
            best = (i, x);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_shifted_bowl_deterministically() {
        let target = [1.5, -2.0, 0.25];
        let f = |p: &[f64]| {
            p.iter()
                .zip(&target)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        };
        let s = PsoSettings::for_dim(3);
        let r = minimise(f, &[-5.0; 3], &[5.0; 3], &s, 7);
        for (a, b) in r.best.iter().zip(&target) {
            assert!((a - b).abs() < 1e-3, "{:?}", r.best);
        }
        let again = minimise(f, &[-5.0; 3], &[5.0; 3], &s, 7);
        assert_eq!(r, again);
    }
}
