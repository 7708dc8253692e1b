//! `science_files`: every ingested FITS file (flare pixel data, background, aspect).

use sea_orm::entity::prelude::*;

/// One ingested file.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "science_files")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// STIX request unique id (UID); for aspect files the day as YYYYMMDD.
    pub request_uid: i64,
    /// `flare_pixel_data`, `background` or `aspect`.
    pub product_kind: String,
    /// Original file name.
    pub file_name: String,
    /// Product version from the file name (`V01` → 1).
    pub version: i32,
    /// False once a newer version of the same product was ingested.
    pub is_latest: bool,
    /// SHA-256 of the file's bytes, hex.
    #[sea_orm(unique)]
    pub sha256: String,
    /// File size in bytes.
    pub size_bytes: i64,
    /// Path of the archived copy, relative to the data directory.
    pub stored_path: String,
    /// Observation start, UTC.
    pub obs_start: ChronoDateTimeUtc,
    /// Observation end, UTC.
    pub obs_end: ChronoDateTimeUtc,
    /// Number of time bins (0 for aspect files).
    pub n_time_bins: i32,
    /// Energy group edges `[[lo, hi], …]` in keV.
    pub energy_groups_kev: Option<Json>,
    /// Lowest energy edge, keV.
    pub energy_low_kev: Option<f64>,
    /// Highest finite energy edge, keV.
    pub energy_high_kev: Option<f64>,
    /// Union of pixel masks, 12 bits.
    pub pixel_mask: Option<i32>,
    /// Union of detector masks, 32 bits.
    pub detector_mask: Option<i64>,
    /// True when the attenuator was in for some bin.
    pub attenuator_in: Option<bool>,
    /// Selected header keys, JSON.
    pub header: Option<Json>,
    /// When it was ingested.
    pub ingested_at: ChronoDateTimeUtc,
}

/// Relations are queried explicitly in `store`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
