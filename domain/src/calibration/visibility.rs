//! Pixel sums, rates and visibilities (`shared/docs/stix-imaging.md` D.4–D.7).

use crate::instrument::{LARGE_PIXEL_AREA_CM2, SMALL_PIXEL_AREA_CM2, Subcollimator};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Ideal-grid modulation efficiency π³/(8√2) = 2.74059 (D.7, ≤2025 GSW and stixpy).
pub const MODULATION_EFFICIENCY: f64 = PI * PI * PI / (8.0 * std::f64::consts::SQRT_2);
/// Systematic amplitude error fraction (D.7).
pub const SYSTEMATIC_ERROR_FRACTION: f64 = 0.05;

/// Which pixel rows are summed into A, B, C, D (D.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SumCase {
    /// Top row only.
    Top,
    /// Bottom row only.
    Bot,
    /// Top and bottom rows (the default).
    TopBot,
    /// Small pixels only.
    Small,
    /// All three rows.
    All,
}

impl SumCase {
    /// Pixel rows summed (0 = top, 1 = bottom, 2 = small).
    pub fn rows(&self) -> &'static [usize] {
        match self {
            SumCase::Top => &[0],
            SumCase::Bot => &[1],
            SumCase::TopBot => &[0, 1],
            SumCase::Small => &[2],
            SumCase::All => &[0, 1, 2],
        }
    }

    /// Pixel indices 4·row + col of the summed rows.
    pub fn pixels(&self) -> Vec<usize> {
        self.rows()
            .iter()
            .flat_map(|r| (0..4).map(move |c| 4 * r + c))
            .collect()
    }

    /// Summed area of one column of the chosen rows, cm² (D.5).
    pub fn area_cm2(&self) -> f64 {
        self.rows()
            .iter()
            .map(|&r| {
                if r == 2 {
                    SMALL_PIXEL_AREA_CM2
                } else {
                    LARGE_PIXEL_AREA_CM2
                }
            })
            .sum()
    }

    /// Pixel phase offset φ_pix in degrees (D.6).
    pub fn pixel_phase_offset_deg(&self) -> f64 {
        match self {
            SumCase::Top | SumCase::Bot | SumCase::TopBot => 46.1,
            SumCase::All => 45.0,
            SumCase::Small => 22.5,
        }
    }

    /// The name used in `stix-vis` files: `top`, `bot`, `top+bot`, `small`, `all`.
    pub fn name(&self) -> &'static str {
        match self {
            SumCase::Top => "top",
            SumCase::Bot => "bot",
            SumCase::TopBot => "top+bot",
            SumCase::Small => "small",
            SumCase::All => "all",
        }
    }
}

/// A raw (uncalibrated) visibility of one subcollimator (D.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawVisibility {
    /// Detector, 1-based.
    pub det: u8,
    /// Label.
    pub label: String,
    /// Re = C − A, counts s⁻¹ keV⁻¹ cm⁻².
    pub real: f64,
    /// Im = D − B.
    pub imag: f64,
    /// |V|.
    pub amplitude: f64,
    /// σ of |V|.
    pub amplitude_error: f64,
    /// atan2(Im, Re) + φ_pix, degrees.
    pub phase_deg: f64,
    /// A + B + C + D.
    pub total_flux: f64,
}

/// Raw visibility from A/B/C/D rates and their errors (D.6).
pub fn raw_visibility(
    sc: &Subcollimator,
    abcd: &[f64; 4],
    err: &[f64; 4],
    phi_pix_deg: f64,
) -> RawVisibility {
    let re = abcd[2] - abcd[0];
    let im = abcd[3] - abcd[1];
    let amp = re.hypot(im);
    let (va, vb, vc, vd) = (
        err[0] * err[0],
        err[1] * err[1],
        err[2] * err[2],
        err[3] * err[3],
    );
    let sigma = if amp > 0.0 {
        ((re / amp).powi(2) * (vc + va) + (im / amp).powi(2) * (vd + vb)).sqrt()
    } else {
        ((va + vb + vc + vd) / 2.0).sqrt()
    };
    RawVisibility {
        det: sc.det,
        label: sc.label.clone(),
        real: re,
        imag: im,
        amplitude: amp,
        amplitude_error: sigma,
        phase_deg: im.atan2(re).to_degrees() + phi_pix_deg,
        total_flux: abcd.iter().sum(),
    }
}

/// Calibrated visibility (D.7): phase `φ + φ_grid + φ_adhoc − 360°(u·x_c + v·y_c)`, amplitude
/// `|V|·M`, error `√((σ·M)² + (0.05·|V|·M)²)`. Returns (re, im, σ).
pub fn calibrate_visibility(
    sc: &Subcollimator,
    raw: &RawVisibility,
    center_stix_arcsec: [f64; 2],
) -> (f64, f64, f64) {
    let phase = raw.phase_deg + sc.grid_phase_corr_deg + sc.adhoc_phase_corr_deg
        - 360.0
            * (sc.u_arcsec_inv * center_stix_arcsec[0] + sc.v_arcsec_inv * center_stix_arcsec[1]);
    let amp = raw.amplitude * MODULATION_EFFICIENCY;
    let sigma =
        (raw.amplitude_error * MODULATION_EFFICIENCY).hypot(SYSTEMATIC_ERROR_FRACTION * amp);
    let (s, c) = phase.to_radians().sin_cos();
    (amp * c, amp * s, sigma)
}
