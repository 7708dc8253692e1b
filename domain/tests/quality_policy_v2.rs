//! Issue #11 on real data: `preview-v2` skips the background-dominated 2022-11-13 16–28 keV
//! box with its net counts in the reason; the M1.2 4–10 keV peak box is graded GOOD by every
//! algorithm; a synthetic point source at the edge of the field of view is not GOOD.

use domain::aspect::AspectFile;
use domain::calibration::CalibrationOptions;
use domain::energy::EnergyBand;
use domain::imaging::params::ImagingParams;
use domain::imaging::{Algorithm, reconstruct};
use domain::l1::PixelData;
use domain::policy::flare_list::read_flare_list;
use domain::policy::preview_v1::PreviewSettings;
use domain::policy::preview_v2::{self, net_counts};
use domain::quality::{Grade, QualityThresholds, assess};
use domain::time_range::TimeRange;
use domain::visfile::VisFile;
use domain::workflow::{PhaseCenterChoice, aspect_for, build_visibilities};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/stix")
}

fn find(uid: &str) -> PathBuf {
    std::fs::read_dir(data_dir().join("l1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(uid))
        .unwrap()
}

#[test]
fn preview_v2_skips_the_background_dominated_16_28_kev_box_of_2022_11_13() {
    let sci = PixelData::read(&find("2211134748")).unwrap();
    let bkg = PixelData::read(&find("2211098157")).unwrap();
    let list = std::fs::read_to_string(data_dir().join("flare_reference_locations.csv")).unwrap();
    let file_range = sci.time_range().unwrap();
    let flare = read_flare_list(&list)
        .unwrap()
        .into_iter()
        .find(|f| f.start < file_range.end && f.end > file_range.start)
        .expect("a listed flare in the file");
    let settings = PreviewSettings::default();
    let curves: Vec<_> = settings
        .bands_kev
        .iter()
        .map(|&[lo, hi]| sci.light_curve(&EnergyBand::new(lo, hi).unwrap()).unwrap())
        .collect();
    let net = |band: &EnergyBand, time: &TimeRange| {
        net_counts(&sci, Some(&bkg), band, time, CalibrationOptions::default())
    };
    let plan = preview_v2::plan_boxes(&flare.window(), &curves, &settings, &net);
    let skip = plan
        .skips
        .iter()
        .find(|s| s.band.low_kev == 16.0)
        .unwrap_or_else(|| panic!("no 16–28 keV skip: {plan:#?}"));
    let counts = preview_v2::skip_counts(skip).unwrap();
    println!("16–28 keV skip: {} — {counts:?}", skip.reason);
    assert_eq!(skip.policy_version, "preview-v2");
    assert!(counts.net < settings.min_net_counts);
    assert!(counts.background > 0.5 * counts.total, "{counts:?}");
    assert!((counts.total - counts.background - counts.net).abs() < 1e-6);
    assert!(
        skip.reason.contains("net counts") && skip.reason.contains("background"),
        "{}",
        skip.reason
    );
    // The net counts are written in the reason, grouped as the other skips are.
    let shown = format!("{:.0}", counts.net);
    let grouped: String = shown
        .chars()
        .rev()
        .enumerate()
        .flat_map(|(i, c)| {
            if i > 0 && i % 3 == 0 {
                vec![' ', c]
            } else {
                vec![c]
            }
        })
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        skip.reason.contains(&grouped),
        "{grouped} in {}",
        skip.reason
    );
    // Every box records its counts too.
    for b in &plan.boxes {
        let c = preview_v2::box_counts(b).unwrap();
        assert!(c.net >= settings.min_net_counts, "{c:?}");
    }
}

fn m12_peak_vis() -> VisFile {
    let sci = PixelData::read(&find("2211116471")).unwrap();
    let bkg = PixelData::read(&find("2211098157")).unwrap();
    let aux = AspectFile::read(&data_dir().join("l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits"))
        .unwrap();
    let time = TimeRange::parse("2022-11-11T11:36:40.271/2022-11-11T11:37:40.271").unwrap();
    let aspect = aspect_for(Some(&aux), &sci, &time).unwrap();
    build_visibilities(
        &sci,
        Some(&bkg),
        &aspect,
        &time,
        &EnergyBand::new(4.0, 10.0).unwrap(),
        PhaseCenterChoice::Auto,
    )
    .unwrap()
}

#[test]
fn the_m12_4_10_kev_peak_box_is_good_for_every_algorithm() {
    let vis = m12_peak_vis();
    assert!(vis.meta.elut_file.is_some());
    let recs: Vec<_> = [
        Algorithm::Bp,
        Algorithm::Clean,
        Algorithm::Mem,
        Algorithm::Em,
        Algorithm::Fwdfit,
    ]
    .into_iter()
    .map(|a| {
        let params = ImagingParams {
            algorithm: Some(a),
            ..Default::default()
        }
        .check()
        .unwrap();
        reconstruct(&vis, &params).unwrap()
    })
    .collect();
    let peaks: Vec<[f64; 2]> = recs.iter().map(|r| r.map.peak_offset_arcsec()).collect();
    for r in &recs {
        let q = assess(r, &vis.meta, &peaks, &QualityThresholds::default());
        println!(
            "{}: {} {:?} {:?}",
            r.algorithm, q.grade, q.reasons, q.figures
        );
        assert_eq!(q.grade, Grade::Good, "{}: {:?}", r.algorithm, q.reasons);
        assert!(q.figures.net_counts > 100_000.0 && q.figures.snr > 100.0);
    }
}

#[test]
fn a_synthetic_source_at_the_edge_of_the_field_is_not_good() {
    let mut vis = m12_peak_vis();
    // A point source of flux 1000 at (+118″, +10″) from the phase centre of a 129 × 2″ map
    // (half-width 129″): V = F·exp(+2πi(ux + vy)) (D.7 convention), 5 % errors.
    let (x, y, flux) = (118.0, 10.0, 1000.0);
    for v in &mut vis.visibilities {
        let phase = 2.0 * std::f64::consts::PI * (v.u * x + v.v * y);
        v.real = flux * phase.cos();
        v.imag = flux * phase.sin();
        v.amplitude_error = 0.05 * flux;
    }
    for a in [Algorithm::Bp, Algorithm::Clean] {
        let params = ImagingParams {
            algorithm: Some(a),
            ..Default::default()
        }
        .check()
        .unwrap();
        let rec = reconstruct(&vis, &params).unwrap();
        let peak = rec.map.peak_offset_arcsec();
        assert!((peak[0] - x).abs() < 6.0, "{a}: peak {peak:?}");
        let q = assess(&rec, &vis.meta, &[peak], &QualityThresholds::default());
        println!("{a}: {} {:?}", q.grade, q.reasons);
        assert_ne!(q.grade, Grade::Good, "{a}");
        assert!(
            q.reasons.iter().any(|r| r.contains("edge")),
            "{:?}",
            q.reasons
        );
        assert!(q.figures.peak_edge_distance_arcsec < 13.0);
    }
}
