//! Helioprojective (HPC, as seen from Solar Orbiter) ⇄ STIX imaging frame
//! (`shared/docs/stix-imaging.md` section F, verified numerically there).
//!
//! ```text
//! HPC→RTN :  x_r =  cos r·x + sin r·y ,   y_r = −sin r·x + cos r·y
//! RTN→SOLO:  x_o = x_r − P_x ,  y_o = y_r − P_y
//! SOLO→STIX: x_s = y_o ,        y_s = −x_o
//! ```
//! with r the roll angle and P the STIX pointing. All angles on the sky are in arcsec.

use serde::{Deserialize, Serialize};

/// The attitude needed to go between HPC and the STIX frame at one time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Attitude {
    /// Spacecraft roll angle in degrees (aspect file `roll_angle_rpy[0]`).
    pub roll_deg: f64,
    /// STIX pointing `(P_x, P_y)` in arcsec (SAS or spacecraft fallback, section F).
    pub pointing_arcsec: [f64; 2],
}

impl Attitude {
    /// Converts an HPC position (arcsec, seen from Solar Orbiter) to the STIX frame (arcsec).
    pub fn hpc_to_stix(&self, hpc_arcsec: [f64; 2]) -> [f64; 2] {
        let (s, c) = self.roll_deg.to_radians().sin_cos();
        let [x, y] = hpc_arcsec;
        let xr = c * x + s * y;
        let yr = -s * x + c * y;
        let xo = xr - self.pointing_arcsec[0];
        let yo = yr - self.pointing_arcsec[1];
        [yo, -xo]
    }

    /// Converts a STIX-frame position (arcsec) to HPC as seen from Solar Orbiter (arcsec).
    pub fn stix_to_hpc(&self, stix_arcsec: [f64; 2]) -> [f64; 2] {
        let (s, c) = self.roll_deg.to_radians().sin_cos();
        let [xs, ys] = stix_arcsec;
        let xo = -ys;
        let yo = xs;
        let xr = xo + self.pointing_arcsec[0];
        let yr = yo + self.pointing_arcsec[1];
        [c * xr - s * yr, s * xr + c * yr]
    }

    /// Angle θ = 90° + roll that turns a STIX-frame offset into an HPC offset:
    /// `Δhpc = R(θ)·Δstx`. It is the FITS `PC`/`CROTA2` angle of a native-orientation map.
    pub fn rotation_angle_deg(&self) -> f64 {
        90.0 + self.roll_deg
    }

    /// Turns an offset in the STIX frame into an offset in HPC (both arcsec).
    pub fn stix_offset_to_hpc(&self, d_stix_arcsec: [f64; 2]) -> [f64; 2] {
        rotate(d_stix_arcsec, self.rotation_angle_deg())
    }

    /// Turns an offset in HPC into an offset in the STIX frame (both arcsec).
    pub fn hpc_offset_to_stix(&self, d_hpc_arcsec: [f64; 2]) -> [f64; 2] {
        rotate(d_hpc_arcsec, -self.rotation_angle_deg())
    }
}

/// Rotates a 2-vector counter-clockwise by `angle_deg`: `R(θ)·v`.
pub fn rotate(v: [f64; 2], angle_deg: f64) -> [f64; 2] {
    let (s, c) = angle_deg.to_radians().sin_cos();
    [c * v[0] - s * v[1], s * v[0] + c * v[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers of the 2022-11-11 M1.2 flare from `reference/visibilities_20221111_M1.2.json`
    /// (computed independently): roll −1.459°, SAS pointing (−5.328, 92.963)″,
    /// map centre STIX (75.292, −823.120)″ ⇔ HPC (821.811, 147.378)″.
    #[test]
    fn matches_reference_chain() {
        let att = Attitude {
            roll_deg: -1.459025263786316,
            pointing_arcsec: [-5.328178405761719, 92.96320343017578],
        };
        let hpc = att.stix_to_hpc([75.2917910115992, -823.1204771145659]);
        assert!((hpc[0] - 821.8112778188129).abs() < 1e-6, "{hpc:?}");
        assert!((hpc[1] - 147.3777820156134).abs() < 1e-6, "{hpc:?}");
        let back = att.hpc_to_stix(hpc);
        assert!((back[0] - 75.2917910115992).abs() < 1e-9);
        assert!((back[1] + 823.1204771145659).abs() < 1e-9);
    }

    #[test]
    fn offsets_agree_with_positions() {
        let att = Attitude {
            roll_deg: 12.0,
            pointing_arcsec: [30.0, -40.0],
        };
        let a = [100.0, 200.0];
        let d = [7.0, -3.0];
        let ha = att.stix_to_hpc(a);
        let hb = att.stix_to_hpc([a[0] + d[0], a[1] + d[1]]);
        let dh = att.stix_offset_to_hpc(d);
        assert!((hb[0] - ha[0] - dh[0]).abs() < 1e-9 && (hb[1] - ha[1] - dh[1]).abs() < 1e-9);
        let back = att.hpc_offset_to_stix(dh);
        assert!((back[0] - d[0]).abs() < 1e-12 && (back[1] - d[1]).abs() < 1e-12);
    }
}
