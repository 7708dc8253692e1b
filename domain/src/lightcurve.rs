//! Time bins of a science file and count light curves over them, with the whole-bin
//! selection rule of `shared/docs/stix-imaging.md` A.3 (GSW `stx_construct_pixel_data`):
//! from the last bin whose start ≤ t0 to the first bin whose end ≥ t1.

use crate::energy::EnergyBand;
use crate::time_range::{TimeRange, format_utc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a time selection is impossible.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum BinSelectionError {
    /// The file has no time bins.
    #[error("the file has no time bins")]
    NoBins,
    /// The requested interval is not inside the file.
    #[error("the requested interval {requested} is not inside the file's {available}")]
    OutsideFile {
        /// Requested interval.
        requested: String,
        /// What the file covers.
        available: String,
    },
}

/// One time bin `[start, end)` at the spacecraft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeBin {
    /// Bin start, UTC.
    pub start: DateTime<Utc>,
    /// Bin end, UTC.
    pub end: DateTime<Utc>,
}

impl TimeBin {
    /// Length in seconds.
    pub fn duration_seconds(&self) -> f64 {
        (self.end - self.start).num_microseconds().unwrap_or(0) as f64 * 1e-6
    }

    /// Centre of the bin.
    pub fn center(&self) -> DateTime<Utc> {
        self.start + (self.end - self.start) / 2
    }
}

/// Interval covered by all bins (first start to last end).
pub fn coverage(bins: &[TimeBin]) -> Option<TimeRange> {
    let first = bins.first()?;
    let last = bins.last()?;
    TimeRange::new(first.start, last.end).ok()
}

/// Whole bins that contain the requested edges: indices `first..=last` and the actual
/// interval they cover. The interval must lie within the file (A.3, GSW rule).
pub fn select_whole_bins(
    bins: &[TimeBin],
    requested: &TimeRange,
) -> Result<(usize, usize, TimeRange), BinSelectionError> {
    let available = coverage(bins).ok_or(BinSelectionError::NoBins)?;
    if requested.start < available.start || requested.end > available.end {
        return Err(BinSelectionError::OutsideFile {
            requested: requested.to_string(),
            available: available.to_string(),
        });
    }
    // Last bin whose start ≤ t0; first bin whose end ≥ t1.
    let first = bins
        .iter()
        .rposition(|b| b.start <= requested.start)
        .unwrap_or(0);
    let last = bins
        .iter()
        .position(|b| b.end >= requested.end)
        .unwrap_or(bins.len() - 1)
        .max(first);
    let actual = TimeRange {
        start: bins[first].start,
        end: bins[last].end,
    };
    Ok((first, last, actual))
}

/// Counts per time bin in one energy band, summed over detectors and pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LightCurve {
    /// The actual band (edges of the energy groups used), keV.
    pub band: EnergyBand,
    /// The time bins.
    pub bins: Vec<TimeBin>,
    /// Counts in each bin (same length as `bins`).
    pub counts: Vec<f64>,
}

impl LightCurve {
    /// Count rate of bin `i` in counts per second.
    pub fn rate(&self, i: usize) -> f64 {
        let d = self.bins[i].duration_seconds();
        if d > 0.0 { self.counts[i] / d } else { 0.0 }
    }

    /// Index of the bin with the highest count rate, if any.
    pub fn peak_index(&self) -> Option<usize> {
        (0..self.bins.len()).max_by(|&a, &b| self.rate(a).total_cmp(&self.rate(b)))
    }

    /// Total counts in the whole bins selected for `range`, with the actual interval.
    pub fn counts_in(&self, range: &TimeRange) -> Result<(f64, TimeRange), BinSelectionError> {
        let (a, b, actual) = select_whole_bins(&self.bins, range)?;
        Ok((self.counts[a..=b].iter().sum(), actual))
    }

    /// A human summary such as `59 bins 2022-11-11T11:11:02.900–…`.
    pub fn describe(&self) -> String {
        match coverage(&self.bins) {
            Some(r) => format!(
                "{} bins {}–{}",
                self.bins.len(),
                format_utc(&r.start),
                format_utc(&r.end)
            ),
            None => "no bins".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time_range::parse_utc;

    fn bins() -> Vec<TimeBin> {
        let t0 = parse_utc("2022-11-11T11:00:00").unwrap();
        [0i64, 40, 100, 160, 200]
            .windows(2)
            .map(|w| TimeBin {
                start: t0 + chrono::Duration::seconds(w[0]),
                end: t0 + chrono::Duration::seconds(w[1]),
            })
            .collect()
    }

    #[test]
    fn whole_bins_containing_the_edges() {
        let b = bins();
        let t0 = b[0].start;
        let r = TimeRange::new(
            t0 + chrono::Duration::seconds(50),
            t0 + chrono::Duration::seconds(110),
        )
        .unwrap();
        let (first, last, actual) = select_whole_bins(&b, &r).unwrap();
        assert_eq!((first, last), (1, 2));
        assert_eq!(actual.start, b[1].start);
        assert_eq!(actual.end, b[2].end);
        // Edges exactly on bin boundaries select exactly those bins.
        let r = TimeRange::new(b[1].start, b[2].end).unwrap();
        assert_eq!(
            select_whole_bins(&b, &r).unwrap().0..=select_whole_bins(&b, &r).unwrap().1,
            1..=2
        );
    }

    #[test]
    fn refuses_outside() {
        let b = bins();
        let r = TimeRange::new(b[0].start - chrono::Duration::seconds(1), b[1].end).unwrap();
        assert!(matches!(
            select_whole_bins(&b, &r),
            Err(BinSelectionError::OutsideFile { .. })
        ));
        assert_eq!(select_whole_bins(&[], &r), Err(BinSelectionError::NoBins));
    }
}
