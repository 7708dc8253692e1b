//! Every real L1 file in `data/stix/l1/` reads with the shapes, UIDs, times and total counts
//! of `data/stix/README.md` (measured independently); malformed input gives typed errors.

use domain::energy::EnergyBand;
use domain::l1::{L1Error, PixelData, RejectCode};
use domain::time_range::{format_utc, parse_utc};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/stix")
}

fn l1(uid_fragment: &str) -> PathBuf {
    let dir = data_dir().join("l1");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(uid_fragment))
        .unwrap_or_else(|| panic!("no file {uid_fragment}"))
}

struct Expect {
    uid: u64,
    bins: usize,
    pixels: usize,
    groups: usize,
    start: &'static str,
    end: &'static str,
    c4_10: f64,
    c16_28: f64,
}

const FILES: [Expect; 7] = [
    Expect {
        uid: 2211116471,
        bins: 59,
        pixels: 8,
        groups: 17,
        start: "2022-11-11T11:11:02.8",
        end: "2022-11-11T12:12:12.3",
        c4_10: 12_167_911.0,
        c16_28: 214_778.0,
    },
    Expect {
        uid: 2211125869,
        bins: 54,
        pixels: 8,
        groups: 17,
        start: "2022-11-12T00:03:34.9",
        end: "2022-11-12T01:02:30.1",
        c4_10: 8_428_525.0,
        c16_28: 96_944.0,
    },
    Expect {
        uid: 2211134748,
        bins: 10,
        pixels: 8,
        groups: 17,
        start: "2022-11-13T06:45:25.4",
        end: "2022-11-13T06:56:17.9",
        c4_10: 142_696.0,
        c16_28: 15_491.0,
    },
    Expect {
        uid: 2211095700,
        bins: 63,
        pixels: 12,
        groups: 17,
        start: "2022-11-09T10:43:19.2",
        end: "2022-11-09T10:56:23.1",
        c4_10: 97_009.0,
        c16_28: 19_714.0,
    },
    Expect {
        uid: 2211098157,
        bins: 1,
        pixels: 12,
        groups: 31,
        start: "2022-11-09T12:17:30.2",
        end: "2022-11-09T13:10:50.2",
        c4_10: 197_183.0,
        c16_28: 74_449.0,
    },
    Expect {
        uid: 1178428688,
        bins: 45,
        pixels: 8,
        groups: 18,
        start: "2020-06-07T21:37:09.6",
        end: "2020-06-07T21:52:08",
        c4_10: 219_671.0,
        c16_28: 24_564.0,
    },
    Expect {
        uid: 1178082832,
        bins: 1,
        pixels: 12,
        groups: 17,
        start: "2020-06-07T00:30:01.0",
        end: "2020-06-07T01:29:00",
        c4_10: f64::NAN,
        c16_28: f64::NAN,
    },
];

#[test]
fn every_l1_file_reads_with_the_documented_numbers() {
    let band_lo = EnergyBand::new(4.0, 10.0).unwrap();
    let band_hi = EnergyBand::new(16.0, 28.0).unwrap();
    for e in FILES {
        let pd = PixelData::read(&l1(&e.uid.to_string())).unwrap();
        assert_eq!(pd.uid, e.uid);
        assert!(pd.file_name.contains(&e.uid.to_string()));
        assert_eq!(pd.n_bins(), e.bins, "{}", pd.file_name);
        assert_eq!(pd.pixels_present().len(), e.pixels, "{}", pd.file_name);
        assert_eq!(pd.detectors_present().len(), 32);
        assert_eq!(pd.n_energies(), e.groups, "{}", pd.file_name);
        assert_eq!(pd.counts.shape(), &[e.bins, 32, 12, e.groups]);
        assert!(pd.rcr.iter().all(|&r| r == 0));
        let r = pd.time_range().unwrap();
        // README gives the times rounded to 0.1 s (or 1 s).
        for (got, want) in [(r.start, e.start), (r.end, e.end)] {
            let tol = if want.contains('.') { 0.1 } else { 1.0 };
            let dt = (got - parse_utc(want).unwrap()).num_milliseconds() as f64 / 1e3;
            assert!(
                dt.abs() <= tol,
                "{}: {} vs {want}",
                pd.file_name,
                format_utc(&got)
            );
        }
        assert_eq!(
            pd.bins()[0].start,
            pd.date_beg,
            "first bin starts at DATE-BEG"
        );
        if e.c4_10.is_finite() {
            assert_eq!(
                pd.total_counts(&band_lo).unwrap(),
                e.c4_10,
                "{}",
                pd.file_name
            );
            assert_eq!(
                pd.total_counts(&band_hi).unwrap(),
                e.c16_28,
                "{}",
                pd.file_name
            );
        }
        assert_eq!(pd.is_background_like(), e.bins == 1, "{}", pd.file_name);
        assert_eq!(pd.predates_time_bin_fix(), e.uid < 2_000_000_000);
        // Energy edges come from the file: the first group starts at 4 keV.
        assert_eq!(pd.energy_groups[0].low_kev, 4.0);
        assert!(pd.observer.rsun_arcsec > 1000.0 && pd.observer.dsun_obs_m > 1e10);
    }
}

#[test]
fn background_file_bin_and_full_energy_range() {
    let pd = PixelData::read(&l1("2211098157")).unwrap();
    assert!((pd.durations_seconds[0] - 3200.0).abs() < 1e-6);
    let g = pd.energy_groups.last().unwrap();
    assert_eq!(g.low_kev, 150.0);
    assert!(!g.high_kev.is_finite(), "open top channel");
    assert_eq!(pd.energy_range().unwrap().high_kev, 150.0);
    // Channel 1 = 4–5 keV per the standard binning (section B).
    assert_eq!(pd.energy_groups[0].first_channel, Some(1));
}

#[test]
fn m12_peak_bin_and_bin_lengths() {
    let pd = PixelData::read(&l1("2211116471")).unwrap();
    let lc = pd
        .light_curve(&EnergyBand::new(4.0, 10.0).unwrap())
        .unwrap();
    assert_eq!(lc.band, EnergyBand::new(4.0, 10.0).unwrap());
    // README: the 4–10 keV peak bin is 11:36:40.3–11:37:40.3.
    let peak = lc.peak_index().unwrap();
    assert!(format_utc(&lc.bins[peak].start).starts_with("2022-11-11T11:36:40.2"));
    assert!(
        pd.durations_seconds
            .iter()
            .all(|&d| (40.0..=80.0).contains(&d))
    );
    // Whole-file sum of the full array equals the sum of the per-bin light curve in all groups.
    let all = pd.counts.sum();
    let lc_all = pd
        .light_curve(&EnergyBand::new(4.0, 28.0).unwrap())
        .unwrap();
    assert_eq!(lc_all.counts.iter().sum::<f64>(), all);
}

#[test]
fn malformed_inputs_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Missing file.
    let missing = dir.path().join("nope.fits");
    assert!(matches!(PixelData::read(&missing), Err(L1Error::Io { .. })));
    // Truncated copy of a real file.
    let src = std::fs::read(l1("2211116471")).unwrap();
    for cut in [100usize, 2880 * 3, src.len() / 2, src.len() - 2880] {
        let p = dir.path().join(format!("cut{cut}.fits"));
        std::fs::write(&p, &src[..cut]).unwrap();
        let err = PixelData::read(&p).unwrap_err();
        // Less than one header block is not FITS; anything longer ends before its HDUs do.
        let expected = if cut < 2880 {
            RejectCode::NotFits
        } else {
            RejectCode::Truncated
        };
        assert_eq!(err.reject_code(), Some(expected), "cut {cut}: {err}");
    }
    // Not FITS at all.
    let p = dir.path().join("text.fits");
    std::fs::write(&p, "hello").unwrap();
    assert_eq!(
        PixelData::read(&p).unwrap_err().reject_code(),
        Some(RejectCode::NotFits)
    );
    // Wrong product: an aux file.
    let err = PixelData::read(&data_dir().join("l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits"))
        .unwrap_err();
    match &err {
        L1Error::NotPixelData { product, .. } => assert!(product.contains("aspect"), "{err}"),
        other => panic!("{other}"),
    }
    // Both legacy layouts.
    for entry in std::fs::read_dir(data_dir().join("l1-legacy")).unwrap() {
        let p = entry.unwrap().path();
        let err = PixelData::read(&p).unwrap_err();
        assert!(
            matches!(err, L1Error::Legacy { .. }),
            "{}: {err}",
            p.display()
        );
    }
}

#[test]
fn band_outside_the_file_is_refused() {
    let pd = PixelData::read(&l1("2211116471")).unwrap();
    for (lo, hi) in [(50.0, 80.0), (1.0, 3.0), (1.0, 10.0), (20.0, 40.0)] {
        let err = pd
            .energy_groups_for(&EnergyBand::new(lo, hi).unwrap())
            .unwrap_err();
        assert!(
            matches!(err, L1Error::BandOutsideFile { .. }),
            "{lo}-{hi}: {err}"
        );
    }
    // IDL rule: 5.5–9.5 keV takes the groups containing the edges, 5–10 keV.
    let (_, _, b) = pd
        .energy_groups_for(&EnergyBand::new(5.5, 9.5).unwrap())
        .unwrap();
    assert_eq!((b.low_kev, b.high_kev), (5.0, 10.0));
}
