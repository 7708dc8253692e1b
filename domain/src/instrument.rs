//! The STIX instrument tables shipped inside the crate: the 32 subcollimators with their
//! labels, roles, (u, v), phase corrections, trigger accumulators and transmission fits, the
//! pixel areas, and the default detector sets (`shared/docs/stix-imaging.md` section C, D.5).
//!
//! The tables are the CSV files of `data/stix/` embedded with `include_str!` and parsed once
//! on first use. (u, v) is computed from the nominal grid table with the current definition of
//! section C (GSW `stx_uv_points.pro` since 2023-07, stixpy `config/instrument.py`).

use std::sync::LazyLock;

/// Front-to-rear grid separation in mm (section C, H).
pub const GRID_SEPARATION_MM: f64 = 545.30;
/// Rear grid to detector distance in mm (section C, H).
pub const REAR_GRID_TO_DETECTOR_MM: f64 = 47.78;
/// Arcseconds per radian.
pub const ARCSEC_PER_RADIAN: f64 = 206_264.806_247_096_36;
/// Area of a large (top or bottom) pixel, cm² (CONF `stx_det_pixels.csv`, section H).
pub const LARGE_PIXEL_AREA_CM2: f64 = 0.096_194_997;
/// Area of a small pixel, cm² (CONF `stx_det_pixels.csv`, section H).
pub const SMALL_PIXEL_AREA_CM2: f64 = 0.010_009_999;
/// Number of detectors/subcollimators.
pub const N_DETECTORS: usize = 32;
/// Number of pixels per detector.
pub const N_PIXELS: usize = 12;
/// Number of trigger accumulators.
pub const N_TRIGGERS: usize = 16;

/// Default imaging set 10→3 in GSW order (`stx_label2ind`, section C): 1-based detectors.
pub const DEFAULT_IMAGING_DETECTORS: [u8; 24] = [
    3, 20, 22, 16, 14, 32, 21, 26, 4, 24, 8, 28, 15, 27, 31, 6, 30, 2, 25, 5, 23, 7, 29, 1,
];

/// The full-disk flare-location subset 10→7: the first 12 of [`DEFAULT_IMAGING_DETECTORS`]
/// (section E.6).
pub fn full_disk_detectors() -> &'static [u8] {
    &DEFAULT_IMAGING_DETECTORS[..12]
}

/// What a subcollimator is used for (section C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// One of the 30 imaging subcollimators `1a..10c`.
    Imaging,
    /// The coarse flare locator, det 9.
    Cfl,
    /// The background detector, det 10.
    Bkg,
}

/// One detector/subcollimator pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Subcollimator {
    /// Detector number, 1-based (1–32).
    pub det: u8,
    /// Label such as `10a`, `cfl`, `bkg`.
    pub label: String,
    /// Role.
    pub role: Role,
    /// Resolution class 1 (finest) … 10 (coarsest); 0 for CFL and BKG.
    pub resolution_group: u8,
    /// Phase sense ±1 (0 for CFL/BKG).
    pub phase_sense: f64,
    /// Front grid pitch, mm.
    pub front_pitch_mm: f64,
    /// Front grid orientation, degrees.
    pub front_orient_deg: f64,
    /// Rear grid pitch, mm.
    pub rear_pitch_mm: f64,
    /// Rear grid orientation, degrees.
    pub rear_orient_deg: f64,
    /// Spatial frequency u, arcsec⁻¹ (0 for CFL/BKG).
    pub u_arcsec_inv: f64,
    /// Spatial frequency v, arcsec⁻¹ (0 for CFL/BKG).
    pub v_arcsec_inv: f64,
    /// Grid phase correction (GridCorrection.csv), degrees.
    pub grid_phase_corr_deg: f64,
    /// Empirical phase correction (PhaseCorrFactors.csv), degrees.
    pub adhoc_phase_corr_deg: f64,
    /// 0-based index of the trigger accumulator this detector shares.
    pub trigger_accumulator: usize,
    /// Transmission fit at 10–15 keV: intercept.
    pub transmission_intercept: f64,
    /// Transmission fit at 10–15 keV: slope per degree of off-axis angle.
    pub transmission_slope_per_deg: f64,
}

impl Subcollimator {
    /// 0-based index (det − 1).
    pub fn index0(&self) -> usize {
        self.det as usize - 1
    }

    /// True for the 30 imaging subcollimators.
    pub fn is_imaging(&self) -> bool {
        self.role == Role::Imaging
    }

    /// True for the default 10→3 imaging set.
    pub fn in_default_set(&self) -> bool {
        DEFAULT_IMAGING_DETECTORS.contains(&self.det)
    }

    /// Angular resolution 1/(2|k|) in arcsec (infinite for CFL/BKG).
    pub fn half_period_arcsec(&self) -> f64 {
        0.5 / self.u_arcsec_inv.hypot(self.v_arcsec_inv)
    }

    /// Grid transmission T = intercept + slope·θ (θ in degrees) of the 2026 calibration.
    pub fn transmission(&self, theta_deg: f64) -> f64 {
        self.transmission_intercept + self.transmission_slope_per_deg * theta_deg
    }
}

/// (u, v) of section C from the nominal grid table.
fn uv_of(sense: f64, pf: f64, of_deg: f64, pr: f64, or_deg: f64) -> (f64, f64) {
    if pf <= 0.0 || pr <= 0.0 {
        return (0.0, 0.0);
    }
    let f = (GRID_SEPARATION_MM + REAR_GRID_TO_DETECTOR_MM) / pf / ARCSEC_PER_RADIAN;
    let r = REAR_GRID_TO_DETECTOR_MM / pr / ARCSEC_PER_RADIAN;
    let (sf, cf) = of_deg.to_radians().sin_cos();
    let (sr, cr) = or_deg.to_radians().sin_cos();
    (-sense * (cf * f - cr * r), -sense * (sf * f - sr * r))
}

fn parse_subcollimators(text: &str) -> Result<Vec<Subcollimator>, String> {
    let mut records = crate::csv_table::records(text);
    let header: Vec<String> = records
        .next()
        .ok_or("empty table")?
        .map_err(|e| e.to_string())?
        .1;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no column {name}"))
    };
    let c_det = col("det")?;
    let c_label = col("label")?;
    let c_role = col("role")?;
    let c_res = col("resolution_group")?;
    let c_sense = col("phase_sense")?;
    let c_pf = col("front_pitch_mm")?;
    let c_of = col("front_orient_deg")?;
    let c_pr = col("rear_pitch_mm")?;
    let c_or = col("rear_orient_deg")?;
    let c_acc = col("trigger_accumulator_index0")?;
    let c_grid = col("grid_phase_corr_deg")?;
    let c_adhoc = col("adhoc_phase_corr_deg")?;
    let c_ti = col("transm_10_15keV_intercept")?;
    let c_ts = col("transm_10_15keV_slope_per_deg")?;
    let mut out = Vec::with_capacity(N_DETECTORS);
    for rec in records {
        let (line, f) = rec.map_err(|e| e.to_string())?;
        let num = |i: usize| -> Result<f64, String> {
            f.get(i)
                .ok_or(format!("short row on line {line}"))?
                .parse::<f64>()
                .map_err(|e| format!("{e} on line {line}"))
        };
        let role = match f.get(c_role).map(String::as_str) {
            Some("imaging") => Role::Imaging,
            Some("cfl") => Role::Cfl,
            Some("bkg") => Role::Bkg,
            other => return Err(format!("unknown role {other:?}")),
        };
        let sense = num(c_sense)?;
        let (pf, of, pr, or) = (num(c_pf)?, num(c_of)?, num(c_pr)?, num(c_or)?);
        let (u, v) = if role == Role::Imaging {
            uv_of(sense, pf, of, pr, or)
        } else {
            (0.0, 0.0)
        };
        out.push(Subcollimator {
            det: num(c_det)? as u8,
            label: f.get(c_label).ok_or("no label")?.to_string(),
            role,
            resolution_group: f
                .get(c_res)
                .and_then(|s| s.trim().parse::<u8>().ok())
                .unwrap_or(0),
            phase_sense: sense,
            front_pitch_mm: pf,
            front_orient_deg: of,
            rear_pitch_mm: pr,
            rear_orient_deg: or,
            u_arcsec_inv: u,
            v_arcsec_inv: v,
            grid_phase_corr_deg: num(c_grid)?,
            adhoc_phase_corr_deg: num(c_adhoc)?,
            trigger_accumulator: num(c_acc)? as usize,
            transmission_intercept: num(c_ti)?,
            transmission_slope_per_deg: num(c_ts)?,
        });
    }
    if out.len() != N_DETECTORS || out.iter().enumerate().any(|(i, s)| s.det as usize != i + 1) {
        return Err("the table must list detectors 1..32 in order".into());
    }
    if out.iter().any(|s| s.trigger_accumulator >= N_TRIGGERS) {
        return Err("trigger accumulator index out of range".into());
    }
    Ok(out)
}

static SUBCOLLIMATORS: LazyLock<Vec<Subcollimator>> = LazyLock::new(|| {
    // The table is part of the source tree and checked by the tests below; a failure here is a
    // build defect, not an input error.
    parse_subcollimators(include_str!("../../data/stix/subcollimators.csv"))
        .unwrap_or_else(|e| panic!("embedded subcollimators.csv is invalid: {e}"))
});

/// All 32 subcollimators, index = det − 1.
pub fn subcollimators() -> &'static [Subcollimator] {
    &SUBCOLLIMATORS
}

/// The subcollimator of a 1-based detector number.
pub fn by_det(det: u8) -> Option<&'static Subcollimator> {
    det.checked_sub(1)
        .and_then(|i| SUBCOLLIMATORS.get(i as usize))
}

/// The subcollimator with a label such as `10a`.
pub fn by_label(label: &str) -> Option<&'static Subcollimator> {
    SUBCOLLIMATORS.iter().find(|s| s.label == label)
}

/// The 30 imaging subcollimators in the default order 10→3 first, then 2→1 (ascending det).
pub fn imaging_order() -> Vec<&'static Subcollimator> {
    let mut v: Vec<&Subcollimator> = DEFAULT_IMAGING_DETECTORS
        .iter()
        .filter_map(|&d| by_det(d))
        .collect();
    v.extend(
        SUBCOLLIMATORS
            .iter()
            .filter(|s| s.is_imaging() && !s.in_default_set()),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `uv_points.csv` was computed independently from the same grid table.
    #[test]
    fn uv_matches_shipped_uv_points() {
        let text = include_str!("../../data/stix/uv_points.csv");
        let mut n = 0;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let det: u8 = f[0].parse().unwrap();
            let s = by_det(det).unwrap();
            assert_eq!(s.label, f[1]);
            let u: f64 = f[2].parse().unwrap();
            let v: f64 = f[3].parse().unwrap();
            assert!(
                (s.u_arcsec_inv - u).abs() < 1e-9 * u.abs().max(1e-3),
                "{det}"
            );
            assert!(
                (s.v_arcsec_inv - v).abs() < 1e-9 * v.abs().max(1e-3),
                "{det}"
            );
            let hp: f64 = f[5].parse().unwrap();
            assert!((s.half_period_arcsec() - hp).abs() < 1e-3);
            n += 1;
        }
        assert_eq!(n, 30);
    }

    #[test]
    fn roles_sets_and_labels() {
        assert_eq!(subcollimators().len(), 32);
        assert_eq!(by_det(9).unwrap().role, Role::Cfl);
        assert_eq!(by_det(10).unwrap().role, Role::Bkg);
        assert_eq!(
            subcollimators().iter().filter(|s| s.is_imaging()).count(),
            30
        );
        let labels: Vec<&str> = DEFAULT_IMAGING_DETECTORS
            .iter()
            .map(|&d| by_det(d).unwrap().label.as_str())
            .collect();
        assert_eq!(
            labels.join(","),
            "10a,10b,10c,9a,9b,9c,8a,8b,8c,7a,7b,7c,6a,6b,6c,5a,5b,5c,4a,4b,4c,3a,3b,3c"
        );
        assert_eq!(full_disk_detectors().len(), 12);
        assert_eq!(by_label("7c").unwrap().det, 28);
        assert_eq!(imaging_order().len(), 30);
        // 10a: (u, v) = (+2.580e−3, −1.388e−3) per section C.
        let s = by_label("10a").unwrap();
        assert!(
            (s.u_arcsec_inv - 2.580e-3).abs() < 1e-6 && (s.v_arcsec_inv + 1.388e-3).abs() < 1e-6
        );
        assert_eq!(by_det(0), None);
        assert_eq!(by_det(33), None);
    }
}
