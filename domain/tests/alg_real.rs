//! Real data: the 2022-11-11 M1.2 flare (24 calibrated visibilities and A/B/C/D rates,
//! `data/stix/reference/visibilities_20221111_M1.2.json`) and the 2020-06-07 demo
//! visibilities. All algorithms must place the source within a few arcsec of each other and
//! of the reference BP location; the flux-conserving ones (CLEAN, MEM, EM, FWDFIT) must agree
//! within 20 %.

mod alg_support;

use alg_support::*;
use domain::imaging::params::{FwdfitShape, ImagingParams};
use domain::imaging::{Algorithm, reconstruct};
use domain::visfile::VisFile;

fn run(file: &VisFile, alg: Algorithm, shape: FwdfitShape) -> ([f64; 2], Option<f64>, String) {
    let p = ImagingParams {
        algorithm: Some(alg),
        fwdfit_shape: Some(shape),
        ..Default::default()
    }
    .check()
    .expect("valid");
    let r = reconstruct(file, &p).expect("reconstruct");
    let c = file.meta.phase_center_arcsec();
    let (pos, flux) = match &r.fwdfit {
        Some(f) => {
            let total: f64 = f.sources.iter().map(|s| s.flux).sum();
            // Flux-weighted mean position of the fitted sources.
            let x = f
                .sources
                .iter()
                .map(|s| s.flux * s.offset_arcsec[0])
                .sum::<f64>()
                / total;
            let y = f
                .sources
                .iter()
                .map(|s| s.flux * s.offset_arcsec[1])
                .sum::<f64>()
                / total;
            ([c[0] + x, c[1] + y], Some(total))
        }
        None => {
            let o = local_centroid(&r.map, 10.0);
            // CLEAN's flux is that of its components: the residual it adds back is not
            // convolved (E.2), and over a 258″ field the unresolved fringes of the coarse
            // grids (period up to 350″) do not integrate to zero, so the image integral of
            // real data carries a residual offset (+70 % for the M1.2 flare).
            let flux = match alg {
                Algorithm::Bp | Algorithm::BpUniform => None,
                Algorithm::Clean => r
                    .clean
                    .as_ref()
                    .map(|c| c.components.iter().map(|k| k.flux).sum()),
                _ => Some(r.map.integrated()),
            };
            ([c[0] + o[0], c[1] + o[1]], flux)
        }
    };
    (pos, flux, r.diagnostics.to_string())
}

fn check_all(
    file: &VisFile,
    reference: [f64; 2],
    shape: FwdfitShape,
    with_em: bool,
    tol_arcsec: f64,
) {
    let mut algs = vec![
        Algorithm::Bp,
        Algorithm::BpUniform,
        Algorithm::Clean,
        Algorithm::Mem,
        Algorithm::Fwdfit,
    ];
    if with_em {
        algs.push(Algorithm::Em);
    }
    let mut positions = Vec::new();
    let mut fluxes = Vec::new();
    for alg in algs {
        let (pos, flux, diag) = run(file, alg, shape);
        eprintln!(
            "{alg}: pos {pos:?} (ref {reference:?}, d = {:.2}) flux {flux:?} {diag}",
            dist(pos, reference)
        );
        positions.push((alg, pos));
        if let Some(f) = flux {
            fluxes.push((alg, f));
        }
    }
    for (alg, p) in &positions {
        assert!(
            dist(*p, reference) < tol_arcsec,
            "{alg} at {p:?}, reference {reference:?}"
        );
    }
    let mut sorted: Vec<f64> = fluxes.iter().map(|f| f.1).collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    for (alg, f) in &fluxes {
        assert!(
            (f / median - 1.0).abs() < 0.2,
            "{alg}: flux {f}, median {median}"
        );
    }
}

#[test]
fn m12_flare_4_10_kev() {
    let (file, peak) = m12_reference(0);
    check_all(&file, peak, FwdfitShape::Auto, true, 5.0);
}

#[test]
fn m12_flare_16_28_kev() {
    let (file, peak) = m12_reference(1);
    check_all(&file, peak, FwdfitShape::Auto, true, 5.0);
}

#[test]
fn demo_2020_06_07() {
    let file = demo_2020();
    let bp = run(&file, Algorithm::Bp, FwdfitShape::Auto).0;
    check_all(&file, bp, FwdfitShape::Auto, false, 5.0);
}
