//! Shared helpers of the `alg_*` tests: STIX (u,v) points and calibration phases from
//! `data/stix`, exact visibilities and A/B/C/D rates of analytic Gaussian sources, and loaders
//! for the two reference visibility sets.
#![allow(dead_code)]

use domain::imaging::em::{M0_IDEAL, M1_IDEAL};
use domain::imaging::fwdfit::model::GAUSS_K;
use domain::imaging::{Map, grid::ImageGrid};
use domain::visfile::{
    DetectorRates, MapWcs, ObserverHgs, PhaseCenter, SummedRates, TimeRangeJson, VisFile, VisMeta,
    Visibility,
};
use std::f64::consts::TAU;
use std::path::PathBuf;

/// GSW default order of the 24 imaging detectors 10→3 (section C).
pub const LABELS_10_TO_3: [&str; 24] = [
    "10a", "10b", "10c", "9a", "9b", "9c", "8a", "8b", "8c", "7a", "7b", "7c", "6a", "6b", "6c",
    "5a", "5b", "5c", "4a", "4b", "4c", "3a", "3b", "3c",
];

/// Pixel phase offset for TOP+BOT (D.6).
pub const PHI_PIX_DEG: f64 = 46.1;

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/stix")
}

fn csv_rows(name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(data_dir().join(name)).expect("table");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

/// One STIX subcollimator: det (1-based), label, (u,v) and total calibration phase.
#[derive(Debug, Clone)]
pub struct Subcollimator {
    pub det: u8,
    pub label: String,
    pub u: f64,
    pub v: f64,
    /// φ_grid + φ_adhoc + φ_pix, degrees.
    pub phase_deg: f64,
}

/// The 24 subcollimators 10→3 with (u,v) from `uv_points.csv` and phases from
/// `subcollimators.csv`.
pub fn subcollimators() -> Vec<Subcollimator> {
    let uv = csv_rows("uv_points.csv");
    let sc = csv_rows("subcollimators.csv");
    LABELS_10_TO_3
        .iter()
        .map(|label| {
            let r = uv.iter().find(|r| r["label"] == *label).expect("uv row");
            let s = sc.iter().find(|r| r["label"] == *label).expect("sc row");
            let f = |m: &std::collections::HashMap<String, String>, k: &str| -> f64 {
                m[k].parse().expect("number")
            };
            Subcollimator {
                det: r["det"].parse().expect("det"),
                label: label.to_string(),
                u: f(r, "u_arcsec_inv"),
                v: f(r, "v_arcsec_inv"),
                phase_deg: f(s, "grid_phase_corr_deg") + f(s, "adhoc_phase_corr_deg") + PHI_PIX_DEG,
            }
        })
        .collect()
}

/// An analytic elliptical Gaussian (offsets from the phase centre, STIX frame).
#[derive(Debug, Clone, Copy)]
pub struct Source {
    pub flux: f64,
    pub x: f64,
    pub y: f64,
    pub fwhm_major: f64,
    pub fwhm_minor: f64,
    pub angle_deg: f64,
}

impl Source {
    pub fn point(flux: f64, x: f64, y: f64) -> Self {
        Self::circle(flux, x, y, 0.0)
    }
    pub fn circle(flux: f64, x: f64, y: f64, fwhm: f64) -> Self {
        Self {
            flux,
            x,
            y,
            fwhm_major: fwhm,
            fwhm_minor: fwhm,
            angle_deg: 0.0,
        }
    }
    /// Exact complex visibility at (u,v), convention of D.7.
    pub fn vis(&self, u: f64, v: f64) -> (f64, f64) {
        let (sa, ca) = self.angle_deg.to_radians().sin_cos();
        let up = u * ca + v * sa;
        let vp = -u * sa + v * ca;
        let amp = self.flux
            * (-GAUSS_K * ((up * self.fwhm_major).powi(2) + (vp * self.fwhm_minor).powi(2))).exp();
        let ph = TAU * (u * self.x + v * self.y);
        (amp * ph.cos(), amp * ph.sin())
    }
}

/// Exact visibilities of `sources` at the 24 STIX (u,v) points; σ = 3 % of the largest
/// amplitude plus 5 % of each amplitude.
pub fn synth_vis(sources: &[Source]) -> Vec<Visibility> {
    let subs = subcollimators();
    let raw: Vec<(f64, f64)> = subs
        .iter()
        .map(|s| {
            sources.iter().fold((0.0, 0.0), |acc, src| {
                let (r, i) = src.vis(s.u, s.v);
                (acc.0 + r, acc.1 + i)
            })
        })
        .collect();
    let max_amp = raw.iter().map(|(r, i)| r.hypot(*i)).fold(0.0, f64::max);
    subs.iter()
        .zip(raw)
        .map(|(s, (re, im))| Visibility {
            label: s.label.clone(),
            isc: s.det,
            u: s.u,
            v: s.v,
            real: re,
            imag: im,
            amplitude_error: 0.03 * max_amp + 0.05 * re.hypot(im),
            used: true,
        })
        .collect()
}

/// Exact A/B/C/D rates of `sources` from the E.4 forward model with ideal grids
/// (M0 = ¼, M1 = 4 sin(π/4)/π³), sources at `center` + offset in the STIX frame.
pub fn synth_rates(sources: &[Source], center: [f64; 2]) -> SummedRates {
    let detectors = subcollimators()
        .iter()
        .map(|s| {
            let mut rates = [0.0; 4];
            for src in sources {
                // Visibility of the source about the frame origin, with the calibration phase
                // removed: Σ I cos ψ and Σ I sin ψ.
                let (re, im) = src.vis(s.u, s.v);
                let shift = TAU * (s.u * center[0] + s.v * center[1]) - s.phase_deg.to_radians();
                let (sn, cs) = shift.sin_cos();
                let cos_sum = re * cs - im * sn;
                let sin_sum = re * sn + im * cs;
                let t = 2.0 * M1_IDEAL;
                rates[0] += M0_IDEAL * src.flux - t * cos_sum;
                rates[1] += M0_IDEAL * src.flux - t * sin_sum;
                rates[2] += M0_IDEAL * src.flux + t * cos_sum;
                rates[3] += M0_IDEAL * src.flux + t * sin_sum;
            }
            DetectorRates {
                isc: s.det,
                label: s.label.clone(),
                u: s.u,
                v: s.v,
                calibration_phase_deg: s.phase_deg,
                rates,
                errors: rates.map(|r| r.abs().sqrt().max(1e-3)),
            }
        })
        .collect();
    SummedRates {
        sumcase: "top+bot".to_string(),
        pixel_phase_offset_deg: PHI_PIX_DEG,
        detectors,
    }
}

/// A `stix-vis` document around `vis` with the given phase centre, roll and band.
pub fn vis_file(
    vis: Vec<Visibility>,
    center: [f64; 2],
    roll_deg: f64,
    energy_kev: [f64; 2],
    rates: Option<SummedRates>,
) -> VisFile {
    let meta = VisMeta {
        time_range: TimeRangeJson {
            start: "2022-11-11T11:36:40.271Z".to_string(),
            end: "2022-11-11T11:37:40.271Z".to_string(),
        },
        energy_range_kev: energy_kev,
        phase_center: PhaseCenter {
            frame: "stix".to_string(),
            x_arcsec: center[0],
            y_arcsec: center[1],
        },
        map_wcs: MapWcs {
            obstime: "2022-11-11T11:37:10.271Z".to_string(),
            observer_hgs: ObserverHgs {
                lon_deg: 0.0,
                lat_deg: 0.0,
                radius_m: 1.0e11,
            },
            reference_hpc_arcsec: [0.0, 0.0],
            rotation_angle_deg: 90.0 + roll_deg,
            roll_angle_deg: roll_deg,
            stix_pointing_arcsec: [0.0, 0.0],
            pointing_source: "assumed".to_string(),
            rsun_arcsec: None,
        },
        total_counts: 0.0,
        background_counts: 0.0,
        calibration_version: "test".to_string(),
        elut_file: None,
        earth_time_delta_seconds: None,
        science_file: None,
        background_file: None,
        aux_file: None,
    };
    VisFile::new(meta, vis, rates)
}

/// The M1.2 reference case (0: 4–10 keV, 1: 16–28 keV) as a `stix-vis` document with summed
/// rates, plus the expected flare location (BP natural peak, STIX frame).
pub fn m12_reference(case: usize) -> (VisFile, [f64; 2]) {
    let text =
        std::fs::read_to_string(data_dir().join("reference/visibilities_20221111_M1.2.json"))
            .expect("reference file");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let c = &doc["cases"][case];
    let f = |v: &serde_json::Value| v.as_f64().expect("number");
    let center = [f(&c["mapcenter_stix"][0]), f(&c["mapcenter_stix"][1])];
    let peak = [
        f(&c["bp_natural_129x129_2as"]["peak_stix"][0]),
        f(&c["bp_natural_129x129_2as"]["peak_stix"][1]),
    ];
    let subs = subcollimators();
    let mut vis = Vec::new();
    let mut dets = Vec::new();
    for v in c["visibilities"].as_array().expect("vis") {
        let label = v["label"].as_str().expect("label").to_string();
        let det = v["det"].as_u64().expect("det") as u8;
        vis.push(Visibility {
            label: label.clone(),
            isc: det,
            u: f(&v["u"]),
            v: f(&v["v"]),
            real: f(&v["re"]),
            imag: f(&v["im"]),
            amplitude_error: f(&v["sigamp"]),
            used: true,
        });
        let sub = subs.iter().find(|s| s.label == label).expect("sub");
        let r = &c["abcd_rate_per_det"][&label];
        let e = &c["abcd_rate_err_per_det"][&label];
        dets.push(DetectorRates {
            isc: det,
            label: label.clone(),
            u: f(&v["u"]),
            v: f(&v["v"]),
            calibration_phase_deg: sub.phase_deg,
            rates: [f(&r[0]), f(&r[1]), f(&r[2]), f(&r[3])],
            errors: [f(&e[0]), f(&e[1]), f(&e[2]), f(&e[3])],
        });
    }
    let roll = f(&c["aux"]["roll"]);
    let energy = [f(&c["energy_keV"][0]), f(&c["energy_keV"][1])];
    let rates = SummedRates {
        sumcase: "top+bot".to_string(),
        pixel_phase_offset_deg: PHI_PIX_DEG,
        detectors: dets,
    };
    (vis_file(vis, center, roll, energy, Some(rates)), peak)
}

/// The 2020-06-07 demo visibilities (their own u, v; phase centre (−1625, −700)″).
pub fn demo_2020() -> VisFile {
    let text =
        std::fs::read_to_string(data_dir().join("reference/xrayvision_stix_vis_20200607.json"))
            .expect("reference file");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let subs = subcollimators();
    let f = |v: &serde_json::Value| v.as_f64().expect("number");
    let vis = doc["vis"]
        .as_array()
        .expect("vis")
        .iter()
        .map(|v| {
            let det = v["det"].as_u64().expect("det") as u8;
            let label = subs
                .iter()
                .find(|s| s.det == det)
                .map_or_else(|| det.to_string(), |s| s.label.clone());
            Visibility {
                label,
                isc: det,
                u: f(&v["u"]),
                v: f(&v["v"]),
                real: f(&v["re"]),
                imag: f(&v["im"]),
                amplitude_error: f(&v["sigamp"]),
                used: true,
            }
        })
        .collect();
    let c = [
        f(&doc["phase_center_arcsec"][0]),
        f(&doc["phase_center_arcsec"][1]),
    ];
    vis_file(vis, c, 0.0, [6.0, 10.0], None)
}

/// Flux-weighted centroid of the positive pixels within `radius_arcsec` of the peak, as an
/// offset from the map centre.
pub fn local_centroid(map: &Map, radius_arcsec: f64) -> [f64; 2] {
    let [px, py] = map.peak_offset_arcsec();
    let g: &ImageGrid = &map.grid;
    let (mut sx, mut sy, mut s) = (0.0, 0.0, 0.0);
    for ((iy, ix), &v) in map.data.indexed_iter() {
        let (x, y) = (g.offset_arcsec(ix), g.offset_arcsec(iy));
        if v > 0.0 && (x - px).hypot(y - py) <= radius_arcsec {
            sx += v * x;
            sy += v * y;
            s += v;
        }
    }
    [sx / s, sy / s]
}

pub fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}
