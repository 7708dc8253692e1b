//! The blocking half of ingesting one file: recognise it (FITS by its `SIMPLE` card, a flare
//! list by its CSV header), checksum it (streamed SHA-256), read it with the `domain` readers
//! and turn it into the row it will become. Nothing is written here.
//!
//! Classification (`shared/docs/stix-imaging.md` A.1): a readable CPD file with one time bin
//! and all 32 detectors × 12 pixels is a background file (nothing in the file says so), any
//! other CPD file is flare pixel data; a file `AspectFile::read` accepts is an aspect file.

use super::header::{HeaderError, PrimaryHeader};
use super::naming::{day_from_name, version_from_name};
use super::{IngestRejection, ProductKind};
use chrono::{DateTime, Datelike, Utc};
use domain::aspect::{AspectError, AspectFile};
use domain::l1::{L1Error, PixelData, RejectCode};
use domain::policy::flare_list::{ListedFlare, looks_like_flare_list, read_flare_list};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Size of one FITS block; a whole FITS file is a multiple of it.
const FITS_BLOCK_BYTES: u64 = 2880;
/// Largest flare list read into memory.
const MAX_FLARE_LIST_BYTES: u64 = 256 * 1024 * 1024;
/// PRIMARY keys kept in `science_files.header`.
const HEADER_KEYS: [&str; 10] = [
    "DATE-BEG", "DATE-END", "HGLN_OBS", "HGLT_OBS", "DSUN_OBS", "RSUN_ARC", "LEVEL", "VERS_SW",
    "SCI_RID", "SCI_TCC",
];

/// A file ready to be registered.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    /// A FITS science/aspect file.
    File(Box<PreparedFile>),
    /// A flare list.
    FlareList(PreparedList),
}

impl Prepared {
    /// What was recognised.
    pub(crate) fn kind(&self) -> ProductKind {
        match self {
            Prepared::File(f) => f.kind,
            Prepared::FlareList(_) => ProductKind::FlareList,
        }
    }
}

/// A FITS file and the `science_files` row it becomes.
#[derive(Debug, Clone)]
pub(crate) struct PreparedFile {
    pub source: PathBuf,
    pub kind: ProductKind,
    pub file_name: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub request_uid: i64,
    pub version: i32,
    pub obs_start: DateTime<Utc>,
    pub obs_end: DateTime<Utc>,
    pub n_time_bins: i32,
    pub energy_groups_kev: Option<Value>,
    pub energy_low_kev: Option<f64>,
    pub energy_high_kev: Option<f64>,
    pub pixel_mask: Option<i32>,
    pub detector_mask: Option<i64>,
    pub attenuator_in: Option<bool>,
    pub header: Value,
}

impl PreparedFile {
    /// `files/<kind>/<YYYY>/<MM>`, relative to the data directory.
    pub(crate) fn relative_dir(&self) -> PathBuf {
        PathBuf::from("files")
            .join(self.kind.as_str())
            .join(format!("{:04}", self.obs_start.year()))
            .join(format!("{:02}", self.obs_start.month()))
    }
}

/// A parsed flare list.
#[derive(Debug, Clone)]
pub(crate) struct PreparedList {
    pub flares: Vec<(i64, ListedFlare)>,
}

fn reject(code: &'static str, reason: impl Into<String>) -> IngestRejection {
    IngestRejection {
        code,
        reason: reason.into(),
    }
}

/// Streams the file through SHA-256; returns the hex digest and the byte count.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n_total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((hex::encode(h.finalize()), n_total))
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Reads, checksums and classifies one file (blocking).
pub(crate) fn prepare(path: &Path) -> Result<Prepared, IngestRejection> {
    let meta = std::fs::metadata(path)
        .map_err(|e| reject("io_error", format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(reject("unsupported_file", "not a regular file"));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| reject("io_error", format!("cannot open {}: {e}", path.display())))?;
    match PrimaryHeader::read(std::io::BufReader::new(file)) {
        Ok(header) => prepare_fits(path, meta.len(), &header),
        Err(HeaderError::NotFits) if is_csv(path) => prepare_flare_list(path, meta.len()),
        Err(HeaderError::NotFits) => Err(reject(
            RejectCode::NotFits.as_str(),
            "neither a FITS file nor a flare-list CSV",
        )),
        Err(e @ HeaderError::NoEnd { .. }) => {
            Err(reject(RejectCode::Truncated.as_str(), e.to_string()))
        }
        Err(e) => Err(reject("io_error", e.to_string())),
    }
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn prepare_fits(
    path: &Path,
    size: u64,
    header: &PrimaryHeader,
) -> Result<Prepared, IngestRejection> {
    let file_name = file_name_of(path);
    let truncated = !size.is_multiple_of(FITS_BLOCK_BYTES);
    let aspect_named = file_name.contains("ephemeris");
    let classified = if aspect_named {
        match AspectFile::read(path) {
            Ok(a) => Ok(Classified::Aspect(a)),
            Err(ae) => match PixelData::read(path) {
                Ok(p) => Ok(Classified::Pixels(Box::new(p))),
                Err(_) => Err(aspect_rejection(&ae)),
            },
        }
    } else {
        match PixelData::read(path) {
            Ok(p) => Ok(Classified::Pixels(Box::new(p))),
            Err(pe) => match (&pe, AspectFile::read(path)) {
                (L1Error::NotPixelData { .. }, Ok(a)) => Ok(Classified::Aspect(a)),
                _ => Err(l1_rejection(&pe)),
            },
        }
    };
    let classified = classified.map_err(|r| {
        if truncated && r.code != RejectCode::ChecksumMismatch.as_str() {
            reject(
                RejectCode::Truncated.as_str(),
                format!(
                    "truncated FITS: {size} bytes is not a whole number of {FITS_BLOCK_BYTES}-byte blocks ({})",
                    r.reason
                ),
            )
        } else {
            r
        }
    })?;
    let (sha256, n) = sha256_file(path)
        .map_err(|e| reject("io_error", format!("cannot read {}: {e}", path.display())))?;
    let size_bytes =
        i64::try_from(n).map_err(|_| reject("unsupported_file", "file larger than 2^63 bytes"))?;
    let mut head = serde_json::Map::new();
    for k in HEADER_KEYS {
        if let Some(v) = header.get(k) {
            head.insert(k.to_string(), v.to_json());
        }
    }
    let version = version_from_name(&file_name);
    let file = match classified {
        Classified::Pixels(p) => {
            from_pixels(path, file_name, sha256, size_bytes, version, &p, head)?
        }
        Classified::Aspect(a) => from_aspect(
            path, file_name, sha256, size_bytes, version, &a, header, head,
        )?,
    };
    Ok(Prepared::File(Box::new(file)))
}

enum Classified {
    Pixels(Box<PixelData>),
    Aspect(AspectFile),
}

fn l1_rejection(e: &L1Error) -> IngestRejection {
    match e {
        L1Error::Rejected { code, reason, .. } => reject(code.as_str(), reason.clone()),
        L1Error::Io { .. } => reject("io_error", e.to_string()),
        L1Error::Corrupt { reason, .. } => reject(
            "corrupt_fits",
            format!("truncated or corrupt FITS: {reason}"),
        ),
        L1Error::NotPixelData { product, .. } => reject(
            RejectCode::WrongProduct.as_str(),
            format!("not STIX pixel data: {product}"),
        ),
        L1Error::Legacy { layout, detail, .. } => reject(
            "legacy_layout",
            format!("legacy layout '{layout}', not supported: {detail}"),
        ),
        _ => reject("invalid_content", e.to_string()),
    }
}

fn aspect_rejection(e: &AspectError) -> IngestRejection {
    match e {
        AspectError::File(l1) => l1_rejection(l1),
        _ => reject("not_aspect_file", e.to_string()),
    }
}

fn group_edges_json(p: &PixelData) -> Value {
    let num = |x: f64| {
        serde_json::Number::from_f64(x)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    };
    Value::Array(
        p.energy_groups
            .iter()
            .map(|g| json!([num(g.low_kev), num(g.high_kev)]))
            .collect(),
    )
}

fn from_pixels(
    path: &Path,
    file_name: String,
    sha256: String,
    size_bytes: i64,
    version: i32,
    p: &PixelData,
    mut head: serde_json::Map<String, Value>,
) -> Result<PreparedFile, IngestRejection> {
    let background = p.is_background_like();
    let (obs_start, obs_end) = match p.time_range() {
        Some(r) => (r.start, r.end),
        None => (p.date_beg, p.date_end.unwrap_or(p.date_beg)),
    };
    let request_uid = i64::try_from(p.uid).map_err(|_| {
        reject(
            "invalid_content",
            format!("request UID {} too large", p.uid),
        )
    })?;
    let n_time_bins =
        i32::try_from(p.n_bins()).map_err(|_| reject("invalid_content", "too many time bins"))?;
    let energy_low_kev = p
        .energy_groups
        .first()
        .map(|g| g.low_kev)
        .filter(|x| x.is_finite());
    let energy_high_kev = p
        .energy_groups
        .iter()
        .flat_map(|g| [g.low_kev, g.high_kev])
        .filter(|x| x.is_finite())
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let pixel_mask = p.pixels_present().iter().fold(0i32, |m, &i| m | (1 << i));
    let detector_mask = p
        .detectors_present()
        .iter()
        .fold(0i64, |m, &i| m | (1 << i));
    let mut notes = vec![format!(
        "L1 compressed pixel data (xray-cpd, SSID 21): {} time bins, {} energy groups",
        p.n_bins(),
        p.n_energies()
    )];
    if background {
        notes.push(
            "background-like: one time bin, all 32 detectors and 12 pixels (A.1)".to_string(),
        );
    }
    for x in &p.excluded_bins {
        notes.push(format!(
            "time bin {} excluded: {} (issue #11: NaN or negative values are not imaged)",
            x.row, x.reason
        ));
    }
    if p.predates_time_bin_fix() {
        notes.push(
            "taken before the 2021-12-09 on-board time-bin fix (A.3); bins read unshifted"
                .to_string(),
        );
    }
    head.insert("notes".into(), json!(notes));
    Ok(PreparedFile {
        source: path.to_path_buf(),
        kind: if background {
            ProductKind::Background
        } else {
            ProductKind::FlarePixelData
        },
        file_name,
        sha256,
        size_bytes,
        request_uid,
        version,
        obs_start,
        obs_end,
        n_time_bins,
        energy_groups_kev: Some(group_edges_json(p)),
        energy_low_kev,
        energy_high_kev,
        pixel_mask: Some(pixel_mask),
        detector_mask: Some(detector_mask),
        attenuator_in: Some(p.rcr.iter().any(|&r| r > 0)),
        header: Value::Object(head),
    })
}

#[allow(clippy::too_many_arguments)]
fn from_aspect(
    path: &Path,
    file_name: String,
    sha256: String,
    size_bytes: i64,
    version: i32,
    a: &AspectFile,
    header: &PrimaryHeader,
    mut head: serde_json::Map<String, Value>,
) -> Result<PreparedFile, IngestRejection> {
    let coverage = a.coverage();
    let day = day_from_name(&file_name).or_else(|| {
        header
            .text("DATE-BEG")
            .and_then(|t| domain::time_range::parse_utc(t).ok())
            .and_then(|t| t.date_naive().and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    });
    let (obs_start, obs_end) = match (day, &coverage) {
        (Some(d), _) => (d, d + chrono::Duration::days(1)),
        (None, Some(c)) => (c.start, c.end),
        (None, None) => {
            return Err(reject(
                "not_aspect_file",
                "aspect file without a day in its name, DATE-BEG or rows",
            ));
        }
    };
    let request_uid = i64::from(obs_start.year()) * 10_000
        + i64::from(obs_start.month()) * 100
        + i64::from(obs_start.day());
    let mut notes = vec![format!("aspect/ephemeris file: {} rows", a.n_rows())];
    if let Some(c) = coverage {
        notes.push(format!("rows (shifted by −32 s, F.1) cover {c}"));
    }
    head.insert("notes".into(), json!(notes));
    Ok(PreparedFile {
        source: path.to_path_buf(),
        kind: ProductKind::Aspect,
        file_name,
        sha256,
        size_bytes,
        request_uid,
        version,
        obs_start,
        obs_end,
        n_time_bins: 0,
        energy_groups_kev: None,
        energy_low_kev: None,
        energy_high_kev: None,
        pixel_mask: None,
        detector_mask: None,
        attenuator_in: None,
        header: Value::Object(head),
    })
}

fn prepare_flare_list(path: &Path, size: u64) -> Result<Prepared, IngestRejection> {
    if size > MAX_FLARE_LIST_BYTES {
        return Err(reject(
            "not_flare_list",
            format!("a {size}-byte CSV is too large for a flare list"),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| reject("io_error", format!("cannot read {}: {e}", path.display())))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| reject("not_flare_list", "a CSV that is not UTF-8 text"))?;
    if !looks_like_flare_list(&text) {
        return Err(reject(
            "not_flare_list",
            "a CSV that is not a flare list: its header does not name flare_id, start_UTC, peak_UTC and end_UTC",
        ));
    }
    let flares = read_flare_list(&text)
        .map_err(|e| reject("bad_flare_list", format!("bad flare list: {e}")))?;
    let flares = flares
        .into_iter()
        .map(|f| {
            f.flare_id
                .trim()
                .parse::<i64>()
                .map(|id| (id, f.clone()))
                .map_err(|_| {
                    reject(
                        "bad_flare_list",
                        format!(
                            "bad flare list: flare_id '{}' is not an integer",
                            f.flare_id
                        ),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Prepared::FlareList(PreparedList { flares }))
}
