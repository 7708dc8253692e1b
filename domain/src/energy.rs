//! Energy bands in keV (`LO-HI`), as requested and as actually used (section B).

use serde::{Deserialize, Serialize};

/// Why an energy band is impossible.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum EnergyBandError {
    /// The text is not `LO-HI`.
    #[error("energy band '{0}' must be LO-HI in keV, e.g. 4-10")]
    Format(String),
    /// Bounds are not finite, not positive or not increasing.
    #[error("energy band {low_kev}–{high_kev} keV is impossible: need 0 < low < high")]
    Impossible {
        /// Lower edge as given.
        low_kev: f64,
        /// Upper edge as given.
        high_kev: f64,
    },
}

/// A photon-energy band `[low_kev, high_kev]` with `0 < low < high`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnergyBand {
    /// Lower edge in keV.
    pub low_kev: f64,
    /// Upper edge in keV.
    pub high_kev: f64,
}

impl EnergyBand {
    /// Builds a band, refusing non-finite, non-positive or reversed edges.
    pub fn new(low_kev: f64, high_kev: f64) -> Result<Self, EnergyBandError> {
        if !(low_kev.is_finite() && high_kev.is_finite() && low_kev > 0.0 && high_kev > low_kev) {
            return Err(EnergyBandError::Impossible { low_kev, high_kev });
        }
        Ok(Self { low_kev, high_kev })
    }

    /// Parses `LO-HI` (keV), e.g. `4-10` or `16-28`.
    pub fn parse(text: &str) -> Result<Self, EnergyBandError> {
        let (a, b) = text
            .trim()
            .split_once('-')
            .ok_or_else(|| EnergyBandError::Format(text.to_string()))?;
        let lo: f64 = a
            .trim()
            .parse()
            .map_err(|_| EnergyBandError::Format(text.to_string()))?;
        let hi: f64 = b
            .trim()
            .parse()
            .map_err(|_| EnergyBandError::Format(text.to_string()))?;
        Self::new(lo, hi)
    }

    /// Width of the band in keV.
    pub fn width_kev(&self) -> f64 {
        self.high_kev - self.low_kev
    }
}

impl std::fmt::Display for EnergyBand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{} keV", self.low_kev, self.high_kev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bands() {
        assert_eq!(
            EnergyBand::parse("4-10").unwrap(),
            EnergyBand {
                low_kev: 4.0,
                high_kev: 10.0
            }
        );
        assert!(EnergyBand::parse("10-4").is_err());
        assert!(EnergyBand::parse("-4-10").is_err());
        assert!(EnergyBand::parse("four").is_err());
    }
}
