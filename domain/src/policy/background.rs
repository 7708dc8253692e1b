//! Background choice for preview images: the background measurement nearest in time to the
//! science data within ±N days (default 15, the 2024 DC rule of `shared/docs/stix-imaging.md`
//! G, `find_best_background_fits`) and taken under the same energy-calibration (ELUT) period,
//! so that the same ADC→keV edges hold for both files. With none, images are made without
//! background subtraction and the choice says why.

use crate::policy::elut_period::{ElutPeriod, elut_period_for};
use crate::time_range::TimeRange;
use serde::{Deserialize, Serialize};

/// Default search half-width in days (G: DC 2024 `±15 days`).
pub const DEFAULT_MAX_DAYS: f64 = 15.0;

const SECONDS_PER_DAY: f64 = 86_400.0;

/// A background measurement that could be subtracted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackgroundCandidate {
    /// Caller's identifier (file id, request UID, …).
    pub id: String,
    /// Time the background file covers.
    pub range: TimeRange,
}

/// The outcome of [`choose_background`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackgroundChoice {
    /// A background file to subtract.
    Chosen {
        /// The candidate's id.
        id: String,
        /// The candidate's time range.
        range: TimeRange,
        /// |mid(science) − mid(background)| in days.
        distance_days: f64,
        /// The ELUT table file both were taken under.
        elut_file: String,
        /// Row of that ELUT period in `elut_index.csv`.
        elut_row: usize,
    },
    /// No usable background: images are made without background subtraction.
    None {
        /// Why, for the user ("no background file within ±15 days under ELUT …").
        reason: String,
    },
}

impl BackgroundChoice {
    /// The chosen candidate's id, if any.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Chosen { id, .. } => Some(id),
            Self::None { .. } => None,
        }
    }

    /// Distance in days to the chosen background, if any.
    pub fn distance_days(&self) -> Option<f64> {
        match self {
            Self::Chosen { distance_days, .. } => Some(*distance_days),
            Self::None { .. } => None,
        }
    }
}

/// True when the whole candidate `[start, end)` lies in `period`.
fn inside_period(range: &TimeRange, period: &ElutPeriod) -> bool {
    let last_instant = range
        .end
        .checked_sub_signed(chrono::Duration::microseconds(1))
        .unwrap_or(range.end);
    period.contains(range.start) && period.contains(last_instant)
}

/// Picks the candidate nearest in time (mid-point to mid-point) to `science`, among those
/// within `±max_days` and entirely under the ELUT period of the science mid-point. Ties go to
/// the smaller id, so the choice is deterministic whatever the candidates' order.
pub fn choose_background(
    science: &TimeRange,
    candidates: &[BackgroundCandidate],
    max_days: f64,
) -> BackgroundChoice {
    if !(max_days.is_finite() && max_days >= 0.0) {
        return BackgroundChoice::None {
            reason: format!(
                "the background search window ±{max_days} days is not a non-negative number"
            ),
        };
    }
    let mid = science.midpoint();
    let Some(period) = elut_period_for(mid) else {
        return BackgroundChoice::None {
            reason: format!(
                "no ELUT calibration period is known for {}",
                crate::time_range::format_utc(&mid)
            ),
        };
    };
    let distance_days = |c: &BackgroundCandidate| {
        (c.range.midpoint() - mid)
            .num_microseconds()
            .map_or(f64::INFINITY, |us| {
                (us as f64 * 1e-6 / SECONDS_PER_DAY).abs()
            })
    };
    let within: Vec<(&BackgroundCandidate, f64)> = candidates
        .iter()
        .map(|c| (c, distance_days(c)))
        .filter(|(_, d)| *d <= max_days)
        .collect();
    let best = within
        .iter()
        .filter(|(c, _)| inside_period(&c.range, period))
        .min_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.id.cmp(&b.0.id)));
    match best {
        Some((c, d)) => BackgroundChoice::Chosen {
            id: c.id.clone(),
            range: c.range,
            distance_days: *d,
            elut_file: period.elut_file.clone(),
            elut_row: period.row,
        },
        None if within.is_empty() => BackgroundChoice::None {
            reason: format!(
                "no background file within ±{max_days} days under ELUT {}; images are not background-subtracted",
                period.describe()
            ),
        },
        None => BackgroundChoice::None {
            reason: format!(
                "no background file within ±{max_days} days under ELUT {} ({} within ±{max_days} days were taken under another ELUT period); images are not background-subtracted",
                period.describe(),
                within.len()
            ),
        },
    }
}
