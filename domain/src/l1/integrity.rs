//! Why an input file is refused before any science is done with it: the stable reason codes
//! of the integrity and plausibility checks, and the plausibility rules themselves.
//!
//! The codes are a contract (issue #11): they appear in `ingest` output, in `--json`
//! reports, in the `rejected/` notes of the inbox and in error messages of the one-shot
//! commands. Never rename one; add new ones.

use chrono::{DateTime, NaiveDate, Utc};

/// A stable machine-readable reason for refusing an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectCode {
    /// A `DATASUM` or `CHECKSUM` of the file disagrees with its bytes.
    ChecksumMismatch,
    /// Not a FITS file (`SIMPLE = T` missing or false, no valid header).
    NotFits,
    /// The file ends before the HDUs its headers announce.
    Truncated,
    /// Observation time outside the mission (2020-02-10 to now + 1 day).
    ImplausibleTime,
    /// Time bins not increasing, of non-positive length, or not matching the header span.
    BadTimeAxis,
    /// A rate-control regime outside 0–7.
    BadRcr,
    /// A time bin with no pixel or no detector in its masks.
    EmptyMasks,
    /// The ENERGIES table is not finite and increasing.
    BadEnergyTable,
    /// `DATA.control_index` does not point at a CONTROL row, or CONTROL is malformed.
    InconsistentControl,
    /// The file is a valid STIX product, but not the one the command needs.
    WrongProduct,
    /// After excluding damaged bins nothing usable is left.
    NoUsableBins,
}

impl RejectCode {
    /// Every code, in documentation order.
    pub const ALL: [RejectCode; 11] = [
        RejectCode::ChecksumMismatch,
        RejectCode::NotFits,
        RejectCode::Truncated,
        RejectCode::ImplausibleTime,
        RejectCode::BadTimeAxis,
        RejectCode::BadRcr,
        RejectCode::EmptyMasks,
        RejectCode::BadEnergyTable,
        RejectCode::InconsistentControl,
        RejectCode::WrongProduct,
        RejectCode::NoUsableBins,
    ];

    /// The stable string of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::ChecksumMismatch => "checksum_mismatch",
            RejectCode::NotFits => "not_fits",
            RejectCode::Truncated => "truncated",
            RejectCode::ImplausibleTime => "implausible_time",
            RejectCode::BadTimeAxis => "bad_time_axis",
            RejectCode::BadRcr => "bad_rcr",
            RejectCode::EmptyMasks => "empty_masks",
            RejectCode::BadEnergyTable => "bad_energy_table",
            RejectCode::InconsistentControl => "inconsistent_control",
            RejectCode::WrongProduct => "wrong_product",
            RejectCode::NoUsableBins => "no_usable_bins",
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// First day of STIX science data we accept (Solar Orbiter launched 2020-02-10 UTC).
pub fn mission_start() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2020, 2, 10)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Latest plausible observation time: now + 1 day (clock skew, files of "today").
pub fn latest_plausible_time() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::days(1)
}

/// `Some(reason)` when `t` lies outside the mission.
pub fn implausible_time(what: &str, t: DateTime<Utc>) -> Option<String> {
    if t < mission_start() {
        Some(format!(
            "{what} {} is before Solar Orbiter's launch (2020-02-10)",
            t.format("%Y-%m-%dT%H:%M:%S")
        ))
    } else if t > latest_plausible_time() {
        Some(format!(
            "{what} {} is in the future (later than now + 1 day)",
            t.format("%Y-%m-%dT%H:%M:%S")
        ))
    } else {
        None
    }
}

/// Largest rate-control regime of STIX (RCR 0–7, section B "Attenuator").
pub const MAX_RCR: u8 = 7;

/// How far the end of the last time bin may lie from `DATE-END`, seconds. Real files agree to
/// well under a second; a damaged time column or TZERO moves it by days or months.
pub const DATE_END_TOLERANCE_SECONDS: f64 = 60.0;

/// Largest length of one time bin, seconds: background requests use one bin of ~40–60 min
/// (A.1); nothing on board integrates for a day.
pub const MAX_BIN_SECONDS: f64 = 86_400.0;

/// A time bin left out of a file because its numbers cannot be used, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BinExclusion {
    /// Index of the bin in the file (DATA row, 0-based).
    pub row: usize,
    /// Start of the bin (UTC at the spacecraft), when its time was readable.
    pub start: Option<DateTime<Utc>>,
    /// What was wrong.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        let names: Vec<&str> = RejectCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names.join(","),
            "checksum_mismatch,not_fits,truncated,implausible_time,bad_time_axis,bad_rcr,\
             empty_masks,bad_energy_table,inconsistent_control,wrong_product,no_usable_bins"
        );
    }

    #[test]
    fn mission_window() {
        let t = |s: &str| crate::time_range::parse_utc(s).unwrap();
        assert!(implausible_time("DATE-BEG", t("1900-01-01T00:00:00")).is_some());
        assert!(implausible_time("DATE-BEG", t("2099-01-01T00:00:00")).is_some());
        assert!(implausible_time("DATE-BEG", t("2020-02-09T23:59:59")).is_some());
        assert!(implausible_time("DATE-BEG", t("2022-11-11T11:11:02")).is_none());
    }
}
