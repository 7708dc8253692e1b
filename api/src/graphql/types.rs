//! GraphQL object types. Database rows are mapped into these; they are never exposed as is.

use super::global_id::{NodeKind, encode};
use super::scalars::BigInt;
use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};
use jobs::store::entities::{flare, image, science_file};

/// A position on the Sun, helioprojective as seen from Solar Orbiter.
#[derive(Debug, Clone, SimpleObject)]
pub struct HpcPosition {
    /// Solar X in arcsec.
    pub x_arcsec: f64,
    /// Solar Y in arcsec.
    pub y_arcsec: f64,
}

fn position(x: Option<f64>, y: Option<f64>) -> Option<HpcPosition> {
    Some(HpcPosition {
        x_arcsec: x?,
        y_arcsec: y?,
    })
}

/// Quick-look peak counts per energy band.
#[derive(Debug, Clone, SimpleObject)]
pub struct QuicklookPeakCounts {
    /// 4–10 keV.
    pub kev_4_10: Option<f64>,
    /// 10–15 keV.
    pub kev_10_15: Option<f64>,
    /// 15–25 keV.
    pub kev_15_25: Option<f64>,
    /// 25–50 keV.
    pub kev_25_50: Option<f64>,
    /// 50–84 keV.
    pub kev_50_84: Option<f64>,
}

/// A solar flare seen by STIX.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Flare {
    /// Row id (not exposed).
    #[graphql(skip)]
    pub row_id: i64,
    /// Global id (Relay `Node`), URL-safe.
    pub id: ID,
    /// STIX-style flare id `YYMMDDHHMM` of the peak.
    pub flare_id: BigInt,
    /// Start, UTC at Solar Orbiter.
    pub start_time: DateTime<Utc>,
    /// Peak, UTC at Solar Orbiter.
    pub peak_time: DateTime<Utc>,
    /// End, UTC at Solar Orbiter.
    pub end_time: DateTime<Utc>,
    /// Quick-look peak counts.
    pub peak_counts: QuicklookPeakCounts,
    /// GOES class, when known.
    pub goes_class: Option<String>,
    /// Attenuator inserted.
    pub attenuator_in: Option<bool>,
    /// Location as stored (the flare list's, or the one the previews computed).
    #[graphql(skip)]
    pub location_stored: Option<HpcPosition>,
    /// Where the flare came from, as stored.
    #[graphql(skip)]
    pub source_db: String,
    /// Where the location came from, as stored.
    #[graphql(skip)]
    pub location_source_db: Option<String>,
}

impl From<flare::Model> for Flare {
    fn from(m: flare::Model) -> Self {
        Self {
            row_id: m.id,
            id: ID(encode(NodeKind::Flare, &m.flare_id.to_string())),
            flare_id: BigInt(m.flare_id),
            start_time: m.start_time,
            peak_time: m.peak_time,
            end_time: m.end_time,
            peak_counts: QuicklookPeakCounts {
                kev_4_10: m.peak_counts4_to10_kev,
                kev_10_15: m.peak_counts10_to15_kev,
                kev_15_25: m.peak_counts15_to25_kev,
                kev_25_50: m.peak_counts25_to50_kev,
                kev_50_84: m.peak_counts50_to84_kev,
            },
            goes_class: m.goes_class,
            attenuator_in: m.attenuator_in,
            location_stored: position(m.location_hpc_x_arcsec, m.location_hpc_y_arcsec),
            source_db: m.source,
            location_source_db: m.location_source,
        }
    }
}

/// An ingested STIX file.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct ScienceFile {
    /// Row id (not exposed).
    #[graphql(skip)]
    pub row_id: i64,
    /// Global id (Relay `Node`), URL-safe; its key is `<request uid>:<version>`.
    pub id: ID,
    /// STIX request unique id.
    pub request_uid: BigInt,
    /// What the file holds, as stored.
    #[graphql(skip)]
    pub product_kind_db: String,
    /// Path of the archived copy, relative to the data directory.
    #[graphql(skip)]
    pub stored_path: String,
    /// File name.
    pub file_name: String,
    /// Product version.
    pub version: i32,
    /// False when a newer version exists.
    pub is_latest: bool,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Observation start, UTC.
    pub obs_start: DateTime<Utc>,
    /// Observation end, UTC.
    pub obs_end: DateTime<Utc>,
    /// Number of time bins.
    pub n_time_bins: i32,
    /// Lowest energy, keV.
    pub energy_low_kev: Option<f64>,
    /// Highest finite energy, keV.
    pub energy_high_kev: Option<f64>,
    /// Attenuator in for some bin.
    pub attenuator_in: Option<bool>,
    /// When it was ingested.
    pub ingested_at: DateTime<Utc>,
}

impl From<science_file::Model> for ScienceFile {
    fn from(m: science_file::Model) -> Self {
        Self {
            row_id: m.id,
            id: ID(encode(
                NodeKind::ScienceFile,
                &format!("{}:{}", m.request_uid, m.version),
            )),
            request_uid: BigInt(m.request_uid),
            product_kind_db: m.product_kind,
            stored_path: m.stored_path,
            file_name: m.file_name,
            version: m.version,
            is_latest: m.is_latest,
            sha256: m.sha256,
            size_bytes: m.size_bytes,
            obs_start: m.obs_start,
            obs_end: m.obs_end,
            n_time_bins: m.n_time_bins,
            energy_low_kev: m.energy_low_kev,
            energy_high_kev: m.energy_high_kev,
            attenuator_in: m.attenuator_in,
            ingested_at: m.ingested_at,
        }
    }
}

/// A reconstructed X-ray image.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Image {
    /// Row id (not exposed).
    #[graphql(skip)]
    pub row_id: i64,
    /// Global id (Relay `Node`), URL-safe; download URLs embed it.
    pub id: ID,
    /// Public UUID (the key inside the global id).
    #[graphql(skip)]
    pub public_id: uuid::Uuid,
    /// Preview or user image, as stored.
    #[graphql(skip)]
    pub kind_db: String,
    /// Algorithm, as stored.
    #[graphql(skip)]
    pub algorithm_db: String,
    /// The science file's row.
    #[graphql(skip)]
    pub science_file_row: i64,
    /// The background file's row.
    #[graphql(skip)]
    pub background_file_row: Option<i64>,
    /// The flare's row.
    #[graphql(skip)]
    pub flare_row: Option<i64>,
    /// FITS path relative to the data directory.
    #[graphql(skip)]
    pub fits_path: String,
    /// PNG path relative to the data directory.
    #[graphql(skip)]
    pub png_path: Option<String>,
    /// Actual lower band edge, keV.
    pub energy_low_kev: f64,
    /// Actual upper band edge, keV.
    pub energy_high_kev: f64,
    /// Actual interval start, UTC.
    pub time_start: DateTime<Utc>,
    /// Actual interval end, UTC.
    pub time_end: DateTime<Utc>,
    /// Map centre.
    pub center: HpcPosition,
    /// Brightest pixel.
    pub peak: Option<HpcPosition>,
    /// Counts before background subtraction.
    pub total_counts: f64,
    /// Scaled background counts subtracted.
    pub background_counts: f64,
    /// Integrated flux of the map.
    pub total_flux: Option<f64>,
    /// Validated algorithm parameters.
    pub parameters: async_graphql::Json<serde_json::Value>,
    /// Selection policy version (preview images).
    pub policy_version: Option<String>,
    /// Calibration version.
    pub calibration_version: String,
    /// Software version.
    pub software_version: String,
    /// SHA-256 of the FITS file.
    pub fits_sha256: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Row of the newer preview that replaces it (exposed as `supersededBy`).
    #[graphql(skip)]
    pub superseded_by_row: Option<i64>,
    /// How far to trust it: grade, reasons and the figures measured (null for images made
    /// before grading existed).
    pub quality: Option<Box<ImageQuality>>,
}

/// The quality assessment of an image (thresholds and their reasons: README, *Image quality*).
#[derive(Debug, Clone, SimpleObject)]
pub struct ImageQuality {
    /// GOOD, FAIR or POOR: the worst of the reasons.
    pub grade: super::enums::QualityGrade,
    /// Why it is not GOOD, one short sentence each (empty for GOOD).
    pub reasons: Vec<String>,
    /// The figures the grade was decided on.
    pub figures: QualityFigures,
}

/// The measured figures of an image's quality.
#[derive(Debug, Clone, SimpleObject)]
pub struct QualityFigures {
    /// Counts before background subtraction (imaging detectors, summed pixels).
    pub total_counts: f64,
    /// Live-time-scaled background counts.
    pub background_counts: f64,
    /// Net counts: total − background.
    pub net_counts: f64,
    /// Signal-to-noise `net / √(total + background)`.
    pub snr: f64,
    /// Peak distance from the map centre, arcsec.
    pub peak_center_distance_arcsec: f64,
    /// Peak distance from the nearest edge of the field of view, arcsec.
    pub peak_edge_distance_arcsec: f64,
    /// Half-width of the field of view, arcsec.
    pub fov_half_width_arcsec: f64,
    /// Largest distance of the box's algorithm peaks from their median, arcsec.
    pub peak_spread_arcsec: Option<f64>,
    /// CLEAN: max |residual| / max(image).
    pub clean_residual_fraction: Option<f64>,
    /// MEM: converged to its tolerance.
    pub mem_converged: Option<bool>,
    /// MEM: χ² per degree of freedom.
    pub mem_chi2_reduced: Option<f64>,
    /// FWDFIT: reduced χ² of the best fit.
    pub fwdfit_chi2_reduced: Option<f64>,
    /// FWDFIT: largest relative 1σ flux uncertainty of the sources, when computed.
    pub fwdfit_flux_uncertainty: Option<f64>,
}

impl ImageQuality {
    /// The stored assessment (`images.quality`), when it is one.
    fn from_stored(v: &serde_json::Value) -> Option<Self> {
        let q: domain::quality::Quality = serde_json::from_value(v.clone()).ok()?;
        let f = q.figures;
        Some(Self {
            grade: super::enums::QualityGrade::from_db(q.grade.as_str())?,
            reasons: q.reasons,
            figures: QualityFigures {
                total_counts: f.total_counts,
                background_counts: f.background_counts,
                net_counts: f.net_counts,
                snr: f.snr,
                peak_center_distance_arcsec: f.peak_center_distance_arcsec,
                peak_edge_distance_arcsec: f.peak_edge_distance_arcsec,
                fov_half_width_arcsec: f.fov_half_width_arcsec,
                peak_spread_arcsec: f.peak_spread_arcsec,
                clean_residual_fraction: f.clean_residual_fraction,
                mem_converged: f.mem_converged,
                mem_chi2_reduced: f.mem_chi2_reduced,
                fwdfit_chi2_reduced: f.fwdfit_chi2_reduced,
                fwdfit_flux_uncertainty: f.fwdfit_flux_uncertainty,
            },
        })
    }
}

impl From<image::Model> for Image {
    fn from(m: image::Model) -> Self {
        Self {
            row_id: m.id,
            id: ID(encode(NodeKind::Image, &m.public_id.to_string())),
            public_id: m.public_id,
            kind_db: m.kind,
            algorithm_db: m.algorithm,
            science_file_row: m.science_file_id,
            background_file_row: m.background_file_id,
            flare_row: m.flare_id,
            fits_path: m.fits_path,
            png_path: m.png_path,
            energy_low_kev: m.energy_low_kev,
            energy_high_kev: m.energy_high_kev,
            time_start: m.time_start,
            time_end: m.time_end,
            center: HpcPosition {
                x_arcsec: m.center_hpc_x_arcsec,
                y_arcsec: m.center_hpc_y_arcsec,
            },
            peak: position(m.peak_hpc_x_arcsec, m.peak_hpc_y_arcsec),
            total_counts: m.total_counts,
            background_counts: m.background_counts,
            total_flux: m.total_flux,
            parameters: async_graphql::Json(m.parameters),
            policy_version: m.policy_version,
            calibration_version: m.calibration_version,
            software_version: m.software_version,
            fits_sha256: m.fits_sha256,
            created_at: m.created_at,
            superseded_by_row: m.superseded_by_id,
            quality: m
                .quality
                .as_ref()
                .and_then(ImageQuality::from_stored)
                .map(Box::new),
        }
    }
}

/// A change of a job's status or progress.
#[derive(Debug, Clone, SimpleObject)]
pub struct JobStatusEvent {
    /// Global id of the job (as `ReconstructionJob.id`).
    pub job_id: ID,
    /// Status after the change.
    pub status: super::enums::JobStatus,
    /// Current stage.
    pub stage: Option<String>,
    /// Units of work done.
    pub done: i32,
    /// Units of work planned.
    pub total: i32,
    /// Error or informational message.
    pub message: Option<String>,
}

impl From<jobs::events::JobEvent> for JobStatusEvent {
    fn from(e: jobs::events::JobEvent) -> Self {
        Self {
            job_id: ID(super::reconstruction::job_global_id(e.job_id)),
            status: e.status.into(),
            stage: e.stage,
            done: e.done,
            total: e.total,
            message: e.message,
        }
    }
}

/// A planned preview image that was not made, and why (too few counts, an algorithm failed).
#[derive(Debug, Clone, SimpleObject)]
pub struct PreviewSkip {
    /// The algorithm that failed, or null when the whole box was skipped.
    pub algorithm: Option<String>,
    /// Band, keV.
    pub energy_low_kev: f64,
    /// Band, keV.
    pub energy_high_kev: f64,
    /// Requested box start, UTC.
    pub time_start: DateTime<Utc>,
    /// Requested box end, UTC.
    pub time_end: DateTime<Utc>,
    /// Counts in the box.
    pub counts: Option<f64>,
    /// Why no image was made.
    pub reason: String,
    /// Selection policy version.
    pub policy_version: String,
}

impl From<jobs::store::entities::preview_skip::Model> for PreviewSkip {
    fn from(m: jobs::store::entities::preview_skip::Model) -> Self {
        Self {
            algorithm: m.algorithm,
            energy_low_kev: m.energy_low_kev,
            energy_high_kev: m.energy_high_kev,
            time_start: m.time_start,
            time_end: m.time_end,
            counts: m.counts,
            reason: m.reason,
            policy_version: m.policy_version,
        }
    }
}
