//! Reader of STIX L1 compressed pixel data (`xray-cpd`, SSID 21), section A of
//! `shared/docs/stix-imaging.md`.
//!
//! It reads PRIMARY (dates, observer keys), CONTROL (request UID, energy-edge mask), DATA
//! (`time`/`timedel` in centiseconds from `DATE-BEG`, `rcr`, masks, triggers, counts and their
//! compression σ) and ENERGIES (keV edges of the groups), applies TZERO through cfitsio and
//! rebuilds the reduced pixel/detector axes into a full `[time][32][12][group]` array
//! (A.2 "Reduced axes"). Older layouts (A.2 "Older layouts") and other products are refused
//! with a typed [`L1Error`].
//!
//! **Time-bin fix of 2021-12-09 (A.3).** Files taken before the on-board fix pair counts and
//! durations one bin apart. We follow the GSW default (`shift_duration = 0`): bins are read as
//! they are, never shifted; [`PixelData::predates_time_bin_fix`] tells callers (and the
//! 2020-06-07 demo) that the file is affected.

pub mod checksum;
mod error;
pub(crate) mod fits;
pub mod integrity;

pub use error::L1Error;
pub use integrity::{BinExclusion, RejectCode};

use crate::energy::EnergyBand;
use crate::instrument::{N_DETECTORS, N_PIXELS, N_TRIGGERS};
use crate::lightcurve::{LightCurve, TimeBin};
use crate::time_range::{TimeRange, parse_utc};
use chrono::{DateTime, Utc};
use fits::{Fits, guarded, parse_tdim};
use ndarray::Array4;
use std::path::Path;

/// One energy group of the file (a row of ENERGIES).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyGroup {
    /// Lower edge, keV.
    pub low_kev: f64,
    /// Upper edge, keV (NaN or ∞ for the open top channel).
    pub high_kev: f64,
    /// First science channel of the group (from `energy_bin_edge_mask`), if known.
    pub first_channel: Option<u8>,
    /// Last science channel of the group, if known.
    pub last_channel: Option<u8>,
}

/// Observer position and apparent solar radius from the PRIMARY header (A.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObserverKeys {
    /// `HGLN_OBS`, Stonyhurst longitude, degrees.
    pub hgln_obs_deg: f64,
    /// `HGLT_OBS`, Stonyhurst latitude, degrees.
    pub hglt_obs_deg: f64,
    /// `DSUN_OBS`, distance to Sun centre, metres.
    pub dsun_obs_m: f64,
    /// `RSUN_ARC`, apparent solar radius, arcsec.
    pub rsun_arcsec: f64,
}

/// A whole L1 compressed-pixel-data file, in memory.
#[derive(Debug, Clone)]
pub struct PixelData {
    /// Request unique ID (`CONTROL.request_id`).
    pub uid: u64,
    /// File name without directory.
    pub file_name: String,
    /// `DATE-BEG` (UTC at the spacecraft).
    pub date_beg: DateTime<Utc>,
    /// `DATE-END`, when present.
    pub date_end: Option<DateTime<Utc>>,
    /// Observer keys from PRIMARY.
    pub observer: ObserverKeys,
    /// Time bins.
    bins: Vec<TimeBin>,
    /// Bin lengths in seconds (`timedel`/100).
    pub durations_seconds: Vec<f64>,
    /// Rate-control regime per bin.
    pub rcr: Vec<u8>,
    /// Pixel mask per bin (`pixel_masks`).
    pub pixel_masks: Vec<[bool; N_PIXELS]>,
    /// Detector mask per bin (`detector_masks`).
    pub detector_masks: Vec<[bool; N_DETECTORS]>,
    /// Energy groups (ENERGIES), the last axis of `counts`.
    pub energy_groups: Vec<EnergyGroup>,
    /// Trigger counts per bin and accumulator.
    pub triggers: Vec<[f64; N_TRIGGERS]>,
    /// Compression σ of the triggers.
    pub triggers_comp_err: Vec<[f64; N_TRIGGERS]>,
    /// Counts `[time][det 0..32][pixel 0..12][group]`; zero where nothing was downloaded.
    pub counts: Array4<f64>,
    /// Compression σ of the counts (`counts_comp_err`), same shape; **not** including Poisson.
    pub counts_comp_err: Array4<f64>,
    /// Time bins left out because their counts, errors or triggers were NaN or negative
    /// (issue #11); the arrays above hold only the usable bins.
    pub excluded_bins: Vec<BinExclusion>,
    /// `EAR_TDEL`: light time Sun→Earth minus Sun→Solar Orbiter, seconds (A.2), when present.
    pub earth_time_delta_seconds: Option<f64>,
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Why an ENERGIES table cannot be used (section B): edges must be finite (the top edge of
/// the last group may be NaN or ∞), non-negative, below 1 MeV and increasing, each group
/// ending where the next begins or below it.
fn energy_table_problem(e_low: &[f64], e_high: &[f64]) -> Option<String> {
    let n = e_low.len();
    for i in 0..n {
        let (lo, hi) = (e_low[i], e_high[i]);
        let open_top = i == n - 1 && !hi.is_finite();
        if !lo.is_finite() || !(0.0..1000.0).contains(&lo) {
            return Some(format!("energy group {i} has lower edge {lo} keV"));
        }
        if !(open_top || (hi.is_finite() && hi > lo && hi < 1000.0)) {
            return Some(format!("energy group {i} runs from {lo} to {hi} keV"));
        }
        if i + 1 < n && !(e_low[i + 1] > lo && e_low[i + 1] >= hi - 1e-3) {
            return Some(format!(
                "energy groups {i} ({lo}–{hi} keV) and {} (from {} keV) are not increasing",
                i + 1,
                e_low[i + 1]
            ));
        }
    }
    None
}

/// The product a STIX file name or SSID stands for (A.1), for error messages.
fn product_name(ssid: Option<i64>, file_name: &str) -> Option<String> {
    let by_name = [
        ("aux-ephemeris", "an aspect/ephemeris (aux) file"),
        ("asp-ephemeris", "an aspect/ephemeris (ANC) file"),
        ("xray-rpd", "raw pixel data (xray-rpd, SSID 20)"),
        (
            "xray-scpd",
            "summed compressed pixel data (xray-scpd, SSID 22)",
        ),
        ("xray-vis", "on-board visibilities (xray-vis, SSID 23)"),
        ("xray-spec", "a spectrogram (xray-spec, SSID 24)"),
        ("ql-", "a quick-look product"),
        ("hk-", "housekeeping data"),
    ];
    match ssid {
        Some(21) => None,
        Some(20) => Some(by_name[2].1.to_string()),
        Some(22) => Some(by_name[3].1.to_string()),
        Some(23) => Some(by_name[4].1.to_string()),
        Some(24) => Some(by_name[5].1.to_string()),
        Some(other) => Some(
            by_name
                .iter()
                .find(|(tag, _)| file_name.contains(tag))
                .map(|(_, p)| format!("{p} (SSID {other})"))
                .unwrap_or_else(|| format!("a product with SSID {other}")),
        ),
        None => by_name
            .iter()
            .find(|(tag, _)| file_name.contains(tag))
            .map(|(_, p)| p.to_string()),
    }
}

impl PixelData {
    /// Reads an L1 compressed-pixel-data file (section A). Never panics on bad input.
    pub fn read(path: &Path) -> Result<PixelData, L1Error> {
        guarded(path, || Self::read_inner(path))
    }

    fn read_inner(path: &Path) -> Result<PixelData, L1Error> {
        let file_name = file_name_of(path);
        let p = path.display().to_string();
        std::fs::metadata(path).map_err(|source| L1Error::Io {
            path: p.clone(),
            source,
        })?;
        let rejected = |code: RejectCode, reason: String| L1Error::Rejected {
            path: p.clone(),
            code,
            reason,
        };
        // Structure (not FITS, truncated) and DATASUM/CHECKSUM before cfitsio reads anything.
        checksum::check_file(path).map_err(|(code, reason)| rejected(code, reason))?;
        let mut f = Fits::open(path)?;
        let invalid = |reason: String| L1Error::Invalid {
            path: p.clone(),
            reason,
        };
        // A CPD file always has CONTROL, DATA and ENERGIES (A.2): one that ends cleanly
        // before them was cut at an HDU boundary.
        let missing = |e: L1Error| match e {
            L1Error::Invalid { reason, .. } if reason.starts_with("there is no") => {
                L1Error::Rejected {
                    path: p.clone(),
                    code: RejectCode::Truncated,
                    reason: format!("{reason}: the file ends before it (truncated?)"),
                }
            }
            other => other,
        };

        // PRIMARY: product identification first, so that a wrong product gets a clear error.
        let prim = f.primary()?;
        let ssid: Option<i64> = f.key_opt(&prim, "SSID");
        if let Some(product) = product_name(ssid, &file_name) {
            return Err(L1Error::NotPixelData { path: p, product });
        }
        let date_beg_text: Option<String> = f.key_opt(&prim, "DATE-BEG");
        let Some(date_beg_text) = date_beg_text else {
            if f.key_opt::<String>(&prim, "DATE_BEG").is_some() {
                return Err(L1Error::Legacy {
                    path: p,
                    layout: "STIX-SWF 2020 raw layout".into(),
                    detail: "DATE_BEG with an underscore and time/timedel in seconds".into(),
                });
            }
            return Err(L1Error::MissingKeyword {
                path: p,
                hdu: "PRIMARY".into(),
                keyword: "DATE-BEG".into(),
            });
        };
        let date_beg = parse_utc(&date_beg_text)
            .map_err(|e| invalid(format!("DATE-BEG '{date_beg_text}': {e}")))?;
        let date_end = f
            .key_opt::<String>(&prim, "DATE-END")
            .and_then(|t| parse_utc(&t).ok());
        for (what, t) in [("DATE-BEG", Some(date_beg)), ("DATE-END", date_end)] {
            if let Some(reason) = t.and_then(|t| integrity::implausible_time(what, t)) {
                return Err(rejected(RejectCode::ImplausibleTime, reason));
            }
        }
        if let Some(e) = date_end
            && e < date_beg
        {
            return Err(rejected(
                RejectCode::BadTimeAxis,
                format!("DATE-END {e} is before DATE-BEG {date_beg}"),
            ));
        }
        let earth_time_delta_seconds: Option<f64> = f
            .key_opt::<f64>(&prim, "EAR_TDEL")
            .filter(|x| x.is_finite());
        let observer = ObserverKeys {
            hgln_obs_deg: f.key(&prim, "PRIMARY", "HGLN_OBS")?,
            hglt_obs_deg: f.key(&prim, "PRIMARY", "HGLT_OBS")?,
            dsun_obs_m: f.key(&prim, "PRIMARY", "DSUN_OBS")?,
            rsun_arcsec: f.key(&prim, "PRIMARY", "RSUN_ARC")?,
        };

        // CONTROL.
        let control = f.table("CONTROL").map_err(missing)?;
        if control.has("energy_bin_mask") && !control.has("energy_bin_edge_mask") {
            return Err(L1Error::Legacy {
                path: p,
                layout: "stixcore 2022 pre-release".into(),
                detail: "CONTROL.energy_bin_mask (32) instead of energy_bin_edge_mask (33)".into(),
            });
        }
        let uid_col: Vec<i64> = f.col(&control, "request_id")?;
        let uid = *uid_col.first().ok_or_else(|| {
            rejected(
                RejectCode::InconsistentControl,
                "CONTROL has no rows".into(),
            )
        })?;
        let control_indices: Option<Vec<i64>> = if control.has("index") {
            Some(f.col(&control, "index")?)
        } else {
            None
        };
        let uid = u64::try_from(uid).map_err(|_| invalid(format!("request_id {uid}")))?;
        let edge_mask: Option<Vec<u8>> = if control.has("energy_bin_edge_mask") {
            Some(f.col(&control, "energy_bin_edge_mask")?)
        } else {
            None
        };

        // DATA: layout checks.
        let data = f.table("DATA").map_err(missing)?;
        if !data.has("counts") {
            return Err(L1Error::NotPixelData {
                path: p,
                product: format!(
                    "a table without counts (DATA columns: {})",
                    data.columns.join(", ")
                ),
            });
        }
        if data.has("counts_err") && !data.has("counts_comp_err") {
            return Err(L1Error::Legacy {
                path: p,
                layout: "stixcore 2022 pre-release".into(),
                detail: "DATA.counts_err/triggers_err instead of counts_comp_err".into(),
            });
        }
        for col in [
            "time",
            "timedel",
            "rcr",
            "pixel_masks",
            "detector_masks",
            "triggers",
            "counts_comp_err",
        ] {
            if !data.has(col) {
                return Err(L1Error::MissingColumn {
                    path: p,
                    hdu: "DATA".into(),
                    column: col.into(),
                });
            }
        }
        let time_unit: Option<String> = data
            .number("time")
            .and_then(|n| f.key_opt(&data.hdu, &format!("TUNIT{n}")));
        if let Some(u) = &time_unit
            && u.trim() != "cs"
        {
            return Err(L1Error::Legacy {
                path: p,
                layout: "time in seconds".into(),
                detail: format!("DATA.time has unit '{}' instead of 'cs'", u.trim()),
            });
        }
        let nt = data.rows;
        if nt == 0 {
            return Err(invalid("DATA has no rows (no time bins)".into()));
        }

        // ENERGIES.
        let energies = f.table("ENERGIES").map_err(missing)?;
        let e_low: Vec<f64> = f.col(&energies, "e_low")?;
        let e_high: Vec<f64> = f.col(&energies, "e_high")?;
        let ne = e_low.len();
        if ne == 0 || e_high.len() != ne {
            return Err(rejected(
                RejectCode::BadEnergyTable,
                "ENERGIES table is empty or ragged".into(),
            ));
        }
        if let Some(reason) = energy_table_problem(&e_low, &e_high) {
            return Err(rejected(RejectCode::BadEnergyTable, reason));
        }
        let channel_edges: Option<Vec<u8>> = edge_mask.as_ref().map(|m| {
            m.iter()
                .take(33)
                .enumerate()
                .filter(|(_, b)| **b != 0)
                .map(|(i, _)| i as u8)
                .collect()
        });
        let energy_groups: Vec<EnergyGroup> = (0..ne)
            .map(|i| {
                let (fc, lc) = match &channel_edges {
                    Some(k) if k.len() == ne + 1 => (Some(k[i]), Some(k[i + 1].saturating_sub(1))),
                    _ => (None, None),
                };
                EnergyGroup {
                    low_kev: e_low[i],
                    high_kev: e_high[i],
                    first_channel: fc,
                    last_channel: lc,
                }
            })
            .collect();
        if let Some(k) = &channel_edges
            && k.len() != ne + 1
        {
            return Err(invalid(format!(
                "energy_bin_edge_mask has {} edges but ENERGIES has {ne} groups",
                k.len()
            )));
        }

        // DATA columns.
        let time_cs: Vec<f64> = f.col(&data, "time")?;
        let timedel_cs: Vec<f64> = f.col(&data, "timedel")?;
        let rcr: Vec<u8> = f.col(&data, "rcr")?;
        let pm: Vec<u8> = f.col(&data, "pixel_masks")?;
        let dm: Vec<u8> = f.col(&data, "detector_masks")?;
        if time_cs.len() != nt || timedel_cs.len() != nt || rcr.len() != nt {
            return Err(invalid(
                "time/timedel/rcr lengths differ from the row count".into(),
            ));
        }
        if pm.len() != nt * N_PIXELS {
            return Err(L1Error::NotPixelData {
                path: p,
                product: format!(
                    "pixel sets ({} pixel-mask values per bin; SCPD or L1A layout)",
                    pm.len() / nt
                ),
            });
        }
        if dm.len() != nt * N_DETECTORS {
            return Err(invalid(format!(
                "detector_masks has {} values per bin, expected 32",
                dm.len() / nt
            )));
        }
        let mut pixel_masks = Vec::with_capacity(nt);
        let mut detector_masks = Vec::with_capacity(nt);
        let mut pix_union = [false; N_PIXELS];
        let mut det_union = [false; N_DETECTORS];
        for t in 0..nt {
            let mut pmask = [false; N_PIXELS];
            for (i, m) in pmask.iter_mut().enumerate() {
                *m = pm[t * N_PIXELS + i] != 0;
                pix_union[i] |= *m;
            }
            let mut dmask = [false; N_DETECTORS];
            for (i, m) in dmask.iter_mut().enumerate() {
                *m = dm[t * N_DETECTORS + i] != 0;
                det_union[i] |= *m;
            }
            pixel_masks.push(pmask);
            detector_masks.push(dmask);
        }
        if let Some(t) = (0..nt)
            .find(|&t| pixel_masks[t].iter().all(|m| !m) || detector_masks[t].iter().all(|m| !m))
        {
            return Err(rejected(
                RejectCode::EmptyMasks,
                format!("time bin {t} has an empty pixel or detector mask"),
            ));
        }
        if let Some((t, r)) = rcr
            .iter()
            .enumerate()
            .find(|(_, r)| **r > integrity::MAX_RCR)
        {
            return Err(rejected(
                RejectCode::BadRcr,
                format!("time bin {t} has RCR = {r}; STIX rate-control regimes are 0–7"),
            ));
        }
        if data.has("control_index") {
            let ci: Vec<i64> = f.col(&data, "control_index")?;
            let known = control_indices.clone().unwrap_or_else(|| vec![0]);
            if ci.len() != nt {
                return Err(rejected(
                    RejectCode::InconsistentControl,
                    format!("DATA.control_index has {} values for {nt} rows", ci.len()),
                ));
            }
            if let Some((t, c)) = ci.iter().enumerate().find(|(_, c)| !known.contains(c)) {
                return Err(rejected(
                    RejectCode::InconsistentControl,
                    format!("time bin {t} points at CONTROL index {c}, but CONTROL has {known:?}"),
                ));
            }
        }
        let pix_index: Vec<usize> = (0..N_PIXELS).filter(|&i| pix_union[i]).collect();
        let det_index_union: Vec<usize> = (0..N_DETECTORS).filter(|&i| det_union[i]).collect();

        // Shape of the counts cell: TDIM (FITS order n_e, n_pix, n_det) when present.
        let tdim = data
            .number("counts")
            .and_then(|n| f.key_opt::<String>(&data.hdu, &format!("TDIM{n}")))
            .and_then(|t| parse_tdim(&t));
        let (ne_file, npix_file, ndet_file) = match tdim.as_deref() {
            Some([a, b, c]) => (*a, *b, *c),
            Some(other) => {
                return Err(invalid(format!("counts TDIM {other:?} is not 3-D")));
            }
            None => (ne, pix_index.len(), N_DETECTORS),
        };
        if ne_file != ne {
            return Err(invalid(format!(
                "counts have {ne_file} energy groups but ENERGIES has {ne}"
            )));
        }
        if npix_file != pix_index.len() {
            return Err(invalid(format!(
                "counts have {npix_file} pixels but the pixel masks select {}",
                pix_index.len()
            )));
        }
        let det_index: Vec<usize> = if ndet_file == N_DETECTORS {
            (0..N_DETECTORS).collect()
        } else if ndet_file == det_index_union.len() {
            det_index_union
        } else {
            return Err(invalid(format!(
                "counts have {ndet_file} detectors but the detector masks select {}",
                det_index_union.len()
            )));
        };
        let cell = ne_file * npix_file * ndet_file;
        let raw_counts: Vec<f64> = f.col(&data, "counts")?;
        let raw_err: Vec<f32> = f.col(&data, "counts_comp_err")?;
        if raw_counts.len() != nt * cell || raw_err.len() != nt * cell {
            return Err(invalid(format!(
                "counts hold {} values, expected {nt} bins × {cell}",
                raw_counts.len()
            )));
        }
        let mut counts = Array4::<f64>::zeros((nt, N_DETECTORS, N_PIXELS, ne));
        let mut counts_comp_err = Array4::<f64>::zeros((nt, N_DETECTORS, N_PIXELS, ne));
        {
            let (Some(c), Some(ce)) = (counts.as_slice_mut(), counts_comp_err.as_slice_mut())
            else {
                return Err(invalid("internal layout".into()));
            };
            for t in 0..nt {
                for (jd, &d) in det_index.iter().enumerate() {
                    for (jp, &px) in pix_index.iter().enumerate() {
                        let src = t * cell + (jd * npix_file + jp) * ne;
                        let dst = ((t * N_DETECTORS + d) * N_PIXELS + px) * ne;
                        c[dst..dst + ne].copy_from_slice(&raw_counts[src..src + ne]);
                        for e in 0..ne {
                            ce[dst + e] = raw_err[src + e] as f64;
                        }
                    }
                }
            }
        }

        // Triggers.
        let trig: Vec<f64> = f.col(&data, "triggers")?;
        let trig_err: Vec<f32> = if data.has("triggers_comp_err") {
            f.col(&data, "triggers_comp_err")?
        } else {
            vec![0.0; nt * N_TRIGGERS]
        };
        if trig.len() != nt * N_TRIGGERS || trig_err.len() != nt * N_TRIGGERS {
            return Err(invalid(format!(
                "triggers hold {} values, expected {nt} × 16",
                trig.len()
            )));
        }
        let mut triggers = Vec::with_capacity(nt);
        let mut triggers_comp_err = Vec::with_capacity(nt);
        for t in 0..nt {
            let mut a = [0.0; N_TRIGGERS];
            let mut b = [0.0; N_TRIGGERS];
            for k in 0..N_TRIGGERS {
                a[k] = trig[t * N_TRIGGERS + k];
                b[k] = trig_err[t * N_TRIGGERS + k] as f64;
            }
            triggers.push(a);
            triggers_comp_err.push(b);
        }

        // Time bins (A.3): [beg + (time − timedel/2), beg + (time + timedel/2)], centiseconds.
        let mut bins = Vec::with_capacity(nt);
        let mut durations_seconds = Vec::with_capacity(nt);
        for t in 0..nt {
            let (c, d) = (time_cs[t], timedel_cs[t]);
            if !(c.is_finite()
                && d.is_finite()
                && d > 0.0
                && d <= integrity::MAX_BIN_SECONDS * 100.0
                && c.abs() < 1e12)
            {
                return Err(rejected(
                    RejectCode::BadTimeAxis,
                    format!("bin {t}: time {c} cs, timedel {d} cs"),
                ));
            }
            let ms = |x: f64| chrono::Duration::microseconds((x * 1e4).round() as i64);
            let start = date_beg + ms(c - d / 2.0);
            let end = date_beg + ms(c + d / 2.0);
            // Consecutive bins may overlap by a few centiseconds of rounding (seen in real
            // files), but must be in time order.
            if let Some(prev) = bins.last().map(|b: &TimeBin| b.start)
                && start <= prev
            {
                return Err(rejected(
                    RejectCode::BadTimeAxis,
                    format!("bin {t} does not start after bin {}", t - 1),
                ));
            }
            bins.push(TimeBin { start, end });
            durations_seconds.push(d / 100.0);
        }

        if let (Some(end), Some(last)) = (date_end, bins.last()) {
            let off = (last.end - end).num_milliseconds() as f64 / 1e3;
            if off.abs() > integrity::DATE_END_TOLERANCE_SECONDS {
                return Err(rejected(
                    RejectCode::BadTimeAxis,
                    format!(
                        "the time bins end at {}, {off:.0} s from DATE-END {} (the DATA time axis does not match the header)",
                        last.end.format("%Y-%m-%dT%H:%M:%S%.3f"),
                        end.format("%Y-%m-%dT%H:%M:%S%.3f")
                    ),
                ));
            }
        }

        // Bins whose numbers cannot be used (NaN or negative counts, errors or triggers) are
        // left out and recorded; a file with none left is refused.
        let mut excluded_bins = Vec::new();
        let mut keep = Vec::with_capacity(nt);
        for t in 0..nt {
            let bad = |x: &f64| !x.is_finite() || *x < 0.0;
            let what = if counts.index_axis(ndarray::Axis(0), t).iter().any(bad) {
                Some("counts")
            } else if counts_comp_err
                .index_axis(ndarray::Axis(0), t)
                .iter()
                .any(bad)
            {
                Some("counts_comp_err")
            } else if triggers[t].iter().any(bad) {
                Some("triggers")
            } else if triggers_comp_err[t].iter().any(bad) {
                Some("triggers_comp_err")
            } else {
                None
            };
            match what {
                Some(col) => excluded_bins.push(BinExclusion {
                    row: t,
                    start: Some(bins[t].start),
                    reason: format!("{col} has NaN or negative values"),
                }),
                None => keep.push(t),
            }
        }
        if keep.is_empty() {
            return Err(rejected(
                RejectCode::NoUsableBins,
                format!(
                    "no usable time bin: all {nt} have NaN or negative counts, errors or triggers"
                ),
            ));
        }
        let (counts, counts_comp_err) = if excluded_bins.is_empty() {
            (counts, counts_comp_err)
        } else {
            (
                counts.select(ndarray::Axis(0), &keep),
                counts_comp_err.select(ndarray::Axis(0), &keep),
            )
        };
        let pick = |v: &[_]| keep.iter().map(|&t| v[t]).collect::<Vec<_>>();
        let bins: Vec<TimeBin> = keep.iter().map(|&t| bins[t]).collect();
        let durations_seconds = pick(&durations_seconds);
        let rcr = keep.iter().map(|&t| rcr[t]).collect();
        let pixel_masks = keep.iter().map(|&t| pixel_masks[t]).collect();
        let detector_masks = keep.iter().map(|&t| detector_masks[t]).collect();
        let triggers = keep.iter().map(|&t| triggers[t]).collect();
        let triggers_comp_err = keep.iter().map(|&t| triggers_comp_err[t]).collect();

        Ok(PixelData {
            uid,
            file_name,
            date_beg,
            date_end,
            observer,
            bins,
            durations_seconds,
            rcr,
            pixel_masks,
            detector_masks,
            energy_groups,
            triggers,
            triggers_comp_err,
            counts,
            counts_comp_err,
            excluded_bins,
            earth_time_delta_seconds,
        })
    }

    /// The time bins.
    pub fn bins(&self) -> &[TimeBin] {
        &self.bins
    }

    /// Number of time bins.
    pub fn n_bins(&self) -> usize {
        self.bins.len()
    }

    /// Number of energy groups.
    pub fn n_energies(&self) -> usize {
        self.energy_groups.len()
    }

    /// The interval covered by the bins.
    pub fn time_range(&self) -> Option<TimeRange> {
        crate::lightcurve::coverage(&self.bins)
    }

    /// The energy band covered by the groups with finite edges, keV.
    pub fn energy_range(&self) -> Option<EnergyBand> {
        let lo = self.energy_groups.first()?.low_kev;
        let hi = self
            .energy_groups
            .iter()
            .rev()
            .map(|g| g.high_kev)
            .find(|h| h.is_finite())?;
        EnergyBand::new(lo, hi).ok()
    }

    /// Pixels present in any bin, ascending.
    pub fn pixels_present(&self) -> Vec<usize> {
        (0..N_PIXELS)
            .filter(|&p| self.pixel_masks.iter().any(|m| m[p]))
            .collect()
    }

    /// Detectors present in any bin (0-based), ascending.
    pub fn detectors_present(&self) -> Vec<usize> {
        (0..N_DETECTORS)
            .filter(|&d| self.detector_masks.iter().any(|m| m[d]))
            .collect()
    }

    /// True for a file shaped like a background measurement (A.1): one time bin, all 32
    /// detectors and all 12 pixels.
    pub fn is_background_like(&self) -> bool {
        self.bins.len() == 1
            && self.pixel_masks.iter().all(|m| m.iter().all(|&b| b))
            && self.detector_masks.iter().all(|m| m.iter().all(|&b| b))
    }

    /// True when the data were taken before the on-board time-bin fix of 2021-12-09T14:00
    /// (A.3). Such files are read without any shift (GSW default), see the module doc.
    pub fn predates_time_bin_fix(&self) -> bool {
        self.date_beg
            < chrono::NaiveDate::from_ymd_opt(2021, 12, 9)
                .and_then(|d| d.and_hms_opt(14, 0, 0))
                .map(|d| d.and_utc())
                .unwrap_or(self.date_beg)
    }

    /// Indices `first..=last` of the energy groups used for a band and the actual band (their
    /// outer edges). The IDL rule of section B: from the group containing `low` to the group
    /// containing `high` (a band edge on a group edge does not pull in the next group).
    pub fn energy_groups_for(
        &self,
        band: &EnergyBand,
    ) -> Result<(usize, usize, EnergyBand), L1Error> {
        let outside = || L1Error::BandOutsideFile {
            path: self.file_name.clone(),
            requested: band.to_string(),
            available: self
                .energy_range()
                .map(|b| b.to_string())
                .unwrap_or_else(|| "nothing".into()),
        };
        let tol = 1e-4;
        let first = self
            .energy_groups
            .iter()
            .position(|g| g.high_kev.is_finite() && g.high_kev > band.low_kev + tol)
            .ok_or_else(outside)?;
        let last = self
            .energy_groups
            .iter()
            .rposition(|g| g.high_kev.is_finite() && g.low_kev < band.high_kev - tol)
            .ok_or_else(outside)?;
        if last < first
            || band.low_kev < self.energy_groups[0].low_kev - tol
            || band.high_kev > self.energy_groups[last].high_kev + tol
        {
            return Err(outside());
        }
        let actual = EnergyBand::new(
            self.energy_groups[first].low_kev,
            self.energy_groups[last].high_kev,
        )
        .map_err(|_| outside())?;
        Ok((first, last, actual))
    }

    /// Counts per bin over all detectors and pixels in the energy groups of `band`.
    pub fn light_curve(&self, band: &EnergyBand) -> Result<LightCurve, L1Error> {
        let (e0, e1, actual) = self.energy_groups_for(band)?;
        let ne = self.n_energies();
        let counts = self
            .counts
            .outer_iter()
            .map(|bin| {
                bin.as_slice()
                    .map(|s| {
                        s.chunks_exact(ne)
                            .map(|c| c[e0..=e1].iter().sum::<f64>())
                            .sum()
                    })
                    .unwrap_or_else(|| {
                        bin.indexed_iter()
                            .filter(|((_, _, e), _)| (e0..=e1).contains(e))
                            .map(|(_, v)| *v)
                            .sum()
                    })
            })
            .collect();
        Ok(LightCurve {
            band: actual,
            bins: self.bins.clone(),
            counts,
        })
    }

    /// Total counts in the file over all bins, detectors and pixels in the groups of `band`.
    pub fn total_counts(&self, band: &EnergyBand) -> Result<f64, L1Error> {
        Ok(self.light_curve(band)?.counts.iter().sum())
    }
}
