//! Links between flares and the flare pixel-data files whose observation interval overlaps
//! the flare (`flare_science_files`). Both directions are idempotent: an existing link is
//! kept, a missing one added. Background and aspect files are never linked (they are found
//! by time and UID, not through a flare).

use super::ProductKind;
use crate::store::entities::{flare, flare_science_file, science_file};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

/// Margin of the coarse SQL time filter; the exact overlap test runs in Rust so that it does
/// not depend on how an engine compares stored timestamps.
fn margin() -> Duration {
    Duration::days(1)
}

/// True when `[a0, a1]` and `[b0, b1]` share more than an instant.
fn overlaps(a0: DateTime<Utc>, a1: DateTime<Utc>, b0: DateTime<Utc>, b1: DateTime<Utc>) -> bool {
    a0 < b1 && b0 < a1
}

/// Adds the missing `(flare row id, science file id)` links; returns how many were added.
async fn insert_missing<C: ConnectionTrait>(
    db: &C,
    pairs: impl IntoIterator<Item = (i64, i64)>,
) -> Result<usize, DbErr> {
    let mut added = 0;
    for (flare_id, science_file_id) in pairs {
        if flare_science_file::Entity::find_by_id((flare_id, science_file_id))
            .one(db)
            .await?
            .is_none()
        {
            flare_science_file::Entity::insert(flare_science_file::ActiveModel {
                flare_id: Set(flare_id),
                science_file_id: Set(science_file_id),
            })
            .exec_without_returning(db)
            .await?;
            added += 1;
        }
    }
    Ok(added)
}

/// Links the science file `science_file_id` to every flare whose `[start, end]` overlaps its
/// observation interval (flare pixel data only; other kinds and unknown ids link nothing).
/// Returns the number of links added.
pub async fn link_flares_to_file<C: ConnectionTrait>(
    db: &C,
    science_file_id: i64,
) -> Result<usize, DbErr> {
    let Some(file) = science_file::Entity::find_by_id(science_file_id)
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    if file.product_kind != ProductKind::FlarePixelData.as_str() {
        return Ok(0);
    }
    let flares = flare::Entity::find()
        .filter(flare::Column::StartTime.lt(file.obs_end + margin()))
        .filter(flare::Column::EndTime.gt(file.obs_start - margin()))
        .all(db)
        .await?;
    let pairs: Vec<(i64, i64)> = flares
        .iter()
        .filter(|f| overlaps(f.start_time, f.end_time, file.obs_start, file.obs_end))
        .map(|f| (f.id, file.id))
        .collect();
    insert_missing(db, pairs).await
}

/// Links the flare with row id `flare_row_id` to every flare pixel-data file whose
/// observation interval overlaps it. Returns the number of links added.
pub async fn link_files_to_flare<C: ConnectionTrait>(
    db: &C,
    flare_row_id: i64,
) -> Result<usize, DbErr> {
    let Some(f) = flare::Entity::find_by_id(flare_row_id).one(db).await? else {
        return Ok(0);
    };
    let files = science_file::Entity::find()
        .filter(science_file::Column::ProductKind.eq(ProductKind::FlarePixelData.as_str()))
        .filter(science_file::Column::ObsStart.lt(f.end_time + margin()))
        .filter(science_file::Column::ObsEnd.gt(f.start_time - margin()))
        .all(db)
        .await?;
    let pairs: Vec<(i64, i64)> = files
        .iter()
        .filter(|s| overlaps(f.start_time, f.end_time, s.obs_start, s.obs_end))
        .map(|s| (f.id, s.id))
        .collect();
    insert_missing(db, pairs).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_intervals_do_not_overlap() {
        let t = |m: i64| DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(m);
        assert!(overlaps(t(0), t(10), t(5), t(15)));
        assert!(overlaps(t(0), t(10), t(2), t(3)));
        assert!(!overlaps(t(0), t(10), t(10), t(20)));
        assert!(!overlaps(t(11), t(20), t(0), t(10)));
    }
}
