//! The flaring time handed to the preview policy, and where it came from: a listed flare
//! (community flare list), a flare detected in the file's own 4–10 keV light curve, or the
//! whole file when it has a single time bin.

use crate::lightcurve::{LightCurve, coverage};
use crate::policy::flare_detection::{DetectionBasis, DetectionSettings, detect_flares};
use crate::policy::flare_list::ListedFlare;
use crate::time_range::TimeRange;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The band of the light curve flares are detected in (and that decides which listed flares
/// the file covers), keV.
pub const DETECTION_BAND_KEV: [f64; 2] = [4.0, 10.0];

/// Where a flare window comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FlareOrigin {
    /// A row of an imported flare list.
    Listed {
        /// UID of the request the list authors used, if given.
        request_uid: Option<String>,
    },
    /// Detected in the file's own light curve.
    Detected {
        /// [`crate::policy::flare_detection::DETECTOR_VERSION`] at detection time.
        detector_version: String,
    },
    /// The file has a single time bin: no flare can be detected and the whole file is taken
    /// as the flaring time.
    WholeFile {
        /// Detector version that took this decision.
        detector_version: String,
    },
}

/// A flaring time interval to image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlareWindow {
    /// STIX-style flare id (`YYMMDDHHMM` of the peak).
    pub flare_id: String,
    /// Flaring time `[start, end)`, UTC at Solar Orbiter.
    pub range: TimeRange,
    /// Peak time if known (listed or detected).
    pub peak: Option<DateTime<Utc>>,
    /// Provenance.
    pub origin: FlareOrigin,
}

/// The flares to preview in one science file: the listed flares that overlap the file (by
/// start time); when none does, the flares detected in its 4–10 keV light curve `lc_4_10`
/// (sorted by peak). Empty when the file is quiet.
pub fn flare_windows_for_file(
    listed: &[ListedFlare],
    lc_4_10: &LightCurve,
    settings: &DetectionSettings,
) -> Vec<FlareWindow> {
    let Some(file) = coverage(&lc_4_10.bins) else {
        return Vec::new();
    };
    let mut from_list: Vec<FlareWindow> = listed
        .iter()
        .filter(|f| f.range().overlaps(&file))
        .map(ListedFlare::window)
        .collect();
    if !from_list.is_empty() {
        from_list.sort_by(|a, b| {
            a.range
                .start
                .cmp(&b.range.start)
                .then_with(|| a.flare_id.cmp(&b.flare_id))
        });
        return from_list;
    }
    detect_flares(lc_4_10, settings)
        .into_iter()
        .map(|d| FlareWindow {
            origin: match d.basis {
                DetectionBasis::SingleBinWholeFile => FlareOrigin::WholeFile {
                    detector_version: d.detector_version.clone(),
                },
                _ => FlareOrigin::Detected {
                    detector_version: d.detector_version.clone(),
                },
            },
            flare_id: d.flare_id,
            range: d.range,
            peak: Some(d.peak),
        })
        .collect()
}

/// The overlap of two intervals, if they share some time.
pub fn intersect(a: &TimeRange, b: &TimeRange) -> Option<TimeRange> {
    TimeRange::new(a.start.max(b.start), a.end.min(b.end)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersection_of_intervals() {
        let r = |s: &str| TimeRange::parse(s).unwrap();
        let a = r("2022-11-11T11:00:00/2022-11-11T12:00:00");
        let b = r("2022-11-11T11:30:00/2022-11-11T13:00:00");
        assert_eq!(
            intersect(&a, &b),
            Some(r("2022-11-11T11:30:00/2022-11-11T12:00:00"))
        );
        let c = r("2022-11-11T12:00:00/2022-11-11T13:00:00");
        assert_eq!(intersect(&a, &c), None);
    }

    #[test]
    fn origin_serialises_with_a_source_tag() {
        let o = FlareOrigin::Detected {
            detector_version: "lc-baseline-v1".into(),
        };
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["source"], "detected");
        assert_eq!(v["detector_version"], "lc-baseline-v1");
    }
}
