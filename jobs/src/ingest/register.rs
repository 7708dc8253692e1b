//! The database half of ingesting: one transaction per file (the `science_files` row, the
//! version bookkeeping, the flare links) and one per flare list (flare upserts and links).

use super::classify::{PreparedFile, PreparedList};
use super::copy::{candidate_names, relative, store_copy};
use super::link::{link_files_to_flare, link_flares_to_file};
use super::{IngestRejection, IngestStatus, Ingested, ProductKind};
use crate::kinds::LocationSource;
use crate::storage::{Storage, StorageError};
use crate::store::entities::{flare, science_file};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};

/// `source` of flares imported from a list.
pub const FLARE_LIST_SOURCE: &str = "flare_list";

fn db_reject(e: DbErr) -> IngestRejection {
    IngestRejection {
        code: "database_error",
        reason: format!("database error: {e}"),
    }
}

fn join_reject(e: tokio::task::JoinError) -> IngestRejection {
    IngestRejection {
        code: "internal_error",
        reason: format!("the blocking ingest task failed: {e}"),
    }
}

/// The row already holding these bytes, if any.
async fn by_sha<C: sea_orm::ConnectionTrait>(
    db: &C,
    sha256: &str,
) -> Result<Option<science_file::Model>, DbErr> {
    science_file::Entity::find()
        .filter(science_file::Column::Sha256.eq(sha256))
        .one(db)
        .await
}

fn already(row: &science_file::Model) -> Ingested {
    Ingested {
        science_file_id: Some(row.id),
        kind: ProductKind::from_str_opt(&row.product_kind).unwrap_or(ProductKind::FlarePixelData),
        status: IngestStatus::AlreadyPresent,
        flares_imported: 0,
    }
}

fn storage_reject(e: StorageError) -> IngestRejection {
    IngestRejection {
        code: "storage_error",
        reason: format!("storage error: {e}"),
    }
}

/// Copies and registers a classified FITS file: the copy is written to the data directory,
/// published to the shared storage, and only then is the row inserted. A failed insert
/// removes what this call created (local copy and object), unless a concurrent ingest of the
/// same bytes stored its row on that very file.
pub(crate) async fn register_file(
    db: &DatabaseConnection,
    storage: &Storage,
    p: &PreparedFile,
) -> Result<Ingested, IngestRejection> {
    if let Some(row) = by_sha(db, &p.sha256).await.map_err(db_reject)? {
        return Ok(already(&row));
    }
    if storage.remote_url().is_some() {
        // Another process may have stored a file of that name: bring it here, so that the
        // name checks of the copy see it (and never overwrite its object).
        for name in candidate_names(&p.file_name, &p.sha256) {
            match storage
                .local_path(&relative(&p.relative_dir(), &name))
                .await
            {
                Ok(_) | Err(StorageError::NotFound(_)) => {}
                Err(e) => return Err(storage_reject(e)),
            }
        }
    }
    let copy = {
        let (source, data_dir, rel_dir, name, sha) = (
            p.source.clone(),
            storage.data_dir().to_path_buf(),
            p.relative_dir(),
            p.file_name.clone(),
            p.sha256.clone(),
        );
        tokio::task::spawn_blocking(move || store_copy(&source, &data_dir, &rel_dir, &name, &sha))
            .await
            .map_err(join_reject)??
    };
    let published = match storage.publish(&copy.relative).await {
        Ok(created) => created,
        Err(e) => {
            if copy.created {
                let _ = storage.remove_local(&copy.relative).await;
            }
            return Err(storage_reject(e));
        }
    };
    let cleanup = || async {
        if published {
            storage.discard(&copy.relative).await;
        } else if copy.created {
            let _ = storage.remove_local(&copy.relative).await;
        }
    };
    match insert_row(db, p, &copy.relative).await {
        Ok(done) => {
            if done.status == IngestStatus::AlreadyPresent
                && let Some(id) = done.science_file_id
                && let Ok(Some(row)) = science_file::Entity::find_by_id(id).one(db).await
                && row.stored_path != copy.relative
            {
                cleanup().await;
            }
            Ok(done)
        }
        Err(e) => {
            // A concurrent ingest of the same bytes won the race: that is not an error.
            if let Ok(Some(row)) = by_sha(db, &p.sha256).await {
                if row.stored_path != copy.relative {
                    cleanup().await;
                }
                return Ok(already(&row));
            }
            cleanup().await;
            Err(db_reject(e))
        }
    }
}

async fn insert_row(
    db: &DatabaseConnection,
    p: &PreparedFile,
    stored_path: &str,
) -> Result<Ingested, DbErr> {
    let txn = crate::store::begin_write(db).await?;
    if let Some(row) = by_sha(&txn, &p.sha256).await? {
        txn.rollback().await?;
        return Ok(already(&row));
    }
    let siblings = science_file::Entity::find()
        .filter(science_file::Column::RequestUid.eq(p.request_uid))
        .filter(science_file::Column::ProductKind.eq(p.kind.as_str()))
        .all(&txn)
        .await?;
    let newest = siblings
        .iter()
        .max_by_key(|s| (s.version, s.is_latest, s.id));
    let (is_latest, supersedes) = match newest {
        None => (true, None),
        Some(n) if p.version > n.version => {
            let current = siblings
                .iter()
                .filter(|s| s.is_latest)
                .max_by_key(|s| (s.version, s.id))
                .unwrap_or(n);
            (true, Some(current.id))
        }
        // An older version, or a same-version file with other bytes: kept, not latest.
        Some(_) => (false, None),
    };
    if supersedes.is_some() {
        science_file::Entity::update_many()
            .col_expr(science_file::Column::IsLatest, Expr::value(false))
            .filter(science_file::Column::RequestUid.eq(p.request_uid))
            .filter(science_file::Column::ProductKind.eq(p.kind.as_str()))
            .exec(&txn)
            .await?;
    }
    let row = science_file::ActiveModel {
        request_uid: Set(p.request_uid),
        product_kind: Set(p.kind.as_str().to_string()),
        file_name: Set(p.file_name.clone()),
        version: Set(p.version),
        is_latest: Set(is_latest),
        sha256: Set(p.sha256.clone()),
        size_bytes: Set(p.size_bytes),
        stored_path: Set(stored_path.to_string()),
        obs_start: Set(p.obs_start),
        obs_end: Set(p.obs_end),
        n_time_bins: Set(p.n_time_bins),
        energy_groups_kev: Set(p.energy_groups_kev.clone()),
        energy_low_kev: Set(p.energy_low_kev),
        energy_high_kev: Set(p.energy_high_kev),
        pixel_mask: Set(p.pixel_mask),
        detector_mask: Set(p.detector_mask),
        attenuator_in: Set(p.attenuator_in),
        header: Set(Some(p.header.clone())),
        ingested_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    link_flares_to_file(&txn, row.id).await?;
    txn.commit().await?;
    Ok(Ingested {
        science_file_id: Some(row.id),
        kind: p.kind,
        status: match supersedes {
            Some(old) => IngestStatus::NewVersion { supersedes: old },
            None => IngestStatus::New,
        },
        flares_imported: 0,
    })
}

/// Upserts the flares of a list by `flare_id` and links them to overlapping files.
pub(crate) async fn register_flare_list(
    db: &DatabaseConnection,
    list: &PreparedList,
) -> Result<Ingested, IngestRejection> {
    import_flares(db, list).await.map_err(db_reject)
}

async fn import_flares(db: &DatabaseConnection, list: &PreparedList) -> Result<Ingested, DbErr> {
    let txn = crate::store::begin_write(db).await?;
    let mut changed = 0usize;
    for (flare_id, f) in &list.flares {
        let existing = flare::Entity::find()
            .filter(flare::Column::FlareId.eq(*flare_id))
            .one(&txn)
            .await?;
        let [c0, c1, c2, c3, c4] = f.ql_peak_counts.map(Some);
        let location = f.hpc_solo_arcsec;
        let row_id = match existing {
            None => {
                let row = flare::ActiveModel {
                    flare_id: Set(*flare_id),
                    start_time: Set(f.start),
                    peak_time: Set(f.peak),
                    end_time: Set(f.end),
                    peak_counts4_to10_kev: Set(c0),
                    peak_counts10_to15_kev: Set(c1),
                    peak_counts15_to25_kev: Set(c2),
                    peak_counts25_to50_kev: Set(c3),
                    peak_counts50_to84_kev: Set(c4),
                    attenuator_in: Set(Some(f.attenuator_in)),
                    goes_class: Set(f.goes_class.clone()),
                    location_hpc_x_arcsec: Set(location.map(|l| l[0])),
                    location_hpc_y_arcsec: Set(location.map(|l| l[1])),
                    location_source: Set(
                        location.map(|_| LocationSource::FlareList.as_str().to_string())
                    ),
                    source: Set(FLARE_LIST_SOURCE.to_string()),
                    detector_version: Set(None),
                    created_at: Set(Utc::now()),
                    list_request_uid: Set(f.request_uid.clone()),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                changed += 1;
                row.id
            }
            Some(old) => {
                let mut want = old.clone();
                want.start_time = f.start;
                want.peak_time = f.peak;
                want.end_time = f.end;
                want.peak_counts4_to10_kev = c0;
                want.peak_counts10_to15_kev = c1;
                want.peak_counts15_to25_kev = c2;
                want.peak_counts25_to50_kev = c3;
                want.peak_counts50_to84_kev = c4;
                want.attenuator_in = Some(f.attenuator_in);
                if f.goes_class.is_some() {
                    want.goes_class = f.goes_class.clone();
                }
                if let Some([x, y]) = location {
                    want.location_hpc_x_arcsec = Some(x);
                    want.location_hpc_y_arcsec = Some(y);
                    want.location_source = Some(LocationSource::FlareList.as_str().to_string());
                }
                if f.request_uid.is_some() {
                    want.list_request_uid = f.request_uid.clone();
                }
                want.source = FLARE_LIST_SOURCE.to_string();
                want.detector_version = None;
                if want != old {
                    // Every column marked as set, so the update writes the new values.
                    let am: flare::ActiveModel = want.into();
                    am.reset_all().update(&txn).await?;
                    changed += 1;
                }
                old.id
            }
        };
        link_files_to_flare(&txn, row_id).await?;
    }
    txn.commit().await?;
    Ok(Ingested {
        science_file_id: None,
        kind: ProductKind::FlareList,
        status: if changed > 0 {
            IngestStatus::New
        } else {
            IngestStatus::AlreadyPresent
        },
        flares_imported: changed,
    })
}
