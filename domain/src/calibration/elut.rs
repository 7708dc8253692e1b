//! The energy look-up-table (ELUT) edge correction (`shared/docs/stix-imaging.md` section B,
//! "ELUT correction"), as stixpy applies it (`stixpy/calibration/elut.py`
//! `get_elut_correction`, used by `calibration/visibility.py`).
//!
//! On board, a count goes into science channel *c* when its ADC value lies between two ADC
//! edges of its pixel's ELUT; the real energies of those edges are
//! `E = (ADC_edge − offset)·gain`, a little off the nominal channel edges of the ENERGIES
//! table. Inside a band the channels are contiguous, so only the outer edges matter: assuming
//! a flat spectrum across the first and the last energy group of the band, their counts (and
//! their errors σ = √(σ_comp² + N)) are scaled per detector and pixel by
//!
//! ```text
//! f_lo = (E_act_hi − E_nom_lo) / (E_act_hi − E_act_lo)     first group of the band
//! f_hi = (E_nom_hi − E_act_lo) / (E_act_hi − E_act_lo)     last group of the band
//! ```
//!
//! with `E_act` the actual and `E_nom` the nominal (ENERGIES) edges of that group. A band of a
//! single group gets both factors, as in stixpy. The table is chosen by the file's date from
//! `elut/elut_index.csv` ([`crate::policy::elut_period`]); the tables this crate ships are in
//! `data/stix/elut/` (2022-09-18 → 2023-01-19 today). Without a shipped table for the date the
//! correction is not applied and the calibration version says so.
//!
//! The same factors are applied to the background file's counts in the same groups (it was
//! taken under the same ELUT period, A.1), so that the subtraction stays consistent.

use crate::instrument::{N_DETECTORS, N_PIXELS};
use crate::l1::EnergyGroup;
use crate::policy::elut_period::elut_period_for;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Number of ADC edges per pixel in an ELUT table: the edges of science channels 1–31
/// (4 keV … 150 keV), section B.
pub const N_ADC_EDGES: usize = 31;

/// The ELUT tables shipped with the crate (name, text).
const SHIPPED_TABLES: [(&str, &str); 1] = [(
    "elut_table_20220918.csv",
    include_str!("../../../data/stix/elut/elut_table_20220918.csv"),
)];

/// Why an ELUT table cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ElutError {
    /// The table text is malformed.
    #[error("ELUT table {file}: {reason}")]
    Malformed {
        /// Table file name.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// One ELUT table: the actual energy of every ADC edge of every detector and pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct ElutTable {
    /// The table's file name (recorded in `calibration_version` and the FITS `ELUT` key).
    pub file: String,
    /// Actual edge energies `[det 0..32][pixel 0..12][edge 0..31]`, keV; edge *k* is the upper
    /// edge of science channel *k* and the lower edge of channel *k*+1.
    pub edges_kev: Vec<[[f64; N_ADC_EDGES]; N_PIXELS]>,
}

impl ElutTable {
    /// Parses a CONF ELUT table: two comment lines, a header line (`Offset, Gain keV/ADC,
    /// Pixel, Detector, ADC Edge 0 …`), then 384 rows with 31 ADC edges each.
    pub fn parse(file: &str, text: &str) -> Result<Self, ElutError> {
        let bad = |reason: String| ElutError::Malformed {
            file: file.to_string(),
            reason,
        };
        let mut edges = vec![[[f64::NAN; N_ADC_EDGES]; N_PIXELS]; N_DETECTORS];
        let mut seen = vec![[false; N_PIXELS]; N_DETECTORS];
        let mut rows = 0;
        for rec in crate::csv_table::records(text).skip(3) {
            let (line, f) = rec.map_err(|e| bad(e.to_string()))?;
            let num = |i: usize| -> Result<f64, ElutError> {
                f.get(i)
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| bad(format!("line {line}: column {} is not a number", i + 1)))
            };
            let (offset, gain) = (num(0)?, num(1)?);
            let (pixel, det) = (num(2)? as usize, num(3)? as usize);
            if pixel >= N_PIXELS || det >= N_DETECTORS {
                return Err(bad(format!("line {line}: pixel {pixel}, detector {det}")));
            }
            for (k, e) in edges[det][pixel].iter_mut().enumerate() {
                *e = (num(4 + k)? - offset) * gain;
            }
            seen[det][pixel] = true;
            rows += 1;
        }
        if rows != N_DETECTORS * N_PIXELS || seen.iter().flatten().any(|s| !s) {
            return Err(bad(format!(
                "{rows} rows; expected one per detector and pixel (384)"
            )));
        }
        Ok(Self {
            file: file.to_string(),
            edges_kev: edges,
        })
    }

    /// A shipped table by file name (parsed once), `None` when the crate does not ship it.
    pub fn shipped(file: &str) -> Option<Result<&'static ElutTable, ElutError>> {
        static TABLES: OnceLock<HashMap<&'static str, Result<ElutTable, ElutError>>> =
            OnceLock::new();
        let tables = TABLES.get_or_init(|| {
            SHIPPED_TABLES
                .iter()
                .map(|(name, text)| (*name, ElutTable::parse(name, text)))
                .collect()
        });
        tables.get(file).map(|r| r.as_ref().map_err(Clone::clone))
    }

    /// Actual lower and upper edge (keV) of science channel `c` for a detector and pixel
    /// (channel 0 starts at 0 keV; channel 31 has no upper edge).
    fn channel_edges(&self, det: usize, pixel: usize, first: u8, last: u8) -> (f64, f64) {
        let e = &self.edges_kev[det][pixel];
        let lo = match first {
            0 => 0.0,
            c => e.get(c as usize - 1).copied().unwrap_or(f64::NAN),
        };
        let hi = e.get(last as usize).copied().unwrap_or(f64::NAN);
        (lo, hi)
    }
}

/// Which ELUT a file's date selects, and whether the crate ships it.
#[derive(Debug, Clone, PartialEq)]
pub enum ElutChoice {
    /// The table to apply.
    Table(&'static ElutTable),
    /// The correction cannot be applied; the reason goes into the calibration version.
    Unavailable(String),
}

/// The ELUT valid at `t` (the file's date), from the embedded index and shipped tables.
pub fn elut_for(t: DateTime<Utc>) -> ElutChoice {
    let Some(period) = elut_period_for(t) else {
        return ElutChoice::Unavailable(format!("no ELUT period covers {t}"));
    };
    match ElutTable::shipped(&period.elut_file) {
        Some(Ok(table)) => ElutChoice::Table(table),
        Some(Err(e)) => ElutChoice::Unavailable(e.to_string()),
        None => ElutChoice::Unavailable(format!("{} is not shipped", period.elut_file)),
    }
}

/// The per-detector, per-pixel factors for the first and last group of a band.
#[derive(Debug, Clone, PartialEq)]
pub struct ElutCorrection {
    /// The table used.
    pub file: String,
    /// First group of the band (index into ENERGIES).
    pub first_group: usize,
    /// Last group of the band.
    pub last_group: usize,
    /// `f_lo[det][pixel]` for the first group.
    pub low: [[f64; N_PIXELS]; N_DETECTORS],
    /// `f_hi[det][pixel]` for the last group.
    pub high: [[f64; N_PIXELS]; N_DETECTORS],
}

impl ElutCorrection {
    /// The factors of `table` for groups `first..=last` of `groups`. `None` when the groups
    /// do not say which science channels they span (old layouts), or the band's outer edges
    /// are open.
    pub fn compute(
        table: &ElutTable,
        groups: &[EnergyGroup],
        first: usize,
        last: usize,
    ) -> Option<Self> {
        let (g0, g1) = (groups.get(first)?, groups.get(last)?);
        let (c0_lo, c0_hi) = (g0.first_channel?, g0.last_channel?);
        let (c1_lo, c1_hi) = (g1.first_channel?, g1.last_channel?);
        if !(g0.low_kev.is_finite() && g1.high_kev.is_finite()) {
            return None;
        }
        let mut low = [[1.0; N_PIXELS]; N_DETECTORS];
        let mut high = [[1.0; N_PIXELS]; N_DETECTORS];
        for d in 0..N_DETECTORS {
            for p in 0..N_PIXELS {
                let (lo, hi) = table.channel_edges(d, p, c0_lo, c0_hi);
                let f = (hi - g0.low_kev) / (hi - lo);
                low[d][p] = if f.is_finite() { f } else { 1.0 };
                let (lo, hi) = table.channel_edges(d, p, c1_lo, c1_hi);
                let f = (g1.high_kev - lo) / (hi - lo);
                high[d][p] = if f.is_finite() { f } else { 1.0 };
            }
        }
        Some(Self {
            file: table.file.clone(),
            first_group: first,
            last_group: last,
            low,
            high,
        })
    }

    /// The factor for one count of group `e` in a detector and pixel (1 for inner groups; the
    /// product of both for a single-group band).
    pub fn factor(&self, det: usize, pixel: usize, e: usize) -> f64 {
        let mut f = 1.0;
        if e == self.first_group {
            f *= self.low[det][pixel];
        }
        if e == self.last_group {
            f *= self.high[det][pixel];
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_parses_with_plausible_edges() {
        let t = ElutTable::shipped("elut_table_20220918.csv")
            .unwrap()
            .unwrap();
        // Detector 0, pixel 0: offset 897.037, gain 0.109899, ADC edge 0 = 933 → 3.96 keV.
        assert!((t.edges_kev[0][0][0] - (933.0 - 897.037) * 0.109899).abs() < 1e-9);
        for d in 0..N_DETECTORS {
            for p in 0..N_PIXELS {
                let e = &t.edges_kev[d][p];
                assert!(e.windows(2).all(|w| w[1] > w[0]), "{d} {p}");
                // Within a few % of the nominal 4 keV and 150 keV edges.
                assert!((e[0] - 4.0).abs() < 0.4, "{d} {p} {}", e[0]);
                assert!((e[30] - 150.0).abs() < 6.0, "{d} {p} {}", e[30]);
            }
        }
        assert!(ElutTable::shipped("elut_table_20200519.csv").is_none());
    }

    #[test]
    fn the_table_is_chosen_by_date() {
        let t = |s: &str| crate::time_range::parse_utc(s).unwrap();
        match elut_for(t("2022-11-11T11:36:00")) {
            ElutChoice::Table(tab) => assert_eq!(tab.file, "elut_table_20220918.csv"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            elut_for(t("2020-06-07T21:40:00")),
            ElutChoice::Unavailable(_)
        ));
    }
}
