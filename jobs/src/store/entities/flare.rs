//! `flares`: flares from a flare list or detected in a science file's light curve.

use sea_orm::entity::prelude::*;

/// One flare.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "flares")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// STIX-style flare id `YYMMDDHHMM` of the peak.
    #[sea_orm(unique)]
    pub flare_id: i64,
    /// Start, UTC.
    pub start_time: ChronoDateTimeUtc,
    /// Peak, UTC.
    pub peak_time: ChronoDateTimeUtc,
    /// End, UTC.
    pub end_time: ChronoDateTimeUtc,
    /// Quick-look peak counts 4–10 keV.
    pub peak_counts4_to10_kev: Option<f64>,
    /// Quick-look peak counts 10–15 keV.
    pub peak_counts10_to15_kev: Option<f64>,
    /// Quick-look peak counts 15–25 keV.
    pub peak_counts15_to25_kev: Option<f64>,
    /// Quick-look peak counts 25–50 keV.
    pub peak_counts25_to50_kev: Option<f64>,
    /// Quick-look peak counts 50–84 keV.
    pub peak_counts50_to84_kev: Option<f64>,
    /// Attenuator inserted during the flare.
    pub attenuator_in: Option<bool>,
    /// GOES class, when known.
    pub goes_class: Option<String>,
    /// Location, helioprojective x seen from Solar Orbiter, arcsec.
    pub location_hpc_x_arcsec: Option<f64>,
    /// Location, helioprojective y seen from Solar Orbiter, arcsec.
    pub location_hpc_y_arcsec: Option<f64>,
    /// Where the location came from.
    pub location_source: Option<String>,
    /// `flare_list` or `detected`.
    pub source: String,
    /// Version of the detector that found it (detected flares).
    pub detector_version: Option<String>,
    /// When the row was created.
    pub created_at: ChronoDateTimeUtc,
    /// UID of the pixel-data request the flare list's authors used (listed flares), if given.
    pub list_request_uid: Option<String>,
}

/// Relations are queried explicitly in `store`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
