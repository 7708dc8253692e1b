//! `preview_skips`: planned boxes (or box × algorithm) that produced no image, and why.

use sea_orm::entity::prelude::*;

/// One skipped box.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "preview_skips")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The science file.
    pub science_file_id: i64,
    /// The flare row, if any.
    pub flare_id: Option<i64>,
    /// The job that planned it.
    pub job_id: Option<i64>,
    /// Unique key (re-running never duplicates skips).
    #[sea_orm(unique)]
    pub dedup_key: String,
    /// The algorithm that failed, or `None` when the whole box was skipped.
    pub algorithm: Option<String>,
    /// Band, keV.
    pub energy_low_kev: f64,
    /// Band, keV.
    pub energy_high_kev: f64,
    /// Requested box start, UTC.
    pub time_start: ChronoDateTimeUtc,
    /// Requested box end, UTC.
    pub time_end: ChronoDateTimeUtc,
    /// Counts in the box, when known.
    pub counts: Option<f64>,
    /// Why no image was made.
    pub reason: String,
    /// Selection policy version.
    pub policy_version: String,
    /// Policy inputs, JSON.
    pub policy_inputs: Option<Json>,
    /// When recorded.
    pub created_at: ChronoDateTimeUtc,
    /// Live-time-scaled background counts in the box (`preview-v2`).
    pub background_counts: Option<f64>,
    /// Background-subtracted counts in the box (`preview-v2`).
    pub net_counts: Option<f64>,
}

/// Relations are queried explicitly in `store`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
