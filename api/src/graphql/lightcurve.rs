//! `ScienceFile.lightCurve(bands, binSeconds)`: counts per time bin summed over detectors
//! and pixels in each band, read from the L1 file (`domain`'s `PixelData::light_curve`),
//! with count rates and live-time-corrected rates (`domain`'s `live_times`: the mean live
//! time of the detectors present). Results are cached in memory per file checksum and
//! arguments, so a frontend redrawing the curve does not re-read the file.

use super::error::ApiError;
use async_graphql::{InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use domain::calibration::livetime::live_times;
use domain::energy::EnergyBand;
use domain::l1::PixelData;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Most bands one request may ask for.
pub const MAX_BANDS: usize = 8;
/// Light curves kept in the cache.
pub const CACHE_ENTRIES: usize = 64;

/// An energy band asked for, keV.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct EnergyBandInput {
    /// Lower edge, keV.
    pub low_kev: f64,
    /// Upper edge, keV.
    pub high_kev: f64,
}

/// The curve of one band.
#[derive(Debug, Clone, SimpleObject)]
pub struct LightCurveBand {
    /// Lower edge asked for, keV.
    pub requested_low_kev: f64,
    /// Upper edge asked for, keV.
    pub requested_high_kev: f64,
    /// Actual lower edge (of the file's energy groups), keV.
    pub low_kev: f64,
    /// Actual upper edge, keV.
    pub high_kev: f64,
    /// Counts per bin, summed over detectors and pixels.
    pub counts: Vec<f64>,
    /// Counts per second of each bin (counts / bin duration).
    pub count_rates: Vec<f64>,
    /// Live-time-corrected counts per second (counts / live time of the bin).
    pub corrected_rates: Vec<f64>,
}

/// A light curve of a science file.
#[derive(Debug, Clone, SimpleObject)]
pub struct LightCurve {
    /// Bin width asked for, seconds (null: the file's own bins).
    pub bin_seconds: Option<f64>,
    /// Start of each bin, UTC.
    pub time_start: Vec<DateTime<Utc>>,
    /// End of each bin, UTC.
    pub time_end: Vec<DateTime<Utc>>,
    /// Live time of each bin (mean over the detectors present), seconds.
    pub live_time_seconds: Vec<f64>,
    /// One curve per band, in the order asked.
    pub bands: Vec<LightCurveBand>,
}

/// Groups of consecutive native bins: each alone, or those starting in the same
/// `bin_seconds` slot from the file's start.
fn groups(pd: &PixelData, bin_seconds: Option<f64>) -> Vec<(usize, usize)> {
    let bins = pd.bins();
    let Some(w) = bin_seconds else {
        return (0..bins.len()).map(|i| (i, i)).collect();
    };
    let Some(t0) = bins.first().map(|b| b.start) else {
        return Vec::new();
    };
    let slot = |i: usize| {
        let dt = (bins[i].start - t0).num_microseconds().unwrap_or(0) as f64 * 1e-6;
        (dt / w).floor() as i64
    };
    let mut out: Vec<(usize, usize)> = Vec::new();
    for i in 0..bins.len() {
        match out.last_mut() {
            Some((a, b)) if slot(*a) == slot(i) => *b = i,
            _ => out.push((i, i)),
        }
    }
    out
}

/// Computes the light curve of `pd` (pure; run off the async runtime).
pub fn compute(
    pd: &PixelData,
    bands: &[EnergyBandInput],
    bin_seconds: Option<f64>,
) -> Result<LightCurve, ApiError> {
    let bins = pd.bins();
    let groups = groups(pd, bin_seconds);
    let detectors = pd.detectors_present();
    let n_det = detectors.len().max(1) as f64;
    let mut time_start = Vec::with_capacity(groups.len());
    let mut time_end = Vec::with_capacity(groups.len());
    let mut duration = Vec::with_capacity(groups.len());
    let mut live = Vec::with_capacity(groups.len());
    for &(a, b) in &groups {
        time_start.push(bins[a].start);
        time_end.push(bins[b].end);
        duration.push((a..=b).map(|i| bins[i].duration_seconds()).sum::<f64>());
        let lt = live_times(pd, a..=b);
        live.push(detectors.iter().map(|&d| lt[d]).sum::<f64>() / n_det);
    }
    let per_second = |c: f64, s: f64| if s > 0.0 { c / s } else { 0.0 };
    let mut out_bands = Vec::with_capacity(bands.len());
    for band in bands {
        let eb = EnergyBand::new(band.low_kev, band.high_kev).map_err(|e| {
            ApiError::BadUserInput(format!("band {}–{} keV: {e}", band.low_kev, band.high_kev))
        })?;
        let lc = pd.light_curve(&eb).map_err(|e| {
            ApiError::BadUserInput(format!("band {}–{} keV: {e}", band.low_kev, band.high_kev))
        })?;
        let counts: Vec<f64> = groups
            .iter()
            .map(|&(a, b)| lc.counts[a..=b].iter().sum())
            .collect();
        out_bands.push(LightCurveBand {
            requested_low_kev: band.low_kev,
            requested_high_kev: band.high_kev,
            low_kev: lc.band.low_kev,
            high_kev: lc.band.high_kev,
            count_rates: counts
                .iter()
                .zip(&duration)
                .map(|(c, s)| per_second(*c, *s))
                .collect(),
            corrected_rates: counts
                .iter()
                .zip(&live)
                .map(|(c, s)| per_second(*c, *s))
                .collect(),
            counts,
        });
    }
    Ok(LightCurve {
        bin_seconds,
        time_start,
        time_end,
        live_time_seconds: live,
        bands: out_bands,
    })
}

/// Checks the arguments before any file is read.
pub fn check_args(bands: &[EnergyBandInput], bin_seconds: Option<f64>) -> Result<(), ApiError> {
    if bands.is_empty() || bands.len() > MAX_BANDS {
        return Err(ApiError::BadUserInput(format!(
            "give between 1 and {MAX_BANDS} bands, got {}",
            bands.len()
        )));
    }
    if let Some(w) = bin_seconds
        && !(w.is_finite() && w > 0.0 && w <= 86_400.0)
    {
        return Err(ApiError::BadUserInput(format!(
            "binSeconds must be in (0, 86400], got {w}"
        )));
    }
    for b in bands {
        EnergyBand::new(b.low_kev, b.high_kev).map_err(|e| {
            ApiError::BadUserInput(format!("band {}–{} keV: {e}", b.low_kev, b.high_kev))
        })?;
    }
    Ok(())
}

/// The cache key: file checksum and the arguments, bit-exact.
type Key = (String, Vec<(u64, u64)>, Option<u64>);

fn key(sha256: &str, bands: &[EnergyBandInput], bin_seconds: Option<f64>) -> Key {
    (
        sha256.to_string(),
        bands
            .iter()
            .map(|b| (b.low_kev.to_bits(), b.high_kev.to_bits()))
            .collect(),
        bin_seconds.map(f64::to_bits),
    )
}

/// The cached curves and their keys from least to most recently used.
type Entries = (HashMap<Key, Arc<LightCurve>>, VecDeque<Key>);

/// A small least-recently-used cache of computed light curves.
#[derive(Default)]
pub struct LightCurveCache {
    inner: Mutex<Entries>,
}

impl LightCurveCache {
    fn get(&self, k: &Key) -> Option<Arc<LightCurve>> {
        let mut g = self.inner.lock().ok()?;
        let v = g.0.get(k).cloned()?;
        if let Some(pos) = g.1.iter().position(|x| x == k) {
            let k = g.1.remove(pos)?;
            g.1.push_back(k);
        }
        Some(v)
    }

    fn put(&self, k: Key, v: Arc<LightCurve>) {
        if let Ok(mut g) = self.inner.lock() {
            if g.0.insert(k.clone(), v).is_none() {
                g.1.push_back(k);
            }
            while g.1.len() > CACHE_ENTRIES {
                if let Some(old) = g.1.pop_front() {
                    g.0.remove(&old);
                }
            }
        }
    }

    /// The light curve of the file at `path` with checksum `sha256`, computed on first use.
    pub async fn get_or_compute(
        &self,
        path: &Path,
        sha256: &str,
        bands: Vec<EnergyBandInput>,
        bin_seconds: Option<f64>,
    ) -> Result<Arc<LightCurve>, ApiError> {
        check_args(&bands, bin_seconds)?;
        let k = key(sha256, &bands, bin_seconds);
        if let Some(v) = self.get(&k) {
            return Ok(v);
        }
        let path = path.to_path_buf();
        let lc = tokio::task::spawn_blocking(move || {
            let pd = PixelData::read(&path)
                .map_err(|e| ApiError::Internal(format!("reading {}: {e}", path.display())))?;
            compute(&pd, &bands, bin_seconds)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("light curve task: {e}")))??;
        let v = Arc::new(lc);
        self.put(k, v.clone());
        Ok(v)
    }
}
