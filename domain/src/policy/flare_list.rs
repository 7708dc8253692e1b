//! The community flare list (`hayesla/stix_flarelist_science` format, as in
//! `data/stix/flare_reference_locations.csv`): one row per flare with start/peak/end UTC,
//! quick-look peak counts in the five QL bands, the attenuator flag, the 4–10 keV QL
//! background, optionally the location (HPC as seen from Solar Orbiter, HGS lon/lat), the
//! GOES class and the UID of the pixel-data request used.
//!
//! Columns are found by header name, so extra columns (the full community list has many) and
//! another column order are fine. The text is read with the `csv` crate (RFC 4180): fields may
//! be quoted (`"…"`, `""` inside, commas and newlines inside quotes), a UTF-8 byte-order mark
//! is skipped and blank lines are ignored. Errors are typed and carry the 1-based line number
//! of the file where the record starts.

use crate::policy::flare_window::{FlareOrigin, FlareWindow};
use crate::time_range::{TimeRange, parse_utc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The five quick-look energy bands in keV, in the order of [`ListedFlare::ql_peak_counts`]
/// (`data/stix/README.md`, `science_energy_channels.csv`).
pub const QL_BANDS_KEV: [[f64; 2]; 5] = [
    [4.0, 10.0],
    [10.0, 15.0],
    [15.0, 25.0],
    [25.0, 50.0],
    [50.0, 84.0],
];

/// Header names of the QL peak-count columns, in the order of [`QL_BANDS_KEV`].
pub const QL_COLUMNS: [&str; 5] = [
    "4-10 keV",
    "10-15 keV",
    "15-25 keV",
    "25-50 keV",
    "50-84 keV",
];

const COL_ID: &str = "flare_id";
const COL_START: &str = "start_UTC";
const COL_END: &str = "end_UTC";
const COL_PEAK: &str = "peak_UTC";
const COL_ATT: &str = "att_in";
const COL_BKG: &str = "bkg 4-10 keV";
const COL_HPC_X: &str = "hpc_x_solo";
const COL_HPC_Y: &str = "hpc_y_solo";
const COL_HGS_LON: &str = "hgs_lon";
const COL_HGS_LAT: &str = "hgs_lat";
const COL_GOES: &str = "GOES_class_time_of_flare";
const COL_UID: &str = "file_request_id_used";

/// Why a flare list cannot be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum FlareListError {
    /// The text holds no header line.
    #[error("the flare list is empty")]
    Empty,
    /// A required column is missing from the header.
    #[error("the flare list header (line 1) has no '{column}' column")]
    MissingColumn {
        /// Name of the missing column.
        column: String,
    },
    /// A line has a different number of fields than the header.
    #[error("flare list line {line}: {found} fields, but the header has {expected}")]
    FieldCount {
        /// 1-based line number.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// A quoted field is never closed (the CSV reader would silently run it to the end of the
    /// file).
    #[error("flare list line {line}: a quoted field is not closed")]
    UnclosedQuote {
        /// 1-based line number where the quote opens.
        line: usize,
    },
    /// The text is not readable CSV (e.g. not UTF-8 inside a record).
    #[error("flare list line {line}: {detail}")]
    Csv {
        /// 1-based line number.
        line: usize,
        /// What the CSV reader reported.
        detail: String,
    },
    /// A required field is empty.
    #[error("flare list line {line}: column '{column}' is empty")]
    MissingValue {
        /// 1-based line number.
        line: usize,
        /// Column name.
        column: String,
    },
    /// A time is not ISO-8601 UTC.
    #[error("flare list line {line}: column '{column}' holds '{value}', not an ISO-8601 UTC time")]
    BadTime {
        /// 1-based line number.
        line: usize,
        /// Column name.
        column: String,
        /// The text found.
        value: String,
    },
    /// A number is not a finite decimal number.
    #[error("flare list line {line}: column '{column}' holds '{value}', not a finite number")]
    BadNumber {
        /// 1-based line number.
        line: usize,
        /// Column name.
        column: String,
        /// The text found.
        value: String,
    },
    /// A flag is not `True`/`False`.
    #[error("flare list line {line}: column '{column}' holds '{value}', not True/False")]
    BadFlag {
        /// 1-based line number.
        line: usize,
        /// Column name.
        column: String,
        /// The text found.
        value: String,
    },
    /// The times are not in the order start ≤ peak ≤ end with start < end.
    #[error(
        "flare list line {line}: times must satisfy start ≤ peak ≤ end and start < end ({detail})"
    )]
    TimeOrder {
        /// 1-based line number.
        line: usize,
        /// The three times.
        detail: String,
    },
    /// Only one of `hpc_x_solo`/`hpc_y_solo` (or `hgs_lon`/`hgs_lat`) is given.
    #[error("flare list line {line}: '{given}' is given but '{missing}' is empty")]
    HalfLocation {
        /// 1-based line number.
        line: usize,
        /// Column with a value.
        given: String,
        /// Column without.
        missing: String,
    },
}

/// One flare of a community flare list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedFlare {
    /// The flare id as written in the file (STIX style `YYMMDDHHMM` of the peak).
    pub flare_id: String,
    /// Start, UTC at Solar Orbiter.
    pub start: DateTime<Utc>,
    /// Quick-look peak time, UTC at Solar Orbiter.
    pub peak: DateTime<Utc>,
    /// End, UTC at Solar Orbiter.
    pub end: DateTime<Utc>,
    /// QL peak counts (per 4 s QL bin) in the bands of [`QL_BANDS_KEV`].
    pub ql_peak_counts: [f64; 5],
    /// True when the attenuator was inserted during the flare.
    pub attenuator_in: bool,
    /// QL 4–10 keV background (counts per 4 s bin), if given.
    pub background_4_10_kev: Option<f64>,
    /// Location `[x, y]` in helioprojective arcsec as seen from Solar Orbiter, if given.
    pub hpc_solo_arcsec: Option<[f64; 2]>,
    /// Location `[lon, lat]` in Heliographic Stonyhurst degrees, if given.
    pub hgs_lon_lat_deg: Option<[f64; 2]>,
    /// GOES class at the time of the flare, e.g. `M1.2`, if given.
    pub goes_class: Option<String>,
    /// UID of the pixel-data request the list authors used, if given.
    pub request_uid: Option<String>,
}

impl ListedFlare {
    /// The flare interval `[start, end)` (non-empty for flares read by [`read_flare_list`]).
    pub fn range(&self) -> TimeRange {
        TimeRange {
            start: self.start,
            end: self.end,
        }
    }

    /// The flaring time as the preview policy sees it.
    pub fn window(&self) -> FlareWindow {
        FlareWindow {
            flare_id: self.flare_id.clone(),
            range: self.range(),
            peak: Some(self.peak),
            origin: FlareOrigin::Listed {
                request_uid: self.request_uid.clone(),
            },
        }
    }
}

/// Cheap recognition of a flare-list CSV from its header (the first record of `text`; the
/// whole text or just its first line): it must name the `flare_id`, `start_UTC`, `peak_UTC`
/// and `end_UTC` columns.
pub fn looks_like_flare_list(text: &str) -> bool {
    let Ok(Some((_, fields))) = records(text).next().transpose() else {
        return false;
    };
    [COL_ID, COL_START, COL_PEAK, COL_END]
        .iter()
        .all(|c| fields.iter().any(|f| f == c))
}

/// The line of a quote that is still open at the end of the text (RFC 4180 quoting, where
/// `""` inside quotes is an escaped quote and toggles twice).
fn unclosed_quote_line(text: &str) -> Option<usize> {
    let (mut open_at, mut line) = (None, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if open_at.is_some() && chars.peek() == Some(&'"') => {
                chars.next();
            }
            '"' => open_at = if open_at.is_some() { None } else { Some(line) },
            '\n' => line += 1,
            _ => {}
        }
    }
    open_at
}

/// The non-blank records of a CSV text with the 1-based line each starts on, fields trimmed.
fn records(text: &str) -> impl Iterator<Item = Result<(usize, Vec<String>), FlareListError>> + '_ {
    crate::csv_table::records(text).map(|r| {
        r.map_err(|e| FlareListError::Csv {
            line: e.line,
            detail: e.detail,
        })
    })
}

/// Column positions found in the header.
struct Columns {
    id: usize,
    start: usize,
    end: usize,
    peak: usize,
    ql: [usize; 5],
    att: usize,
    bkg: Option<usize>,
    hpc: Option<(usize, usize)>,
    hgs: Option<(usize, usize)>,
    goes: Option<usize>,
    uid: Option<usize>,
}

impl Columns {
    fn find(header: &[String]) -> Result<Self, FlareListError> {
        let opt = |name: &str| header.iter().position(|h| h == name);
        let req = |name: &str| {
            opt(name).ok_or_else(|| FlareListError::MissingColumn {
                column: name.to_string(),
            })
        };
        let mut ql = [0; 5];
        for (slot, name) in ql.iter_mut().zip(QL_COLUMNS) {
            *slot = req(name)?;
        }
        let pair = |a: &str, b: &str| -> Result<Option<(usize, usize)>, FlareListError> {
            match (opt(a), opt(b)) {
                (Some(x), Some(y)) => Ok(Some((x, y))),
                (None, None) => Ok(None),
                (Some(_), None) => Err(FlareListError::MissingColumn {
                    column: b.to_string(),
                }),
                (None, Some(_)) => Err(FlareListError::MissingColumn {
                    column: a.to_string(),
                }),
            }
        };
        Ok(Self {
            id: req(COL_ID)?,
            start: req(COL_START)?,
            end: req(COL_END)?,
            peak: req(COL_PEAK)?,
            ql,
            att: req(COL_ATT)?,
            bkg: opt(COL_BKG),
            hpc: pair(COL_HPC_X, COL_HPC_Y)?,
            hgs: pair(COL_HGS_LON, COL_HGS_LAT)?,
            goes: opt(COL_GOES),
            uid: opt(COL_UID),
        })
    }
}

/// One data line's fields with its line number and the header, for typed errors.
struct Row<'a> {
    line: usize,
    header: &'a [String],
    fields: &'a [String],
}

impl Row<'_> {
    fn text(&self, i: usize) -> Option<&str> {
        let s = self.fields[i].as_str();
        (!s.is_empty()).then_some(s)
    }

    fn required(&self, i: usize) -> Result<&str, FlareListError> {
        self.text(i).ok_or_else(|| FlareListError::MissingValue {
            line: self.line,
            column: self.header[i].clone(),
        })
    }

    fn time(&self, i: usize) -> Result<DateTime<Utc>, FlareListError> {
        let s = self.required(i)?;
        parse_utc(s).map_err(|_| FlareListError::BadTime {
            line: self.line,
            column: self.header[i].clone(),
            value: s.to_string(),
        })
    }

    fn number(&self, i: usize) -> Result<Option<f64>, FlareListError> {
        let Some(s) = self.text(i) else {
            return Ok(None);
        };
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(FlareListError::BadNumber {
                line: self.line,
                column: self.header[i].clone(),
                value: s.to_string(),
            }),
        }
    }

    fn required_number(&self, i: usize) -> Result<f64, FlareListError> {
        self.required(i)?;
        self.number(i)?.ok_or_else(|| FlareListError::MissingValue {
            line: self.line,
            column: self.header[i].clone(),
        })
    }

    fn flag(&self, i: usize) -> Result<bool, FlareListError> {
        let s = self.required(i)?;
        match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(FlareListError::BadFlag {
                line: self.line,
                column: self.header[i].clone(),
                value: s.to_string(),
            }),
        }
    }

    fn location(&self, cols: Option<(usize, usize)>) -> Result<Option<[f64; 2]>, FlareListError> {
        let Some((a, b)) = cols else { return Ok(None) };
        match (self.number(a)?, self.number(b)?) {
            (Some(x), Some(y)) => Ok(Some([x, y])),
            (None, None) => Ok(None),
            (Some(_), None) => Err(self.half(a, b)),
            (None, Some(_)) => Err(self.half(b, a)),
        }
    }

    fn half(&self, given: usize, missing: usize) -> FlareListError {
        FlareListError::HalfLocation {
            line: self.line,
            given: self.header[given].clone(),
            missing: self.header[missing].clone(),
        }
    }
}

/// Reads a flare list: a header record, then one flare per non-blank record.
pub fn read_flare_list(text: &str) -> Result<Vec<ListedFlare>, FlareListError> {
    if let Some(line) = unclosed_quote_line(text) {
        return Err(FlareListError::UnclosedQuote { line });
    }
    let mut recs = records(text);
    let header = match recs.next() {
        Some(r) => r?.1,
        None => return Err(FlareListError::Empty),
    };
    let cols = Columns::find(&header)?;
    let mut flares = Vec::new();
    for r in recs {
        let (line, fields) = r?;
        if fields.len() != header.len() {
            return Err(FlareListError::FieldCount {
                line,
                expected: header.len(),
                found: fields.len(),
            });
        }
        let row = Row {
            line,
            header: &header,
            fields: &fields,
        };
        let (start, peak, end) = (
            row.time(cols.start)?,
            row.time(cols.peak)?,
            row.time(cols.end)?,
        );
        if !(start <= peak && peak <= end && start < end) {
            return Err(FlareListError::TimeOrder {
                line,
                detail: format!("start {start}, peak {peak}, end {end}"),
            });
        }
        let mut ql_peak_counts = [0.0; 5];
        for (slot, &c) in ql_peak_counts.iter_mut().zip(&cols.ql) {
            *slot = row.required_number(c)?;
        }
        flares.push(ListedFlare {
            flare_id: row.required(cols.id)?.to_string(),
            start,
            peak,
            end,
            ql_peak_counts,
            attenuator_in: row.flag(cols.att)?,
            background_4_10_kev: match cols.bkg {
                Some(c) => row.number(c)?,
                None => None,
            },
            hpc_solo_arcsec: row.location(cols.hpc)?,
            hgs_lon_lat_deg: row.location(cols.hgs)?,
            goes_class: cols.goes.and_then(|c| row.text(c)).map(str::to_string),
            request_uid: cols.uid.and_then(|c| row.text(c)).map(str::to_string),
        });
    }
    Ok(flares)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_quoted_header_with_a_bom() {
        assert!(looks_like_flare_list(
            "\u{feff}\"flare_id\",start_UTC,peak_UTC,end_UTC\n1,2,3,4"
        ));
        assert!(!looks_like_flare_list("flare_id,start_UTC\n"));
        assert_eq!(unclosed_quote_line("a,\"b\n\"\"c\n"), Some(1));
        assert_eq!(unclosed_quote_line("a,\"b\n\"\n"), None);
    }
}
