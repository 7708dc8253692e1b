//! Products written to disk: FITS maps that sunpy places on the sky, PNG quick-looks
//! (`shared/docs/stix-imaging.md` section F).
//!
//! Both writers take in-memory values only ([`crate::imaging::Reconstruction`] plus the
//! [`crate::visfile::VisMeta`] of the visibilities it came from) and write **atomically**: the
//! file is written under a temporary name in the target directory and renamed at the end, so
//! a crash never leaves a half-written file under the final name.

pub mod fits_map;
pub mod quicklook;
mod raster;
mod text;

use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a product could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// File system failure (create, write, rename).
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// cfitsio refused an operation.
    #[error("FITS error while writing {path}: {source}")]
    Fits {
        /// The file.
        path: String,
        /// The cause.
        source: fitsio::errors::Error,
    },
    /// The PNG encoder failed.
    #[error("PNG error while writing {path}: {source}")]
    Png {
        /// The file.
        path: String,
        /// The cause.
        source: png::EncodingError,
    },
    /// The reconstruction or its metadata cannot be written as asked (wrong shapes,
    /// non-finite geometry, bad time range, bad extra keyword, impossible image size).
    #[error("cannot write {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, for a human.
        reason: String,
    },
}

/// What goes into a product besides the map and the visibility metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// Software version written as `SW_VERS`/`CREATOR` (default [`crate::SOFTWARE_VERSION`]).
    pub software_version: String,
    /// Creation time written as `DATE_CRE` (default: now).
    pub created: DateTime<Utc>,
    /// Id of the selection policy / time-energy box that produced the image, when any
    /// (`PRV_POL`).
    pub policy_id: Option<String>,
    /// The quality assessment, written as `QUALITY` and `QUAL_WHY` when present.
    pub quality: Option<crate::quality::Quality>,
    /// Extra header cards `(KEY, value)`, written as strings. Keys must be valid FITS keywords
    /// (1–8 of `A–Z 0–9 - _`) and must not collide with the keys this crate writes.
    pub extra: Vec<(String, String)>,
}

impl Default for Provenance {
    fn default() -> Self {
        Self {
            software_version: crate::SOFTWARE_VERSION.to_string(),
            created: Utc::now(),
            policy_id: None,
            quality: None,
            extra: Vec::new(),
        }
    }
}

/// A unique temporary name in the same directory as `path` (so the final rename is atomic).
fn temporary_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "product".to_string());
    path.with_file_name(format!(".{name}.{}-{n}.partial", std::process::id()))
}

/// Runs `write` on a temporary file next to `path`, then renames it to `path`. On any error
/// the temporary file is removed and `path` is left untouched.
fn write_atomically<F>(path: &Path, write: F) -> Result<(), OutputError>
where
    F: FnOnce(&Path) -> Result<(), OutputError>,
{
    if path.file_name().is_none() {
        return Err(OutputError::Invalid {
            path: path.display().to_string(),
            reason: "the path names no file".to_string(),
        });
    }
    let tmp = temporary_path(path);
    let result = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|source| OutputError::Io {
            path: path.display().to_string(),
            source,
        })
    });
    if result.is_err() {
        // Best effort: the temporary file may not even exist.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("map.fits");
        let err = write_atomically(&target, |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err(OutputError::Invalid {
                path: tmp.display().to_string(),
                reason: "simulated crash".to_string(),
            })
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn successful_write_renames() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.png");
        write_atomically(&target, |tmp| {
            std::fs::write(tmp, b"ok").map_err(|source| OutputError::Io {
                path: tmp.display().to_string(),
                source,
            })
        })
        .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"ok");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
