//! From selected pixel counts to calibrated visibilities (`shared/docs/stix-imaging.md`
//! section D): live time, counts, live-time-scaled background subtraction, pixel sums, rates per
//! keV per cm², raw and calibrated visibilities, and the summed A/B/C/D rates EM needs.
//!
//! The recipe is the one of [`CALIBRATION_VERSION`]; it is the recipe of the independent
//! reference `data/stix/reference/visibilities_20221111_M1.2.json`.

pub mod counts;
pub mod elut;
pub mod livetime;
pub mod visibility;

pub use counts::PixelCounts;
pub use visibility::{RawVisibility, SumCase};

use crate::instrument::{N_DETECTORS, imaging_order, subcollimators};
use crate::l1::PixelData;
use crate::selection::{Selection, SelectionError, background_groups};
use crate::visfile::{DetectorRates, SummedRates, Visibility};

/// The calibration recipe written into every product. Ideal modulation efficiency
/// π³/(8√2) (≤2025 GSW, stixpy), phase corrections GridCorrection.csv (2021-09) +
/// PhaseCorrFactors.csv (2022-01) + pixel offset 46.1°, 5 % systematic amplitude error,
/// background scaled by live time, Poisson ⊕ compression errors; **no** ELUT correction and
/// **no** grid shadowing/transmission correction (D.8).
pub const CALIBRATION_VERSION: &str = "stix-archive-cal-1: livetime(tau=10.1us,eta=1.1us,beta=0.94059); bkg scaled by livetime; top+bot; ME=pi^3/(8sqrt2); phase=+pix(46.1)+GridCorrection(2021-09)+PhaseCorrFactors(2022-01)-360(u xc+v yc); 5% systematic; no ELUT; no grid shadowing";

/// Choices of the calibration that a setting can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalibrationOptions {
    /// Apply the ELUT edge correction (section B) when a table for the file's date is shipped.
    /// On by default (issue #11); the Data Center's previews and the GSW without calibration
    /// data skip it.
    pub elut_correction: bool,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        Self {
            elut_correction: true,
        }
    }
}

impl CalibrationOptions {
    /// Without the ELUT correction: the recipe of [`CALIBRATION_VERSION`].
    pub const NO_ELUT: CalibrationOptions = CalibrationOptions {
        elut_correction: false,
    };
}

/// What happened about the ELUT correction of one selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElutOutcome {
    /// Applied with this table file.
    Applied(String),
    /// Switched off by the setting.
    Off,
    /// Wanted but not possible (no shipped table for the date, or groups without channels).
    Unavailable(String),
}

impl ElutOutcome {
    /// The table file applied, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            ElutOutcome::Applied(f) => Some(f),
            _ => None,
        }
    }

    /// The calibration version string of a selection with this outcome: [`CALIBRATION_VERSION`]
    /// without ELUT, `stix-archive-cal-2` with the ELUT table named when it was applied.
    pub fn calibration_version(&self) -> String {
        match self {
            ElutOutcome::Off => CALIBRATION_VERSION.to_string(),
            ElutOutcome::Unavailable(why) => format!("{CALIBRATION_VERSION} ({why})"),
            ElutOutcome::Applied(file) => CALIBRATION_VERSION
                .replace("stix-archive-cal-1", "stix-archive-cal-2")
                .replace(
                    "no ELUT",
                    &format!("ELUT={file} (first/last group, flat spectrum)"),
                ),
        }
    }
}

/// Why calibration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrationError {
    /// The background could not be matched to the selection.
    #[error(transparent)]
    Selection(#[from] SelectionError),
    /// A detector has no live time in the selection (all bins saturated or empty).
    #[error("detector {det} has no live time in {file} for the selected interval")]
    NoLiveTime {
        /// Detector, 1-based.
        det: u8,
        /// The file.
        file: String,
    },
    /// The background file is not a single-bin background measurement.
    #[error("background {file} has {bins} time bins; a background file has exactly one")]
    BackgroundNotSingleBin {
        /// The file.
        file: String,
        /// Number of bins.
        bins: usize,
    },
}

/// A/B/C/D rates per detector and everything about counts for one selection; visibilities
/// for any phase centre are cheap to make from it.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibratedRates {
    /// Pixel rows summed.
    pub sumcase: SumCase,
    /// Live time per detector (index det − 1), seconds.
    pub live_time_seconds: [f64; N_DETECTORS],
    /// Background live time per detector, seconds (zero without background).
    pub background_live_time_seconds: [f64; N_DETECTORS],
    /// A/B/C/D rates per detector, counts s⁻¹ keV⁻¹ cm⁻².
    pub rates: [[f64; 4]; N_DETECTORS],
    /// 1σ of the rates.
    pub rate_errors: [[f64; 4]; N_DETECTORS],
    /// Background-subtracted counts per detector and pixel.
    pub counts: PixelCounts,
    /// Counts in the summed pixels of the 30 imaging detectors, before background subtraction.
    pub total_counts: f64,
    /// Scaled background in the summed pixels of the 30 imaging detectors.
    pub background_counts: f64,
    /// Counts over all 32 detectors and all pixels of the science file, before subtraction.
    pub total_counts_all: f64,
    /// Scaled background over all 32 detectors and all 12 pixels of the background file (the
    /// subtraction itself only touches pixels present in the science file).
    pub background_counts_all: f64,
    /// Actual band width, keV.
    pub band_width_kev: f64,
    /// Whether the ELUT correction was applied, and with which table.
    pub elut: ElutOutcome,
}

impl CalibratedRates {
    /// Computes live time, counts, background and rates for a selection (D.1–D.5), without
    /// the ELUT correction (the recipe of [`CALIBRATION_VERSION`] and of the reference
    /// visibilities).
    pub fn compute(
        sci: &PixelData,
        bkg: Option<&PixelData>,
        sel: &Selection,
        sumcase: SumCase,
    ) -> Result<Self, CalibrationError> {
        Self::compute_with(sci, bkg, sel, sumcase, CalibrationOptions::NO_ELUT)
    }

    /// [`CalibratedRates::compute`] with calibration options (the ELUT correction of section B
    /// when `options.elut_correction`, with the table of the file's date).
    pub fn compute_with(
        sci: &PixelData,
        bkg: Option<&PixelData>,
        sel: &Selection,
        sumcase: SumCase,
        options: CalibrationOptions,
    ) -> Result<Self, CalibrationError> {
        let live = livetime::live_times(sci, sel.bins());
        for s in subcollimators() {
            let lt = live[s.index0()];
            if s.is_imaging() && (!lt.is_finite() || lt <= 0.0) {
                return Err(CalibrationError::NoLiveTime {
                    det: s.det,
                    file: sci.file_name.clone(),
                });
            }
        }
        let (elut_table, mut elut) = if options.elut_correction {
            let date = sci.time_range().map_or(sci.date_beg, |r| r.midpoint());
            match elut::elut_for(date) {
                elut::ElutChoice::Table(t) => (Some(t), ElutOutcome::Applied(t.file.clone())),
                elut::ElutChoice::Unavailable(why) => (None, ElutOutcome::Unavailable(why)),
            }
        } else {
            (None, ElutOutcome::Off)
        };
        let groups = sel.groups();
        let correction = elut_table.and_then(|t| {
            elut::ElutCorrection::compute(t, &sci.energy_groups, *groups.start(), *groups.end())
        });
        if elut_table.is_some() && correction.is_none() {
            elut = ElutOutcome::Unavailable(
                "the energy groups do not name their science channels".into(),
            );
        }
        let mut counts = PixelCounts::sum_corrected(sci, sel.bins(), groups, correction.as_ref());
        let present = sci.pixels_present();
        let sum_pixels = sumcase.pixels();
        let imaging: Vec<usize> = subcollimators()
            .iter()
            .filter(|s| s.is_imaging())
            .map(|s| s.index0())
            .collect();
        let total_counts_all = counts.total(0..N_DETECTORS, &present);
        let total_counts = counts.total(imaging.iter().copied(), &sum_pixels);
        let (mut background_counts, mut background_counts_all) = (0.0, 0.0);
        let mut live_bkg = [0.0; N_DETECTORS];
        if let Some(b) = bkg {
            if b.n_bins() != 1 {
                return Err(CalibrationError::BackgroundNotSingleBin {
                    file: b.file_name.clone(),
                    bins: b.n_bins(),
                });
            }
            let groups = background_groups(b, &sel.band)?;
            live_bkg = livetime::live_times(b, 0..=0);
            let bcorr = elut_table.filter(|_| correction.is_some()).and_then(|t| {
                elut::ElutCorrection::compute(t, &b.energy_groups, *groups.start(), *groups.end())
            });
            let bc = PixelCounts::sum_corrected(b, 0..=0, groups, bcorr.as_ref());
            let scaled = counts.subtract_background(&bc, &live, &live_bkg, &present);
            background_counts_all = scaled.iter().flatten().sum();
            background_counts = imaging
                .iter()
                .map(|&d| sum_pixels.iter().map(|&p| scaled[d][p]).sum::<f64>())
                .sum();
        }
        let width = sel.band.width_kev();
        let area = sumcase.area_cm2();
        let mut rates = [[0.0; 4]; N_DETECTORS];
        let mut rate_errors = [[0.0; 4]; N_DETECTORS];
        for d in 0..N_DETECTORS {
            let norm = live[d] * width * area;
            if !norm.is_finite() || norm <= 0.0 {
                continue;
            }
            for col in 0..4 {
                let (mut c, mut v) = (0.0, 0.0);
                for &row in sumcase.rows() {
                    c += counts.counts[d][4 * row + col];
                    v += counts.variance[d][4 * row + col];
                }
                rates[d][col] = c / norm;
                rate_errors[d][col] = v.max(0.0).sqrt() / norm;
            }
        }
        Ok(Self {
            sumcase,
            live_time_seconds: live,
            background_live_time_seconds: live_bkg,
            rates,
            rate_errors,
            counts,
            total_counts,
            background_counts,
            total_counts_all,
            background_counts_all,
            band_width_kev: width,
            elut,
        })
    }

    /// Raw visibilities of the 30 imaging subcollimators, 10→3 first (D.6).
    pub fn raw_visibilities(&self) -> Vec<RawVisibility> {
        let phi = self.sumcase.pixel_phase_offset_deg();
        imaging_order()
            .into_iter()
            .map(|s| {
                visibility::raw_visibility(
                    s,
                    &self.rates[s.index0()],
                    &self.rate_errors[s.index0()],
                    phi,
                )
            })
            .collect()
    }

    /// Calibrated visibilities of the 30 imaging subcollimators for a phase centre in the
    /// STIX frame (D.7); `use` marks the 24 of 10→3.
    pub fn visibilities(&self, center_stix_arcsec: [f64; 2]) -> Vec<Visibility> {
        imaging_order()
            .into_iter()
            .zip(self.raw_visibilities())
            .map(|(s, raw)| {
                let (re, im, sigma) = visibility::calibrate_visibility(s, &raw, center_stix_arcsec);
                Visibility {
                    label: s.label.clone(),
                    isc: s.det,
                    u: s.u_arcsec_inv,
                    v: s.v_arcsec_inv,
                    real: re,
                    imag: im,
                    amplitude_error: sigma,
                    used: s.in_default_set(),
                }
            })
            .collect()
    }

    /// The A/B/C/D block of a `stix-vis` file for EM (30 imaging detectors, 10→3 first).
    pub fn summed_rates(&self) -> SummedRates {
        let phi = self.sumcase.pixel_phase_offset_deg();
        SummedRates {
            sumcase: self.sumcase.name().to_string(),
            pixel_phase_offset_deg: phi,
            detectors: imaging_order()
                .into_iter()
                .map(|s| DetectorRates {
                    isc: s.det,
                    label: s.label.clone(),
                    u: s.u_arcsec_inv,
                    v: s.v_arcsec_inv,
                    calibration_phase_deg: s.grid_phase_corr_deg + s.adhoc_phase_corr_deg + phi,
                    rates: self.rates[s.index0()],
                    errors: self.rate_errors[s.index0()],
                })
                .collect(),
        }
    }
}
