//! Thin helpers around `fitsio` that turn its errors into [`L1Error`] and guard against its
//! panics (section A; `shared/docs/dependencies.md` §4.4). Shared with [`crate::aspect`].

use super::error::L1Error;
use fitsio::FitsFile;
use fitsio::hdu::{FitsHdu, HduInfo};
use fitsio::tables::ReadsCol;
use std::path::Path;

/// An open FITS file plus its path for error messages.
pub struct Fits {
    file: FitsFile,
    path: String,
}

/// Column names and row count of a table HDU.
pub struct Table {
    /// The HDU handle.
    pub hdu: FitsHdu,
    /// The HDU name.
    pub name: String,
    /// Column names in order (FITS columns 1..).
    pub columns: Vec<String>,
    /// Number of rows.
    pub rows: usize,
}

impl Table {
    /// True when the table has a column of that name.
    pub fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }

    /// 1-based FITS column number of a column.
    pub fn number(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column).map(|i| i + 1)
    }
}

impl Fits {
    /// Opens a FITS file read-only. A missing file is [`L1Error::Io`]; anything cfitsio cannot
    /// open is [`L1Error::Corrupt`].
    pub fn open(path: &Path) -> Result<Self, L1Error> {
        let display = path.display().to_string();
        std::fs::metadata(path).map_err(|source| L1Error::Io {
            path: display.clone(),
            source,
        })?;
        if path.to_str().is_none() {
            return Err(L1Error::Io {
                path: display,
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path is not UTF-8"),
            });
        }
        let file = FitsFile::open(path).map_err(|e| L1Error::Corrupt {
            path: display.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            file,
            path: display,
        })
    }

    /// The path as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn corrupt(&self, what: &str, e: impl std::fmt::Display) -> L1Error {
        L1Error::Corrupt {
            path: self.path.clone(),
            reason: format!("{what}: {e}"),
        }
    }

    /// The primary HDU.
    pub fn primary(&mut self) -> Result<FitsHdu, L1Error> {
        self.file.primary_hdu().map_err(|e| L1Error::Corrupt {
            path: self.path.clone(),
            reason: format!("primary HDU: {e}"),
        })
    }

    /// A table HDU by name; [`L1Error::MissingColumn`]-style errors name the HDU.
    pub fn table(&mut self, name: &str) -> Result<Table, L1Error> {
        let hdu = self.file.hdu(name).map_err(|_| L1Error::Invalid {
            path: self.path.clone(),
            reason: format!("there is no {name} extension"),
        })?;
        match &hdu.info {
            HduInfo::TableInfo {
                column_descriptions,
                num_rows,
            } => {
                let columns = column_descriptions.iter().map(|c| c.name.clone()).collect();
                let rows = *num_rows;
                Ok(Table {
                    hdu,
                    name: name.to_string(),
                    columns,
                    rows,
                })
            }
            _ => Err(L1Error::Invalid {
                path: self.path.clone(),
                reason: format!("the {name} extension is not a table"),
            }),
        }
    }

    /// An optional keyword of an HDU.
    pub fn key_opt<T: fitsio::headers::ReadsKey>(&mut self, hdu: &FitsHdu, key: &str) -> Option<T> {
        hdu.read_key::<T>(&mut self.file, key).ok()
    }

    /// A required keyword of an HDU.
    pub fn key<T: fitsio::headers::ReadsKey>(
        &mut self,
        hdu: &FitsHdu,
        hdu_name: &str,
        key: &str,
    ) -> Result<T, L1Error> {
        hdu.read_key::<T>(&mut self.file, key)
            .map_err(|_| L1Error::MissingKeyword {
                path: self.path.clone(),
                hdu: hdu_name.to_string(),
                keyword: key.to_string(),
            })
    }

    /// A whole column (all rows, vector cells flattened row after row), with TZERO/TSCAL applied
    /// by cfitsio.
    pub fn col<T: ReadsCol>(&mut self, table: &Table, column: &str) -> Result<Vec<T>, L1Error> {
        if !table.has(column) {
            return Err(L1Error::MissingColumn {
                path: self.path.clone(),
                hdu: table.name.clone(),
                column: column.to_string(),
            });
        }
        table
            .hdu
            .read_col::<T>(&mut self.file, column)
            .map_err(|e| self.corrupt(&format!("{}.{column}", table.name), e))
    }
}

/// Runs a reader, turning a panic inside `fitsio` (it has a few, §4.4) into
/// [`L1Error::Corrupt`] so that no input can crash the caller.
pub fn guarded<T, E: From<L1Error>>(path: &Path, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown failure".to_string());
            Err(L1Error::Corrupt {
                path: path.display().to_string(),
                reason: format!("the FITS library failed: {msg}"),
            }
            .into())
        }
    }
}

/// Parses a FITS `TDIMn` value such as `(17,8,32)` into its numbers (FITS order).
pub fn parse_tdim(text: &str) -> Option<Vec<usize>> {
    let inner = text.trim().trim_start_matches('(').trim_end_matches(')');
    inner
        .split(',')
        .map(|s| s.trim().parse::<usize>().ok())
        .collect()
}
