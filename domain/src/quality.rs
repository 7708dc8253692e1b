//! How far to trust one image: figures measured on the reconstruction and its inputs, and a
//! grade `GOOD`, `FAIR` or `POOR` with the reasons (issue #11).
//!
//! No peer archive grades its images, so the rules are ours; every threshold is a named
//! constant of [`QualityThresholds`] with its justification, repeated in the README:
//!
//! | figure | FAIR when | POOR when | why |
//! |---|---|---|---|
//! | net counts (total − scaled background) | < 10 000 | < 2 000 | 10 000 is the preview threshold of the DC pipeline (G); below ~2 000 the 24 visibilities have amplitude errors of tens of % |
//! | signal-to-noise `net/√(total + background)` | < 20 | < 5 | 5σ is the usual detection limit; below 20 the weak visibilities are noise-dominated |
//! | peak distance from the FOV edge | — | < 10 % of the half-width | a peak on the edge is a sidelobe or a source outside the map |
//! | peak distance from the map centre | > 60 % of the half-width | — | previews are centred on the flare location (E.6) |
//! | spread of the peaks of the box's algorithms (largest distance from their median) | > 30″ | > 60″ | two and four resolution elements of the finest default grid (3a ≈ 14.7″, C) |
//! | CLEAN residual fraction `max|residual| / max(image)` | > 0.3 | > 0.6 | a residual comparable to the source means CLEAN left most flux uncleaned |
//! | MEM | not converged, or χ²/ν > 5 | χ²/ν > 20 | |
//! | FWDFIT χ²ᵣ | > 5 | > 20 | a good fit of calibrated STIX visibilities (5 % systematic, D.7) has χ²ᵣ ≈ 1–3 |
//! | FWDFIT relative flux uncertainty (when computed) | > 0.3 | — | |
//!
//! The grade is the worst of the reasons; no reason means `GOOD`.

use crate::imaging::{Algorithm, Reconstruction};
use crate::visfile::VisMeta;
use serde::{Deserialize, Serialize};

/// The grade of an image; ordered `Poor < Fair < Good`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Grade {
    /// Do not trust without a closer look.
    Poor,
    /// Usable with care; the reasons say what to watch.
    Fair,
    /// No figure outside its bounds.
    Good,
}

impl Grade {
    /// `GOOD`, `FAIR` or `POOR` (FITS `QUALITY`, database, GraphQL).
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Good => "GOOD",
            Grade::Fair => "FAIR",
            Grade::Poor => "POOR",
        }
    }

    /// Parses `GOOD`/`FAIR`/`POOR` (any case).
    pub fn parse(text: &str) -> Option<Grade> {
        match text.trim().to_ascii_uppercase().as_str() {
            "GOOD" => Some(Grade::Good),
            "FAIR" => Some(Grade::Fair),
            "POOR" => Some(Grade::Poor),
            _ => None,
        }
    }
}

impl std::fmt::Display for Grade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The thresholds of the grade (see the module table for their reasons).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityThresholds {
    /// Net counts below which the image is FAIR.
    pub fair_net_counts: f64,
    /// Net counts below which the image is POOR.
    pub poor_net_counts: f64,
    /// SNR below which the image is FAIR.
    pub fair_snr: f64,
    /// SNR below which the image is POOR.
    pub poor_snr: f64,
    /// Peak closer to the FOV edge than this fraction of the half-width: POOR.
    pub poor_edge_fraction: f64,
    /// Peak farther from the map centre than this fraction of the half-width: FAIR.
    pub fair_center_fraction: f64,
    /// Peak spread across the box's algorithms above which the image is FAIR, arcsec.
    pub fair_peak_spread_arcsec: f64,
    /// Peak spread above which the image is POOR, arcsec.
    pub poor_peak_spread_arcsec: f64,
    /// CLEAN residual fraction above which the image is FAIR.
    pub fair_clean_residual: f64,
    /// CLEAN residual fraction above which the image is POOR.
    pub poor_clean_residual: f64,
    /// Reduced χ² (MEM, FWDFIT) above which the image is FAIR.
    pub fair_chi2_reduced: f64,
    /// Reduced χ² above which the image is POOR.
    pub poor_chi2_reduced: f64,
    /// FWDFIT relative flux uncertainty above which the image is FAIR.
    pub fair_fwdfit_flux_uncertainty: f64,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self {
            fair_net_counts: 10_000.0,
            poor_net_counts: 2_000.0,
            fair_snr: 20.0,
            poor_snr: 5.0,
            poor_edge_fraction: 0.1,
            fair_center_fraction: 0.6,
            fair_peak_spread_arcsec: 30.0,
            poor_peak_spread_arcsec: 60.0,
            fair_clean_residual: 0.3,
            poor_clean_residual: 0.6,
            fair_chi2_reduced: 5.0,
            poor_chi2_reduced: 20.0,
            fair_fwdfit_flux_uncertainty: 0.3,
        }
    }
}

/// The measured figures of one image (also stored and shown in GraphQL).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualityFigures {
    /// Counts before background subtraction (imaging detectors, summed pixels).
    pub total_counts: f64,
    /// Scaled background counts.
    pub background_counts: f64,
    /// Net counts: total − background.
    pub net_counts: f64,
    /// `net / √(total + background)`.
    pub snr: f64,
    /// Peak distance from the map centre, arcsec.
    pub peak_center_distance_arcsec: f64,
    /// Peak distance from the nearest FOV edge, arcsec.
    pub peak_edge_distance_arcsec: f64,
    /// Half-width of the field of view, arcsec.
    pub fov_half_width_arcsec: f64,
    /// Largest distance of the box's algorithm peaks from their median, arcsec (when the
    /// box has more than one algorithm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_spread_arcsec: Option<f64>,
    /// CLEAN: max |residual| / max(image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_residual_fraction: Option<f64>,
    /// MEM: converged to its tolerance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_converged: Option<bool>,
    /// MEM: χ² per degree of freedom (2 per averaged (u,v) cell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_chi2_reduced: Option<f64>,
    /// FWDFIT: reduced χ² of the best fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwdfit_chi2_reduced: Option<f64>,
    /// FWDFIT: largest relative 1σ flux uncertainty of the sources, when computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwdfit_flux_uncertainty: Option<f64>,
}

/// A grade, its reasons and the figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// The grade.
    pub grade: Grade,
    /// Why it is not GOOD (empty for GOOD), one short sentence each.
    pub reasons: Vec<String>,
    /// The figures.
    pub figures: QualityFigures,
}

impl Quality {
    /// The reasons joined for a FITS card (`QUAL_WHY`) or a PNG line; `ok` when none.
    pub fn reasons_text(&self) -> String {
        if self.reasons.is_empty() {
            "ok".to_string()
        } else {
            self.reasons.join("; ")
        }
    }
}

/// Collects reasons with their severities.
struct Verdict {
    grade: Grade,
    reasons: Vec<String>,
}

impl Verdict {
    fn flag(&mut self, grade: Grade, reason: String) {
        self.grade = self.grade.min(grade);
        self.reasons.push(reason);
    }

    /// FAIR above `fair`, POOR above `poor` (`higher_is_worse`), or below them otherwise.
    fn bound(&mut self, value: f64, fair: f64, poor: f64, higher_is_worse: bool, what: &str) {
        let (is_poor, is_fair) = if higher_is_worse {
            (value > poor, value > fair)
        } else {
            (value < poor, value < fair)
        };
        let cmp = if higher_is_worse { ">" } else { "<" };
        if !value.is_finite() {
            self.flag(Grade::Poor, format!("{what} is not finite"));
        } else if is_poor {
            self.flag(Grade::Poor, format!("{what} {value:.3} {cmp} {poor}"));
        } else if is_fair {
            self.flag(Grade::Fair, format!("{what} {value:.3} {cmp} {fair}"));
        }
    }
}

fn json_f64(v: &serde_json::Value, key: &str) -> Option<f64> {
    v.get(key).and_then(serde_json::Value::as_f64)
}

/// The median of a set of points, coordinate by coordinate.
fn median_point(points: &[[f64; 2]]) -> [f64; 2] {
    let med = |k: usize| {
        let mut v: Vec<f64> = points.iter().map(|p| p[k]).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    };
    [med(0), med(1)]
}

/// The spread of the peaks of a box's images: the largest distance of a peak from the
/// coordinate-wise median of all of them, arcsec. `None` for fewer than two peaks.
pub fn peak_spread_arcsec(peaks: &[[f64; 2]]) -> Option<f64> {
    if peaks.len() < 2 {
        return None;
    }
    let m = median_point(peaks);
    peaks
        .iter()
        .map(|p| (p[0] - m[0]).hypot(p[1] - m[1]))
        .fold(None, |a: Option<f64>, d| Some(a.map_or(d, |a| a.max(d))))
}

/// Assesses one image. `box_peaks_arcsec` are the peak offsets (STIX frame, from the common
/// map centre) of all the images of the same box, this one included; pass only this image's
/// peak (or nothing) when it was made alone.
pub fn assess(
    rec: &Reconstruction,
    meta: &VisMeta,
    box_peaks_arcsec: &[[f64; 2]],
    t: &QualityThresholds,
) -> Quality {
    let mut v = Verdict {
        grade: Grade::Good,
        reasons: Vec::new(),
    };
    let total = meta.total_counts;
    let bkg = meta.background_counts.max(0.0);
    let net = total - bkg;
    let snr = if total + bkg > 0.0 {
        net / (total + bkg).sqrt()
    } else {
        0.0
    };
    v.bound(
        net,
        t.fair_net_counts,
        t.poor_net_counts,
        false,
        "net counts",
    );
    v.bound(snr, t.fair_snr, t.poor_snr, false, "signal-to-noise");

    let peak = rec.map.peak_offset_arcsec();
    let half = rec.map.grid.n as f64 * rec.map.grid.pixel_arcsec / 2.0;
    let center_distance = peak[0].hypot(peak[1]);
    let edge_distance = (half - peak[0].abs()).min(half - peak[1].abs()).max(0.0);
    if edge_distance < t.poor_edge_fraction * half {
        v.flag(
            Grade::Poor,
            format!(
                "peak {edge_distance:.0}″ from the field-of-view edge (< {:.0}″)",
                t.poor_edge_fraction * half
            ),
        );
    } else if center_distance > t.fair_center_fraction * half {
        v.flag(
            Grade::Fair,
            format!(
                "peak {center_distance:.0}″ from the map centre (> {:.0}″)",
                t.fair_center_fraction * half
            ),
        );
    }
    let spread = peak_spread_arcsec(box_peaks_arcsec);
    if let Some(s) = spread {
        v.bound(
            s,
            t.fair_peak_spread_arcsec,
            t.poor_peak_spread_arcsec,
            true,
            "peak spread across algorithms (arcsec)",
        );
    }

    let mut figures = QualityFigures {
        total_counts: total,
        background_counts: bkg,
        net_counts: net,
        snr,
        peak_center_distance_arcsec: center_distance,
        peak_edge_distance_arcsec: edge_distance,
        fov_half_width_arcsec: half,
        peak_spread_arcsec: spread,
        ..Default::default()
    };
    match rec.algorithm {
        Algorithm::Clean => {
            if let Some(c) = &rec.clean {
                let max_img = rec.map.peak().1;
                let max_res = c.residual.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                let f = if max_img > 0.0 {
                    max_res / max_img
                } else {
                    f64::INFINITY
                };
                figures.clean_residual_fraction = Some(f);
                v.bound(
                    f,
                    t.fair_clean_residual,
                    t.poor_clean_residual,
                    true,
                    "CLEAN residual fraction",
                );
            }
        }
        Algorithm::Mem => {
            let d = &rec.diagnostics;
            let converged = d.get("converged").and_then(serde_json::Value::as_bool);
            figures.mem_converged = converged;
            if converged == Some(false) {
                v.flag(Grade::Fair, "MEM did not converge".to_string());
            }
            if let (Some(chi2), Some(cells)) = (json_f64(d, "chi2"), json_f64(d, "n_uv_cells"))
                && cells > 0.0
            {
                let r = chi2 / (2.0 * cells);
                figures.mem_chi2_reduced = Some(r);
                v.bound(
                    r,
                    t.fair_chi2_reduced,
                    t.poor_chi2_reduced,
                    true,
                    "MEM χ²/ν",
                );
            }
        }
        Algorithm::Fwdfit => {
            if let Some(f) = &rec.fwdfit {
                figures.fwdfit_chi2_reduced = Some(f.chi2_reduced);
                v.bound(
                    f.chi2_reduced,
                    t.fair_chi2_reduced,
                    t.poor_chi2_reduced,
                    true,
                    "FWDFIT χ²ᵣ",
                );
                let rel = f
                    .sources
                    .iter()
                    .filter_map(|s| {
                        let u = s.uncertainties.as_ref()?.get("flux")?.as_f64()?;
                        (s.flux.abs() > 0.0).then(|| u / s.flux.abs())
                    })
                    .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
                figures.fwdfit_flux_uncertainty = rel;
                if let Some(r) = rel
                    && (r > t.fair_fwdfit_flux_uncertainty || !r.is_finite())
                {
                    v.flag(
                        Grade::Fair,
                        format!(
                            "FWDFIT flux uncertainty {:.0} % > {:.0} %",
                            100.0 * r,
                            100.0 * t.fair_fwdfit_flux_uncertainty
                        ),
                    );
                }
            }
        }
        _ => {}
    }
    Quality {
        grade: v.grade,
        reasons: v.reasons,
        figures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_order_and_parse() {
        assert!(Grade::Poor < Grade::Fair && Grade::Fair < Grade::Good);
        for g in [Grade::Good, Grade::Fair, Grade::Poor] {
            assert_eq!(Grade::parse(g.as_str()), Some(g));
        }
        assert_eq!(serde_json::to_string(&Grade::Fair).unwrap(), "\"FAIR\"");
    }

    #[test]
    fn spread_is_the_largest_distance_from_the_median() {
        assert_eq!(peak_spread_arcsec(&[[1.0, 1.0]]), None);
        let s = peak_spread_arcsec(&[[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [100.0, 0.0]]).unwrap();
        // Median (1, 0): the outlier is 99″ away.
        assert!((s - 99.0).abs() < 1e-12, "{s}");
    }
}
