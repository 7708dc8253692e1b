//! UTC time intervals (`START/END`) as requested by users and as actually used.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a time interval could not be parsed or is impossible.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum TimeRangeError {
    /// The text is not `START/END`.
    #[error("time range '{0}' must be START/END, e.g. 2022-11-11T11:36:40/2022-11-11T11:37:40")]
    Format(String),
    /// One side is not an ISO-8601 UTC time.
    #[error("'{0}' is not an ISO-8601 UTC time such as 2022-11-11T11:36:40.271")]
    Time(String),
    /// The end is not after the start.
    #[error("the time range ends ({end}) before or when it starts ({start})")]
    Empty {
        /// Start as given.
        start: String,
        /// End as given.
        end: String,
    },
}

/// A non-empty UTC interval `[start, end)`; times are at the spacecraft (no light-time shift).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Start, UTC at Solar Orbiter.
    pub start: DateTime<Utc>,
    /// End, UTC at Solar Orbiter; always after `start`.
    pub end: DateTime<Utc>,
}

impl TimeRange {
    /// Builds an interval, refusing an empty or reversed one.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, TimeRangeError> {
        if end <= start {
            return Err(TimeRangeError::Empty {
                start: format_utc(&start),
                end: format_utc(&end),
            });
        }
        Ok(Self { start, end })
    }

    /// Parses `START/END` with ISO-8601 times (a trailing `Z` and fractional seconds allowed).
    pub fn parse(text: &str) -> Result<Self, TimeRangeError> {
        let (a, b) = text
            .split_once('/')
            .ok_or_else(|| TimeRangeError::Format(text.to_string()))?;
        Self::new(parse_utc(a)?, parse_utc(b)?)
    }

    /// Length of the interval in seconds.
    pub fn duration_seconds(&self) -> f64 {
        (self.end - self.start)
            .num_microseconds()
            .unwrap_or(i64::MAX) as f64
            * 1e-6
    }

    /// Mid-point of the interval.
    pub fn midpoint(&self) -> DateTime<Utc> {
        self.start + (self.end - self.start) / 2
    }

    /// True when the two intervals share some time.
    pub fn overlaps(&self, other: &TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }
}

impl std::fmt::Display for TimeRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", format_utc(&self.start), format_utc(&self.end))
    }
}

/// Parses one ISO-8601 UTC time such as `2022-11-11T11:36:40.271` or `2022-11-11T11:36:40Z`.
pub fn parse_utc(text: &str) -> Result<DateTime<Utc>, TimeRangeError> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    let naive = t.trim_end_matches('Z');
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Ok(n.and_utc());
        }
    }
    Err(TimeRangeError::Time(text.to_string()))
}

/// Formats a UTC time as ISO-8601 with milliseconds and no zone suffix (the FITS convention).
pub fn format_utc(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_duration() {
        let r = TimeRange::parse("2022-11-11T11:36:40.271/2022-11-11T11:37:40.271Z").unwrap();
        assert!((r.duration_seconds() - 60.0).abs() < 1e-9);
        assert_eq!(
            r.to_string(),
            "2022-11-11T11:36:40.271/2022-11-11T11:37:40.271"
        );
    }

    #[test]
    fn refuses_nonsense() {
        assert!(matches!(
            TimeRange::parse("x"),
            Err(TimeRangeError::Format(_))
        ));
        assert!(matches!(
            TimeRange::parse("2022-11-11T11:37:40/2022-11-11T11:36:40"),
            Err(TimeRangeError::Empty { .. })
        ));
        assert!(matches!(
            TimeRange::parse("yesterday/today"),
            Err(TimeRangeError::Time(_))
        ));
    }
}
