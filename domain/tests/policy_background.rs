//! Background choice: nearest in time wins, outside ±N days → none, another ELUT period →
//! none, distance recorded; checked on the real 2022-11 file times.

use domain::policy::background::{BackgroundCandidate, BackgroundChoice, choose_background};
use domain::time_range::TimeRange;

fn tr(text: &str) -> TimeRange {
    TimeRange::parse(text).unwrap()
}

fn cand(id: &str, range: &str) -> BackgroundCandidate {
    BackgroundCandidate {
        id: id.into(),
        range: tr(range),
    }
}

/// |mid(a) − mid(b)| in days, computed from the epoch seconds.
fn days_between(a: &TimeRange, b: &TimeRange) -> f64 {
    let mid = |r: &TimeRange| (r.start.timestamp_millis() + r.end.timestamp_millis()) as f64 / 2e3;
    (mid(a) - mid(b)).abs() / 86_400.0
}

/// The M1.2 science file and the real background file of 2022-11-09 (`data/stix/l1`).
const M12: &str = "2022-11-11T11:11:02.900/2022-11-11T12:12:12.400";
const BKG: &str = "2022-11-09T12:17:30.300/2022-11-09T13:10:50.300";

#[test]
fn nearest_candidate_wins_and_distance_is_recorded() {
    let science = tr(M12);
    let cands = vec![
        cand("far", "2022-11-20T00:00:00/2022-11-20T01:00:00"),
        cand("2211098157", BKG),
        cand("before", "2022-11-01T00:00:00/2022-11-01T01:00:00"),
    ];
    let choice = choose_background(&science, &cands, 15.0);
    assert_eq!(choice.id(), Some("2211098157"));
    let expected = days_between(&science, &tr(BKG));
    assert!((expected - 1.95).abs() < 0.01, "{expected}");
    assert!((choice.distance_days().unwrap() - expected).abs() < 1e-9);
    match &choice {
        BackgroundChoice::Chosen {
            elut_file, range, ..
        } => {
            assert_eq!(elut_file, "elut_table_20220918.csv");
            assert_eq!(*range, tr(BKG));
        }
        other => panic!("expected a background, got {other:?}"),
    }
    // The order of the candidates does not matter.
    let mut reversed = cands.clone();
    reversed.reverse();
    assert_eq!(choose_background(&science, &reversed, 15.0), choice);
    // A later candidate nearer in time wins, whatever its side.
    let mut with_after = cands;
    with_after.push(cand("after", "2022-11-12T00:00:00/2022-11-12T01:00:00"));
    assert_eq!(
        choose_background(&science, &with_after, 15.0).id(),
        Some("after")
    );
}

#[test]
fn outside_the_window_gives_none_with_a_reason() {
    let science = tr(M12);
    let cands = [cand("2211098157", BKG)];
    let choice = choose_background(&science, &cands, 1.0);
    assert_eq!(choice.id(), None);
    match choice {
        BackgroundChoice::None { reason } => {
            assert!(
                reason.contains("no background file within ±1 days"),
                "{reason}"
            );
            assert!(reason.contains("elut_table_20220918.csv"), "{reason}");
            assert!(reason.contains("not background-subtracted"), "{reason}");
        }
        other => panic!("expected none, got {other:?}"),
    }
    assert_eq!(choose_background(&science, &[], 15.0).id(), None);
    // Exactly at the limit is inside.
    let d = days_between(&science, &tr(BKG));
    assert_eq!(
        choose_background(&science, &cands, d + 1e-9).id(),
        Some("2211098157")
    );
    assert_eq!(choose_background(&science, &cands, d - 1e-6).id(), None);
}

#[test]
fn another_elut_period_gives_none() {
    // ELUT period 5 starts 2022-09-18T00:00:00; the candidate before it is 3 days away.
    let science = tr("2022-09-19T12:00:00/2022-09-19T13:00:00");
    let before = cand("old-elut", "2022-09-16T12:00:00/2022-09-16T13:00:00");
    let across = cand("across", "2022-09-17T23:30:00/2022-09-18T00:30:00");
    let choice = choose_background(&science, &[before.clone(), across], 15.0);
    match choice {
        BackgroundChoice::None { reason } => {
            assert!(reason.contains("another ELUT period"), "{reason}");
            assert!(reason.contains("2 within ±15 days"), "{reason}");
        }
        other => panic!("expected none, got {other:?}"),
    }
    // A farther candidate under the same ELUT is preferred to a nearer one under another.
    let same = cand("same-elut", "2022-09-25T00:00:00/2022-09-25T01:00:00");
    assert_eq!(
        choose_background(&science, &[before, same], 15.0).id(),
        Some("same-elut")
    );
}

#[test]
fn nonsense_window_gives_none() {
    let science = tr(M12);
    let cands = [cand("2211098157", BKG)];
    for bad in [f64::NAN, -1.0, f64::INFINITY] {
        assert_eq!(choose_background(&science, &cands, bad).id(), None);
    }
    // Before the first ELUT period nothing is known.
    let early = tr("2019-01-01T00:00:00/2019-01-01T01:00:00");
    assert_eq!(choose_background(&early, &cands, 1e6).id(), None);
}
