//! GraphQL enums for every value from a fixed set (one home), their mapping to the strings the
//! store keeps and to the Rust enums of the layer that owns the set (`jobs::kinds`,
//! `domain::imaging`, `api::auth`). Unknown values in a query are refused by GraphQL validation (with
//! `extensions.code`); an unknown value in the database (written by a newer version) is
//! an internal error, never a silent guess.

use async_graphql::Enum;

/// Declares the database spelling of each variant of a GraphQL enum.
macro_rules! db_names {
    ($ty:ident { $($variant:ident => $db:literal),+ $(,)? }) => {
        impl $ty {
            /// The value as the store keeps it.
            pub fn db_name(self) -> &'static str {
                match self {
                    $(Self::$variant => $db,)+
                }
            }

            /// The variant for the store's spelling (case-insensitive).
            pub fn from_db(s: &str) -> Option<Self> {
                $(if s.eq_ignore_ascii_case($db) { return Some(Self::$variant); })+
                None
            }
        }
    };
}

/// An imaging algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum Algorithm {
    /// Back-projection (natural weighting).
    Bp,
    /// Back-projection with uniform weighting.
    BpUniform,
    /// CLEAN.
    Clean,
    /// Maximum entropy (MEM_GE).
    Mem,
    /// Expectation maximisation.
    Em,
    /// Forward fit of source shapes to the visibilities (VIS_FWDFIT).
    Fwdfit,
}
db_names!(Algorithm { Bp => "bp", BpUniform => "bp-uniform", Clean => "clean", Mem => "mem", Em => "em", Fwdfit => "fwdfit" });

/// Why an image exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum ImageKind {
    /// Made by the automatic preview pipeline.
    Preview,
    /// Made for a user's reconstruction request.
    User,
}
db_names!(ImageKind { Preview => "preview", User => "user" });

/// What an ingested file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum ProductKind {
    /// L1 compressed pixel data of a flare.
    FlarePixelData,
    /// Background (calibration-source) pixel data.
    Background,
    /// Aspect (pointing) solution.
    Aspect,
}
db_names!(ProductKind { FlarePixelData => "flare_pixel_data", Background => "background", Aspect => "aspect" });

/// Where a flare came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum FlareSource {
    /// An imported STIX flare list.
    FlareList,
    /// Detected in a science file's own 4–10 keV light curve.
    Detected,
}
db_names!(FlareSource { FlareList => "flare_list", Detected => "detected" });

/// Where a flare's location came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum LocationSource {
    /// The imported flare list.
    FlareList,
    /// STIX imaging: the full-disk back-projection the previews were centred on.
    StixImaging,
}
db_names!(LocationSource { FlareList => "flare_list", StixImaging => "stix_imaging" });

/// How far to trust an image (`domain::quality`); ordered POOR < FAIR < GOOD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum QualityGrade {
    /// No figure outside its bounds.
    Good,
    /// Usable with care; the reasons say what to watch.
    Fair,
    /// Do not trust without a closer look.
    Poor,
}
db_names!(QualityGrade { Good => "GOOD", Fair => "FAIR", Poor => "POOR" });

impl QualityGrade {
    /// The grades at least as good as this one, as stored (for `minQuality`).
    pub fn at_least(self) -> &'static [&'static str] {
        match self {
            QualityGrade::Good => &["GOOD"],
            QualityGrade::Fair => &["GOOD", "FAIR"],
            QualityGrade::Poor => &["GOOD", "FAIR", "POOR"],
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Enum)]
pub enum OrderDirection {
    /// Smallest first.
    Asc,
    /// Largest (newest) first.
    #[default]
    Desc,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_round_trip() {
        for a in [
            Algorithm::Bp,
            Algorithm::BpUniform,
            Algorithm::Clean,
            Algorithm::Mem,
            Algorithm::Em,
            Algorithm::Fwdfit,
        ] {
            assert_eq!(Algorithm::from_db(a.db_name()), Some(a));
        }
        assert_eq!(Algorithm::from_db("CLEAN"), Some(Algorithm::Clean));
        assert_eq!(Algorithm::from_db("foo"), None);
        assert_eq!(
            ProductKind::from_db("flare_pixel_data"),
            Some(ProductKind::FlarePixelData)
        );
        assert_eq!(
            FlareSource::from_db("detected"),
            Some(FlareSource::Detected)
        );
        assert_eq!(ImageKind::from_db("preview"), Some(ImageKind::Preview));
        assert_eq!(
            LocationSource::from_db("stix_imaging"),
            Some(LocationSource::StixImaging)
        );
    }
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Role {
    /// A registered user.
    User,
    /// An operator.
    Admin,
}

impl From<crate::auth::Role> for Role {
    fn from(r: crate::auth::Role) -> Self {
        match r {
            crate::auth::Role::User => Role::User,
            crate::auth::Role::Admin => Role::Admin,
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum JobStatus {
    /// Waiting for a worker (also between retries).
    Queued,
    /// A worker is on it.
    Running,
    /// Done; its images are listed.
    Succeeded,
    /// Ended with an error (`error`).
    Failed,
    /// Cancelled by its owner or an admin.
    Cancelled,
}

impl From<jobs::kinds::JobStatus> for JobStatus {
    fn from(s: jobs::kinds::JobStatus) -> Self {
        use jobs::kinds::JobStatus as J;
        match s {
            J::Queued => JobStatus::Queued,
            J::Running => JobStatus::Running,
            J::Succeeded => JobStatus::Succeeded,
            J::Failed => JobStatus::Failed,
            J::Cancelled => JobStatus::Cancelled,
        }
    }
}

impl From<JobStatus> for jobs::kinds::JobStatus {
    fn from(s: JobStatus) -> Self {
        use jobs::kinds::JobStatus as J;
        match s {
            JobStatus::Queued => J::Queued,
            JobStatus::Running => J::Running,
            JobStatus::Succeeded => J::Succeeded,
            JobStatus::Failed => J::Failed,
            JobStatus::Cancelled => J::Cancelled,
        }
    }
}

impl From<Algorithm> for domain::imaging::Algorithm {
    fn from(a: Algorithm) -> Self {
        use domain::imaging::Algorithm as D;
        match a {
            Algorithm::Bp => D::Bp,
            Algorithm::BpUniform => D::BpUniform,
            Algorithm::Clean => D::Clean,
            Algorithm::Mem => D::Mem,
            Algorithm::Em => D::Em,
            Algorithm::Fwdfit => D::Fwdfit,
        }
    }
}

impl From<domain::imaging::Algorithm> for Algorithm {
    fn from(a: domain::imaging::Algorithm) -> Self {
        use domain::imaging::Algorithm as D;
        match a {
            D::Bp => Algorithm::Bp,
            D::BpUniform => Algorithm::BpUniform,
            D::Clean => Algorithm::Clean,
            D::Mem => Algorithm::Mem,
            D::Em => Algorithm::Em,
            D::Fwdfit => Algorithm::Fwdfit,
        }
    }
}

/// How a reconstruction's background is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum BackgroundMode {
    /// The nearest background file, as the previews choose it.
    Auto,
    /// No background subtraction.
    None,
    /// The background file given by `fileUid`.
    File,
}

impl From<BackgroundMode> for jobs::reconstruction::BackgroundMode {
    fn from(m: BackgroundMode) -> Self {
        use jobs::reconstruction::BackgroundMode as J;
        match m {
            BackgroundMode::Auto => J::Auto,
            BackgroundMode::None => J::None,
            BackgroundMode::File => J::File,
        }
    }
}

impl From<jobs::reconstruction::BackgroundMode> for BackgroundMode {
    fn from(m: jobs::reconstruction::BackgroundMode) -> Self {
        use jobs::reconstruction::BackgroundMode as J;
        match m {
            J::Auto => BackgroundMode::Auto,
            J::None => BackgroundMode::None,
            J::File => BackgroundMode::File,
        }
    }
}

/// The FWDFIT source model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum FwdfitShape {
    /// The Data Center rule: an ellipse below 16 keV, else two circles.
    Auto,
    /// One circular Gaussian.
    Circle,
    /// One elliptical Gaussian.
    Ellipse,
    /// Several circular Gaussians.
    Multi,
    /// One curved elliptical (loop) source.
    Loop,
}

impl From<FwdfitShape> for domain::imaging::params::FwdfitShape {
    fn from(s: FwdfitShape) -> Self {
        use domain::imaging::params::FwdfitShape as D;
        match s {
            FwdfitShape::Auto => D::Auto,
            FwdfitShape::Circle => D::Circle,
            FwdfitShape::Ellipse => D::Ellipse,
            FwdfitShape::Multi => D::Multi,
            FwdfitShape::Loop => D::Loop,
        }
    }
}
