//! Criterion benchmarks of every algorithm on the 24 real visibilities (and A/B/C/D rates) of
//! the 2022-11-11 M1.2 flare at 4–10 keV, 129×129 pixels of 2″. Inputs are built outside the
//! timed closures; each iteration runs the whole algorithm (operator set-up included).
//! Run with `cargo bench -p domain --bench imaging` (and `RAYON_NUM_THREADS=1` for one core).

#[path = "../tests/alg_support/mod.rs"]
mod alg_support;

use criterion::{Criterion, criterion_group, criterion_main};
use domain::imaging::bp::{Weighting, back_project};
use domain::imaging::clean::clean;
use domain::imaging::em::em;
use domain::imaging::fwdfit::{FwdfitOptions, fit};
use domain::imaging::grid::ImageGrid;
use domain::imaging::mem::mem_ge;
use domain::imaging::params::{CleanParams, EmParams, FwdfitShape, MemParams};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let (file, _) = alg_support::m12_reference(0);
    let vis = file.used();
    let rates = file.summed_rates.clone().expect("rates").detectors;
    let center = file.meta.phase_center_arcsec();
    let grid = ImageGrid {
        n: 129,
        pixel_arcsec: 2.0,
    };
    let mut g = c.benchmark_group("imaging_m12_129px_2as");
    g.sample_size(20);
    g.bench_function("bp_natural", |b| {
        b.iter(|| back_project(black_box(&vis), &grid, Weighting::Natural))
    });
    g.bench_function("clean_200", |b| {
        b.iter(|| clean(black_box(&vis), &grid, &CleanParams::default()))
    });
    g.bench_function("mem_ge", |b| {
        b.iter(|| mem_ge(black_box(&vis), &grid, &MemParams::default()))
    });
    g.bench_function("em", |b| {
        b.iter(|| em(black_box(&rates), center, &grid, &EmParams::default()))
    });
    let opts = |shape| FwdfitOptions {
        shape,
        sources: 2,
        uncertainty: false,
        seed: 1,
        roll_deg: file.meta.map_wcs.roll_angle_deg,
    };
    g.bench_function("fwdfit_circle", |b| {
        b.iter(|| fit(black_box(&vis), &opts(FwdfitShape::Circle)))
    });
    g.bench_function("fwdfit_two_circles", |b| {
        b.iter(|| fit(black_box(&vis), &opts(FwdfitShape::Multi)))
    });
    g.finish();
}

criterion_group!(imaging, benches);
criterion_main!(imaging);
