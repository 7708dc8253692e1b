//! Why an L1 pixel-data file could not be read.

use super::integrity::RejectCode;

/// Errors of the L1 reader. Every variant names the file and says what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum L1Error {
    /// The file cannot be opened at all (missing, unreadable).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a readable FITS file (truncated, corrupt, not FITS).
    #[error("{path} is not a readable FITS file (truncated or corrupt?): {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What cfitsio or the layout check reported.
        reason: String,
    },
    /// The file is a valid STIX file but not compressed pixel data.
    #[error("{path} is not STIX compressed pixel data (xray-cpd): it is {product}")]
    NotPixelData {
        /// The file.
        path: String,
        /// Which product it is.
        product: String,
    },
    /// An older layout of pixel data that this reader does not handle.
    #[error("{path} has the legacy layout '{layout}', which is not supported: {detail}")]
    Legacy {
        /// The file.
        path: String,
        /// Which layout.
        layout: String,
        /// What gave it away.
        detail: String,
    },
    /// A required column is missing.
    #[error("{path}: HDU {hdu} has no column '{column}'")]
    MissingColumn {
        /// The file.
        path: String,
        /// The HDU.
        hdu: String,
        /// The column.
        column: String,
    },
    /// A required header keyword is missing or unreadable.
    #[error("{path}: HDU {hdu} has no readable keyword '{keyword}'")]
    MissingKeyword {
        /// The file.
        path: String,
        /// The HDU.
        hdu: String,
        /// The keyword.
        keyword: String,
    },
    /// The content is inconsistent (shapes, masks, times).
    #[error("{path}: inconsistent content: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is inconsistent.
        reason: String,
    },
    /// The file fails an integrity or plausibility check (issue #11); `code` is stable.
    #[error("{path}: {reason} [{code}]")]
    Rejected {
        /// The file.
        path: String,
        /// The stable reason code.
        code: RejectCode,
        /// What is wrong, for people.
        reason: String,
    },
    /// A requested energy band has no energy group in this file.
    #[error("{path}: no energy group of the file ({available}) lies in {requested}")]
    BandOutsideFile {
        /// The file.
        path: String,
        /// The requested band.
        requested: String,
        /// What the file covers.
        available: String,
    },
}

impl L1Error {
    /// The file the error is about.
    pub fn path(&self) -> &str {
        match self {
            L1Error::Io { path, .. }
            | L1Error::Corrupt { path, .. }
            | L1Error::NotPixelData { path, .. }
            | L1Error::Legacy { path, .. }
            | L1Error::MissingColumn { path, .. }
            | L1Error::MissingKeyword { path, .. }
            | L1Error::Invalid { path, .. }
            | L1Error::Rejected { path, .. }
            | L1Error::BandOutsideFile { path, .. } => path,
        }
    }
}

impl L1Error {
    /// The stable integrity reason code of this error, when it is one of the refusals of
    /// issue #11 (`wrong_product` for a STIX file that is not compressed pixel data).
    pub fn reject_code(&self) -> Option<RejectCode> {
        match self {
            L1Error::Rejected { code, .. } => Some(*code),
            L1Error::NotPixelData { .. } => Some(RejectCode::WrongProduct),
            _ => None,
        }
    }
}
