//! What a box needs besides its own time and band, found the way the previews find it and
//! shared with user reconstructions: the files read once per job ([`Loaded`]), the nearest
//! background file, the aspect solution and the flare location (map centre).

use crate::kinds::ProductKind;
use crate::storage::{Storage, StorageError};
use crate::store::entities::science_file;
use crate::worker::JobFailure;
use domain::aspect::{AspectFile, AspectSolution};
use domain::energy::EnergyBand;
use domain::l1::PixelData;
use domain::policy::background::{BackgroundCandidate, BackgroundChoice, choose_background};
use domain::policy::flare_window::FlareWindow;
use domain::time_range::TimeRange;
use domain::workflow::{DEFAULT_WINDOW_HALF_SECONDS, LOCATION_BAND_KEV};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::sync::Arc;

/// Files read once per job, whatever the number of flares and boxes that use them.
#[derive(Default)]
pub struct Loaded {
    aspects: HashMap<i64, Result<Arc<AspectFile>, String>>,
    backgrounds: HashMap<i64, Result<Arc<PixelData>, String>>,
}

/// A background file chosen for a box: its row and data when usable, and the decision
/// (recorded as provenance).
pub type ChosenBackground = (
    Option<science_file::Model>,
    Option<Arc<PixelData>>,
    BackgroundChoice,
);

fn bad(code: &str, message: impl Into<String>) -> JobFailure {
    JobFailure::BadInput {
        code: code.to_string(),
        message: message.into(),
    }
}

fn transient(e: impl std::fmt::Display) -> JobFailure {
    JobFailure::Transient(e.to_string())
}

/// Runs blocking work on the blocking pool; a panic there becomes a failure, not a crash.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JobFailure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| bad("INTERNAL", format!("computation aborted: {e}")))
}

/// The stored file of `row` on disk (downloaded from the shared storage when this process
/// has no copy yet). An unreachable store is a transient failure (the job is retried); a
/// file that is nowhere is bad input.
pub async fn stored_file(
    storage: &Storage,
    row: &science_file::Model,
) -> Result<PathBuf, JobFailure> {
    storage
        .local_path(&row.stored_path)
        .await
        .map_err(|e| match e {
            StorageError::Remote { .. } | StorageError::Io { .. } => transient(e),
            _ => bad("FILE_MISSING", format!("{}: {e}", row.file_name)),
        })
}

/// Reads the pixel data of a stored science file off the async runtime.
pub async fn read_pixel_data(
    storage: &Storage,
    file: &science_file::Model,
) -> Result<PixelData, JobFailure> {
    let path = stored_file(storage, file).await?;
    let name = file.file_name.clone();
    blocking(move || PixelData::read(&path))
        .await?
        .map_err(|e| bad("BAD_L1_FILE", format!("{name}: {e}")))
}

/// The latest background files that [`choose_background`] could take for `science`: those
/// that reach within ±`max_days` of its middle (a candidate's middle, which it compares, lies
/// inside the file). Only these are read, not every background file of a mission's archive.
pub async fn background_files_near(
    db: &DatabaseConnection,
    science: &TimeRange,
    max_days: f64,
) -> Result<Vec<science_file::Model>, JobFailure> {
    let mut q = science_file::Entity::find()
        .filter(science_file::Column::ProductKind.eq(ProductKind::Background.as_str()))
        .filter(science_file::Column::IsLatest.eq(true));
    // A window that is not a finite, non-negative number of days is refused by the rule
    // itself, with its reason; a huge one reads them all.
    let reach = (max_days.is_finite() && max_days >= 0.0)
        .then(|| chrono::Duration::try_milliseconds((max_days * 86_400_000.0).ceil() as i64))
        .flatten();
    if let Some(reach) = reach {
        let mid = science.midpoint();
        if let (Some(lo), Some(hi)) = (mid.checked_sub_signed(reach), mid.checked_add_signed(reach))
        {
            q = q
                .filter(science_file::Column::ObsStart.lte(hi))
                .filter(science_file::Column::ObsEnd.gte(lo));
        }
    }
    q.all(db).await.map_err(transient)
}

/// The background file for a time range, by the previews' rule (nearest within ±`max_days`,
/// same ELUT period), read once per job.
pub async fn background_for(
    db: &DatabaseConnection,
    storage: &Storage,
    loaded: &mut Loaded,
    range: &TimeRange,
    max_days: f64,
) -> Result<ChosenBackground, JobFailure> {
    let rows = background_files_near(db, range, max_days).await?;
    let candidates: Vec<BackgroundCandidate> = rows
        .iter()
        .filter_map(|r| {
            Some(BackgroundCandidate {
                id: r.id.to_string(),
                range: TimeRange::new(r.obs_start, r.obs_end).ok()?,
            })
        })
        .collect();
    let choice = choose_background(range, &candidates, max_days);
    let Some(id) = choice.id().and_then(|s| s.parse::<i64>().ok()) else {
        return Ok((None, None, choice));
    };
    let Some(row) = rows.into_iter().find(|r| r.id == id) else {
        return Ok((None, None, choice));
    };
    load_background(storage, loaded, row, choice).await
}

/// Reads a chosen background file (once per job); an unreadable file becomes "no
/// background" with the reason.
pub async fn load_background(
    storage: &Storage,
    loaded: &mut Loaded,
    row: science_file::Model,
    choice: BackgroundChoice,
) -> Result<ChosenBackground, JobFailure> {
    if let Entry::Vacant(slot) = loaded.backgrounds.entry(row.id) {
        slot.insert(match read_pixel_data(storage, &row).await {
            Ok(d) => Ok(Arc::new(d)),
            // Storage out of reach: retry the job rather than image without background.
            Err(e @ JobFailure::Transient(_)) => return Err(e),
            Err(e) => Err(e.to_string()),
        });
    }
    match &loaded.backgrounds[&row.id] {
        Ok(data) => {
            let data = data.clone();
            Ok((Some(row), Some(data), choice))
        }
        Err(e) => {
            let reason = format!("background file {} unusable: {e}", row.file_name);
            tracing::warn!(%reason);
            Ok((None, None, BackgroundChoice::None { reason }))
        }
    }
}

/// The latest aspect files that cover some instant within a day of `over` ([`aspect_at`]
/// takes the one covering a window's middle, and a job's windows lie within its science file;
/// the day is a margin), not every aspect file of a mission's archive. `None`: all of them.
pub async fn aspect_files(
    db: &DatabaseConnection,
    over: Option<&TimeRange>,
) -> Result<Vec<science_file::Model>, JobFailure> {
    let mut q = science_file::Entity::find()
        .filter(science_file::Column::ProductKind.eq(ProductKind::Aspect.as_str()))
        .filter(science_file::Column::IsLatest.eq(true));
    if let Some(r) = over {
        let margin = chrono::Duration::days(1);
        q = q
            .filter(science_file::Column::ObsStart.lte(r.end + margin))
            .filter(science_file::Column::ObsEnd.gt(r.start - margin));
    }
    q.all(db).await.map_err(transient)
}

/// Pointing and roll over `window`: from the aspect file covering its middle (read once
/// per job), else an explicit assumption that the products say.
pub async fn aspect_at(
    storage: &Storage,
    loaded: &mut Loaded,
    aspects: &[science_file::Model],
    sci: &Arc<PixelData>,
    window: &TimeRange,
) -> Result<AspectSolution, JobFailure> {
    let t = window.midpoint();
    let rsun = Some(sci.observer.rsun_arcsec);
    let Some(row) = aspects.iter().find(|a| a.obs_start <= t && t < a.obs_end) else {
        return Ok(AspectSolution::assumed(
            0.0,
            rsun,
            "no aspect file in the archive for this time",
        ));
    };
    if let Entry::Vacant(slot) = loaded.aspects.entry(row.id) {
        let read = match stored_file(storage, row).await {
            Ok(path) => blocking(move || AspectFile::read(&path))
                .await?
                .map_err(|e| e.to_string()),
            Err(e @ JobFailure::Transient(_)) => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        slot.insert(read.map(Arc::new));
    }
    let solved = match &loaded.aspects[&row.id] {
        Ok(file) => file.solution(window).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    Ok(solved.unwrap_or_else(|e| {
        AspectSolution::assumed(
            0.0,
            rsun,
            &format!("aspect file {} unusable: {e}", row.file_name),
        )
    }))
}

/// Where a flare's images are centred.
#[derive(Debug, Clone, Copy)]
pub struct FlareCenter {
    /// Map centre in the STIX frame, arcsec.
    pub stix_arcsec: [f64; 2],
    /// The helioprojective position found by imaging, when the flare had no listed one
    /// (the pipeline stores it on the flare row with the source `stix_imaging`).
    pub located_hpc_arcsec: Option<[f64; 2]>,
}

/// The map centre of a flare in the STIX frame: `listed_hpc_arcsec` (the flare list's
/// location) when known, else the full-disk back-projection location (E.6) over
/// ±[`DEFAULT_WINDOW_HALF_SECONDS`] around the peak in [`LOCATION_BAND_KEV`]. The inner `Err`
/// is a reason the flare cannot be located.
pub async fn flare_center(
    storage: &Storage,
    flare: &FlareWindow,
    listed_hpc_arcsec: Option<[f64; 2]>,
    sci: &Arc<PixelData>,
    bkg: Option<Arc<PixelData>>,
    loaded: &mut Loaded,
    aspects: &[science_file::Model],
) -> Result<Result<FlareCenter, String>, JobFailure> {
    let Some(file_range) = sci.time_range() else {
        return Ok(Err("the file has no time bins".into()));
    };
    let peak = flare.peak.unwrap_or(flare.range.midpoint());
    let half = chrono::Duration::seconds(DEFAULT_WINDOW_HALF_SECONDS);
    let window = match TimeRange::new(
        (peak - half).max(file_range.start),
        (peak + half).min(file_range.end),
    ) {
        Ok(w) => w,
        Err(e) => return Ok(Err(format!("no location window: {e}"))),
    };
    let aspect = aspect_at(storage, loaded, aspects, sci, &window).await?;
    if let Some(hpc) = listed_hpc_arcsec {
        return Ok(Ok(FlareCenter {
            stix_arcsec: aspect.attitude().hpc_to_stix(hpc),
            located_hpc_arcsec: None,
        }));
    }
    let band = EnergyBand {
        low_kev: LOCATION_BAND_KEV[0],
        high_kev: LOCATION_BAND_KEV[1],
    };
    let sci = sci.clone();
    let located = blocking(move || {
        domain::workflow::locate(&sci, bkg.as_deref(), &aspect, Some(&window), &band)
    })
    .await?;
    Ok(located
        .map(|l| FlareCenter {
            stix_arcsec: l.stix_arcsec,
            located_hpc_arcsec: Some(l.hpc_arcsec),
        })
        .map_err(|e| format!("the flare could not be located: {e}")))
}
