//! `images`: every map in the archive (preview or user), with its files and provenance.

use sea_orm::entity::prelude::*;

/// One image.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "images")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Public id.
    #[sea_orm(unique)]
    pub public_id: Uuid,
    /// `preview` or `user`.
    pub kind: String,
    /// Algorithm name (`bp`, `bp-uniform`, `clean`, `mem`, `em`, `fwdfit`).
    pub algorithm: String,
    /// Actual lower band edge, keV.
    pub energy_low_kev: f64,
    /// Actual upper band edge, keV.
    pub energy_high_kev: f64,
    /// Actual interval start, UTC.
    pub time_start: ChronoDateTimeUtc,
    /// Actual interval end, UTC.
    pub time_end: ChronoDateTimeUtc,
    /// The science file.
    pub science_file_id: i64,
    /// The background file subtracted, if any.
    pub background_file_id: Option<i64>,
    /// The flare, if any.
    pub flare_id: Option<i64>,
    /// The job that made it.
    pub job_id: Option<i64>,
    /// Unique key of (inputs, box, algorithm, policy): re-running never duplicates images.
    #[sea_orm(unique)]
    pub dedup_key: String,
    /// Validated algorithm parameters, JSON.
    pub parameters: Json,
    /// Selection policy version (preview images).
    pub policy_version: Option<String>,
    /// Selection policy inputs, JSON.
    pub policy_inputs: Option<Json>,
    /// Calibration version of the visibilities.
    pub calibration_version: String,
    /// Software version that made it.
    pub software_version: String,
    /// Map centre, HPC x, arcsec.
    pub center_hpc_x_arcsec: f64,
    /// Map centre, HPC y, arcsec.
    pub center_hpc_y_arcsec: f64,
    /// Brightest pixel, HPC x, arcsec.
    pub peak_hpc_x_arcsec: Option<f64>,
    /// Brightest pixel, HPC y, arcsec.
    pub peak_hpc_y_arcsec: Option<f64>,
    /// Counts before background subtraction.
    pub total_counts: f64,
    /// Scaled background counts subtracted.
    pub background_counts: f64,
    /// Integrated map flux.
    pub total_flux: Option<f64>,
    /// FITS path relative to the data directory.
    pub fits_path: String,
    /// SHA-256 of the FITS file.
    pub fits_sha256: String,
    /// PNG path relative to the data directory.
    pub png_path: Option<String>,
    /// SHA-256 of the PNG file.
    pub png_sha256: Option<String>,
    /// When the row was committed.
    pub created_at: ChronoDateTimeUtc,
    /// The user whose job made it (user images only).
    pub owner_id: Option<i64>,
    /// The image that replaced this one when its file was reprocessed (this one stays
    /// downloadable).
    pub superseded_by_id: Option<i64>,
    /// Quality grade `GOOD`, `FAIR` or `POOR` (`domain::quality`); absent on images made
    /// before grading existed.
    pub quality_grade: Option<String>,
    /// The quality assessment: `{grade, reasons, figures}` (JSON of `domain::quality::Quality`).
    pub quality: Option<Json>,
}

/// Relations are queried explicitly in `store`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
