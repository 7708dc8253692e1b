//! Fast code against slow, obviously correct references: Högbom CLEAN with a direct-sum dirty
//! map and a PSF evaluated directly at every component, pixel by pixel.

mod alg_support;

use alg_support::*;
use domain::imaging::bp::{Weighting, weights};
use domain::imaging::clean::{FWHM_PER_SIGMA, clean};
use domain::imaging::grid::ImageGrid;
use domain::imaging::params::CleanParams;
use domain::visfile::Visibility;
use ndarray::Array2;
use std::f64::consts::TAU;

struct SlowClean {
    components: Vec<((usize, usize), f64)>,
    residual: Array2<f64>,
    image: Array2<f64>,
}

fn slow_clean(vis: &[Visibility], grid: &ImageGrid, p: &CleanParams) -> SlowClean {
    let w = weights(vis, p.weighting);
    let ax = grid.axis_arcsec();
    let n = grid.n;
    let psf_at = |dx: f64, dy: f64| -> f64 {
        vis.iter()
            .zip(&w)
            .map(|(v, w)| w * (TAU * (v.u * dx + v.v * dy)).cos())
            .sum()
    };
    let mut d = Array2::from_shape_fn((n, n), |(iy, ix)| {
        vis.iter()
            .zip(&w)
            .map(|(v, w)| {
                let ph = -TAU * (v.u * ax[ix] + v.v * ax[iy]);
                w * (v.real * ph.cos() - v.imag * ph.sin())
            })
            .sum::<f64>()
    });
    let peak_psf = psf_at(0.0, 0.0);
    let mut components = Vec::new();
    for _ in 0..p.niter {
        let mut best = (0.0f64, (0, 0));
        for ((iy, ix), &v) in d.indexed_iter() {
            if v.abs() > best.0.abs() {
                best = (v, (iy, ix));
            }
        }
        if p.negative_max && best.0 < 0.0 {
            break;
        }
        let f = p.gain * best.0 / peak_psf;
        let (cy, cx) = best.1;
        for iy in 0..n {
            for ix in 0..n {
                d[[iy, ix]] -= f * psf_at(ax[ix] - ax[cx], ax[iy] - ax[cy]);
            }
        }
        components.push(((cy, cx), f));
    }
    let sigma = p.beam_fwhm_arcsec.unwrap_or(20.0) / FWHM_PER_SIGMA;
    let beam = |dx: f64, dy: f64| (-(dx * dx + dy * dy) / (2.0 * sigma * sigma)).exp();
    let mid = ax[(n - 1) / 2];
    let beam_sum: f64 = (0..n * n)
        .map(|i| beam(ax[i % n] - mid, ax[i / n] - mid))
        .sum();
    let area = grid.pixel_arcsec * grid.pixel_arcsec;
    let image = Array2::from_shape_fn((n, n), |(iy, ix)| {
        let conv: f64 = components
            .iter()
            .map(|((cy, cx), f)| f * beam(ax[ix] - ax[*cx], ax[iy] - ax[*cy]))
            .sum();
        (conv + d[[iy, ix]]) / beam_sum / area
    });
    SlowClean {
        components,
        residual: d.mapv(|x| x / beam_sum / area),
        image,
    }
}

#[test]
fn clean_matches_the_slow_reference() {
    let src = [
        Source::circle(600.0, -20.0, 10.0, 10.0),
        Source::point(400.0, 22.0, -14.0),
    ];
    let vis = synth_vis(&src);
    let grid = ImageGrid {
        n: 33,
        pixel_arcsec: 2.5,
    };
    for weighting in [Weighting::Natural, Weighting::Uniform] {
        let p = CleanParams {
            niter: 40,
            gain: 0.1,
            beam_fwhm_arcsec: Some(18.0),
            weighting,
            negative_max: true,
        };
        let fast = clean(&vis, &grid, &p).expect("clean");
        let slow = slow_clean(&vis, &grid, &p);
        assert_eq!(fast.components.len(), slow.components.len());
        for (a, ((cy, cx), f)) in fast.components.iter().zip(&slow.components) {
            assert_eq!(
                a.offset_arcsec,
                [grid.offset_arcsec(*cx), grid.offset_arcsec(*cy)]
            );
            assert!((a.flux - f).abs() < 1e-9 * f.abs().max(1.0));
        }
        let scale = slow.image.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
        let err_img = (&fast.image - &slow.image)
            .mapv(f64::abs)
            .fold(0.0f64, |a, &b| a.max(b));
        let err_res = (&fast.residual - &slow.residual)
            .mapv(f64::abs)
            .fold(0.0f64, |a, &b| a.max(b));
        assert!(err_img < 1e-9 * scale, "image differs by {err_img}");
        assert!(err_res < 1e-9 * scale, "residual differs by {err_res}");
    }
}

#[test]
fn default_beam_is_about_31_arcsec_for_natural_10_to_3() {
    let vis = synth_vis(&[Source::point(1.0, 0.0, 0.0)]);
    let b = domain::imaging::clean::default_beam_fwhm_arcsec(&vis, Weighting::Natural);
    assert!((b - 31.0).abs() < 1.5, "{b}");
}
