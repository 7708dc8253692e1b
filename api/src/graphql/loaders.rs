//! Batched per-row lookups (async-graphql's DataLoader): a page of 50 images asks for its
//! science files, flares and counts in one query per kind instead of one per row.
//! The loader lives in the schema's data without a cache (rows may change between
//! requests); batching happens among the resolvers running together.

use async_graphql::dataloader::{DataLoader, Loader};
use jobs::store::entities::{flare, flare_science_file, image, preview_skip, science_file};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The loader of every batched lookup, keyed by the newtypes below.
pub struct ArchiveLoader {
    db: DatabaseConnection,
}

/// The shared loader type in the schema data.
pub type Loaders = DataLoader<ArchiveLoader>;

/// Builds the loader for `db`.
pub fn loaders(db: DatabaseConnection) -> Loaders {
    DataLoader::new(ArchiveLoader { db }, tokio::spawn).delay(Duration::from_micros(200))
}

/// A science file by row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScienceFileRow(pub i64);
/// A flare by row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlareRow(pub i64);
/// The number of images of a flare (row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageCountOf(pub i64);
/// The preview skips of a flare (row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SkipsOf(pub i64);
/// The flares a science file covers (file row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlaresOfFile(pub i64);
/// The science files covering a flare (flare row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FilesOfFlare(pub i64);

/// A database error shared among the waiting resolvers.
pub type LoadError = Arc<DbErr>;

fn ids<K: Copy>(keys: &[K], f: impl Fn(K) -> i64) -> Vec<i64> {
    keys.iter().map(|k| f(*k)).collect()
}

impl Loader<ScienceFileRow> for ArchiveLoader {
    type Value = science_file::Model;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ScienceFileRow],
    ) -> Result<HashMap<ScienceFileRow, Self::Value>, Self::Error> {
        let rows = science_file::Entity::find()
            .filter(science_file::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| (ScienceFileRow(m.id), m))
            .collect())
    }
}

impl Loader<FlareRow> for ArchiveLoader {
    type Value = flare::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[FlareRow]) -> Result<HashMap<FlareRow, Self::Value>, Self::Error> {
        let rows = flare::Entity::find()
            .filter(flare::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|m| (FlareRow(m.id), m)).collect())
    }
}

impl Loader<ImageCountOf> for ArchiveLoader {
    type Value = i64;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ImageCountOf],
    ) -> Result<HashMap<ImageCountOf, Self::Value>, Self::Error> {
        let counts: Vec<(Option<i64>, i64)> = image::Entity::find()
            .select_only()
            .column(image::Column::FlareId)
            .column_as(Expr::col(image::Column::Id).count(), "n")
            .filter(image::Column::FlareId.is_in(ids(keys, |k| k.0)))
            .group_by(image::Column::FlareId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut out: HashMap<ImageCountOf, i64> = keys.iter().map(|k| (*k, 0)).collect();
        for (fid, n) in counts {
            if let Some(fid) = fid {
                out.insert(ImageCountOf(fid), n);
            }
        }
        Ok(out)
    }
}

impl Loader<SkipsOf> for ArchiveLoader {
    type Value = Vec<preview_skip::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[SkipsOf]) -> Result<HashMap<SkipsOf, Self::Value>, Self::Error> {
        let rows = preview_skip::Entity::find()
            .filter(preview_skip::Column::FlareId.is_in(ids(keys, |k| k.0)))
            .order_by_asc(preview_skip::Column::EnergyLowKev)
            .order_by_asc(preview_skip::Column::TimeStart)
            .order_by_asc(preview_skip::Column::Id)
            .all(&self.db)
            .await?;
        let mut out: HashMap<SkipsOf, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for r in rows {
            if let Some(f) = r.flare_id {
                out.entry(SkipsOf(f)).or_default().push(r);
            }
        }
        Ok(out)
    }
}

impl Loader<FlaresOfFile> for ArchiveLoader {
    type Value = Vec<flare::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[FlaresOfFile],
    ) -> Result<HashMap<FlaresOfFile, Self::Value>, Self::Error> {
        let links = flare_science_file::Entity::find()
            .filter(flare_science_file::Column::ScienceFileId.is_in(ids(keys, |k| k.0)))
            .all(&self.db)
            .await?;
        let flares: HashMap<i64, flare::Model> = flare::Entity::find()
            .filter(flare::Column::Id.is_in(links.iter().map(|l| l.flare_id)))
            .order_by_asc(flare::Column::PeakTime)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|f| (f.id, f))
            .collect();
        let mut out: HashMap<FlaresOfFile, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for l in links {
            if let Some(f) = flares.get(&l.flare_id) {
                out.entry(FlaresOfFile(l.science_file_id))
                    .or_default()
                    .push(f.clone());
            }
        }
        for v in out.values_mut() {
            v.sort_by_key(|f| (f.peak_time, f.id));
        }
        Ok(out)
    }
}

impl Loader<FilesOfFlare> for ArchiveLoader {
    type Value = Vec<science_file::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[FilesOfFlare],
    ) -> Result<HashMap<FilesOfFlare, Self::Value>, Self::Error> {
        let links = flare_science_file::Entity::find()
            .filter(flare_science_file::Column::FlareId.is_in(ids(keys, |k| k.0)))
            .all(&self.db)
            .await?;
        let files: HashMap<i64, science_file::Model> = science_file::Entity::find()
            .filter(science_file::Column::Id.is_in(links.iter().map(|l| l.science_file_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|f| (f.id, f))
            .collect();
        let mut out: HashMap<FilesOfFlare, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for l in links {
            if let Some(f) = files.get(&l.science_file_id) {
                out.entry(FilesOfFlare(l.flare_id))
                    .or_default()
                    .push(f.clone());
            }
        }
        for v in out.values_mut() {
            v.sort_by_key(|f| (f.obs_start, f.id));
        }
        Ok(out)
    }
}
