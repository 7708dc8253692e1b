//! Full-disk back-projection flare location (`shared/docs/stix-imaging.md` E.6; GSW
//! `stx_estimate_flare_location.pro`).
//!
//! 1. Natural BP of the 10→7 visibilities (6–10 keV in the caller), phase centre at Sun centre
//!    (HPC (0, 0) in the STIX frame), 512² pixels of 2.6·RSUN/512 (≈7.5–8″).
//! 2. Its peak is the coarse location; the sidelobe ratio is the largest value farther than
//!    200″ from the peak over the peak (a warning at ≥ 0.9).
//! 3. **Refinement (ours, instead of the GSW single-circle PSO fit):** the visibilities of the
//!    default 10→3 set are re-phased to the coarse peak and back-projected (natural weighting)
//!    on a 0.5″ grid over ±12″; the peak of that map, refined to sub-pixel precision with a
//!    3-point parabola on each axis, is the location. The finer grids resolve the position to
//!    about an arcsecond where the 512² map only resolves one 7.8″ pixel.

use crate::aspect::AspectSolution;
use crate::calibration::CalibratedRates;
use crate::imaging::ImageGrid;
use crate::imaging::bp::{Weighting, back_project};
use crate::instrument::full_disk_detectors;
use serde::Serialize;

/// Full-disk map size (E.6).
pub const FULL_DISK_N: usize = 512;
/// Full-disk field of view in solar radii (E.6: pixel = 2.6·RSUN/512).
pub const FULL_DISK_FOV_RSUN: f64 = 2.6;
/// Sidelobe warning ratio (E.6).
pub const SIDELOBE_WARNING_RATIO: f64 = 0.9;
/// Sidelobes are looked for beyond this distance from the peak, arcsec (E.6).
pub const SIDELOBE_EXCLUSION_ARCSEC: f64 = 200.0;
/// Half-width of the refinement map, arcsec.
pub const REFINE_HALF_WIDTH_ARCSEC: f64 = 12.0;
/// Pixel of the refinement map, arcsec.
pub const REFINE_PIXEL_ARCSEC: f64 = 0.5;

/// A flare location with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlareLocation {
    /// Refined location in the STIX frame, arcsec.
    pub stix_arcsec: [f64; 2],
    /// Refined location in HPC as seen from Solar Orbiter, arcsec.
    pub hpc_arcsec: [f64; 2],
    /// Peak of the full-disk map (pixel centre), STIX frame, arcsec.
    pub coarse_stix_arcsec: [f64; 2],
    /// Peak of the full-disk map, HPC, arcsec.
    pub coarse_hpc_arcsec: [f64; 2],
    /// Full-disk pixel size, arcsec.
    pub full_disk_pixel_arcsec: f64,
    /// Largest value beyond 200″ of the peak divided by the peak.
    pub sidelobe_ratio: f64,
    /// True when the sidelobe ratio is ≥ 0.9: the location may be a sidelobe.
    pub sidelobe_warning: bool,
    /// How the coarse peak was refined.
    pub refinement: String,
}

/// Why a location could not be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    /// The back-projection has no positive peak (no flare signal).
    #[error("the full-disk back-projection has no positive peak: no flare signal in {what}")]
    NoSignal {
        /// Interval and band.
        what: String,
    },
    /// The solar radius is unknown or nonsense.
    #[error("the apparent solar radius {0} arcsec is not usable")]
    BadRadius(f64),
}

/// Locates the flare from rates of the location band and interval (E.6), with the phase centre
/// at Sun centre for the attitude of `aspect`.
pub fn locate_flare(
    rates: &CalibratedRates,
    aspect: &AspectSolution,
    rsun_arcsec: f64,
    what: &str,
) -> Result<FlareLocation, LocationError> {
    if !(rsun_arcsec.is_finite() && rsun_arcsec > 100.0) {
        return Err(LocationError::BadRadius(rsun_arcsec));
    }
    let att = aspect.attitude();
    let sun = att.hpc_to_stix([0.0, 0.0]);
    let dets = full_disk_detectors();
    let vis: Vec<_> = rates
        .visibilities(sun)
        .into_iter()
        .filter(|v| dets.contains(&v.isc))
        .collect();
    let grid = ImageGrid {
        n: FULL_DISK_N,
        pixel_arcsec: FULL_DISK_FOV_RSUN * rsun_arcsec / FULL_DISK_N as f64,
    };
    let map = back_project(&vis, &grid, Weighting::Natural);
    let ((iy, ix), peak) = argmax(&map);
    if !(peak.is_finite() && peak > 0.0) {
        return Err(LocationError::NoSignal {
            what: what.to_string(),
        });
    }
    let (px, py) = (grid.offset_arcsec(ix), grid.offset_arcsec(iy));
    let r2 = SIDELOBE_EXCLUSION_ARCSEC * SIDELOBE_EXCLUSION_ARCSEC;
    let mut side = f64::NEG_INFINITY;
    for ((jy, jx), &v) in map.indexed_iter() {
        let dx = grid.offset_arcsec(jx) - px;
        let dy = grid.offset_arcsec(jy) - py;
        if dx * dx + dy * dy > r2 && v > side {
            side = v;
        }
    }
    let sidelobe_ratio = side / peak;
    let coarse = [sun[0] + px, sun[1] + py];

    // Refinement with the 10→3 set around the coarse peak.
    let fine_vis: Vec<_> = rates
        .visibilities(coarse)
        .into_iter()
        .filter(|v| v.used)
        .collect();
    let n = 2 * (REFINE_HALF_WIDTH_ARCSEC / REFINE_PIXEL_ARCSEC).round() as usize + 1;
    let fine = ImageGrid {
        n,
        pixel_arcsec: REFINE_PIXEL_ARCSEC,
    };
    let fmap = back_project(&fine_vis, &fine, Weighting::Natural);
    let ((fy, fx), _) = argmax(&fmap);
    let sub = |a: f64, b: f64, c: f64| {
        let den = a - 2.0 * b + c;
        if den < 0.0 {
            (0.5 * (a - c) / den).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let dx = if fx > 0 && fx + 1 < n {
        sub(fmap[[fy, fx - 1]], fmap[[fy, fx]], fmap[[fy, fx + 1]])
    } else {
        0.0
    };
    let dy = if fy > 0 && fy + 1 < n {
        sub(fmap[[fy - 1, fx]], fmap[[fy, fx]], fmap[[fy + 1, fx]])
    } else {
        0.0
    };
    let stix = [
        coarse[0] + fine.offset_arcsec(fx) + dx * fine.pixel_arcsec,
        coarse[1] + fine.offset_arcsec(fy) + dy * fine.pixel_arcsec,
    ];
    Ok(FlareLocation {
        stix_arcsec: stix,
        hpc_arcsec: att.stix_to_hpc(stix),
        coarse_stix_arcsec: coarse,
        coarse_hpc_arcsec: att.stix_to_hpc(coarse),
        full_disk_pixel_arcsec: grid.pixel_arcsec,
        sidelobe_ratio,
        sidelobe_warning: sidelobe_ratio >= SIDELOBE_WARNING_RATIO,
        refinement: format!(
            "natural BP of 10→3 re-phased to the full-disk peak, {REFINE_PIXEL_ARCSEC}″ pixels over ±{REFINE_HALF_WIDTH_ARCSEC}″, parabolic sub-pixel peak"
        ),
    })
}

fn argmax(map: &ndarray::Array2<f64>) -> ((usize, usize), f64) {
    let mut best = ((0, 0), f64::NEG_INFINITY);
    for (idx, &v) in map.indexed_iter() {
        if v > best.1 {
            best = (idx, v);
        }
    }
    best
}
