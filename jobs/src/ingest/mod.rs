//! Ingest: put real STIX files and flare lists into the archive, idempotently.
//!
//! For every file: recognise it (FITS by its header, a flare list by its CSV header),
//! checksum it (SHA-256, streamed), classify it with the `domain` readers (flare pixel data,
//! background — one long bin, all detectors and pixels, `shared/docs/stix-imaging.md` A.1 —,
//! aspect/ephemeris), copy it atomically to `data_dir/files/<kind>/<YYYY>/<MM>/<name>` and
//! register it in one transaction. The same bytes again change nothing; a higher `_Vnn`
//! version of the same (UID, kind) becomes the latest; a bad file is rejected with a code and
//! a human reason while the rest of a batch goes on. Flare lists upsert `flares` by
//! `flare_id`; flares and flare pixel-data files are linked whenever their times overlap,
//! whichever arrives first ([`link_flares_to_file`], [`link_files_to_flare`]).

mod classify;
mod copy;
pub mod header;
mod link;
pub mod naming;
mod register;

pub use link::{link_files_to_flare, link_flares_to_file};
pub use register::FLARE_LIST_SOURCE;

use crate::storage::Storage;
use classify::Prepared;
use sea_orm::DatabaseConnection;
use std::path::{Path, PathBuf};

/// What kind of product a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductKind {
    /// L1 compressed pixel data of a flare (or any non-background request).
    FlarePixelData,
    /// L1 compressed pixel data of a background request (one bin, all detectors/pixels).
    Background,
    /// Aspect/ephemeris (aux) file of one day.
    Aspect,
    /// A community flare-list CSV.
    FlareList,
}

impl ProductKind {
    /// The `science_files.product_kind` spelling (`flare_list` for flare lists).
    pub fn as_str(self) -> &'static str {
        match self {
            ProductKind::FlarePixelData => "flare_pixel_data",
            ProductKind::Background => "background",
            ProductKind::Aspect => "aspect",
            ProductKind::FlareList => "flare_list",
        }
    }

    /// The kind a stored `product_kind` names.
    pub fn from_str_opt(s: &str) -> Option<ProductKind> {
        [
            ProductKind::FlarePixelData,
            ProductKind::Background,
            ProductKind::Aspect,
            ProductKind::FlareList,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Processing order in a batch: aspect, background, flare data, flare lists.
    fn rank(self) -> u8 {
        match self {
            ProductKind::Aspect => 0,
            ProductKind::Background => 1,
            ProductKind::FlarePixelData => 2,
            ProductKind::FlareList => 3,
        }
    }
}

impl std::fmt::Display for ProductKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a file that was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestStatus {
    /// A new row (or, for a flare list, at least one flare inserted or changed). An older
    /// version arriving after a newer one is `New` with `is_latest = false`.
    New,
    /// The same bytes are already in the archive (flare list: no flare changed); nothing written.
    AlreadyPresent,
    /// A higher version of an archived (UID, kind): the row `supersedes` is no longer latest.
    NewVersion {
        /// Row id of the previous latest version.
        supersedes: i64,
    },
}

/// An accepted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The `science_files` row (None for flare lists).
    pub science_file_id: Option<i64>,
    /// What the file is.
    pub kind: ProductKind,
    /// New, already present, or a new version.
    pub status: IngestStatus,
    /// Flares inserted or changed (flare lists; 0 otherwise).
    pub flares_imported: usize,
}

/// Why a file was not ingested: a stable machine code and a human reason.
///
/// Codes: the integrity codes of [`domain::l1::RejectCode`] (`checksum_mismatch`,
/// `not_fits`, `truncated`, `implausible_time`, `bad_time_axis`, `bad_rcr`, `empty_masks`,
/// `bad_energy_table`, `inconsistent_control`, `wrong_product`, `no_usable_bins`), and
/// `unsupported_file`, `io_error`, `corrupt_fits`, `legacy_layout`, `invalid_content`,
/// `not_aspect_file`, `not_flare_list`, `bad_flare_list`, `storage_error`,
/// `changed_during_ingest`, `database_error`, `internal_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} [{code}]")]
pub struct IngestRejection {
    /// Machine-readable code.
    pub code: &'static str,
    /// Human-readable reason.
    pub reason: String,
}

/// The outcome for one file.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestOutcome {
    /// The file as given (or found while walking a directory).
    pub path: PathBuf,
    /// Accepted or rejected.
    pub result: Result<Ingested, IngestRejection>,
}

/// The outcomes of a batch, in processing order, and their counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    /// One outcome per file.
    pub outcomes: Vec<IngestOutcome>,
    /// Files newly registered (`New`).
    pub new: usize,
    /// Files already present.
    pub already_present: usize,
    /// Files registered as a newer version.
    pub new_versions: usize,
    /// Files rejected.
    pub rejected: usize,
    /// Flares inserted or changed by flare lists.
    pub flares_imported: usize,
}

impl IngestReport {
    fn push(&mut self, o: IngestOutcome) {
        match &o.result {
            Ok(i) => {
                match i.status {
                    IngestStatus::New => self.new += 1,
                    IngestStatus::AlreadyPresent => self.already_present += 1,
                    IngestStatus::NewVersion { .. } => self.new_versions += 1,
                }
                self.flares_imported += i.flares_imported;
            }
            Err(_) => self.rejected += 1,
        }
        self.outcomes.push(o);
    }
}

/// Ingests files into the archive database and data directory.
#[derive(Debug, Clone)]
pub struct Ingestor {
    db: DatabaseConnection,
    storage: Storage,
}

impl Ingestor {
    /// An ingestor writing rows to `db` and copies under `files/` of `storage` (a data
    /// directory path means the local backend).
    pub fn new(db: DatabaseConnection, storage: impl Into<Storage>) -> Self {
        Self {
            db,
            storage: storage.into(),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.storage.data_dir()
    }

    /// Ingests one file (FITS or flare-list CSV). Never panics on bad input.
    pub async fn ingest_file(&self, path: &Path) -> IngestOutcome {
        let prepared = prepare(path).await;
        self.commit(path, prepared).await
    }

    /// Ingests files and directories (walked recursively; hidden entries skipped). All files
    /// are read and classified first, then registered in the order aspect, background,
    /// flare pixel data (then the rejected FITS), flare lists, each group in path order, so
    /// that a file's aspect and background data are present when it is registered and flare
    /// lists see every file. `on_progress(outcome, done, total)` is called once per file, in
    /// that order.
    pub async fn ingest_paths(
        &self,
        paths: &[PathBuf],
        mut on_progress: impl FnMut(&IngestOutcome, usize, usize),
    ) -> IngestReport {
        let mut report = IngestReport::default();
        let mut files = Vec::new();
        for p in paths {
            match walk(p.clone()).await {
                Ok(found) => files.extend(found),
                Err(r) => files.push((p.clone(), Some(r))),
            }
        }
        let mut staged = Vec::with_capacity(files.len());
        for (path, walk_error) in files {
            let prepared = match walk_error {
                Some(r) => Err(r),
                None => prepare(&path).await,
            };
            let rank = match &prepared {
                Ok(p) => p.kind().rank(),
                Err(_) if is_csv(&path) => ProductKind::FlareList.rank(),
                Err(_) => ProductKind::FlarePixelData.rank(),
            };
            staged.push((rank, path, prepared));
        }
        staged.sort_by_key(|(rank, _, _)| *rank);
        let total = staged.len();
        for (done, (_, path, prepared)) in staged.into_iter().enumerate() {
            let outcome = self.commit(&path, prepared).await;
            on_progress(&outcome, done + 1, total);
            report.push(outcome);
        }
        report
    }

    async fn commit(
        &self,
        path: &Path,
        prepared: Result<Prepared, IngestRejection>,
    ) -> IngestOutcome {
        let result = match prepared {
            Err(r) => Err(r),
            Ok(Prepared::File(f)) => register::register_file(&self.db, &self.storage, &f).await,
            Ok(Prepared::FlareList(l)) => register::register_flare_list(&self.db, &l).await,
        };
        if let Err(r) = &result {
            tracing::warn!(path = %path.display(), code = r.code, reason = %r.reason, "file rejected");
        }
        crate::metrics::ingest_outcome(match &result {
            Ok(i) => Ok(match i.status {
                IngestStatus::New => "new",
                IngestStatus::AlreadyPresent => "already_present",
                IngestStatus::NewVersion { .. } => "new_version",
            }),
            Err(r) => Err(r.code),
        });
        IngestOutcome {
            path: path.to_path_buf(),
            result,
        }
    }
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Classifies a file on the blocking pool (cfitsio handles are opened and dropped there).
async fn prepare(path: &Path) -> Result<Prepared, IngestRejection> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || classify::prepare(&owned))
        .await
        .unwrap_or_else(|e| {
            Err(IngestRejection {
                code: "internal_error",
                reason: format!("the blocking ingest task failed: {e}"),
            })
        })
}

/// The files under `root` (itself when a file), sorted, hidden entries skipped.
async fn walk(root: PathBuf) -> Result<Vec<(PathBuf, Option<IngestRejection>)>, IngestRejection> {
    tokio::task::spawn_blocking(move || walk_blocking(&root))
        .await
        .unwrap_or_else(|e| {
            Err(IngestRejection {
                code: "internal_error",
                reason: format!("the directory walk failed: {e}"),
            })
        })
}

fn walk_blocking(root: &Path) -> Result<Vec<(PathBuf, Option<IngestRejection>)>, IngestRejection> {
    let meta = std::fs::metadata(root).map_err(|e| IngestRejection {
        code: "io_error",
        reason: format!("cannot read {}: {e}", root.display()),
    })?;
    if !meta.is_dir() {
        return Ok(vec![(root.to_path_buf(), None)]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                out.push((
                    dir.clone(),
                    Some(IngestRejection {
                        code: "io_error",
                        reason: format!("cannot list {}: {e}", dir.display()),
                    }),
                ));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                _ => out.push((path, None)),
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
