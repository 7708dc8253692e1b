//! `preview-v1` on synthetic light curves: big flare (cadence boxes with exact centres),
//! faint cadence boxes become skips, small flare, single-bin data, below threshold, window
//! clipped at the file edge, variable bins, flare outside the file, ordering of bands.

use chrono::{DateTime, Duration, Utc};
use domain::energy::EnergyBand;
use domain::lightcurve::{LightCurve, TimeBin};
use domain::policy::preview_v1::{BoxKind, POLICY_VERSION, PreviewSettings, plan_boxes};
use domain::policy::{FlareOrigin, FlareWindow};
use domain::time_range::{TimeRange, parse_utc};

fn t0() -> DateTime<Utc> {
    parse_utc("2022-11-11T11:00:00").unwrap()
}

fn at(s: f64) -> DateTime<Utc> {
    t0() + Duration::milliseconds((s * 1000.0).round() as i64)
}

fn range(a: f64, b: f64) -> TimeRange {
    TimeRange::new(at(a), at(b)).unwrap()
}

/// A light curve with bin edges `edges_s` (seconds from t0) and counts from `f(start, end)`.
fn curve(band: [f64; 2], edges_s: &[f64], f: impl Fn(f64, f64) -> f64) -> LightCurve {
    let bins: Vec<TimeBin> = edges_s
        .windows(2)
        .map(|w| TimeBin {
            start: at(w[0]),
            end: at(w[1]),
        })
        .collect();
    let counts = edges_s.windows(2).map(|w| f(w[0], w[1])).collect();
    LightCurve {
        band: EnergyBand::new(band[0], band[1]).unwrap(),
        bins,
        counts,
    }
}

fn uniform_edges(start: f64, end: f64, step: f64) -> Vec<f64> {
    let n = ((end - start) / step).round() as usize;
    (0..=n).map(|i| start + i as f64 * step).collect()
}

fn flare(a: f64, b: f64) -> FlareWindow {
    FlareWindow {
        flare_id: "2211111100".into(),
        range: range(a, b),
        peak: None,
        origin: FlareOrigin::Listed { request_uid: None },
    }
}

/// Counts of the bins of `lc` whose start is in `[a, b)` seconds: an independent sum.
fn sum_bins(lc: &LightCurve, a: f64, b: f64) -> f64 {
    lc.bins
        .iter()
        .zip(&lc.counts)
        .filter(|(bin, _)| bin.start >= at(a) && bin.start < at(b))
        .map(|(_, c)| c)
        .sum()
}

/// Strong flare between 600 s and 6600 s with its brightest 60 s bin at [3600, 3660).
fn big_profile(a: f64, _b: f64) -> f64 {
    if (600.0..6600.0).contains(&a) {
        12_000.0 + 8_000.0 * (-(a - 3600.0).abs() / 1000.0).exp()
    } else {
        100.0
    }
}

#[test]
fn big_flare_gets_a_peak_box_and_cadence_boxes_left_and_right() {
    let lc = curve([4.0, 10.0], &uniform_edges(0.0, 7200.0, 60.0), big_profile);
    let plan = plan_boxes(
        &flare(600.0, 6600.0),
        std::slice::from_ref(&lc),
        &PreviewSettings::default(),
    );
    assert!(plan.skips.is_empty(), "{:?}", plan.skips);
    // Peak centre 3630 s; windows [c-30, c+30] must stay inside [600, 6600]:
    // k = -5 (600–660) … k = +4 (6000–6060); k = +5 would end at 6660.
    let steps: Vec<i64> = (-5..=4).collect();
    assert_eq!(plan.boxes.len(), steps.len());
    for (b, k) in plan.boxes.iter().zip(&steps) {
        let centre = 3630.0 + 600.0 * *k as f64;
        assert_eq!(b.requested, range(centre - 30.0, centre + 30.0), "k = {k}");
        // 60 s bins aligned with the windows: the actual bins are the window itself.
        assert_eq!(b.actual, b.requested);
        assert_eq!(b.counts, sum_bins(&lc, centre - 30.0, centre + 30.0));
        let expected_kind = if *k == 0 {
            BoxKind::Peak
        } else {
            BoxKind::Cadence { step: *k }
        };
        assert_eq!(b.kind, expected_kind);
        assert_eq!(b.policy_version, POLICY_VERSION);
        assert_eq!(b.inputs["policy_version"], "preview-v1");
        assert_eq!(b.inputs["classification"], "big");
        assert_eq!(b.inputs["step"], *k);
        assert_eq!(b.inputs["settings"]["min_counts"], 10_000.0);
        assert_eq!(b.inputs["band_kev"], serde_json::json!([4.0, 10.0]));
        assert_eq!(b.inputs["flare"]["flare_id"], "2211111100");
        assert_eq!(b.inputs["flare"]["origin"]["source"], "listed");
        assert_eq!(b.inputs["peak"]["window_counts"], 20_000.0);
        assert_eq!(
            b.inputs["flare_in_file"],
            serde_json::to_value(range(600.0, 6600.0)).unwrap()
        );
    }
}

#[test]
fn faint_cadence_boxes_of_a_big_flare_are_skips_with_reasons() {
    // Bright 60 s peak, tails far below 10 000 counts per minute.
    let lc = curve([4.0, 10.0], &uniform_edges(0.0, 3600.0, 60.0), |a, _| {
        if a == 1800.0 {
            50_000.0
        } else if (600.0..3000.0).contains(&a) {
            3_000.0
        } else {
            50.0
        }
    });
    let plan = plan_boxes(&flare(600.0, 3000.0), &[lc], &PreviewSettings::default());
    assert_eq!(plan.boxes.len(), 1);
    assert_eq!(plan.boxes[0].kind, BoxKind::Peak);
    assert_eq!(plan.boxes[0].counts, 50_000.0);
    // k = -2, -1, +1 fit in [600, 3000] around 1830 (k = +2 would end at 3060).
    let steps: Vec<BoxKind> = plan.skips.iter().map(|s| s.kind.unwrap()).collect();
    assert_eq!(
        steps,
        [-2, -1, 1].map(|step| BoxKind::Cadence { step }).to_vec()
    );
    for s in &plan.skips {
        assert_eq!(s.counts, 3_000.0);
        assert_eq!(
            s.reason,
            "only 3 000 counts in 4–10 keV, below min_counts 10 000"
        );
    }
}

#[test]
fn small_flare_gets_one_whole_flare_box() {
    // Peak bin 5 000 counts (< 10 000) but 40 000 over the flare.
    let lc = curve([4.0, 10.0], &uniform_edges(0.0, 1800.0, 60.0), |a, _| {
        if a == 900.0 {
            5_000.0
        } else if (600.0..1200.0).contains(&a) {
            3_888.0
        } else {
            20.0
        }
    });
    let plan = plan_boxes(
        &flare(600.0, 1200.0),
        std::slice::from_ref(&lc),
        &PreviewSettings::default(),
    );
    assert!(plan.skips.is_empty());
    assert_eq!(plan.boxes.len(), 1);
    let b = &plan.boxes[0];
    assert_eq!(b.kind, BoxKind::WholeFlare);
    assert_eq!(b.requested, range(600.0, 1200.0));
    assert_eq!(b.actual, range(600.0, 1200.0));
    assert_eq!(b.counts, 5_000.0 + 9.0 * 3_888.0);
    assert_eq!(b.counts, sum_bins(&lc, 600.0, 1200.0));
    assert_eq!(b.inputs["classification"], "small");
    assert_eq!(b.inputs["peak"]["window_counts"], 5_000.0);
}

#[test]
fn single_bin_data_gets_one_whole_flare_box_over_the_file() {
    let lc = curve([4.0, 10.0], &[0.0, 3200.0], |_, _| 197_183.0);
    // A flare window larger than the file is clipped to it.
    let plan = plan_boxes(&flare(-600.0, 4000.0), &[lc], &PreviewSettings::default());
    assert_eq!(plan.boxes.len(), 1);
    let b = &plan.boxes[0];
    assert_eq!(b.kind, BoxKind::WholeFlare);
    assert_eq!(b.requested, range(0.0, 3200.0));
    assert_eq!(b.counts, 197_183.0);
    assert_eq!(b.inputs["classification"], "single_bin");
}

#[test]
fn below_threshold_is_a_skip_and_min_counts_is_adjustable() {
    let lc = curve([4.0, 10.0], &uniform_edges(0.0, 1200.0, 60.0), |a, _| {
        if (300.0..900.0).contains(&a) {
            753.2
        } else {
            10.0
        }
    });
    let f = flare(300.0, 900.0);
    let plan = plan_boxes(&f, std::slice::from_ref(&lc), &PreviewSettings::default());
    assert!(plan.boxes.is_empty());
    assert_eq!(plan.skips.len(), 1);
    let s = &plan.skips[0];
    assert_eq!(s.kind, Some(BoxKind::WholeFlare));
    assert_eq!(s.requested, range(300.0, 900.0));
    assert!((s.counts - 7_532.0).abs() < 1e-6);
    assert_eq!(
        s.reason,
        "only 7 532 counts in 4–10 keV, below min_counts 10 000"
    );
    assert_eq!(s.inputs["policy_version"], "preview-v1");

    let lower = PreviewSettings {
        min_counts: 5_000.0,
        ..PreviewSettings::default()
    };
    let plan = plan_boxes(&f, &[lc], &lower);
    assert!(plan.skips.is_empty());
    assert_eq!(plan.boxes.len(), 1);
    assert_eq!(plan.boxes[0].kind, BoxKind::WholeFlare);
    assert_eq!(plan.boxes[0].inputs["settings"]["min_counts"], 5_000.0);
}

#[test]
fn peak_window_is_clipped_at_the_file_edge() {
    // 40 s bins; the brightest bin is the first one [0, 40), centre 20 s:
    // the window [-10, 50] is clipped to [0, 50] → bins [0, 80).
    let lc = curve([4.0, 10.0], &uniform_edges(0.0, 1400.0, 40.0), |a, _| {
        (30_000.0 - 20.0 * a).max(100.0)
    });
    let plan = plan_boxes(
        &flare(-300.0, 1400.0),
        std::slice::from_ref(&lc),
        &PreviewSettings::default(),
    );
    let peak = &plan.boxes[0];
    assert_eq!(peak.kind, BoxKind::Peak);
    assert_eq!(peak.requested, range(0.0, 50.0));
    assert_eq!(peak.actual, range(0.0, 80.0));
    assert_eq!(peak.counts, sum_bins(&lc, 0.0, 80.0));
    // k = +1: [590, 650] inside the flare and the file → bins [560, 680).
    // k = +2: [1190, 1250] → bins [1160, 1280); k = +3 would end at 1850 > 1400.
    let rest: Vec<_> = plan.boxes[1..]
        .iter()
        .map(|b| (b.kind, b.requested, b.actual))
        .collect();
    assert_eq!(
        rest,
        vec![
            (
                BoxKind::Cadence { step: 1 },
                range(590.0, 650.0),
                range(560.0, 680.0)
            ),
            (
                BoxKind::Cadence { step: 2 },
                range(1190.0, 1250.0),
                range(1160.0, 1280.0)
            ),
        ]
    );
    // Counts fall below 10 000 per window further out; those are skips, never boxes.
    for b in &plan.boxes {
        assert!(b.counts >= 10_000.0);
    }
}

#[test]
fn variable_bins_use_whole_bins_containing_the_edges() {
    // M1.2-like binning: 80 s bins, then 40 s bins around the peak, then 80 s again.
    let mut edges = uniform_edges(0.0, 1600.0, 80.0);
    edges.extend(uniform_edges(1640.0, 2400.0, 40.0));
    edges.extend(uniform_edges(2480.0, 3600.0, 80.0));
    let lc = curve([4.0, 10.0], &edges, |a, b| {
        let rate = if (2000.0..2040.0).contains(&a) {
            400.0
        } else {
            150.0
        };
        rate * (b - a)
    });
    let plan = plan_boxes(
        &flare(0.0, 3600.0),
        std::slice::from_ref(&lc),
        &PreviewSettings::default(),
    );
    // Peak bin [2000, 2040), centre 2020: window [1990, 2050] → bins [1960, 2080).
    let peak = plan.boxes.iter().find(|b| b.kind == BoxKind::Peak).unwrap();
    assert_eq!(peak.requested, range(1990.0, 2050.0));
    assert_eq!(peak.actual, range(1960.0, 2080.0));
    assert_eq!(peak.counts, 150.0 * 40.0 + 400.0 * 40.0 + 150.0 * 40.0);
    // k = -3: [190, 250] → bins [160, 320) (80 s bins), k = +2: [3190, 3250] → [3120, 3280).
    let find = |step| {
        plan.boxes
            .iter()
            .find(|b| b.kind == BoxKind::Cadence { step })
            .unwrap()
    };
    assert_eq!(find(-3).actual, range(160.0, 320.0));
    assert_eq!(find(-3).counts, sum_bins(&lc, 160.0, 320.0));
    assert_eq!(find(2).actual, range(3120.0, 3280.0));
    // Every box and skip is ordered in time.
    let starts: Vec<_> = plan.boxes.iter().map(|b| b.requested.start).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(plan.boxes.len(), 6); // k = -3 … +2
}

#[test]
fn bands_are_planned_in_order_with_their_actual_edges() {
    let edges = uniform_edges(0.0, 1800.0, 60.0);
    let thermal = curve([4.0, 10.0], &edges, big_profile_short);
    let nonthermal = curve([15.0, 28.0], &edges, |a, b| big_profile_short(a, b) / 10.0);
    let plan = plan_boxes(
        &flare(300.0, 1500.0),
        &[thermal, nonthermal],
        &PreviewSettings::default(),
    );
    assert!(plan.boxes.iter().all(|b| b.band.low_kev == 4.0));
    assert_eq!(plan.boxes.len(), 1);
    // The thermal k = -1 window [330, 390] holds 1 000 counts: skipped; k = +1 leaves the flare.
    // 16–28 keV requested, 15–28 keV the actual file edges: recorded both ways.
    assert_eq!(plan.skips.len(), 2);
    assert_eq!(plan.skips[0].band.low_kev, 4.0);
    assert_eq!(plan.skips[0].kind, Some(BoxKind::Cadence { step: -1 }));
    let s = &plan.skips[1];
    assert_eq!(s.band, EnergyBand::new(15.0, 28.0).unwrap());
    assert_eq!(s.kind, Some(BoxKind::WholeFlare));
    assert_eq!(
        s.inputs["requested_band_kev"],
        serde_json::json!([16.0, 28.0])
    );
    // 1 200 in the peak bin + 19 bins of 100.
    assert_eq!(
        s.reason,
        "only 3 100 counts in 15–28 keV, below min_counts 10 000"
    );
}

fn big_profile_short(a: f64, _b: f64) -> f64 {
    if a == 900.0 {
        12_000.0
    } else if (300.0..1500.0).contains(&a) {
        1_000.0
    } else {
        10.0
    }
}

#[test]
fn a_flare_outside_the_file_or_bad_settings_are_skips() {
    let lc = curve([4.0, 10.0], &uniform_edges(0.0, 600.0, 60.0), |_, _| {
        50_000.0
    });
    let plan = plan_boxes(
        &flare(700.0, 900.0),
        std::slice::from_ref(&lc),
        &PreviewSettings::default(),
    );
    assert!(plan.boxes.is_empty());
    assert_eq!(plan.skips.len(), 1);
    assert!(
        plan.skips[0].reason.contains("is not inside the file"),
        "{}",
        plan.skips[0].reason
    );

    let bad = PreviewSettings {
        cadence_seconds: -1.0,
        ..PreviewSettings::default()
    };
    let plan = plan_boxes(&flare(0.0, 600.0), &[lc], &bad);
    assert!(plan.boxes.is_empty());
    assert!(plan.skips[0].reason.contains("cadence_seconds"));
}

#[test]
fn settings_round_trip_through_serde_with_defaults() {
    let s: PreviewSettings = serde_json::from_str(r#"{"min_counts": 5000}"#).unwrap();
    assert_eq!(s.min_counts, 5000.0);
    assert_eq!(s.bands_kev, vec![[4.0, 10.0], [16.0, 28.0]]);
    assert_eq!(s.window_seconds, 60.0);
    assert_eq!(s.cadence_seconds, 600.0);
}
