//! Energy-calibration (ELUT) periods: which on-board energy look-up table was active when,
//! from the embedded `data/stix/elut/elut_index.csv` (CONF `elut/elut_index.csv`;
//! `shared/docs/stix-imaging.md` B and H).
//!
//! A *period* is one row of the index. Two rows can name the same table file (e.g. rows 6 and
//! 8 both use `elut_table_20221214.csv`, with another table in between) and the index column
//! itself repeats (`17` twice), so periods are identified by their row, never by the file name
//! or the `index` column: a background measured in another row's period is never reused.

use crate::time_range::{format_utc, parse_utc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The ELUT index shipped with the crate.
pub const ELUT_INDEX_CSV: &str = include_str!("../../../data/stix/elut/elut_index.csv");

/// Why an ELUT index table cannot be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ElutIndexError {
    /// A data line does not have the four columns `index, start_date, end_date, elut_file`.
    #[error(
        "ELUT index line {line}: expected 4 columns (index, start_date, end_date, elut_file), found {found}"
    )]
    Columns {
        /// 1-based line number.
        line: usize,
        /// Columns found.
        found: usize,
    },
    /// The index column is not a non-negative integer.
    #[error("ELUT index line {line}: index '{value}' is not a non-negative integer")]
    Index {
        /// 1-based line number.
        line: usize,
        /// The text found.
        value: String,
    },
    /// A date is not ISO-8601 UTC (or `none` for an open end).
    #[error("ELUT index line {line}: '{value}' is not an ISO-8601 UTC time")]
    Time {
        /// 1-based line number.
        line: usize,
        /// The text found.
        value: String,
    },
    /// A period ends before it starts.
    #[error("ELUT index line {line}: the period ends before it starts")]
    Reversed {
        /// 1-based line number.
        line: usize,
    },
    /// The table has no data lines.
    #[error("the ELUT index has no periods")]
    Empty,
}

/// One ELUT validity period `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElutPeriod {
    /// 0-based row among the data lines: the identity of the period.
    pub row: usize,
    /// The `index` column as written (not unique).
    pub index: u32,
    /// First instant of validity, UTC.
    pub start: DateTime<Utc>,
    /// End of validity (exclusive), UTC; `None` while still valid.
    pub end: Option<DateTime<Utc>>,
    /// Name of the ELUT table file, e.g. `elut_table_20220918.csv`.
    pub elut_file: String,
}

impl ElutPeriod {
    /// True when `t` is in `[start, end)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start && self.end.is_none_or(|e| t < e)
    }

    /// A human label such as `elut_table_20220918.csv (2022-09-18T00:00:00.000–2023-01-19T17:02:40.000)`.
    pub fn describe(&self) -> String {
        let end = self
            .end
            .map_or_else(|| "open".to_string(), |e| format_utc(&e));
        format!("{} ({}–{})", self.elut_file, format_utc(&self.start), end)
    }
}

/// Parses an ELUT index table (one header record, then `index, start_date, end_date,
/// elut_file`), read with the `csv` crate (quotes, byte-order mark, blank lines).
pub fn parse_elut_index(text: &str) -> Result<Vec<ElutPeriod>, ElutIndexError> {
    let mut periods = Vec::new();
    for rec in crate::csv_table::records(text).skip(1) {
        let (line, cols) = rec.map_err(|e| ElutIndexError::Columns {
            line: e.line,
            found: 0,
        })?;
        if cols.len() != 4 {
            return Err(ElutIndexError::Columns {
                line,
                found: cols.len(),
            });
        }
        let index = cols[0].parse::<u32>().map_err(|_| ElutIndexError::Index {
            line,
            value: cols[0].to_string(),
        })?;
        let time = |s: &str| {
            let s = s.trim();
            parse_utc(s).map_err(|_| ElutIndexError::Time {
                line,
                value: s.to_string(),
            })
        };
        let start = time(&cols[1])?;
        let end = if cols[2].eq_ignore_ascii_case("none") {
            None
        } else {
            Some(time(&cols[2])?)
        };
        if end.is_some_and(|e| e <= start) {
            return Err(ElutIndexError::Reversed { line });
        }
        periods.push(ElutPeriod {
            row: periods.len(),
            index,
            start,
            end,
            elut_file: cols[3].to_string(),
        });
    }
    if periods.is_empty() {
        return Err(ElutIndexError::Empty);
    }
    Ok(periods)
}

/// The embedded ELUT periods, parsed once.
pub fn elut_periods() -> Result<&'static [ElutPeriod], ElutIndexError> {
    static PERIODS: OnceLock<Result<Vec<ElutPeriod>, ElutIndexError>> = OnceLock::new();
    PERIODS
        .get_or_init(|| parse_elut_index(ELUT_INDEX_CSV))
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

/// The ELUT period valid at `t` (the last row whose interval contains it), or `None` before
/// the first period or if the embedded table were unreadable.
pub fn elut_period_for(t: DateTime<Utc>) -> Option<&'static ElutPeriod> {
    elut_periods().ok()?.iter().rev().find(|p| p.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_index_parses_and_covers_the_2022_11_files() {
        let periods = elut_periods().unwrap();
        assert_eq!(periods.len(), 19);
        assert!(periods.last().unwrap().end.is_none());
        let p = elut_period_for(parse_utc("2022-11-11T11:36:56").unwrap()).unwrap();
        assert_eq!(p.elut_file, "elut_table_20220918.csv");
        assert_eq!(p.row, 5);
        // Boundaries: the start belongs to the new period.
        let q = elut_period_for(parse_utc("2022-09-18T00:00:00").unwrap()).unwrap();
        assert_eq!(q.row, 5);
        let r = elut_period_for(parse_utc("2022-09-17T23:59:59.999").unwrap()).unwrap();
        assert_eq!(r.row, 4);
        assert!(elut_period_for(parse_utc("2019-01-01T00:00:00").unwrap()).is_none());
        // Trailing blanks inside a date are tolerated (row 9 ends "2023-07-03T00:04:52 ").
        assert_eq!(
            periods[9].end,
            Some(parse_utc("2023-07-03T00:04:52").unwrap())
        );
    }

    #[test]
    fn malformed_index_lines_are_typed_errors() {
        let h = "index, start_date, end_date, elut_file\n";
        assert_eq!(
            parse_elut_index(&format!("{h}0, 2020-01-01T00:00:00, x.csv\n")),
            Err(ElutIndexError::Columns { line: 2, found: 3 })
        );
        assert!(matches!(
            parse_elut_index(&format!("{h}0, 2020-13-01T00:00:00, none, x.csv\n")),
            Err(ElutIndexError::Time { line: 2, .. })
        ));
        assert!(matches!(
            parse_elut_index(&format!(
                "{h}0, 2020-01-02T00:00:00, 2020-01-01T00:00:00, x.csv\n"
            )),
            Err(ElutIndexError::Reversed { line: 2 })
        ));
        assert_eq!(parse_elut_index(h), Err(ElutIndexError::Empty));
    }
}
