//! Shared inputs of the `out_*` tests: `VisMeta` of the 2022-11-11 M1.2 reference
//! (`data/stix/reference/visibilities_20221111_M1.2.json`) with the observer read from the
//! real L1 header, and synthetic reconstructions with sources at known STIX offsets.
#![allow(dead_code)]

use domain::imaging::{
    Algorithm, CleanComponent, CleanExtras, FittedSource, FwdfitExtras, ImageGrid, Map,
    Reconstruction,
};
use domain::visfile::{MapWcs, ObserverHgs, PhaseCenter, TimeRangeJson, VisMeta};
use ndarray::Array2;
use std::path::PathBuf;

/// The in-repo STIX data directory.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/stix")
}

/// Science file of the M1.2 flare.
pub const SCIENCE_FILE: &str =
    "solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits";
/// Background file of the reference.
pub const BACKGROUND_FILE: &str =
    "solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits";

/// Reference roll (deg), SAS pointing and map centre (STIX frame, arcsec), from the JSON.
pub const ROLL_DEG: f64 = -1.459025263786316;
pub const POINTING_ARCSEC: [f64; 2] = [-5.328178405761719, 92.96320343017578];
pub const CENTER_STIX_ARCSEC: [f64; 2] = [75.2917910115992, -823.1204771145659];
pub const CENTER_HPC_ARCSEC: [f64; 2] = [821.8112778188129, 147.3777820156134];
pub const UNIT: &str = "ct keV-1 s-1 cm-2 arcsec-2";

/// `HGLN_OBS`, `HGLT_OBS`, `DSUN_OBS` of the science file's primary header.
pub fn observer_from_l1() -> ObserverHgs {
    let path = data_dir().join("l1").join(SCIENCE_FILE);
    let mut f = fitsio::FitsFile::open(&path).expect("open L1 file");
    let h = f.primary_hdu().expect("primary HDU");
    ObserverHgs {
        lon_deg: h.read_key::<f64>(&mut f, "HGLN_OBS").expect("HGLN_OBS"),
        lat_deg: h.read_key::<f64>(&mut f, "HGLT_OBS").expect("HGLT_OBS"),
        radius_m: h.read_key::<f64>(&mut f, "DSUN_OBS").expect("DSUN_OBS"),
    }
}

/// Metadata of the 4–10 keV case of the M1.2 reference.
pub fn reference_meta() -> VisMeta {
    VisMeta {
        time_range: TimeRangeJson {
            start: "2022-11-11T11:36:40.271".to_string(),
            end: "2022-11-11T11:37:40.271".to_string(),
        },
        energy_range_kev: [4.0, 10.0],
        phase_center: PhaseCenter {
            frame: "stix".to_string(),
            x_arcsec: CENTER_STIX_ARCSEC[0],
            y_arcsec: CENTER_STIX_ARCSEC[1],
        },
        map_wcs: MapWcs {
            obstime: "2022-11-11T11:37:10.271".to_string(),
            observer_hgs: observer_from_l1(),
            reference_hpc_arcsec: CENTER_HPC_ARCSEC,
            rotation_angle_deg: 90.0 + ROLL_DEG,
            roll_angle_deg: ROLL_DEG,
            stix_pointing_arcsec: POINTING_ARCSEC,
            pointing_source: "SAS".to_string(),
            rsun_arcsec: Some(1541.063232421875),
        },
        total_counts: 2343206.0,
        background_counts: 3563.4194411689377,
        calibration_version: "stix-archive-cal 1 (test)".to_string(),
        elut_file: None,
        earth_time_delta_seconds: None,
        science_file: Some(SCIENCE_FILE.to_string()),
        background_file: Some(BACKGROUND_FILE.to_string()),
        aux_file: Some("solo_L2_stix-aux-ephemeris_20221111_V01.fits".to_string()),
    }
}

/// An n×n map with a circular Gaussian (peak `peak`, FWHM in arcsec) centred on the pixel
/// `(iy, ix)`, plus a weak second Gaussian elsewhere.
pub fn gaussian_map(
    n: usize,
    pixel_arcsec: f64,
    peak_pixel: (usize, usize),
    fwhm_arcsec: f64,
) -> Map {
    let grid = ImageGrid { n, pixel_arcsec };
    let sigma = fwhm_arcsec / (8.0 * 2f64.ln()).sqrt();
    let (py, px) = peak_pixel;
    let (x0, y0) = (grid.offset_arcsec(px), grid.offset_arcsec(py));
    let (x1, y1) = (-40.0, 30.0);
    let data = Array2::from_shape_fn((n, n), |(iy, ix)| {
        let (x, y) = (grid.offset_arcsec(ix), grid.offset_arcsec(iy));
        let g0 = (-((x - x0).powi(2) + (y - y0).powi(2)) / (2.0 * sigma * sigma)).exp();
        let g1 = (-((x - x1).powi(2) + (y - y1).powi(2)) / (2.0 * 100.0)).exp();
        100.0 * g0 + 20.0 * g1 - 1.0
    });
    Map {
        data,
        grid,
        center_stix_arcsec: CENTER_STIX_ARCSEC,
        unit: UNIT.to_string(),
    }
}

/// A CLEAN reconstruction whose brightest pixel is `(iy, ix)` = `peak_pixel`.
pub fn clean_reconstruction(
    n: usize,
    pixel_arcsec: f64,
    peak_pixel: (usize, usize),
) -> Reconstruction {
    let map = gaussian_map(n, pixel_arcsec, peak_pixel, 14.0);
    let g = map.grid;
    let components = vec![
        CleanComponent {
            offset_arcsec: [g.offset_arcsec(peak_pixel.1), g.offset_arcsec(peak_pixel.0)],
            flux: 12.5,
        },
        CleanComponent {
            offset_arcsec: [-40.0, 30.0],
            flux: 3.25,
        },
        CleanComponent {
            offset_arcsec: [2.0, -4.0],
            flux: 1.0,
        },
    ];
    // Residual: a deterministic ripple with its maximum at pixel (n/4, n/3).
    let (ry, rx) = (n / 4, n / 3);
    let residual = Array2::from_shape_fn((n, n), |(iy, ix)| {
        let d2 = (iy as f64 - ry as f64).powi(2) + (ix as f64 - rx as f64).powi(2);
        0.5 * (-d2 / 8.0).exp() - 0.01
    });
    Reconstruction {
        algorithm: Algorithm::Clean,
        map,
        parameters: serde_json::json!({
            "niter": 200, "gain": 0.1, "beam_width_arcsec": 20.0, "weighting": "natural",
            "subcollimators": ["10a","10b","10c","9a","9b","9c","8a","8b","8c","7a","7b","7c",
                                "6a","6b","6c","5a","5b","5c","4a","4b","4c","3a","3b","3c"],
            "image_size": n, "pixel_arcsec": pixel_arcsec
        }),
        diagnostics: serde_json::json!({"iterations": 200, "stop": "niter"}),
        clean: Some(CleanExtras {
            components,
            residual,
            beam_fwhm_arcsec: 20.0,
        }),
        fwdfit: None,
    }
}

/// A VIS_FWDFIT reconstruction with an ellipse and a circle at known STIX offsets; the map
/// is the sum of their Gaussians (per arcsec²).
pub fn fwdfit_reconstruction(n: usize, pixel_arcsec: f64) -> Reconstruction {
    let grid = ImageGrid { n, pixel_arcsec };
    let sources = vec![
        FittedSource {
            shape: "ellipse".to_string(),
            flux: 900.0,
            offset_arcsec: [-6.0, -10.0],
            fwhm_arcsec: 16.0,
            fwhm_major_minor_arcsec: Some([24.0, 16.0 * 16.0 / 24.0]),
            angle_deg: Some(30.0),
            loop_angle_deg: None,
            uncertainties: None,
        },
        FittedSource {
            shape: "circle".to_string(),
            flux: 300.0,
            offset_arcsec: [40.0, 34.0],
            fwhm_arcsec: 10.0,
            fwhm_major_minor_arcsec: None,
            angle_deg: None,
            loop_angle_deg: None,
            uncertainties: None,
        },
    ];
    let k = 4.0 * 2f64.ln();
    let data = Array2::from_shape_fn((n, n), |(iy, ix)| {
        let (x, y) = (grid.offset_arcsec(ix), grid.offset_arcsec(iy));
        sources
            .iter()
            .map(|s| {
                let [a, b] = s.fwhm_major_minor_arcsec.unwrap_or([s.fwhm_arcsec; 2]);
                let t = s.angle_deg.unwrap_or(0.0).to_radians();
                let (dx, dy) = (x - s.offset_arcsec[0], y - s.offset_arcsec[1]);
                let (u, v) = (dx * t.cos() + dy * t.sin(), -dx * t.sin() + dy * t.cos());
                let norm = s.flux * k / (std::f64::consts::PI * a * b);
                norm * (-k * ((u / a).powi(2) + (v / b).powi(2))).exp()
            })
            .sum()
    });
    Reconstruction {
        algorithm: Algorithm::Fwdfit,
        map: Map {
            data,
            grid,
            center_stix_arcsec: CENTER_STIX_ARCSEC,
            unit: UNIT.to_string(),
        },
        parameters: serde_json::json!({"model": "ellipse+circle", "n_particles": 100}),
        diagnostics: serde_json::json!({"chi2_reduced": 1.7}),
        clean: None,
        fwdfit: Some(FwdfitExtras {
            sources,
            chi2_reduced: 1.7,
        }),
    }
}
