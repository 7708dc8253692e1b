//! Analytic truth: point and Gaussian sources at known offsets turned into exact visibilities
//! at the 24 STIX (u,v) points of 10→3 (and exact A/B/C/D rates for EM); every algorithm must
//! put them back where they are, with the right flux (CLEAN, MEM within 5 %) and size
//! (FWDFIT within 5 %).

mod alg_support;

use alg_support::*;
use domain::imaging::params::{FwdfitShape, ImagingParams};
use domain::imaging::{Algorithm, reconstruct};

fn params(alg: Algorithm) -> domain::imaging::params::ValidParams {
    ImagingParams {
        algorithm: Some(alg),
        ..Default::default()
    }
    .check()
    .expect("valid")
}

const CENTER: [f64; 2] = [75.0, -823.0];

#[test]
fn point_source_is_recovered_by_every_image_algorithm() {
    let truth = [10.0, -6.0];
    let src = [Source::point(1000.0, truth[0], truth[1])];
    let file = vis_file(
        synth_vis(&src),
        CENTER,
        -1.46,
        [4.0, 10.0],
        Some(synth_rates(&src, CENTER)),
    );
    for alg in [
        Algorithm::Bp,
        Algorithm::BpUniform,
        Algorithm::Clean,
        Algorithm::Mem,
        Algorithm::Em,
    ] {
        let r = reconstruct(&file, &params(alg)).expect("reconstruct");
        let peak = r.map.peak_offset_arcsec();
        let c = local_centroid(&r.map, 8.0);
        let flux = r.map.integrated();
        eprintln!(
            "{alg}: peak {peak:?} centroid {c:?} integrated {flux:.2} diag {}",
            r.diagnostics
        );
        assert!(dist(c, truth) < 0.5, "{alg}: centroid {c:?}");
        assert_eq!(peak, truth, "{alg}");
        match alg {
            Algorithm::Bp | Algorithm::BpUniform => {
                assert!(
                    (r.map.peak().1 - 1000.0).abs() < 1e-6,
                    "BP peak is the flux"
                )
            }
            Algorithm::Clean | Algorithm::Mem => {
                assert!((flux / 1000.0 - 1.0).abs() < 0.05, "{alg}: flux {flux}")
            }
            _ => assert!((flux / 1000.0 - 1.0).abs() < 0.2, "{alg}: flux {flux}"),
        }
    }
}

#[test]
fn gaussian_sources_are_recovered() {
    let cases: Vec<(&str, Vec<Source>)> = vec![
        ("circle", vec![Source::circle(800.0, -12.0, 8.0, 16.0)]),
        (
            "ellipse",
            vec![Source {
                flux: 800.0,
                x: 6.0,
                y: 14.0,
                fwhm_major: 24.0,
                fwhm_minor: 12.0,
                angle_deg: 30.0,
            }],
        ),
    ];
    for (name, src) in cases {
        let truth = [src[0].x, src[0].y];
        let file = vis_file(
            synth_vis(&src),
            CENTER,
            -1.46,
            [4.0, 10.0],
            Some(synth_rates(&src, CENTER)),
        );
        for alg in [
            Algorithm::Bp,
            Algorithm::Clean,
            Algorithm::Mem,
            Algorithm::Em,
        ] {
            let mut p = params(alg);
            // With the GSW negative-maximum stop CLEAN halts after ~60–80 components on an
            // extended source (the largest |residual| becomes a negative sidelobe) and keeps
            // 84–87 % of the flux in components; without it 200 iterations reach ±2 %.
            p.clean.negative_max = false;
            let r = reconstruct(&file, &p).expect("reconstruct");
            let c = local_centroid(&r.map, 12.0);
            let flux = r.map.integrated();
            eprintln!(
                "{name} {alg}: centroid {c:?} integrated {flux:.2} diag {}",
                r.diagnostics
            );
            assert!(dist(c, truth) < 0.5, "{name} {alg}: centroid {c:?}");
            if matches!(alg, Algorithm::Clean | Algorithm::Mem) {
                assert!(
                    (flux / 800.0 - 1.0).abs() < 0.05,
                    "{name} {alg}: flux {flux}"
                );
            }
        }
    }
}

#[test]
fn two_gaussians_are_separated() {
    let src = [
        Source::circle(600.0, -20.0, 10.0, 10.0),
        Source::circle(400.0, 22.0, -14.0, 12.0),
    ];
    let file = vis_file(
        synth_vis(&src),
        CENTER,
        -1.46,
        [16.0, 28.0],
        Some(synth_rates(&src, CENTER)),
    );
    for alg in [Algorithm::Clean, Algorithm::Mem, Algorithm::Em] {
        let r = reconstruct(&file, &params(alg)).expect("reconstruct");
        let peak = r.map.peak_offset_arcsec();
        let flux = r.map.integrated();
        eprintln!("two {alg}: peak {peak:?} integrated {flux:.2}");
        assert!(
            dist(peak, [-20.0, 10.0]) <= 2.0 * 2f64.sqrt(),
            "{alg}: peak {peak:?}"
        );
        if matches!(alg, Algorithm::Clean | Algorithm::Mem) {
            assert!((flux / 1000.0 - 1.0).abs() < 0.05, "{alg}: flux {flux}");
        }
    }
}

#[test]
fn fwdfit_recovers_circle_ellipse_and_two_circles() {
    // Circle.
    let circle = Source::circle(900.0, 13.3, -7.7, 14.0);
    let vis = synth_vis(&[circle]);
    let mut p = params(Algorithm::Fwdfit);
    p.fwdfit.shape = FwdfitShape::Circle;
    let file = vis_file(vis, CENTER, -1.46, [4.0, 10.0], None);
    let r = reconstruct(&file, &p).expect("fit");
    let fit = r.fwdfit.expect("extras");
    let s = &fit.sources[0];
    eprintln!("circle {s:?} chi2 {}", fit.chi2_reduced);
    assert!(dist(s.offset_arcsec, [13.3, -7.7]) < 0.5);
    assert!((s.fwhm_arcsec / 14.0 - 1.0).abs() < 0.05);
    assert!((s.flux / 900.0 - 1.0).abs() < 0.05);
    assert!(fit.chi2_reduced < 1e-3);
    assert!((r.map.integrated() / 900.0 - 1.0).abs() < 0.05);

    // Ellipse.
    let ell = Source {
        flux: 700.0,
        x: -9.0,
        y: 5.5,
        fwhm_major: 30.0,
        fwhm_minor: 15.0,
        angle_deg: 120.0,
    };
    p.fwdfit.shape = FwdfitShape::Ellipse;
    let file = vis_file(synth_vis(&[ell]), CENTER, 12.0, [4.0, 10.0], None);
    let fit = reconstruct(&file, &p).expect("fit").fwdfit.expect("extras");
    let s = &fit.sources[0];
    eprintln!("ellipse {s:?} chi2 {}", fit.chi2_reduced);
    let [maj, min] = s.fwhm_major_minor_arcsec.expect("axes");
    assert!(dist(s.offset_arcsec, [-9.0, 5.5]) < 0.5);
    assert!((maj / 30.0 - 1.0).abs() < 0.05 && (min / 15.0 - 1.0).abs() < 0.05);
    assert!((s.angle_deg.expect("angle") - 120.0).abs() < 3.0);

    // Two circles.
    let two = [
        Source::circle(600.0, -20.0, 10.0, 10.0),
        Source::circle(400.0, 22.0, -14.0, 12.0),
    ];
    p.fwdfit.shape = FwdfitShape::Multi;
    let file = vis_file(synth_vis(&two), CENTER, -1.46, [16.0, 28.0], None);
    let fit = reconstruct(&file, &p).expect("fit").fwdfit.expect("extras");
    eprintln!("two {:?} chi2 {}", fit.sources, fit.chi2_reduced);
    for (s, t) in fit.sources.iter().zip(&two) {
        assert!(dist(s.offset_arcsec, [t.x, t.y]) < 0.5);
        assert!((s.fwhm_arcsec / t.fwhm_major - 1.0).abs() < 0.05);
        assert!((s.flux / t.flux - 1.0).abs() < 0.05);
    }
}

#[test]
fn fwdfit_recovers_a_loop_made_by_its_own_model() {
    use domain::imaging::fwdfit::model::{Gaussian, loop_gaussians};
    // A loop of FWHM 36″ × 12″ at 30°, bent by 90°; visibilities of its circles.
    let g = Gaussian {
        flux: 800.0,
        x: 7.0,
        y: -5.0,
        fwhm_major: 36.0,
        fwhm_minor: 12.0,
        angle_rad: 30f64.to_radians(),
    };
    let parts: Vec<Source> = loop_gaussians(&g, 90f64.to_radians())
        .iter()
        .map(|c| Source::circle(c.flux, c.x, c.y, c.fwhm_major))
        .collect();
    let mut p = params(Algorithm::Fwdfit);
    p.fwdfit.shape = FwdfitShape::Loop;
    let file = vis_file(synth_vis(&parts), CENTER, -1.46, [4.0, 10.0], None);
    let r = reconstruct(&file, &p).expect("fit");
    let fit = r.fwdfit.expect("extras");
    let s = &fit.sources[0];
    eprintln!("loop {s:?} chi2 {}", fit.chi2_reduced);
    assert!(dist(s.offset_arcsec, [7.0, -5.0]) < 1.0);
    assert!((s.flux / 800.0 - 1.0).abs() < 0.05);
    let [maj, min] = s.fwhm_major_minor_arcsec.expect("axes");
    assert!((maj / 36.0 - 1.0).abs() < 0.05 && (min / 12.0 - 1.0).abs() < 0.05);
    assert!((s.angle_deg.expect("angle") - 30.0).abs() < 2.0);
    assert!((s.loop_angle_deg.expect("loop angle") - 90.0).abs() < 5.0);
    assert!((r.map.integrated() / 800.0 - 1.0).abs() < 0.05);
}
