//! The GraphQL enums, one home: each maps to the Rust enum of the layer that owns the fixed
//! set (`jobs::kinds`, `domain::imaging`, `api::auth`).

use async_graphql::Enum;

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

/// An image reconstruction algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Algorithm {
    /// Natural-weighted back-projection.
    Bp,
    /// Uniform-weighted back-projection.
    BpUniform,
    /// CLEAN.
    Clean,
    /// Maximum entropy (MEM_GE).
    Mem,
    /// Expectation maximisation.
    Em,
    /// Forward fit of Gaussian sources (VIS_FWDFIT).
    Fwdfit,
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
