//! Time and energy selection in an L1 file (`shared/docs/stix-imaging.md` A.3, B): whole bins
//! containing the requested edges (GSW rule, via [`crate::lightcurve::select_whole_bins`]) and
//! the energy groups from the one containing the low edge to the one containing the high edge.
//! The actual interval and band are reported. Intervals in which the attenuator (`rcr`), the
//! pixel masks or the detector masks change are refused, as GSW and stixpy do (B).

use crate::energy::EnergyBand;
use crate::l1::{L1Error, PixelData};
use crate::lightcurve::{BinSelectionError, select_whole_bins};
use crate::time_range::{TimeRange, format_utc};
use std::ops::RangeInclusive;

/// Why a selection is impossible.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError {
    /// The time interval is not inside the file.
    #[error("{file}: {source}")]
    Time {
        /// The file.
        file: String,
        /// The cause.
        source: BinSelectionError,
    },
    /// The energy band is not covered by the file.
    #[error(transparent)]
    Energy(#[from] L1Error),
    /// Something that must stay constant changes inside the interval.
    #[error(
        "{file}: the {what} changes inside {interval} (at {at}); choose an interval on one side"
    )]
    MasksChange {
        /// The file.
        file: String,
        /// `attenuator/RCR`, `pixel mask` or `detector mask`.
        what: String,
        /// The actual interval.
        interval: String,
        /// Start of the first bin that differs.
        at: String,
    },
    /// The background file does not have energy groups with the same edges as the band.
    #[error(
        "background {file} has no energy groups matching {band} exactly (it covers {available})"
    )]
    BackgroundBand {
        /// The background file.
        file: String,
        /// The actual science band.
        band: String,
        /// What the background file covers.
        available: String,
    },
}

/// A time and energy selection in one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Index of the first selected time bin.
    pub first_bin: usize,
    /// Index of the last selected time bin (inclusive).
    pub last_bin: usize,
    /// Actual interval: first bin start to last bin end.
    pub time: TimeRange,
    /// Index of the first energy group.
    pub first_group: usize,
    /// Index of the last energy group (inclusive).
    pub last_group: usize,
    /// Actual band: outer edges of the groups, keV.
    pub band: EnergyBand,
}

impl Selection {
    /// Bin indices.
    pub fn bins(&self) -> RangeInclusive<usize> {
        self.first_bin..=self.last_bin
    }

    /// Group indices.
    pub fn groups(&self) -> RangeInclusive<usize> {
        self.first_group..=self.last_group
    }
}

/// Selects whole bins and energy groups of `sci` for the requested interval and band.
pub fn select(
    sci: &PixelData,
    time: &TimeRange,
    band: &EnergyBand,
) -> Result<Selection, SelectionError> {
    let (first_bin, last_bin, actual) =
        select_whole_bins(sci.bins(), time).map_err(|source| SelectionError::Time {
            file: sci.file_name.clone(),
            source,
        })?;
    let (first_group, last_group, actual_band) = sci.energy_groups_for(band)?;
    let change = |what: &str, k: usize| SelectionError::MasksChange {
        file: sci.file_name.clone(),
        what: what.to_string(),
        interval: actual.to_string(),
        at: format_utc(&sci.bins()[k].start),
    };
    for k in first_bin + 1..=last_bin {
        if sci.rcr[k] != sci.rcr[first_bin] {
            return Err(change("attenuator/RCR", k));
        }
        if sci.pixel_masks[k] != sci.pixel_masks[first_bin] {
            return Err(change("pixel mask", k));
        }
        if sci.detector_masks[k] != sci.detector_masks[first_bin] {
            return Err(change("detector mask", k));
        }
    }
    Ok(Selection {
        first_bin,
        last_bin,
        time: actual,
        first_group,
        last_group,
        band: actual_band,
    })
}

/// The energy groups of a background file with exactly the edges of the actual science band
/// (B: the common energy range), within 1e-3 keV.
pub fn background_groups(
    bkg: &PixelData,
    band: &EnergyBand,
) -> Result<RangeInclusive<usize>, SelectionError> {
    let mismatch = || SelectionError::BackgroundBand {
        file: bkg.file_name.clone(),
        band: band.to_string(),
        available: bkg
            .energy_range()
            .map(|b| b.to_string())
            .unwrap_or_else(|| "nothing".into()),
    };
    let (a, b, actual) = bkg.energy_groups_for(band).map_err(|_| mismatch())?;
    if (actual.low_kev - band.low_kev).abs() > 1e-3
        || (actual.high_kev - band.high_kev).abs() > 1e-3
    {
        return Err(mismatch());
    }
    Ok(a..=b)
}
