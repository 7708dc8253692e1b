//! The ELUT edge correction (section B; stixpy `get_elut_correction`) on the 2022-11-11 M1.2
//! flare against a slow, obviously correct reference written here from the formula: read the
//! CONF table line by line, compute the actual keV edges `(ADC − offset)·gain` of the band's
//! first and last science channel for every detector and pixel, scale the counts of those
//! groups by `f_lo = (E_act_hi − E_nom_lo)/(E_act_hi − E_act_lo)` and
//! `f_hi = (E_nom_hi − E_act_lo)/(E_act_hi − E_act_lo)`, and sum. The no-ELUT path stays the
//! one of the reference visibilities (`vis_calibration.rs`).

use domain::calibration::{CalibratedRates, CalibrationOptions, ElutOutcome, SumCase};
use domain::energy::EnergyBand;
use domain::l1::PixelData;
use domain::selection::select;
use domain::time_range::TimeRange;
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

/// `edges[det][pixel][k]`, the actual keV of ADC edge k, straight from the CSV text.
fn reference_edges() -> Vec<Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(data_dir().join("elut/elut_table_20220918.csv")).unwrap();
    let mut edges = vec![vec![Vec::new(); 12]; 32];
    for line in text.lines().skip(3) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<f64> = line.split(',').map(|s| s.trim().parse().unwrap()).collect();
        let (offset, gain, pixel, det) = (f[0], f[1], f[2] as usize, f[3] as usize);
        edges[det][pixel] = f[4..4 + 31]
            .iter()
            .map(|adc| (adc - offset) * gain)
            .collect();
    }
    edges
}

// The slow reference indexes everything by detector and pixel on purpose.
#[allow(clippy::needless_range_loop)]
#[test]
fn elut_corrected_counts_match_the_formula() {
    let sci = PixelData::read(&l1("2211116471")).unwrap();
    let tr = TimeRange::parse("2022-11-11T11:36:40.271/2022-11-11T11:37:40.271").unwrap();
    let edges = reference_edges();
    for (lo, hi) in [(4.0, 10.0), (16.0, 28.0), (6.0, 7.0)] {
        let band = EnergyBand::new(lo, hi).unwrap();
        let sel = select(&sci, &tr, &band).unwrap();
        let plain = CalibratedRates::compute(&sci, None, &sel, SumCase::TopBot).unwrap();
        let elut = CalibratedRates::compute_with(
            &sci,
            None,
            &sel,
            SumCase::TopBot,
            CalibrationOptions::default(),
        )
        .unwrap();
        assert_eq!(
            elut.elut,
            ElutOutcome::Applied("elut_table_20220918.csv".into())
        );
        assert_eq!(plain.elut, ElutOutcome::Off);
        assert!(
            elut.elut
                .calibration_version()
                .contains("ELUT=elut_table_20220918.csv")
        );
        let (g0, g1) = (sel.first_group, sel.last_group);
        let first = &sci.energy_groups[g0];
        let last = &sci.energy_groups[g1];
        // Science channel c spans ADC edges c−1 .. c (edge 0 = 4 keV).
        let c_lo = first.first_channel.unwrap() as usize;
        let c_hi = last.last_channel.unwrap() as usize;
        let mut max_rate_change: f64 = 0.0;
        for d in 0..32 {
            for p in 0..12 {
                let e = &edges[d][p];
                let f_lo = (e[c_lo] - first.low_kev) / (e[c_lo] - e[c_lo - 1]);
                let f_hi = (last.high_kev - e[c_hi - 1]) / (e[c_hi] - e[c_hi - 1]);
                let mut expected = 0.0;
                let mut variance = 0.0;
                for t in sel.first_bin..=sel.last_bin {
                    for g in g0..=g1 {
                        let mut f = 1.0;
                        if g == g0 {
                            f *= f_lo;
                        }
                        if g == g1 {
                            f *= f_hi;
                        }
                        let n = sci.counts[[t, d, p, g]];
                        let s = sci.counts_comp_err[[t, d, p, g]];
                        expected += f * n;
                        variance += f * f * (s * s + n);
                    }
                }
                let got = elut.counts.counts[d][p];
                assert!(
                    (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                    "{lo}-{hi} keV det {d} pixel {p}: {got} vs {expected}"
                );
                let gv = elut.counts.variance[d][p];
                assert!((gv - variance).abs() <= 1e-9 * variance.max(1.0));
            }
            for col in 0..4 {
                let (a, b) = (elut.rates[d][col], plain.rates[d][col]);
                if b.abs() > 0.0 {
                    max_rate_change = max_rate_change.max((a / b - 1.0).abs());
                }
            }
        }
        // A few % at most (section B), and not nothing.
        println!("{lo}-{hi} keV: largest A/B/C/D rate change {max_rate_change:.4}");
        // The 4–10 keV figure is the 0.6 % the issue measured with stixpy; a 1-keV band has both
        // of its edges corrected (≈ 0.1 keV of 1 keV).
        assert!(
            max_rate_change > 1e-4 && max_rate_change < 0.15,
            "{max_rate_change}"
        );
        if (lo, hi) == (4.0, 10.0) {
            assert!(max_rate_change < 0.007, "{max_rate_change}");
        }
    }
}

#[test]
fn files_without_a_shipped_table_say_so() {
    let sci = PixelData::read(&l1("1178428688")).unwrap();
    let tr = TimeRange::parse("2020-06-07T21:39:00/2020-06-07T21:42:49").unwrap();
    let sel = select(&sci, &tr, &EnergyBand::new(6.0, 10.0).unwrap()).unwrap();
    let cal = CalibratedRates::compute_with(
        &sci,
        None,
        &sel,
        SumCase::TopBot,
        CalibrationOptions::default(),
    )
    .unwrap();
    let ElutOutcome::Unavailable(why) = &cal.elut else {
        panic!("{:?}", cal.elut);
    };
    assert!(why.contains("elut_table_20200519.csv"), "{why}");
    assert!(cal.elut.calibration_version().contains("no ELUT"));
}
