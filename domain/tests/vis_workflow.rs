//! The whole chain on real files: the M1.2 flare of 2022-11-11 against the independent
//! reference, the community flare list and the IDL full-disk map; the 2020 demo event without
//! an aspect file; malformed requests.

use domain::calibration::CalibrationOptions;
use domain::energy::EnergyBand;
use domain::l1::PixelData;
use domain::time_range::TimeRange;
use domain::visfile::VisFile;
use domain::workflow::{
    LocateRequest, PhaseCenterChoice, VisibilityRequest, WorkflowError, locate_from_paths,
    visibilities_from_paths,
};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/stix")
}

fn l1(uid: &str) -> PathBuf {
    std::fs::read_dir(data_dir().join("l1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(uid))
        .unwrap()
}

fn aux(day: &str) -> PathBuf {
    data_dir().join(format!("l1/solo_L2_stix-aux-ephemeris_{day}_V01.fits"))
}

fn reference() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(data_dir().join("reference/visibilities_20221111_M1.2.json"))
            .unwrap(),
    )
    .unwrap()
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Flare-list position of the M1.2 flare (`flare_reference_locations.csv`).
fn flare_list_hpc() -> [f64; 2] {
    let text = std::fs::read_to_string(data_dir().join("flare_reference_locations.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let ix = header.iter().position(|h| *h == "hpc_x_solo").unwrap();
    let iy = header.iter().position(|h| *h == "hpc_y_solo").unwrap();
    let row: Vec<&str> = lines
        .find(|l| l.starts_with("2211116471,"))
        .unwrap()
        .split(',')
        .collect();
    [row[ix].parse().unwrap(), row[iy].parse().unwrap()]
}

/// Peak of the IDL full-disk map, in HPC through its own WCS (PC = identity, CRVAL = 0).
fn idl_map_peak_hpc() -> [f64; 2] {
    let path = data_dir().join("reference/bp_nat_map-2211116471.fits");
    let mut f = fitsio::FitsFile::open(&path).unwrap();
    let hdu = f.primary_hdu().unwrap();
    let img: ndarray::ArrayD<f32> = hdu.read_image(&mut f).unwrap();
    let key = |f: &mut fitsio::FitsFile, k: &str| hdu.read_key::<f64>(f, k).unwrap();
    let (crpix1, crpix2) = (key(&mut f, "CRPIX1"), key(&mut f, "CRPIX2"));
    let (cdelt1, cdelt2) = (key(&mut f, "CDELT1"), key(&mut f, "CDELT2"));
    let (crval1, crval2) = (key(&mut f, "CRVAL1"), key(&mut f, "CRVAL2"));
    let mut best = (0usize, 0usize, f32::MIN);
    for (idx, &v) in img.indexed_iter() {
        if v > best.2 {
            best = (idx[0], idx[1], v);
        }
    }
    let (iy, ix) = (best.0 as f64, best.1 as f64);
    [
        crval1 + (ix + 1.0 - crpix1) * cdelt1,
        crval2 + (iy + 1.0 - crpix2) * cdelt2,
    ]
}

#[test]
fn m12_location_agrees_with_flare_list_and_idl_map() {
    let r = reference();
    let fd = &r["full_disk_bp"];
    let tr = TimeRange::parse(&format!(
        "{}/{}",
        fd["time_range"][0].as_str().unwrap(),
        fd["time_range"][1].as_str().unwrap()
    ))
    .unwrap();
    let loc = locate_from_paths(&LocateRequest {
        l1: l1("2211116471"),
        aux: Some(aux("20221111")),
        bkg: Some(l1("2211098157")),
        time: Some(tr),
        energy: EnergyBand::new(6.0, 10.0).unwrap(),
    })
    .unwrap();
    let fl = flare_list_hpc();
    let idl = idl_map_peak_hpc();
    eprintln!(
        "location {:?} (coarse {:?}); flare list {fl:?} at {:.2}″; IDL {idl:?} at {:.2}″; sidelobe {:.3}",
        loc.hpc_arcsec,
        loc.coarse_hpc_arcsec,
        dist(loc.hpc_arcsec, fl),
        dist(loc.hpc_arcsec, idl),
        loc.sidelobe_ratio
    );
    // The IDL map peak is documented as (825.6, 144.8).
    assert!(dist(idl, [825.6, 144.8]) < 1.0, "IDL peak {idl:?}");
    assert!(
        dist(loc.hpc_arcsec, fl) < 8.0,
        "{:?} vs flare list {fl:?}",
        loc.hpc_arcsec
    );
    assert!(
        dist(loc.hpc_arcsec, idl) < 8.0,
        "{:?} vs IDL {idl:?}",
        loc.hpc_arcsec
    );
    // The coarse full-disk peak is the reference script's peak (same recipe), within a pixel.
    let ref_peak = [
        fd["peak_hpc"][0].as_f64().unwrap(),
        fd["peak_hpc"][1].as_f64().unwrap(),
    ];
    assert!(
        dist(loc.coarse_hpc_arcsec, ref_peak) < 1e-3,
        "{:?}",
        loc.coarse_hpc_arcsec
    );
    assert!((loc.full_disk_pixel_arcsec - fd["pixel_arcsec"].as_f64().unwrap()).abs() < 1e-4);
    assert_eq!(loc.pointing_source, "SAS");
    assert!(loc.sidelobe_ratio < 0.9 && !loc.sidelobe_warning);
    assert_eq!(loc.energy_range_kev, [6.0, 10.0]);
    assert_eq!(loc.time_range.start, "2022-11-11T11:35:40.271");
    let json = serde_json::to_value(&loc).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for k in [
        "hpc_arcsec",
        "stix_arcsec",
        "pointing_source",
        "sidelobe_ratio",
        "time_range",
        "energy_range_kev",
    ] {
        assert!(keys.contains(&k), "{k}");
    }
}

#[test]
fn m12_default_window_is_around_the_peak() {
    let loc = locate_from_paths(&LocateRequest {
        l1: l1("2211116471"),
        aux: Some(aux("20221111")),
        bkg: None,
        time: None,
        energy: EnergyBand::new(6.0, 10.0).unwrap(),
    })
    .unwrap();
    // Peak bin 11:36:40–11:37:40, window ±60 s around its centre → whole bins 11:35:40–11:38:40.
    assert!(
        loc.time_range.start.starts_with("2022-11-11T11:35:40"),
        "{:?}",
        loc.time_range
    );
    assert!(
        dist(loc.hpc_arcsec, flare_list_hpc()) < 8.0,
        "{:?}",
        loc.hpc_arcsec
    );
}

#[test]
fn m12_visibility_file_matches_reference() {
    let r = reference();
    let c = &r["cases"][0];
    let center = [
        c["mapcenter_stix"][0].as_f64().unwrap(),
        c["mapcenter_stix"][1].as_f64().unwrap(),
    ];
    let req = VisibilityRequest {
        l1: l1("2211116471"),
        bkg: Some(l1("2211098157")),
        aux: Some(aux("20221111")),
        time: TimeRange::parse("2022-11-11T11:36:45/2022-11-11T11:37:30").unwrap(),
        energy: EnergyBand::new(4.0, 10.0).unwrap(),
        center: PhaseCenterChoice::Stix(center),
        calibration: CalibrationOptions::NO_ELUT,
    };
    let vf = visibilities_from_paths(&req).unwrap();
    let m = &vf.meta;
    assert_eq!(m.time_range.start, "2022-11-11T11:36:40.271");
    assert_eq!(m.time_range.end, "2022-11-11T11:37:40.271");
    assert_eq!(m.energy_range_kev, [4.0, 10.0]);
    assert_eq!(m.map_wcs.pointing_source, "SAS");
    assert!((m.map_wcs.roll_angle_deg - c["aux"]["roll"].as_f64().unwrap()).abs() < 1e-6);
    assert!((m.map_wcs.rotation_angle_deg - 90.0 - m.map_wcs.roll_angle_deg).abs() < 1e-12);
    let hpc = [
        c["mapcenter_hpc"][0].as_f64().unwrap(),
        c["mapcenter_hpc"][1].as_f64().unwrap(),
    ];
    assert!(dist(m.map_wcs.reference_hpc_arcsec, hpc) < 1e-3);
    assert!((m.map_wcs.observer_hgs.lon_deg + 21.45143130988004).abs() < 1e-9);
    assert!(m.calibration_version.contains("no ELUT"));
    assert!(m.background_file.as_deref().unwrap().contains("2211098157"));
    assert!(m.aux_file.as_deref().unwrap().contains("20221111"));
    assert!(m.total_counts > 0.0 && m.background_counts > 0.0);
    let used = vf.used();
    assert_eq!(used.len(), 24);
    for (rv, v) in c["visibilities"].as_array().unwrap().iter().zip(&used) {
        let amp = rv["amp"].as_f64().unwrap();
        assert_eq!(rv["label"].as_str().unwrap(), v.label);
        assert!((v.real - rv["re"].as_f64().unwrap()).abs() / amp < 1e-3);
        assert!((v.imag - rv["im"].as_f64().unwrap()).abs() / amp < 1e-3);
        assert!(
            (v.amplitude_error - rv["sigamp"].as_f64().unwrap()).abs()
                / rv["sigamp"].as_f64().unwrap()
                < 1e-3
        );
    }
    // Round trip through the stix-vis format.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("vis.json");
    vf.write(&p).unwrap();
    let back = VisFile::read(&p).unwrap();
    assert_eq!(back.meta.time_range, vf.meta.time_range);
    assert_eq!(back.visibilities.len(), vf.visibilities.len());
    for (a, b) in back.visibilities.iter().zip(&vf.visibilities) {
        assert_eq!(a.label, b.label);
        assert!((a.real - b.real).abs() <= 1e-12 * b.amplitude());
        assert!((a.imag - b.imag).abs() <= 1e-12 * b.amplitude());
    }
    assert_eq!(
        back.summed_rates.as_ref().map(|s| s.detectors.len()),
        Some(30)
    );
    // Auto centre: the phase centre is the refined flare location, near the reference's.
    let auto = visibilities_from_paths(&VisibilityRequest {
        center: PhaseCenterChoice::Auto,
        ..req
    })
    .unwrap();
    let ac = auto.meta.phase_center_arcsec();
    assert!(dist(ac, center) < 8.0, "{ac:?} vs {center:?}");
    assert!(dist(auto.meta.map_wcs.reference_hpc_arcsec, flare_list_hpc()) < 8.0);
}

#[test]
fn demo_2020_without_aspect_reports_assumed_pointing() {
    let vf = visibilities_from_paths(&VisibilityRequest {
        l1: l1("1178428688"),
        bkg: Some(l1("1178082832")),
        aux: None,
        time: TimeRange::parse("2020-06-07T21:39:00/2020-06-07T21:42:49").unwrap(),
        energy: EnergyBand::new(6.0, 10.0).unwrap(),
        center: PhaseCenterChoice::Auto,
        calibration: CalibrationOptions::default(),
    })
    .unwrap();
    assert!(
        vf.meta
            .map_wcs
            .pointing_source
            .starts_with("assumed (no aspect file")
    );
    assert_eq!(vf.visibilities.len(), 30);
    assert_eq!(vf.meta.energy_range_kev, [6.0, 10.0]);
    assert!(
        vf.visibilities
            .iter()
            .all(|v| v.amplitude_error > 0.0 && v.real.is_finite())
    );
    let sci = PixelData::read(&l1("1178428688")).unwrap();
    assert!(sci.predates_time_bin_fix());
}

#[test]
fn bad_requests_are_typed_bad_input_errors() {
    let base = VisibilityRequest {
        l1: l1("2211116471"),
        bkg: Some(l1("2211098157")),
        aux: Some(aux("20221111")),
        time: TimeRange::parse("2022-11-11T11:36:45/2022-11-11T11:37:30").unwrap(),
        energy: EnergyBand::new(4.0, 10.0).unwrap(),
        center: PhaseCenterChoice::Stix([0.0, 0.0]),
        calibration: CalibrationOptions::default(),
    };
    // Empty selection: an interval outside the file.
    let err = visibilities_from_paths(&VisibilityRequest {
        time: TimeRange::parse("2022-11-11T13:00:00/2022-11-11T13:01:00").unwrap(),
        ..base.clone()
    })
    .unwrap_err();
    assert!(
        matches!(err, WorkflowError::Selection(_)) && err.is_bad_input(),
        "{err}"
    );
    // Band outside the file.
    let err = visibilities_from_paths(&VisibilityRequest {
        energy: EnergyBand::new(50.0, 84.0).unwrap(),
        ..base.clone()
    })
    .unwrap_err();
    assert!(
        matches!(err, WorkflowError::Selection(_)) && err.is_bad_input(),
        "{err}"
    );
    // An aux file given as L1.
    let err = visibilities_from_paths(&VisibilityRequest {
        l1: aux("20221111"),
        ..base.clone()
    })
    .unwrap_err();
    assert!(
        matches!(err, WorkflowError::L1(_)) && err.is_bad_input(),
        "{err}"
    );
    // A flare file given as background.
    let err = visibilities_from_paths(&VisibilityRequest {
        bkg: Some(l1("2211134748")),
        ..base.clone()
    })
    .unwrap_err();
    assert!(matches!(err, WorkflowError::NotBackground { .. }), "{err}");
    // Aux of another day.
    let err = visibilities_from_paths(&VisibilityRequest {
        aux: Some(aux("20221113")),
        ..base
    })
    .unwrap_err();
    assert!(
        matches!(err, WorkflowError::Aspect(_)) && err.is_bad_input(),
        "{err}"
    );
}
