//! FITS map writer: the reconstructed image in its native STIX orientation, unresampled, with
//! the header of `shared/docs/stix-imaging.md` section F so that plain `sunpy.map.Map` places
//! it on the sky (HPLN-TAN/HPLT-TAN, `CRVAL` = HPC of the map centre, `PC` = R(90° + roll)),
//! plus the provenance keys of the GSW/DC writers.
//!
//! Layout of the file:
//! - primary HDU: the map as **f64** (`BITPIX = -64`), `data[[iy, ix]]` with FITS axis 1 = x = ix;
//! - CLEAN only: `CLEAN_COMPONENTS` (binary table) and `RESIDUAL` (binary table, one row, one
//!   `(n,n)` f64 array column on the primary's grid; a table, so `sunpy.map.Map(path)` returns
//!   exactly one map);
//! - VIS_FWDFIT only: `FWDFIT_SOURCES` (binary table).
//!
//! `CRLN_OBS`/`CRLT_OBS` are deliberately not written (section F: wrong in L1, and conflicting
//! observer keys make sunpy warn).

use super::{OutputError, Provenance, write_atomically};
use crate::coords::Attitude;
use crate::imaging::{Algorithm, Reconstruction};
use crate::time_range::format_utc;
use crate::visfile::VisMeta;
use fitsio::FitsFile;
use fitsio::hdu::FitsHdu;
use fitsio::images::{ImageDescription, ImageType};
use fitsio::tables::{ColumnDataType, ColumnDescription};
use std::ffi::CString;
use std::os::raw::c_int;
use std::path::Path;

/// Reference solar radius in metres (`RSUN_REF`, section F; IAU 2015 nominal value).
pub const RSUN_REF_M: f64 = 695_700_000.0;

/// Longest string value cfitsio writes on one card; longer ones use the CONTINUE convention.
const MAX_SHORT_STRING: usize = 68;
/// Longest text of one HISTORY/COMMENT card.
const MAX_HISTORY: usize = 70;

/// Keys this writer sets itself; [`Provenance::extra`] may not use them.
const RESERVED_KEYS: &[&str] = &[
    "SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "EXTNAME", "CTYPE1", "CTYPE2",
    "CUNIT1", "CUNIT2", "CDELT1", "CDELT2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "PC1_1",
    "PC1_2", "PC2_1", "PC2_2", "CROTA2", "CRLN_OBS", "CRLT_OBS", "DATE-OBS", "DATE-BEG",
    "DATE-AVG", "DATE-END", "TIMESYS", "DSUN_OBS", "HGLN_OBS", "HGLT_OBS", "RSUN_REF", "RSUN_OBS",
    "RSUN_ARC", "OBSRVTRY", "TELESCOP", "INSTRUME", "BUNIT", "EXPTIME", "XPOSURE", "ENERGY_L",
    "ENERGY_H", "ALG_USED", "ALG_NAME", "ALG_PARS", "FLNM_SCI", "FLNM_BKG", "FLNM_AUX", "STX_X",
    "STX_Y", "PNT_SRC", "ROLL_ANG", "STXCEN_X", "STXCEN_Y", "CNTS_TOT", "CNTS_BKG", "CAL_VERS",
    "SW_VERS", "CREATOR", "DATE_CRE", "PRV_POL", "CLN_BEAM", "CLN_NCMP", "FWD_CHI2", "FWD_NSRC",
    "HISTORY", "COMMENT", "ELUT", "QUALITY", "QUAL_WHY",
];

/// Writes `rec` as a FITS map at `path` (atomically), see the module documentation.
///
/// The WCS comes from `meta.map_wcs` (roll, pointing, observer) and `rec.map` (grid and map
/// centre in the STIX frame); times from `meta.time_range`. Errors name the file and the cause;
/// nothing is left under `path` on failure.
pub fn write_map_fits(
    path: &Path,
    rec: &Reconstruction,
    meta: &VisMeta,
    provenance: &Provenance,
) -> Result<(), OutputError> {
    let plan = FitsPlan::new(path, rec, meta, provenance)?;
    write_atomically(path, |tmp| {
        let fits = |source| OutputError::Fits {
            path: path.display().to_string(),
            source,
        };
        let dims = [plan.n, plan.n];
        let desc = ImageDescription {
            data_type: ImageType::Double,
            dimensions: &dims,
        };
        let mut f = FitsFile::create(tmp)
            .with_custom_primary(&desc)
            .overwrite()
            .open()
            .map_err(fits)?;
        plan.write(&mut f).map_err(fits)
    })
}

/// The geometry keys of a map written by [`write_map_fits`], read back (what a reproduction
/// script needs besides the database row).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MapKeys {
    /// `DATE-BEG`, `DATE-END`: the actual interval, UTC.
    pub date_beg: String,
    /// See `date_beg`.
    pub date_end: String,
    /// `STXCEN_X`, `STXCEN_Y`: map centre in the STIX frame, arcsec.
    pub center_stix_arcsec: [f64; 2],
    /// `CRVAL1`, `CRVAL2`: map centre, HPC arcsec.
    pub center_hpc_arcsec: [f64; 2],
    /// `HGLN_OBS`, `HGLT_OBS` (deg) and `DSUN_OBS` (m): the observer.
    pub observer_lon_lat_deg: [f64; 2],
    /// `DSUN_OBS`, m.
    pub observer_distance_m: f64,
    /// `ROLL_ANG`, deg.
    pub roll_deg: f64,
    /// `STX_X`, `STX_Y`: pointing used, arcsec.
    pub pointing_arcsec: [f64; 2],
    /// `CDELT1`: pixel size, arcsec.
    pub pixel_arcsec: f64,
    /// `NAXIS1`: image side, pixels.
    pub size_px: usize,
    /// `FLNM_AUX`: the aspect file (`none` when none was used).
    pub aux_file: String,
    /// `ELUT`: the ELUT table applied to the edge groups; `None` when the key says `none` or
    /// is absent (maps written before the correction existed).
    pub elut_file: Option<String>,
}

/// Reads the [`MapKeys`] of the map at `path`.
pub fn read_map_keys(path: &Path) -> Result<MapKeys, OutputError> {
    let err = |source| OutputError::Fits {
        path: path.display().to_string(),
        source,
    };
    let mut f = FitsFile::open(path).map_err(err)?;
    let hdu = f.primary_hdu().map_err(err)?;
    let mut num = |k: &str| hdu.read_key::<f64>(&mut f, k).map_err(err);
    let keys = [
        "STXCEN_X", "STXCEN_Y", "CRVAL1", "CRVAL2", "HGLN_OBS", "HGLT_OBS", "DSUN_OBS", "ROLL_ANG",
        "STX_X", "STX_Y", "CDELT1", "NAXIS1",
    ];
    let mut v = [0.0; 12];
    for (slot, k) in v.iter_mut().zip(keys) {
        *slot = num(k)?;
    }
    let mut text = |k: &str| {
        hdu.read_key::<String>(&mut f, k)
            .map(|s| s.trim_end_matches('&').trim().to_string())
            .map_err(err)
    };
    let elut_file = text("ELUT")
        .ok()
        .filter(|name| !name.is_empty() && name != "none");
    Ok(MapKeys {
        elut_file,
        date_beg: text("DATE-BEG")?,
        date_end: text("DATE-END")?,
        aux_file: text("FLNM_AUX")?,
        center_stix_arcsec: [v[0], v[1]],
        center_hpc_arcsec: [v[2], v[3]],
        observer_lon_lat_deg: [v[4], v[5]],
        observer_distance_m: v[6],
        roll_deg: v[7],
        pointing_arcsec: [v[8], v[9]],
        pixel_arcsec: v[10],
        size_px: v[11] as usize,
    })
}

/// Everything checked and computed before the file is touched.
struct FitsPlan<'a> {
    rec: &'a Reconstruction,
    meta: &'a VisMeta,
    provenance: &'a Provenance,
    attitude: Attitude,
    n: usize,
    center_hpc_arcsec: [f64; 2],
    date_beg: String,
    date_avg: String,
    date_end: String,
    duration_seconds: f64,
}

impl<'a> FitsPlan<'a> {
    fn new(
        path: &Path,
        rec: &'a Reconstruction,
        meta: &'a VisMeta,
        provenance: &'a Provenance,
    ) -> Result<Self, OutputError> {
        let invalid = |reason: String| OutputError::Invalid {
            path: path.display().to_string(),
            reason,
        };
        let grid = rec.map.grid;
        let (ny, nx) = rec.map.data.dim();
        if grid.n == 0 || ny != grid.n || nx != grid.n {
            return Err(invalid(format!(
                "map data is {ny}×{nx} but its grid says {n}×{n} (n must be > 0)",
                n = grid.n
            )));
        }
        if !(grid.pixel_arcsec.is_finite() && grid.pixel_arcsec > 0.0) {
            return Err(invalid(format!(
                "pixel size {} arcsec is not a positive finite number",
                grid.pixel_arcsec
            )));
        }
        let wcs = &meta.map_wcs;
        let attitude = wcs.attitude();
        let geometry = [
            attitude.roll_deg,
            attitude.pointing_arcsec[0],
            attitude.pointing_arcsec[1],
            rec.map.center_stix_arcsec[0],
            rec.map.center_stix_arcsec[1],
            wcs.observer_hgs.lon_deg,
            wcs.observer_hgs.lat_deg,
            wcs.observer_hgs.radius_m,
        ];
        if geometry.iter().any(|v| !v.is_finite()) || wcs.observer_hgs.radius_m <= 0.0 {
            return Err(invalid(format!(
                "non-finite roll/pointing/map centre/observer or non-positive DSUN_OBS: {geometry:?}"
            )));
        }
        let [e_lo, e_hi] = meta.energy_range_kev;
        if !(e_lo.is_finite() && e_hi.is_finite() && e_hi > e_lo) {
            return Err(invalid(format!(
                "energy band {e_lo}–{e_hi} keV is impossible"
            )));
        }
        if let Some(clean) = &rec.clean
            && clean.residual.dim() != (grid.n, grid.n)
        {
            return Err(invalid(format!(
                "CLEAN residual is {:?} but the map is {n}×{n}",
                clean.residual.dim(),
                n = grid.n
            )));
        }
        for (key, value) in &provenance.extra {
            check_extra_key(key).map_err(&invalid)?;
            if value.contains(|c: char| !(' '..='~').contains(&c)) {
                return Err(invalid(format!(
                    "value of extra key {key} must be printable ASCII (FITS): {value:?}"
                )));
            }
        }
        let time_range = meta
            .time_range()
            .map_err(|e| invalid(format!("bad time range: {e}")))?;
        Ok(Self {
            rec,
            meta,
            provenance,
            attitude,
            n: grid.n,
            center_hpc_arcsec: attitude.stix_to_hpc(rec.map.center_stix_arcsec),
            date_beg: format_utc(&time_range.start),
            date_avg: format_utc(&time_range.midpoint()),
            date_end: format_utc(&time_range.end),
            duration_seconds: time_range.duration_seconds(),
        })
    }

    /// HPC of a STIX-frame offset from the map centre.
    fn offset_to_hpc(&self, offset_arcsec: [f64; 2]) -> [f64; 2] {
        let c = self.rec.map.center_stix_arcsec;
        self.attitude
            .stix_to_hpc([c[0] + offset_arcsec[0], c[1] + offset_arcsec[1]])
    }

    fn write(&self, f: &mut FitsFile) -> fitsio::errors::Result<()> {
        let primary = f.primary_hdu()?;
        primary.write_image(f, &standard_layout(&self.rec.map.data))?;
        let mut h = Cards::new(f, primary)?;
        // fitsio names the primary HDU '_PRIMARY'; a primary needs no EXTNAME.
        h.delete("EXTNAME")?;
        self.write_wcs(&mut h)?;
        self.write_observation(&mut h)?;
        self.write_provenance(&mut h)?;

        if let Some(clean) = &self.rec.clean {
            self.write_clean_components(f, clean)?;
            self.write_residual(f, &clean.residual)?;
        }
        if let Some(fwd) = &self.rec.fwdfit {
            self.write_fwdfit_sources(f, &fwd.sources)?;
        }
        Ok(())
    }

    /// The WCS of section F: native STIX orientation, PC = R(θ), θ = 90° + roll.
    fn write_wcs(&self, h: &mut Cards<'_>) -> fitsio::errors::Result<()> {
        let d = self.rec.map.grid.pixel_arcsec;
        let crpix = (self.n as f64 + 1.0) / 2.0;
        let theta = self.attitude.rotation_angle_deg();
        let (s, c) = theta.to_radians().sin_cos();
        h.str("CTYPE1", "HPLN-TAN", "helioprojective longitude (solar X)")?;
        h.str("CTYPE2", "HPLT-TAN", "helioprojective latitude (solar Y)")?;
        h.str("CUNIT1", "arcsec", "")?;
        h.str("CUNIT2", "arcsec", "")?;
        h.f64("CDELT1", d, "pixel size along STIX x, arcsec")?;
        h.f64("CDELT2", d, "pixel size along STIX y, arcsec")?;
        h.f64("CRPIX1", crpix, "map centre pixel (1-based)")?;
        h.f64("CRPIX2", crpix, "map centre pixel (1-based)")?;
        h.f64(
            "CRVAL1",
            self.center_hpc_arcsec[0],
            "map centre, HPC x arcsec",
        )?;
        h.f64(
            "CRVAL2",
            self.center_hpc_arcsec[1],
            "map centre, HPC y arcsec",
        )?;
        h.f64("PC1_1", c, "R(90 deg + roll): STIX frame -> HPC")?;
        h.f64("PC1_2", -s, "")?;
        h.f64("PC2_1", s, "")?;
        h.f64("PC2_2", c, "")?;
        Ok(())
    }

    /// Time, observer, instrument and unit keys.
    fn write_observation(&self, h: &mut Cards<'_>) -> fitsio::errors::Result<()> {
        let wcs = &self.meta.map_wcs;
        h.str("TIMESYS", "UTC", "")?;
        h.str("DATE-OBS", &self.date_beg, "start, UTC at Solar Orbiter")?;
        h.str("DATE-BEG", &self.date_beg, "start, UTC at Solar Orbiter")?;
        h.str(
            "DATE-AVG",
            &self.date_avg,
            "mid-point, UTC at Solar Orbiter",
        )?;
        h.str("DATE-END", &self.date_end, "end, UTC at Solar Orbiter")?;
        h.f64("EXPTIME", self.duration_seconds, "[s] integration time")?;
        h.f64("XPOSURE", self.duration_seconds, "[s] integration time")?;
        h.f64(
            "DSUN_OBS",
            wcs.observer_hgs.radius_m,
            "[m] observer-Sun distance",
        )?;
        h.f64(
            "HGLN_OBS",
            wcs.observer_hgs.lon_deg,
            "[deg] Stonyhurst longitude",
        )?;
        h.f64(
            "HGLT_OBS",
            wcs.observer_hgs.lat_deg,
            "[deg] Stonyhurst latitude",
        )?;
        h.f64("RSUN_REF", RSUN_REF_M, "[m] reference solar radius")?;
        if let Some(r) = wcs.rsun_arcsec.filter(|r| r.is_finite() && *r > 0.0) {
            h.f64("RSUN_OBS", r, "[arcsec] apparent solar radius")?;
            h.f64("RSUN_ARC", r, "[arcsec] apparent solar radius")?;
        }
        h.str("OBSRVTRY", "Solar Orbiter", "")?;
        h.str("TELESCOP", "SOLO/STIX", "")?;
        h.str("INSTRUME", "STIX", "")?;
        h.str("BUNIT", &self.rec.map.unit, "")?;
        h.f64(
            "ENERGY_L",
            self.meta.energy_range_kev[0],
            "[keV] lower band edge",
        )?;
        h.f64(
            "ENERGY_H",
            self.meta.energy_range_kev[1],
            "[keV] upper band edge",
        )?;
        Ok(())
    }

    /// Provenance keys (section F, GSW/DC writers) and the algorithm parameters.
    fn write_provenance(&self, h: &mut Cards<'_>) -> fitsio::errors::Result<()> {
        let rec = self.rec;
        let meta = self.meta;
        let wcs = &meta.map_wcs;
        let p = self.provenance;
        h.str("ALG_USED", rec.algorithm.fits_name(), "imaging algorithm")?;
        h.str(
            "ALG_NAME",
            rec.algorithm.name(),
            "stix-archive algorithm name",
        )?;
        let pars = serde_json::to_string(&rec.parameters).unwrap_or_default();
        h.str("ALG_PARS", &pars, "algorithm parameters (JSON)")?;
        h.str(
            "FLNM_SCI",
            meta.science_file.as_deref().unwrap_or("unknown"),
            "science (pixel data) file",
        )?;
        h.str(
            "FLNM_BKG",
            meta.background_file.as_deref().unwrap_or("none"),
            "background file ('none': not subtracted)",
        )?;
        h.str(
            "FLNM_AUX",
            meta.aux_file.as_deref().unwrap_or("none"),
            "aspect/ephemeris file",
        )?;
        h.f64(
            "STX_X",
            wcs.stix_pointing_arcsec[0],
            "[arcsec] STIX pointing x used",
        )?;
        h.f64(
            "STX_Y",
            wcs.stix_pointing_arcsec[1],
            "[arcsec] STIX pointing y used",
        )?;
        h.str("PNT_SRC", &wcs.pointing_source, "source of the pointing")?;
        h.f64(
            "ROLL_ANG",
            wcs.roll_angle_deg,
            "[deg] spacecraft roll angle",
        )?;
        let c = rec.map.center_stix_arcsec;
        h.f64("STXCEN_X", c[0], "[arcsec] map centre, STIX frame x")?;
        h.f64("STXCEN_Y", c[1], "[arcsec] map centre, STIX frame y")?;
        h.f64(
            "CNTS_TOT",
            meta.total_counts,
            "counts before background subtraction",
        )?;
        h.f64(
            "CNTS_BKG",
            meta.background_counts,
            "background counts subtracted",
        )?;
        h.str(
            "CAL_VERS",
            &meta.calibration_version,
            "calibration recipe/version",
        )?;
        h.str(
            "ELUT",
            meta.elut_file.as_deref().unwrap_or("none"),
            "ELUT edge correction table ('none': not applied)",
        )?;
        if let Some(q) = &p.quality {
            h.str(
                "QUALITY",
                q.grade.as_str(),
                "image quality grade GOOD/FAIR/POOR",
            )?;
            h.str(
                "QUAL_WHY",
                &q.reasons_text(),
                "why not GOOD ('ok': no reason)",
            )?;
        }
        h.str("SW_VERS", &p.software_version, "software version")?;
        h.str("CREATOR", &p.software_version, "")?;
        h.str(
            "DATE_CRE",
            &format_utc(&p.created),
            "file creation time, UTC",
        )?;
        if let Some(policy) = &p.policy_id {
            h.str("PRV_POL", policy, "preview selection policy / box id")?;
        }
        match rec.algorithm {
            Algorithm::Clean => {
                if let Some(clean) = &rec.clean {
                    h.f64(
                        "CLN_BEAM",
                        clean.beam_fwhm_arcsec,
                        "[arcsec] clean beam FWHM",
                    )?;
                    h.int("CLN_NCMP", clean.components.len(), "CLEAN components")?;
                }
            }
            Algorithm::Fwdfit => {
                if let Some(fwd) = &rec.fwdfit {
                    h.f64("FWD_CHI2", fwd.chi2_reduced, "reduced chi2 of the best fit")?;
                    h.int("FWD_NSRC", fwd.sources.len(), "fitted sources")?;
                }
            }
            _ => {}
        }
        for (key, value) in &p.extra {
            h.str(key, value, "")?;
        }
        let diag = serde_json::to_string(&rec.diagnostics).unwrap_or_default();
        h.history(&format!("diagnostics: {diag}"))?;
        h.comment("Image in the native STIX frame, unresampled.")?;
        h.comment("PC = R(90 deg + roll) turns STIX-frame offsets into HPC offsets.")?;
        Ok(())
    }

    fn write_clean_components(
        &self,
        f: &mut FitsFile,
        clean: &crate::imaging::CleanExtras,
    ) -> fitsio::errors::Result<()> {
        let names = ["X_STX", "Y_STX", "X_HPC", "Y_HPC", "FLUX"];
        let units = ["arcsec", "arcsec", "arcsec", "arcsec", &*self.flux_unit()];
        let mut descs = Vec::with_capacity(names.len());
        for name in names {
            descs.push(
                ColumnDescription::new(name)
                    .with_type(ColumnDataType::Double)
                    .create()?,
            );
        }
        let hdu = f.create_table("CLEAN_COMPONENTS", &descs)?;
        let comps = &clean.components;
        let hpc: Vec<[f64; 2]> = comps
            .iter()
            .map(|c| self.offset_to_hpc(c.offset_arcsec))
            .collect();
        let cols: [Vec<f64>; 5] = [
            comps.iter().map(|c| c.offset_arcsec[0]).collect(),
            comps.iter().map(|c| c.offset_arcsec[1]).collect(),
            hpc.iter().map(|p| p[0]).collect(),
            hpc.iter().map(|p| p[1]).collect(),
            comps.iter().map(|c| c.flux).collect(),
        ];
        if !comps.is_empty() {
            for (name, col) in names.iter().zip(&cols) {
                hdu.write_col(f, *name, col)?;
            }
        }
        let mut h = Cards::new(f, hdu)?;
        for (i, unit) in units.iter().enumerate() {
            h.str(&format!("TUNIT{}", i + 1), unit, "")?;
        }
        h.comment("X_STX/Y_STX: offset from the map centre, STIX frame; X_HPC/Y_HPC: HPC.")?;
        h.f64(
            "CLN_BEAM",
            clean.beam_fwhm_arcsec,
            "[arcsec] clean beam FWHM",
        )?;
        Ok(())
    }

    /// The CLEAN residual as a one-row binary table (column `RESIDUAL`, `TDIM = (n,n)`), so
    /// that plain `sunpy.map.Map(path)` returns exactly one map: sunpy turns every image HDU
    /// into a map but skips tables. astropy reads it back as
    /// `hdul["RESIDUAL"].data["RESIDUAL"][0]`, shape `(n, n)` like the primary image.
    fn write_residual(
        &self,
        f: &mut FitsFile,
        residual: &ndarray::Array2<f64>,
    ) -> fitsio::errors::Result<()> {
        let desc = ColumnDescription::new("RESIDUAL")
            .with_type(ColumnDataType::Double)
            .that_repeats(self.n * self.n)
            .create()?;
        let hdu = f.create_table("RESIDUAL", &[desc])?;
        hdu.write_col(f, "RESIDUAL", &standard_layout(residual))?;
        let mut h = Cards::new(f, hdu)?;
        h.str(
            "TDIM1",
            &format!("({n},{n})", n = self.n),
            "array shape (x, y)",
        )?;
        h.str("TUNIT1", &self.rec.map.unit, "")?;
        h.str("CONTENT", "CLEAN residual map", "")?;
        h.comment("One row; the array has the pixel grid and WCS of the primary image.")?;
        Ok(())
    }

    fn write_fwdfit_sources(
        &self,
        f: &mut FitsFile,
        sources: &[crate::imaging::FittedSource],
    ) -> fitsio::errors::Result<()> {
        let num_names = [
            "FLUX", "X_STX", "Y_STX", "X_HPC", "Y_HPC", "FWHM", "FWHM_MAJ", "FWHM_MIN", "PA_STX",
            "PA_HPC", "LOOP_ANG",
        ];
        let flux_unit = self.flux_unit();
        let units = [
            &*flux_unit,
            "arcsec",
            "arcsec",
            "arcsec",
            "arcsec",
            "arcsec",
            "arcsec",
            "arcsec",
            "deg",
            "deg",
            "deg",
        ];
        let mut descs = vec![
            ColumnDescription::new("SHAPE")
                .with_type(ColumnDataType::String)
                .that_repeats(16)
                .create()?,
        ];
        for name in num_names {
            descs.push(
                ColumnDescription::new(name)
                    .with_type(ColumnDataType::Double)
                    .create()?,
            );
        }
        let hdu = f.create_table("FWDFIT_SOURCES", &descs)?;
        if !sources.is_empty() {
            let theta = self.attitude.rotation_angle_deg();
            let shapes: Vec<String> = sources
                .iter()
                .map(|s| {
                    s.shape
                        .chars()
                        .filter(|c| c.is_ascii_graphic())
                        .take(16)
                        .collect()
                })
                .collect();
            hdu.write_col(f, "SHAPE", &shapes)?;
            let hpc: Vec<[f64; 2]> = sources
                .iter()
                .map(|s| self.offset_to_hpc(s.offset_arcsec))
                .collect();
            let nan = f64::NAN;
            let cols: [Vec<f64>; 11] = [
                sources.iter().map(|s| s.flux).collect(),
                sources.iter().map(|s| s.offset_arcsec[0]).collect(),
                sources.iter().map(|s| s.offset_arcsec[1]).collect(),
                hpc.iter().map(|p| p[0]).collect(),
                hpc.iter().map(|p| p[1]).collect(),
                sources.iter().map(|s| s.fwhm_arcsec).collect(),
                sources
                    .iter()
                    .map(|s| s.fwhm_major_minor_arcsec.map_or(nan, |m| m[0]))
                    .collect(),
                sources
                    .iter()
                    .map(|s| s.fwhm_major_minor_arcsec.map_or(nan, |m| m[1]))
                    .collect(),
                sources.iter().map(|s| s.angle_deg.unwrap_or(nan)).collect(),
                sources
                    .iter()
                    .map(|s| s.angle_deg.map_or(nan, |a| (a + theta).rem_euclid(180.0)))
                    .collect(),
                sources
                    .iter()
                    .map(|s| s.loop_angle_deg.unwrap_or(nan))
                    .collect(),
            ];
            for (name, col) in num_names.iter().zip(&cols) {
                hdu.write_col(f, *name, col)?;
            }
        }
        let mut h = Cards::new(f, hdu)?;
        for (i, unit) in units.iter().enumerate() {
            // Column 1 is SHAPE (no unit).
            h.str(&format!("TUNIT{}", i + 2), unit, "")?;
        }
        h.comment("X_STX/Y_STX: centre offset from the map centre, STIX frame; X_HPC/Y_HPC: HPC.")?;
        h.comment("PA_STX: major axis, ccw from STIX +x; PA_HPC = PA_STX + 90 + roll in [0,180).")?;
        Ok(())
    }

    /// Unit of a flux (the map unit without the trailing per-arcsec² factor).
    fn flux_unit(&self) -> String {
        let unit = self.rec.map.unit.trim();
        for suffix in [" arcsec-2", " arcsec^-2", "/arcsec2", " arcsec**-2"] {
            if let Some(stripped) = unit.strip_suffix(suffix) {
                return stripped.trim().to_string();
            }
        }
        unit.to_string()
    }
}

/// A C-order copy (or view) of the pixel data as a flat vector, row iy after row iy.
fn standard_layout(a: &ndarray::Array2<f64>) -> Vec<f64> {
    a.iter().copied().collect()
}

/// Checks a user-supplied FITS keyword.
fn check_extra_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 8
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(format!(
            "extra key {key:?} is not a FITS keyword (1–8 characters of A–Z, 0–9, '-', '_')"
        ));
    }
    if RESERVED_KEYS.contains(&key) || key.starts_with("TUNIT") || key.starts_with("TTYPE") {
        return Err(format!(
            "extra key {key} collides with a key the writer sets"
        ));
    }
    Ok(())
}

/// Header-card writer for one HDU: short values through the safe API, long strings
/// (CONTINUE convention), HISTORY and COMMENT through raw cfitsio.
struct Cards<'f> {
    f: &'f mut FitsFile,
    hdu: FitsHdu,
    long_strings_declared: bool,
}

impl<'f> Cards<'f> {
    fn new(f: &'f mut FitsFile, hdu: FitsHdu) -> fitsio::errors::Result<Self> {
        Ok(Self {
            f,
            hdu,
            long_strings_declared: false,
        })
    }

    fn f64(&mut self, key: &str, value: f64, comment: &str) -> fitsio::errors::Result<()> {
        self.hdu.write_key(self.f, key, (value, comment))
    }

    fn int(&mut self, key: &str, value: usize, comment: &str) -> fitsio::errors::Result<()> {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        self.hdu.write_key(self.f, key, (value, comment))
    }

    /// Removes a card if present.
    fn delete(&mut self, key: &str) -> fitsio::errors::Result<()> {
        self.raw(|fptr, status| {
            let k = CString::new(key)?;
            // SAFETY: fptr is the open file, the string lives across the call.
            unsafe {
                fitsio::sys::ffdkey(fptr, k.as_ptr(), status);
            }
            // KEY_NO_EXIST (202): nothing to delete.
            if *status == 202 {
                *status = 0;
            }
            Ok(())
        })
    }

    fn str(&mut self, key: &str, value: &str, comment: &str) -> fitsio::errors::Result<()> {
        let value = ascii(value);
        if value.len() <= MAX_SHORT_STRING {
            return self.hdu.write_key(self.f, key, (value.as_str(), comment));
        }
        self.raw(|fptr, status| {
            let (k, v, c) = (
                CString::new(key)?,
                CString::new(value)?,
                CString::new(comment)?,
            );
            // SAFETY: fptr is the open file, the strings live across the call.
            unsafe {
                fitsio::sys::ffpkls(fptr, k.as_ptr(), v.as_ptr(), c.as_ptr(), status);
            }
            Ok(())
        })?;
        if !self.long_strings_declared {
            self.long_strings_declared = true;
            self.raw(|fptr, status| {
                // SAFETY: fptr is the open file.
                unsafe {
                    fitsio::sys::ffplsw(fptr, status);
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn history(&mut self, text: &str) -> fitsio::errors::Result<()> {
        self.cards(text, true)
    }

    fn comment(&mut self, text: &str) -> fitsio::errors::Result<()> {
        self.cards(text, false)
    }

    /// HISTORY or COMMENT cards, the text split into pieces of at most 70 characters.
    fn cards(&mut self, text: &str, history: bool) -> fitsio::errors::Result<()> {
        let text = ascii(text);
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(MAX_HISTORY) {
            let piece: String = piece.iter().collect();
            self.raw(|fptr, status| {
                let c = CString::new(piece)?;
                // SAFETY: fptr is the open file, the string lives across the call.
                unsafe {
                    if history {
                        fitsio::sys::ffphis(fptr, c.as_ptr(), status);
                    } else {
                        fitsio::sys::ffpcom(fptr, c.as_ptr(), status);
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Runs a raw cfitsio call on this HDU and turns its status into an error.
    fn raw<F>(&mut self, call: F) -> fitsio::errors::Result<()>
    where
        F: FnOnce(*mut fitsio::sys::fitsfile, &mut c_int) -> fitsio::errors::Result<()>,
    {
        let mut status: c_int = 0;
        // SAFETY: the pointer stays owned by `self.f`, which outlives the call; we move to
        // our HDU first so the card lands in the right header.
        let fptr = unsafe { self.f.as_raw() };
        unsafe {
            fitsio::sys::ffmahd(
                fptr,
                (self.hdu.number + 1) as c_int,
                std::ptr::null_mut(),
                &mut status,
            );
        }
        if status == 0 {
            call(fptr, &mut status)?;
        }
        if status != 0 {
            return Err(fitsio::errors::Error::Message(format!(
                "cfitsio status {status} while writing a header card"
            )));
        }
        Ok(())
    }
}

/// FITS headers are ASCII: replace anything else by '?'.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_keys_are_checked() {
        assert!(check_extra_key("MYKEY").is_ok());
        assert!(check_extra_key("lower").is_err());
        assert!(check_extra_key("TOOLONGKEY").is_err());
        assert!(check_extra_key("CRVAL1").is_err());
        assert!(check_extra_key("").is_err());
    }

    #[test]
    fn non_ascii_is_replaced() {
        assert_eq!(ascii("4–10 keV"), "4?10 keV");
    }
}
