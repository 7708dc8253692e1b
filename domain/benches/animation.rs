//! Criterion benchmark of the server-rendered animation (issue: "a 300-frame GIF: under
//! 3 s"): 300 quick-look PNGs of real maps of the 2022-11-11 M1.2 flare (BP, CLEAN and MEM,
//! 129×129 pixels of 2″, written once outside the timed closure) → one labelled animated GIF.
//! Each iteration decodes every PNG, draws the labels, quantises and encodes, as
//! `createAnimation` does. Run with `cargo bench -p domain --bench animation`.

#[path = "../tests/alg_support/mod.rs"]
mod alg_support;

use criterion::{Criterion, criterion_group, criterion_main};
use domain::imaging::Algorithm;
use domain::imaging::dispatch::reconstruct;
use domain::imaging::params::ImagingParams;
use domain::output::animation::{GifFrame, write_animated_gif};
use domain::output::quicklook::{QuicklookOptions, write_quicklook_png};

/// Frames in the benchmarked animation (the `createAnimation` limit).
const FRAMES: usize = 300;

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, _) = alg_support::m12_reference(0);
    let mut pngs = Vec::new();
    for alg in [Algorithm::Bp, Algorithm::Clean, Algorithm::Mem] {
        let params = ImagingParams {
            algorithm: Some(alg),
            ..ImagingParams::default()
        }
        .check()
        .expect("params");
        let rec = reconstruct(&file, &params).expect("reconstruct");
        let path = dir.path().join(format!("{}.png", alg.name()));
        write_quicklook_png(&path, &rec, &file.meta, &QuicklookOptions::default()).expect("png");
        pngs.push((alg, path));
    }
    // 300 distinct files, as an animation of 300 images reads 300 files.
    let mut paths = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        let (alg, src) = &pngs[i % pngs.len()];
        let p = dir.path().join(format!("frame_{i:03}_{}.png", alg.name()));
        std::fs::copy(src, &p).expect("copy");
        paths.push((*alg, p));
    }
    let frames: Vec<GifFrame<'_>> = paths
        .iter()
        .enumerate()
        .map(|(i, (alg, p))| GifFrame {
            png: p,
            label: format!(
                "2022-11-11 11:{:02}:{:02}  4-10 keV  {}",
                30 + i / 60,
                i % 60,
                alg.name()
            ),
        })
        .collect();
    let out = dir.path().join("animation.gif");
    let mut g = c.benchmark_group("animation_gif");
    g.sample_size(10);
    g.bench_function("300_frames_129px", |b| {
        b.iter(|| write_animated_gif(&out, &frames, 5.0).expect("gif"))
    });
    g.finish();
    let size = std::fs::metadata(&out).expect("gif").len();
    eprintln!("animation.gif: {FRAMES} frames, {size} bytes");
}

criterion_group!(animation, benches);
criterion_main!(animation);
