//! The fixed sets of the job side, one Rust enum each, with the spelling stored in the
//! database: job status (`reconstruction_jobs.status`), job kind (`reconstruction_jobs.kind`),
//! image kind (`images.kind`) and, re-exported from `ingest`, product kind
//! (`science_files.product_kind`).

use serde::{Deserialize, Serialize};

pub use crate::ingest::ProductKind;

/// The life of a job (`reconstruction_jobs.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Waiting in the queue (also between retries).
    Queued,
    /// A worker is on it.
    Running,
    /// Done; its images are committed.
    Succeeded,
    /// Ended with an error (bad input, or retries exhausted).
    Failed,
    /// Cancelled by its owner or an admin.
    Cancelled,
}

impl JobStatus {
    /// Every status.
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelled => "CANCELLED",
        }
    }

    /// The status a stored spelling names.
    pub fn parse(s: &str) -> Option<JobStatus> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// True for SUCCEEDED, FAILED and CANCELLED: nothing will change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    /// True for QUEUED and RUNNING (what the per-user quota counts).
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<JobStatus> for sea_orm::Value {
    fn from(s: JobStatus) -> Self {
        s.as_str().into()
    }
}

/// What a job does (`reconstruction_jobs.kind`); the worker dispatches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// The automatic previews of one flare science file (`pipeline`).
    Preview,
    /// A registered user's reconstruction of one box (`reconstruction`).
    Reconstruction,
}

impl JobKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Preview => "preview",
            JobKind::Reconstruction => "reconstruction",
        }
    }

    /// The kind a stored spelling names.
    pub fn parse(s: &str) -> Option<JobKind> {
        [JobKind::Preview, JobKind::Reconstruction]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<JobKind> for sea_orm::Value {
    fn from(s: JobKind) -> Self {
        s.as_str().into()
    }
}

/// Where a flare's stored location came from (`flares.location_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    /// The imported flare list.
    FlareList,
    /// STIX imaging: the full-disk back-projection the previews were centred on.
    StixImaging,
}

impl LocationSource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationSource::FlareList => "flare_list",
            LocationSource::StixImaging => "stix_imaging",
        }
    }
}

/// Who asked for an image (`images.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    /// Made automatically by the preview pipeline.
    Preview,
    /// Made for a registered user's reconstruction job.
    User,
}

impl ImageKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Preview => "preview",
            ImageKind::User => "user",
        }
    }

    /// The kind a stored spelling names.
    pub fn parse(s: &str) -> Option<ImageKind> {
        [ImageKind::Preview, ImageKind::User]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ImageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ImageKind> for sea_orm::Value {
    fn from(s: ImageKind) -> Self {
        s.as_str().into()
    }
}

impl From<ProductKind> for sea_orm::Value {
    fn from(s: ProductKind) -> Self {
        s.as_str().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(JobKind::parse("preview"), Some(JobKind::Preview));
        assert_eq!(
            JobKind::parse("reconstruction"),
            Some(JobKind::Reconstruction)
        );
        assert_eq!(ImageKind::parse("user"), Some(ImageKind::User));
        assert!(JobStatus::Cancelled.is_final() && !JobStatus::Running.is_final());
        assert!(JobStatus::Queued.is_active() && !JobStatus::Failed.is_active());
    }
}
