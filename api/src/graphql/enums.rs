//! GraphQL enums for every value from a fixed set, and their mapping to the strings the
//! store keeps. Unknown values in a query are refused by GraphQL validation (with
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
