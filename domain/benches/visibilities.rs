//! Reading an L1 file and building visibilities for one interval (goal < 20 ms; stixpy takes
//! 0.12–0.26 s for the same). Inputs are prepared outside the timed closures.

use criterion::{Criterion, criterion_group, criterion_main};
use domain::aspect::AspectFile;
use domain::energy::EnergyBand;
use domain::l1::PixelData;
use domain::time_range::TimeRange;
use domain::workflow::{PhaseCenterChoice, build_visibilities};
use std::hint::black_box;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/stix/l1")
        .join(name)
}

fn bench(c: &mut Criterion) {
    let sci_path =
        data("solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits");
    let bkg_path =
        data("solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits");
    let aux =
        AspectFile::read(&data("solo_L2_stix-aux-ephemeris_20221111_V01.fits")).expect("aux file");
    let time = TimeRange::parse("2022-11-11T11:36:40.271/2022-11-11T11:37:40.271").expect("time");
    let band = EnergyBand::new(4.0, 10.0).expect("band");
    let aspect = aux.solution(&time).expect("aspect");
    let center = PhaseCenterChoice::Stix([75.29, -823.12]);
    let sci = PixelData::read(&sci_path).expect("sci");
    let bkg = PixelData::read(&bkg_path).expect("bkg");

    c.bench_function("read_l1_m12", |b| {
        b.iter(|| PixelData::read(black_box(&sci_path)).expect("read"))
    });
    c.bench_function("visibilities_in_memory", |b| {
        b.iter(|| build_visibilities(&sci, Some(&bkg), &aspect, &time, &band, center).expect("vis"))
    });
    c.bench_function("read_sci_bkg_and_visibilities", |b| {
        b.iter(|| {
            let sci = PixelData::read(&sci_path).expect("sci");
            let bkg = PixelData::read(&bkg_path).expect("bkg");
            build_visibilities(&sci, Some(&bkg), &aspect, &time, &band, center).expect("vis")
        })
    });
    c.bench_function("visibilities_auto_center_with_location", |b| {
        b.iter(|| {
            build_visibilities(
                &sci,
                Some(&bkg),
                &aspect,
                &time,
                &band,
                PhaseCenterChoice::Auto,
            )
            .expect("vis")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
