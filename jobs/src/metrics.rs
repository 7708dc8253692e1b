//! What the jobs side measures, recorded through the `metrics` facade (the `api` crate installs
//! the Prometheus exporter and serves `/metrics`; without a recorder these calls do nothing):
//! job durations per kind and outcome, image durations per kind and algorithm, ingest outcomes
//! and rejections by reason, and the job counts per kind and status read from the database.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};
use std::time::Duration;

/// Histogram: seconds from a job's claim to its final status, labels `kind`, `status`.
pub const JOB_DURATION_SECONDS: &str = "stix_job_duration_seconds";
/// Histogram: seconds to reconstruct and write one image, labels `kind`, `algorithm`.
pub const IMAGE_DURATION_SECONDS: &str = "stix_image_duration_seconds";
/// Counter: files offered to ingest, label `outcome` (`new`, `already_present`,
/// `new_version`, `rejected`).
pub const INGEST_FILES_TOTAL: &str = "stix_ingest_files_total";
/// Counter: rejected files, label `reason` (the rejection code, e.g. `truncated_fits`).
pub const INGEST_REJECTIONS_TOTAL: &str = "stix_ingest_rejections_total";
/// Histogram: seconds to upload one file to the object store (S3 storage only).
pub const STORAGE_UPLOAD_SECONDS: &str = "stix_storage_upload_seconds";

/// Records that a job attempt ended with `status` after `elapsed`.
pub fn job_finished(kind: &str, status: &str, elapsed: Duration) {
    metrics::histogram!(
        JOB_DURATION_SECONDS,
        "kind" => kind.to_string(),
        "status" => status.to_string()
    )
    .record(elapsed.as_secs_f64());
}

/// Records that one image of a job of `kind` took `elapsed` with `algorithm`.
pub fn image_made(kind: &str, algorithm: &str, elapsed: Duration) {
    metrics::histogram!(
        IMAGE_DURATION_SECONDS,
        "kind" => kind.to_string(),
        "algorithm" => algorithm.to_string()
    )
    .record(elapsed.as_secs_f64());
}

/// Records one upload of a file to the object store.
pub fn storage_upload(elapsed: Duration) {
    metrics::histogram!(STORAGE_UPLOAD_SECONDS).record(elapsed.as_secs_f64());
}

/// Records one ingest outcome: `Ok(outcome)` or `Err(rejection code)`.
pub fn ingest_outcome(result: Result<&'static str, &'static str>) {
    match result {
        Ok(outcome) => metrics::counter!(INGEST_FILES_TOTAL, "outcome" => outcome).increment(1),
        Err(reason) => {
            metrics::counter!(INGEST_FILES_TOTAL, "outcome" => "rejected").increment(1);
            metrics::counter!(INGEST_REJECTIONS_TOTAL, "reason" => reason).increment(1);
        }
    }
}

/// Number of job rows per `(kind, status)`, read from the database (the truth shared by every
/// process), in `(kind, status)` order.
pub async fn job_counts(db: &DatabaseConnection) -> Result<Vec<(String, String, i64)>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT kind, status, COUNT(*) AS n FROM reconstruction_jobs \
             GROUP BY kind, status ORDER BY kind, status",
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String>("", "kind")?,
                r.try_get::<String>("", "status")?,
                r.try_get::<i64>("", "n")?,
            ))
        })
        .collect()
}
