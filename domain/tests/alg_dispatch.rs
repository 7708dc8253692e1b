//! `reconstruct` as the CLI and the preview pipeline call it: typed errors for bad input,
//! the parameters actually used, units, determinism of the seeded forward fit.

mod alg_support;

use alg_support::*;
use domain::imaging::params::{FwdfitShape, ImagingParams, MemTotalFlux};
use domain::imaging::{Algorithm, ImagingError, reconstruct};

fn file_with_rates() -> domain::visfile::VisFile {
    let src = [Source::circle(500.0, 8.0, -4.0, 12.0)];
    let c = [75.0, -823.0];
    vis_file(
        synth_vis(&src),
        c,
        -1.46,
        [4.0, 10.0],
        Some(synth_rates(&src, c)),
    )
}

#[test]
fn em_without_rates_and_empty_sets_are_bad_input() {
    let mut f = file_with_rates();
    f.summed_rates = None;
    let p = ImagingParams {
        algorithm: Some(Algorithm::Em),
        ..Default::default()
    }
    .check()
    .expect("valid");
    let e = reconstruct(&f, &p).unwrap_err();
    assert!(matches!(e, ImagingError::MissingSummedRates));
    assert!(e.is_bad_input());
    for v in &mut f.visibilities {
        v.used = false;
    }
    let e = reconstruct(&f, &p).unwrap_err();
    assert!(matches!(e, ImagingError::NoVisibilities) && e.is_bad_input());
    // Too few visibilities for two circles (8 parameters > 2·3).
    let mut g = file_with_rates();
    for v in g.visibilities.iter_mut().skip(3) {
        v.used = false;
    }
    let p = ImagingParams {
        algorithm: Some(Algorithm::Fwdfit),
        fwdfit_shape: Some(FwdfitShape::Multi),
        ..Default::default()
    }
    .check()
    .expect("valid");
    let e = reconstruct(&g, &p).unwrap_err();
    assert!(e.is_bad_input(), "{e}");
    assert!(e.to_string().contains("cannot constrain"), "{e}");
}

#[test]
fn parameters_and_units_are_reported() {
    let f = file_with_rates();
    for alg in Algorithm::ALL {
        let p = ImagingParams {
            algorithm: Some(alg),
            size_px: Some(64),
            pixel_arcsec: Some(2.5),
            ..Default::default()
        }
        .check()
        .expect("valid");
        let r = reconstruct(&f, &p).expect("reconstruct");
        let n = if alg == Algorithm::Clean { 65 } else { 64 };
        assert_eq!(r.map.data.dim(), (n, n), "{alg}");
        assert_eq!(r.parameters["size_px"], n, "{alg}");
        assert_eq!(r.parameters["size_px_requested"], 64);
        assert_eq!(r.parameters["pixel_arcsec"], 2.5);
        assert_eq!(r.map.center_stix_arcsec, [75.0, -823.0]);
        let per_arcsec2 = r.map.unit.ends_with("arcsec-2");
        assert_eq!(
            per_arcsec2,
            !matches!(alg, Algorithm::Bp | Algorithm::BpUniform),
            "{alg}"
        );
        assert!(r.map.data.iter().all(|v| v.is_finite()), "{alg}");
    }
}

#[test]
fn auto_fwdfit_follows_the_dc_rule_and_is_deterministic() {
    let f = file_with_rates();
    let p = ImagingParams {
        algorithm: Some(Algorithm::Fwdfit),
        fwdfit_seed: Some(42),
        ..Default::default()
    }
    .check()
    .expect("valid");
    let a = reconstruct(&f, &p).expect("fit");
    assert_eq!(a.parameters["fwdfit"]["shape"], "ellipse");
    let b = reconstruct(&f, &p).expect("fit");
    assert_eq!(a.fwdfit, b.fwdfit);
    let mut hot = f.clone();
    hot.meta.energy_range_kev = [16.0, 28.0];
    let c = reconstruct(&hot, &p).expect("fit");
    assert_eq!(c.parameters["fwdfit"]["shape"], "multi");
    assert_eq!(c.fwdfit.expect("extras").sources.len(), 2);
}

#[test]
fn fwdfit_uncertainties_scale_with_the_noise() {
    let f = file_with_rates();
    let p = ImagingParams {
        algorithm: Some(Algorithm::Fwdfit),
        fwdfit_shape: Some(FwdfitShape::Circle),
        fwdfit_uncertainty: Some(true),
        ..Default::default()
    }
    .check()
    .expect("valid");
    let r = reconstruct(&f, &p).expect("fit");
    let s = &r.fwdfit.expect("extras").sources[0];
    let u = s.uncertainties.as_ref().expect("uncertainties");
    let sx = u["x_arcsec"].as_f64().expect("x");
    let sf = u["flux"].as_f64().expect("flux");
    // σ per visibility is 3 % of the peak amplitude + 5 %: the flux spread is a few percent,
    // the position spread a fraction of an arcsec, neither zero.
    assert!(sx > 0.01 && sx < 2.0, "{sx}");
    assert!(sf > 0.002 * 500.0 && sf < 0.1 * 500.0, "{sf}");
}

#[test]
fn mem_total_flux_choices() {
    let f = file_with_rates();
    let max_amp = f
        .visibilities
        .iter()
        .map(|v| v.amplitude())
        .fold(0.0, f64::max);
    for (choice, expect) in [
        (MemTotalFlux::MaxAmplitude, Some(max_amp)),
        (MemTotalFlux::Value(450.0), Some(450.0)),
        (MemTotalFlux::Estimate, None),
    ] {
        let p = ImagingParams {
            algorithm: Some(Algorithm::Mem),
            mem_total_flux: Some(choice),
            ..Default::default()
        }
        .check()
        .expect("valid");
        let r = reconstruct(&f, &p).expect("mem");
        let used = r.parameters["mem"]["total_flux"].as_f64().expect("flux");
        match expect {
            Some(e) => assert!((used - e).abs() < 1e-9 * e),
            // The positive least-squares estimate of a 500-flux 12″ source.
            None => assert!((used / 500.0 - 1.0).abs() < 0.01, "estimate {used}"),
        }
        assert!(
            (r.map.integrated() / used - 1.0).abs() < 0.011,
            "flux constraint"
        );
    }
}

#[test]
fn zero_errors_are_rejected_not_divided_by() {
    let mut f = file_with_rates();
    f.visibilities[3].amplitude_error = 0.0;
    for alg in [Algorithm::Mem, Algorithm::Fwdfit] {
        let p = ImagingParams {
            algorithm: Some(alg),
            ..Default::default()
        }
        .check()
        .expect("valid");
        let e = reconstruct(&f, &p).unwrap_err();
        assert!(e.is_bad_input(), "{alg}: {e}");
    }
}
