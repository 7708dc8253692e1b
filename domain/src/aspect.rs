//! Aspect/ephemeris files (`solo_L2_stix-aux-ephemeris_*`, newer `solo_ANC_stix-asp-ephemeris_*`)
//! and the roll/pointing solution for an interval (`shared/docs/stix-imaging.md` section F).
//!
//! Recipe (GSW `stx_create_auxiliary_data.pro`, stixpy `get_hpc_info`):
//! 1. row times − 32 s;
//! 2. average the rows inside the interval, else interpolate the two nearest;
//! 3. roll = `roll_angle_rpy[0]`, pitch = `[1]·3600`, yaw = `−[2]·3600`;
//! 4. SAS pointing = `(y_srf + 60″, −z_srf + 8″)`;
//! 5. spacecraft pointing = `(26.1″, 58.2″) + (yaw cos r + pitch sin r, −yaw sin r + pitch cos r)`;
//! 6. SAS is used when finite, `sas_ok` (when the column exists) and within 240″ (GSW) of the
//!    spacecraft pointing; otherwise the spacecraft pointing. Over an interval, `y_srf`/`z_srf`
//!    are averaged over the `sas_ok` rows only (GSW `stx_create_auxiliary_data.pro`, stixpy
//!    `get_hpc_info`); SAS is unusable when none is good. Interpolation needs both rows good.
//!
//! Layouts (section F). The L2 `stix-aux-ephemeris` DATA table and the ANC `stix-asp-ephemeris`
//! one (STIXCore `stixcore/products/ANC/aspect.py`) hold the same columns; ANC adds `sas_ok`, a
//! FITS logical (`L`) column (an integer 0/1 column is accepted too), and `sas_error` (text,
//! unused). Without `sas_ok` every row counts as good (GSW `stx_read_aux_fits.pro`). The
//! columns read are checked for type, values per row and, when `TUNITn` is set, unit, so that
//! a changed layout is a typed [`AspectError::Column`] naming the column, never silent nonsense.

use crate::coords::Attitude;
use crate::l1::L1Error;
use crate::l1::fits::{Fits, Table, guarded};
use crate::time_range::{TimeRange, format_utc, parse_utc};
use chrono::{DateTime, Utc};
use fitsio::hdu::HduInfo;
use fitsio::tables::ColumnDataType;
use serde::{Serialize, Serializer};
use std::path::Path;

/// Aux row times are shifted by −32 s (half a 64 s row) before selection (F.1).
pub const AUX_TIME_SHIFT_SECONDS: i64 = -32;
/// SAS systematic offset added to (y_srf, −z_srf), arcsec (F.4).
pub const SAS_OFFSET_ARCSEC: [f64; 2] = [60.0, 8.0];
/// Spacecraft-pointing fallback offset, arcsec (F.5).
pub const SPACECRAFT_OFFSET_ARCSEC: [f64; 2] = [26.1, 58.2];
/// Largest accepted SAS − spacecraft difference, arcsec (F.6: "240″ (GSW)"). stixpy uses 200″,
/// and so does GSW `stx_create_auxiliary_data.pro` at commit 1cbcd84 (`diff_ptg lt 200.`).
pub const SAS_MAX_DIFFERENCE_ARCSEC: f64 = 240.0;

/// Why an aspect file or solution is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AspectError {
    /// The file could not be read as FITS (missing, truncated, corrupt, missing columns).
    #[error(transparent)]
    File(#[from] L1Error),
    /// The file is FITS but not an aspect/ephemeris file.
    #[error("{path} is not a STIX aspect/ephemeris file: {reason}")]
    NotAspectFile {
        /// The file.
        path: String,
        /// What is missing.
        reason: String,
    },
    /// A DATA column the reader needs is missing, or has the wrong type, width or unit.
    #[error("{path}: DATA column '{column}' {problem}")]
    Column {
        /// The file.
        path: String,
        /// The column name.
        column: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The requested interval is not covered by the file.
    #[error("the aspect file {file} covers {available}, not {requested}")]
    OutsideFile {
        /// The file.
        file: String,
        /// Requested interval.
        requested: String,
        /// What the file covers.
        available: String,
    },
}

/// Where the STIX pointing came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointingSource {
    /// The STIX aspect system (SAS) solution.
    Sas,
    /// The spacecraft attitude fallback (SAS missing, flagged bad or too far off).
    Spacecraft,
    /// No aspect data: an assumption, with the reason.
    Assumed(String),
}

impl std::fmt::Display for PointingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PointingSource::Sas => write!(f, "SAS"),
            PointingSource::Spacecraft => write!(f, "spacecraft"),
            PointingSource::Assumed(why) => write!(f, "assumed ({why})"),
        }
    }
}

impl Serialize for PointingSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Roll, pointing and solar radius for one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AspectSolution {
    /// Spacecraft roll, degrees.
    pub roll_deg: f64,
    /// STIX pointing used, arcsec.
    pub pointing_arcsec: [f64; 2],
    /// Where the pointing came from.
    pub pointing_source: PointingSource,
    /// Apparent solar radius (`spice_disc_size`), arcsec, when known.
    pub rsun_arcsec: Option<f64>,
    /// SAS pointing (even when rejected), arcsec.
    pub sas_pointing_arcsec: Option<[f64; 2]>,
    /// Spacecraft-attitude pointing, arcsec.
    pub spacecraft_pointing_arcsec: Option<[f64; 2]>,
    /// Observer Stonyhurst (lon, lat) from the aux file, degrees (L0, B0).
    pub observer_lonlat_deg: Option<[f64; 2]>,
    /// Number of aux rows averaged (0 = interpolated or assumed).
    pub rows_averaged: usize,
    /// Aux file name, when one was used.
    pub aux_file: Option<String>,
}

impl AspectSolution {
    /// An explicit assumption when no aspect file exists: roll `roll_deg` and the spacecraft
    /// fallback pointing with zero yaw/pitch (STIX looking at Sun centre, F.5). `why` says why
    /// it was assumed and is reported as `assumed (…)`.
    pub fn assumed(roll_deg: f64, rsun_arcsec: Option<f64>, why: &str) -> Self {
        Self {
            roll_deg,
            pointing_arcsec: SPACECRAFT_OFFSET_ARCSEC,
            pointing_source: PointingSource::Assumed(format!(
                "{why}; roll {roll_deg}°, Sun-centre pointing with the nominal STIX offset ({}″, {}″)",
                SPACECRAFT_OFFSET_ARCSEC[0], SPACECRAFT_OFFSET_ARCSEC[1]
            )),
            rsun_arcsec,
            sas_pointing_arcsec: None,
            spacecraft_pointing_arcsec: Some(SPACECRAFT_OFFSET_ARCSEC),
            observer_lonlat_deg: None,
            rows_averaged: 0,
            aux_file: None,
        }
    }

    /// The roll/pointing pair for coordinate conversions.
    pub fn attitude(&self) -> Attitude {
        Attitude {
            roll_deg: self.roll_deg,
            pointing_arcsec: self.pointing_arcsec,
        }
    }
}

/// What a DATA column must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    /// Text (`A`).
    Text,
    /// Integer or floating-point numbers.
    Number,
    /// A flag: FITS logical (`L`) or an integer 0/1.
    Flag,
}

/// A DATA column the reader uses: name, kind, values per row and accepted unit.
struct ColumnSpec {
    name: &'static str,
    kind: ColumnKind,
    /// Values per row (ignored for text, whose repeat is the string width).
    width: usize,
    /// The `TUNITn` it must have when one is written (`None`: not checked).
    unit: Option<&'static str>,
}

/// Columns every aspect file has (section F; STIXCore writes these units).
const REQUIRED_COLUMNS: [ColumnSpec; 5] = [
    ColumnSpec {
        name: "time_utc",
        kind: ColumnKind::Text,
        width: 1,
        unit: None,
    },
    ColumnSpec {
        name: "spice_disc_size",
        kind: ColumnKind::Number,
        width: 1,
        unit: Some("arcsec"),
    },
    ColumnSpec {
        name: "y_srf",
        kind: ColumnKind::Number,
        width: 1,
        unit: Some("arcsec"),
    },
    ColumnSpec {
        name: "z_srf",
        kind: ColumnKind::Number,
        width: 1,
        unit: Some("arcsec"),
    },
    ColumnSpec {
        name: "roll_angle_rpy",
        kind: ColumnKind::Number,
        width: 3,
        unit: Some("deg"),
    },
];

/// Observer (lon, lat), degrees (L0, B0); read when present.
const LONLAT_COLUMN: ColumnSpec = ColumnSpec {
    name: "solo_loc_carrington_lonlat",
    kind: ColumnKind::Number,
    width: 2,
    unit: Some("deg"),
};

/// The SAS quality flag of the newer (ANC) files; absent in the older L2 files.
const SAS_OK_COLUMN: ColumnSpec = ColumnSpec {
    name: "sas_ok",
    kind: ColumnKind::Flag,
    width: 1,
    unit: None,
};

/// Checks one DATA column against its spec. Returns its FITS type when present, `None` when
/// absent and not `required`; a missing required or malformed column is
/// [`AspectError::Column`].
fn check_column(
    f: &mut Fits,
    data: &Table,
    spec: &ColumnSpec,
    required: bool,
) -> Result<Option<ColumnDataType>, AspectError> {
    let path = f.path().to_string();
    let bad = |problem: String| AspectError::Column {
        path: path.clone(),
        column: spec.name.to_string(),
        problem,
    };
    let HduInfo::TableInfo {
        column_descriptions,
        ..
    } = &data.hdu.info
    else {
        return Err(bad("is not in a table".into()));
    };
    let Some(desc) = column_descriptions.iter().find(|c| c.name == spec.name) else {
        return if required {
            Err(bad("is missing".into()))
        } else {
            Ok(None)
        };
    };
    let typ = desc.data_type.typ;
    let numeric = matches!(
        typ,
        ColumnDataType::Byte
            | ColumnDataType::SignedByte
            | ColumnDataType::Short
            | ColumnDataType::UnsignedShort
            | ColumnDataType::Int
            | ColumnDataType::Long
            | ColumnDataType::UnsignedLong
            | ColumnDataType::LongLong
            | ColumnDataType::UnsignedLongLong
    );
    let type_ok = match spec.kind {
        ColumnKind::Text => matches!(typ, ColumnDataType::String | ColumnDataType::Text),
        ColumnKind::Number => {
            numeric || matches!(typ, ColumnDataType::Float | ColumnDataType::Double)
        }
        ColumnKind::Flag => numeric || typ == ColumnDataType::Logical,
    };
    let expected = match spec.kind {
        ColumnKind::Text => "text",
        ColumnKind::Number => "numbers",
        ColumnKind::Flag => "a logical or integer flag",
    };
    if !type_ok {
        return Err(bad(format!(
            "has FITS type {}, expected {expected}",
            String::from(typ)
        )));
    }
    let repeat = desc.data_type.repeat;
    if spec.kind != ColumnKind::Text && repeat != spec.width {
        return Err(bad(format!(
            "has {repeat} values per row, expected {}",
            spec.width
        )));
    }
    if let (Some(unit), Some(number)) = (spec.unit, data.number(spec.name)) {
        let written: Option<String> = f.key_opt(&data.hdu, &format!("TUNIT{number}"));
        if let Some(written) = written.map(|u| u.trim().to_string())
            && !written.is_empty()
            && !written.eq_ignore_ascii_case(unit)
        {
            return Err(bad(format!("has unit '{written}', expected '{unit}'")));
        }
    }
    Ok(Some(typ))
}

/// One row of the aux table, time already shifted by −32 s.
#[derive(Debug, Clone, Copy)]
struct Row {
    time: DateTime<Utc>,
    rsun: f64,
    y_srf: f64,
    z_srf: f64,
    sas_ok: bool,
    rpy: [f64; 3],
    lonlat: [f64; 2],
}

/// A daily aspect/ephemeris file in memory.
#[derive(Debug, Clone)]
pub struct AspectFile {
    /// File name without directory.
    pub file_name: String,
    rows: Vec<Row>,
}

impl AspectFile {
    /// Reads an aspect/ephemeris file (L2 aux or ANC asp). Never panics on bad input.
    pub fn read(path: &Path) -> Result<AspectFile, AspectError> {
        let file_name = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        guarded(path, || Self::read_inner(path, file_name))
    }

    fn read_inner(path: &Path, file_name: String) -> Result<AspectFile, AspectError> {
        let mut f = Fits::open(path)?;
        let p = f.path().to_string();
        // Structure and DATASUM/CHECKSUM, as for L1 files (issue #11).
        crate::l1::checksum::check_file(path).map_err(|(code, reason)| L1Error::Rejected {
            path: p.clone(),
            code,
            reason,
        })?;
        let not = |reason: String| AspectError::NotAspectFile {
            path: p.clone(),
            reason,
        };
        let data = f.table("DATA").map_err(|_| not("no DATA table".into()))?;
        if !REQUIRED_COLUMNS.iter().any(|c| data.has(c.name)) {
            return Err(not(format!(
                "DATA has none of the columns {}",
                REQUIRED_COLUMNS.map(|c| c.name).join(", ")
            )));
        }
        for spec in &REQUIRED_COLUMNS {
            check_column(&mut f, &data, spec, true)?;
        }
        let has_lonlat = check_column(&mut f, &data, &LONLAT_COLUMN, false)?;
        let sas_ok_type = check_column(&mut f, &data, &SAS_OK_COLUMN, false)?;
        let n = data.rows;
        let times: Vec<String> = f.col(&data, "time_utc")?;
        let rsun: Vec<f64> = f.col(&data, "spice_disc_size")?;
        let y: Vec<f64> = f.col(&data, "y_srf")?;
        let z: Vec<f64> = f.col(&data, "z_srf")?;
        let rpy: Vec<f64> = f.col(&data, "roll_angle_rpy")?;
        let lonlat: Vec<f64> = if has_lonlat.is_some() {
            f.col(&data, LONLAT_COLUMN.name)?
        } else {
            vec![f64::NAN; 2 * n]
        };
        // A logical null (undefined) reads as false: not usable.
        let sas_ok: Vec<bool> = match sas_ok_type {
            Some(ColumnDataType::Logical) => f.col::<bool>(&data, SAS_OK_COLUMN.name)?,
            Some(_) => f
                .col::<i32>(&data, SAS_OK_COLUMN.name)?
                .into_iter()
                .map(|x| x != 0)
                .collect(),
            None => vec![true; n],
        };
        if times.len() != n
            || rsun.len() != n
            || y.len() != n
            || z.len() != n
            || rpy.len() != 3 * n
            || lonlat.len() != 2 * n
            || sas_ok.len() != n
        {
            return Err(not("columns have inconsistent lengths".into()));
        }
        let shift = chrono::Duration::seconds(AUX_TIME_SHIFT_SECONDS);
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            let t = parse_utc(times[i].trim())
                .map_err(|_| not(format!("row {i}: time_utc '{}'", times[i].trim())))?;
            rows.push(Row {
                time: t + shift,
                rsun: rsun[i],
                y_srf: y[i],
                z_srf: z[i],
                sas_ok: sas_ok[i],
                rpy: [rpy[3 * i], rpy[3 * i + 1], rpy[3 * i + 2]],
                lonlat: [lonlat[2 * i], lonlat[2 * i + 1]],
            });
        }
        if rows.is_empty() {
            return Err(not("DATA has no rows".into()));
        }
        rows.sort_by_key(|r| r.time);
        Ok(AspectFile { file_name, rows })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    /// Interval covered by the (shifted) row times.
    pub fn coverage(&self) -> Option<TimeRange> {
        let a = self.rows.first()?.time;
        let b = self.rows.last()?.time;
        TimeRange::new(a, b).ok()
    }

    /// The roll/pointing solution for `range` (section F).
    pub fn solution(&self, range: &TimeRange) -> Result<AspectSolution, AspectError> {
        let inside: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.time >= range.start && r.time <= range.end)
            .collect();
        let outside = || AspectError::OutsideFile {
            file: self.file_name.clone(),
            requested: range.to_string(),
            available: self
                .coverage()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "nothing".into()),
        };
        let (row, used) = if !inside.is_empty() {
            let mean_of = |rows: &[&Row], g: &dyn Fn(&Row) -> f64| {
                rows.iter().map(|r| g(r)).sum::<f64>() / rows.len() as f64
            };
            let mean = |g: &dyn Fn(&Row) -> f64| mean_of(&inside, g);
            // SAS from the good rows only (F.6); with none, the all-row mean is kept only to be
            // reported as the rejected SAS value.
            let good: Vec<&Row> = inside.iter().copied().filter(|r| r.sas_ok).collect();
            let sas_rows = if good.is_empty() { &inside } else { &good };
            (
                Row {
                    time: range.midpoint(),
                    rsun: mean(&|r| r.rsun),
                    y_srf: mean_of(sas_rows, &|r| r.y_srf),
                    z_srf: mean_of(sas_rows, &|r| r.z_srf),
                    sas_ok: !good.is_empty(),
                    rpy: [
                        mean(&|r| r.rpy[0]),
                        mean(&|r| r.rpy[1]),
                        mean(&|r| r.rpy[2]),
                    ],
                    lonlat: [mean(&|r| r.lonlat[0]), mean(&|r| r.lonlat[1])],
                },
                inside.len(),
            )
        } else {
            // Interpolate the two rows around the midpoint; refuse beyond one row of the file.
            let t = range.midpoint();
            let j = self.rows.partition_point(|r| r.time <= t);
            if j == 0 || j == self.rows.len() {
                return Err(outside());
            }
            let (a, b) = (&self.rows[j - 1], &self.rows[j]);
            let span = (b.time - a.time).num_milliseconds() as f64;
            if span <= 0.0 || span > 3.0 * 64_000.0 {
                return Err(outside());
            }
            let w = (t - a.time).num_milliseconds() as f64 / span;
            let lerp = |x: f64, y: f64| x + (y - x) * w;
            (
                Row {
                    time: t,
                    rsun: lerp(a.rsun, b.rsun),
                    y_srf: lerp(a.y_srf, b.y_srf),
                    z_srf: lerp(a.z_srf, b.z_srf),
                    sas_ok: a.sas_ok && b.sas_ok,
                    rpy: [
                        lerp(a.rpy[0], b.rpy[0]),
                        lerp(a.rpy[1], b.rpy[1]),
                        lerp(a.rpy[2], b.rpy[2]),
                    ],
                    lonlat: [
                        lerp(a.lonlat[0], b.lonlat[0]),
                        lerp(a.lonlat[1], b.lonlat[1]),
                    ],
                },
                0,
            )
        };
        if !row.rpy[0].is_finite() {
            return Err(AspectError::NotAspectFile {
                path: self.file_name.clone(),
                reason: format!("no finite roll angle around {}", format_utc(&row.time)),
            });
        }
        let roll = row.rpy[0];
        let pitch = row.rpy[1] * 3600.0;
        let yaw = -row.rpy[2] * 3600.0;
        let (s, c) = roll.to_radians().sin_cos();
        let sc = [
            SPACECRAFT_OFFSET_ARCSEC[0] + yaw * c + pitch * s,
            SPACECRAFT_OFFSET_ARCSEC[1] - yaw * s + pitch * c,
        ];
        let sas = [
            row.y_srf + SAS_OFFSET_ARCSEC[0],
            -row.z_srf + SAS_OFFSET_ARCSEC[1],
        ];
        let sc_ok = sc.iter().all(|v| v.is_finite());
        let sas_ok = row.sas_ok
            && sas.iter().all(|v| v.is_finite())
            && (!sc_ok || (sas[0] - sc[0]).hypot(sas[1] - sc[1]) <= SAS_MAX_DIFFERENCE_ARCSEC);
        let (pointing, source) = if sas_ok {
            (sas, PointingSource::Sas)
        } else if sc_ok {
            (sc, PointingSource::Spacecraft)
        } else {
            (
                SPACECRAFT_OFFSET_ARCSEC,
                PointingSource::Assumed("aspect file has no valid SAS or attitude".into()),
            )
        };
        Ok(AspectSolution {
            roll_deg: roll,
            pointing_arcsec: pointing,
            pointing_source: source,
            rsun_arcsec: row.rsun.is_finite().then_some(row.rsun),
            sas_pointing_arcsec: sas.iter().all(|v| v.is_finite()).then_some(sas),
            spacecraft_pointing_arcsec: sc_ok.then_some(sc),
            observer_lonlat_deg: row
                .lonlat
                .iter()
                .all(|v| v.is_finite())
                .then_some(row.lonlat),
            rows_averaged: used,
            aux_file: Some(self.file_name.clone()),
        })
    }
}
