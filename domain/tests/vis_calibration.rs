//! Live times, rates, counts and calibrated visibilities of the 2022-11-11 M1.2 flare against
//! `reference/visibilities_20221111_M1.2.json` (computed independently with the same recipe).

use domain::calibration::{CalibratedRates, SumCase};
use domain::energy::EnergyBand;
use domain::instrument::by_label;
use domain::l1::PixelData;
use domain::selection::{SelectionError, select};
use domain::time_range::{TimeRange, format_utc};
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

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn m12_rates_and_visibilities_match_reference() {
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir().join("reference/visibilities_20221111_M1.2.json"))
            .unwrap(),
    )
    .unwrap();
    let sci = PixelData::read(&l1("2211116471")).unwrap();
    let bkg = PixelData::read(&l1("2211098157")).unwrap();
    for c in r["cases"].as_array().unwrap() {
        let tr = TimeRange::parse(&format!(
            "{}/{}",
            c["time_range"][0].as_str().unwrap(),
            c["time_range"][1].as_str().unwrap()
        ))
        .unwrap();
        let band = EnergyBand::new(
            c["energy_keV"][0].as_f64().unwrap(),
            c["energy_keV"][1].as_f64().unwrap(),
        )
        .unwrap();
        let sel = select(&sci, &tr, &band).unwrap();
        assert_eq!(sel.first_bin as u64, c["time_bins"][0].as_u64().unwrap());
        assert_eq!(sel.last_bin as u64, c["time_bins"][1].as_u64().unwrap());
        assert_eq!(
            format_utc(&sel.time.start),
            c["time_range"][0].as_str().unwrap()
        );
        assert_eq!(sel.band, band);
        let cal = CalibratedRates::compute(&sci, Some(&bkg), &sel, SumCase::TopBot).unwrap();
        for (det, lt) in c["livetime_s_per_detector"].as_object().unwrap() {
            let d: usize = det.parse().unwrap();
            assert!(
                rel(cal.live_time_seconds[d - 1], lt.as_f64().unwrap()) < 1e-9,
                "det {d}"
            );
        }
        assert_eq!(
            cal.total_counts_all,
            c["total_counts_all_det_all_pix_before_bkg"]
                .as_f64()
                .unwrap()
        );
        assert!(
            rel(
                cal.background_counts_all,
                c["bkg_counts_scaled_all"].as_f64().unwrap()
            ) < 1e-6,
            "bkg {} vs {}",
            cal.background_counts_all,
            c["bkg_counts_scaled_all"]
        );
        let after: f64 = domain::instrument::DEFAULT_IMAGING_DETECTORS
            .iter()
            .map(|&d| {
                (0..8)
                    .map(|p| cal.counts.counts[d as usize - 1][p])
                    .sum::<f64>()
            })
            .sum();
        assert!(
            rel(
                after,
                c["counts_det10to3_topbot_after_bkg"].as_f64().unwrap()
            ) < 1e-9
        );
        for (label, abcd) in c["abcd_rate_per_det"].as_object().unwrap() {
            let d = by_label(label).unwrap().index0();
            for k in 0..4 {
                let want = abcd[k].as_f64().unwrap();
                assert!(rel(cal.rates[d][k], want) < 1e-6, "{label} {k}");
                let want_e = c["abcd_rate_err_per_det"][label][k].as_f64().unwrap();
                assert!(rel(cal.rate_errors[d][k], want_e) < 1e-6, "{label} err {k}");
            }
        }
        let center = [
            c["mapcenter_stix"][0].as_f64().unwrap(),
            c["mapcenter_stix"][1].as_f64().unwrap(),
        ];
        let vis = cal.visibilities(center);
        assert_eq!(vis.len(), 30);
        assert_eq!(vis.iter().filter(|v| v.used).count(), 24);
        let refs = c["visibilities"].as_array().unwrap();
        for (rv, v) in refs.iter().zip(vis.iter()) {
            assert_eq!(rv["label"].as_str().unwrap(), v.label);
            assert_eq!(rv["det"].as_u64().unwrap(), v.isc as u64);
            assert!(v.used);
            assert!(rel(v.u, rv["u"].as_f64().unwrap()) < 1e-9);
            assert!(rel(v.v, rv["v"].as_f64().unwrap()) < 1e-9);
            let amp = rv["amp"].as_f64().unwrap();
            // Re/Im compared relative to the amplitude (a small component may be ~0).
            assert!(
                (v.real - rv["re"].as_f64().unwrap()).abs() / amp < 1e-3,
                "{} re",
                v.label
            );
            assert!(
                (v.imag - rv["im"].as_f64().unwrap()).abs() / amp < 1e-3,
                "{} im",
                v.label
            );
            assert!(rel(v.amplitude(), amp) < 1e-3, "{}", v.label);
            assert!(
                rel(v.amplitude_error, rv["sigamp"].as_f64().unwrap()) < 1e-3,
                "{}",
                v.label
            );
        }
        // Summed rates carry the phases EM subtracts.
        let sr = cal.summed_rates();
        assert_eq!(sr.detectors.len(), 30);
        let d10a = &sr.detectors[0];
        assert_eq!(d10a.label, "10a");
        assert!((d10a.calibration_phase_deg - (46.1 - 51.9 - 0.7)).abs() < 1e-9);
    }
}

#[test]
fn selection_refuses_outside_and_reports_actual() {
    let sci = PixelData::read(&l1("2211116471")).unwrap();
    let band = EnergyBand::new(4.0, 10.0).unwrap();
    // Edges inside bins: whole bins containing them.
    let tr = TimeRange::parse("2022-11-11T11:36:50/2022-11-11T11:37:10").unwrap();
    let sel = select(&sci, &tr, &band).unwrap();
    assert_eq!(sel.first_bin, sel.last_bin);
    assert!(sel.time.start <= tr.start && sel.time.end >= tr.end);
    let tr = TimeRange::parse("2022-11-11T10:00:00/2022-11-11T10:01:00").unwrap();
    assert!(matches!(
        select(&sci, &tr, &band),
        Err(SelectionError::Time { .. })
    ));
    let tr = TimeRange::parse("2022-11-11T11:36:50/2022-11-11T11:37:10").unwrap();
    assert!(matches!(
        select(&sci, &tr, &EnergyBand::new(40.0, 80.0).unwrap()),
        Err(SelectionError::Energy(_))
    ));
}

#[test]
fn mask_change_inside_the_interval_is_refused() {
    let mut sci = PixelData::read(&l1("2211116471")).unwrap();
    sci.rcr[25] = 1;
    let band = EnergyBand::new(4.0, 10.0).unwrap();
    let tr = TimeRange::parse("2022-11-11T11:36:50/2022-11-11T11:39:00").unwrap();
    let err = select(&sci, &tr, &band).unwrap_err();
    assert!(matches!(err, SelectionError::MasksChange { .. }), "{err}");
    assert!(err.to_string().contains("attenuator"));
    sci.rcr[25] = 0;
    sci.pixel_masks[25][9] = true;
    assert!(matches!(
        select(&sci, &tr, &band),
        Err(SelectionError::MasksChange { .. })
    ));
}

/// Slow, obviously correct reference for the rates: loop over every element of the full array.
#[test]
fn rates_equal_a_direct_sum() {
    let sci = PixelData::read(&l1("2211095700")).unwrap();
    let band = EnergyBand::new(6.0, 12.0).unwrap();
    let tr = TimeRange::parse("2022-11-09T10:47:00/2022-11-09T10:48:00").unwrap();
    let sel = select(&sci, &tr, &band).unwrap();
    for sc in [SumCase::TopBot, SumCase::Small, SumCase::All, SumCase::Top] {
        let cal = CalibratedRates::compute(&sci, None, &sel, sc).unwrap();
        for d in [0usize, 2, 19, 31] {
            for col in 0..4 {
                let mut n = 0.0;
                for ((t, dd, p, e), &v) in sci.counts.indexed_iter() {
                    if sel.bins().contains(&t)
                        && dd == d
                        && p % 4 == col
                        && sc.rows().contains(&(p / 4))
                        && sel.groups().contains(&e)
                    {
                        n += v;
                    }
                }
                let want = n / (cal.live_time_seconds[d] * 6.0 * sc.area_cm2());
                assert!(rel(cal.rates[d][col], want) < 1e-12);
            }
        }
    }
}
