//! Criterion benchmark of the quick-look PNG that every image gets (the largest part of a
//! small job's worker time): a real CLEAN map of the 2022-11-11 M1.2 flare (4–10 keV,
//! 129×129 pixels of 2″, reconstructed once outside the timed closure) drawn and written as
//! a PNG, as a worker does for each image: with the previews' zlib compression and with the
//! fast compression of user reconstructions.
//! Run with `cargo bench -p domain --bench quicklook`.

#[path = "../tests/alg_support/mod.rs"]
mod alg_support;

use criterion::{Criterion, criterion_group, criterion_main};
use domain::imaging::Algorithm;
use domain::imaging::dispatch::reconstruct;
use domain::imaging::params::ImagingParams;
use domain::output::quicklook::{PngCompression, QuicklookOptions, write_quicklook_png};

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, _) = alg_support::m12_reference(0);
    let params = ImagingParams {
        algorithm: Some(Algorithm::Clean),
        ..ImagingParams::default()
    }
    .check()
    .expect("params");
    let rec = reconstruct(&file, &params).expect("reconstruct");
    let path = dir.path().join("clean.png");
    let mut g = c.benchmark_group("quicklook_clean_129px");
    g.sample_size(30);
    for (name, png_compression) in [
        ("preview", PngCompression::Smaller),
        ("user", PngCompression::Faster),
    ] {
        let opts = QuicklookOptions {
            png_compression,
            ..QuicklookOptions::default()
        };
        g.bench_function(name, |b| {
            b.iter(|| write_quicklook_png(&path, &rec, &file.meta, &opts).expect("png"))
        });
    }
    g.finish();
}

criterion_group!(quicklook, benches);
criterion_main!(quicklook);
