//! Plain-HTTP downloads with stable URLs (issue 9): image FITS/PNG by `Image.id`, science
//! files by request UID (latest or `?version=N`), selections as a streamed ZIP with a
//! manifest, and the reproduction scripts. Ids only, never paths: anything that is not an id
//! of ours answers 404. Files are streamed from the data directory (with S3 storage, from
//! this process's copy, fetched from the bucket on first use: [`local_file`]); see [`serve`]
//! for the HTTP behaviour (ETag from the SHA-256, ranges, HEAD).

pub mod animations;
pub mod ids;
pub mod links;
pub mod scripts;
pub mod serve;
pub mod zip;

use crate::graphql::AppState;
use crate::graphql::global_id::NodeKind;
use jobs::store::entities::{image, science_file};
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, Response, Route, get, handler};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serve::{ContentKind, Entity};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

pub use links::Links;

/// Most images a ZIP selection may hold.
pub const MAX_ZIP_IMAGES: usize = 500;

/// Largest number of image rows kept in the lookup cache (rows and their files never change,
/// so the cache needs no invalidation; it is simply emptied when full).
const CACHE_CAPACITY: usize = 100_000;

/// The files of one image row, resolved once.
#[derive(Debug)]
pub struct ImageFiles {
    /// FITS path relative to the data directory (checked to be a plain relative path).
    pub fits_path: String,
    /// FITS file name offered to clients.
    pub fits_name: String,
    /// SHA-256 of the FITS file.
    pub fits_sha256: String,
    /// Relative PNG path, name and SHA-256, when there is a PNG.
    pub png: Option<(String, String, String)>,
}

/// Image rows by public id, shared by the download handlers.
#[derive(Debug, Default, Clone)]
pub struct ImageFileCache {
    rows: Arc<RwLock<HashMap<Uuid, Arc<ImageFiles>>>>,
}

impl ImageFileCache {
    async fn get(&self, state: &AppState, id: Uuid) -> Option<Arc<ImageFiles>> {
        if let Some(hit) = self.rows.read().ok()?.get(&id) {
            return Some(hit.clone());
        }
        let row = image::Entity::find()
            .filter(image::Column::PublicId.eq(id))
            .one(&state.db)
            .await
            .map_err(|e| tracing::error!("image lookup failed: {e}"))
            .ok()??;
        let files = Arc::new(image_files(&row)?);
        let mut rows = self.rows.write().ok()?;
        if rows.len() >= CACHE_CAPACITY {
            rows.clear();
        }
        rows.insert(id, files.clone());
        Some(files)
    }
}

/// The stored file `relative` on this process's disk, fetched from the shared object store
/// when this process has no copy yet (downloads are then served from the local copy, with
/// ranges and ETags as ever). Anything but a plain relative path is refused (the database
/// only holds our own relative paths, but a path is never trusted blindly). `Err` is the
/// response to give instead: 404 when the file is nowhere, 503 when the store cannot be
/// reached.
pub async fn local_file(state: &AppState, relative: &str) -> Result<PathBuf, Response> {
    use jobs::storage::StorageError;
    match state.storage.local_path(relative).await {
        Ok(p) => Ok(p),
        Err(e @ (StorageError::NotFound(_) | StorageError::BadPath(_))) => {
            tracing::error!(relative, "stored file missing: {e}");
            Err(not_found())
        }
        Err(e) => {
            tracing::error!(relative, "stored file unavailable: {e}");
            Err((StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n").into_response())
        }
    }
}

fn file_name(relative: &str) -> String {
    std::path::Path::new(relative)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| relative.to_string())
}

fn image_files(row: &image::Model) -> Option<ImageFiles> {
    let plain = |p: &str| {
        jobs::storage::checked_relative(p)
            .ok()
            .map(|_| p.to_string())
    };
    let png = match (&row.png_path, &row.png_sha256) {
        (Some(p), Some(sha)) => Some((plain(p)?, file_name(p), sha.clone())),
        _ => None,
    };
    Some(ImageFiles {
        fits_path: plain(&row.fits_path)?,
        fits_name: file_name(&row.fits_path),
        fits_sha256: row.fits_sha256.clone(),
        png,
    })
}

/// 404 with a short text body.
pub fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// 400 with the reason.
pub fn bad_request(reason: String) -> Response {
    (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response()
}

#[handler]
async fn image_file(
    Path(segment): Path<String>,
    state: Data<&AppState>,
    cache: Data<&ImageFileCache>,
    req: &Request,
) -> Response {
    let Some((id, ext)) = ids::split(&segment, &["fits", "png"]) else {
        return not_found();
    };
    let Some(uuid) = ids::public_uuid(NodeKind::Image, id) else {
        return not_found();
    };
    let Some(files) = cache.get(&state, uuid).await else {
        return not_found();
    };
    let (path, entity) = match ext {
        "fits" => (
            &files.fits_path,
            Entity {
                file_name: &files.fits_name,
                sha256: &files.fits_sha256,
                kind: ContentKind::Fits,
            },
        ),
        _ => match &files.png {
            Some((p, name, sha)) => (
                p,
                Entity {
                    file_name: name,
                    sha256: sha,
                    kind: ContentKind::Png,
                },
            ),
            None => return not_found(),
        },
    };
    let path = match local_file(&state, path).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match serve::file(&path, &entity, req.headers()).await {
        Some(r) => r,
        None => {
            tracing::error!(path = %path.display(), "image file missing on disk");
            not_found()
        }
    }
}

/// `?version=N` of a science file download.
#[derive(Debug, serde::Deserialize)]
struct VersionQuery {
    version: Option<i32>,
}

#[handler]
async fn science_download(
    Path(segment): Path<String>,
    Query(q): Query<VersionQuery>,
    state: Data<&AppState>,
    req: &Request,
) -> Response {
    let Some((uid, _)) = ids::split(&segment, &["fits"]) else {
        return not_found();
    };
    let Ok(uid) = uid.parse::<i64>() else {
        return not_found();
    };
    let mut query = science_file::Entity::find().filter(science_file::Column::RequestUid.eq(uid));
    query = match q.version {
        Some(v) => query.filter(science_file::Column::Version.eq(v)),
        None => query.filter(science_file::Column::IsLatest.eq(true)),
    };
    let row = match query
        .order_by_desc(science_file::Column::Version)
        .one(&state.db)
        .await
    {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!("science file lookup failed: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let path = match local_file(&state, &row.stored_path).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let entity = Entity {
        file_name: &row.file_name,
        sha256: &row.sha256,
        kind: ContentKind::Fits,
    };
    serve::file(&path, &entity, req.headers())
        .await
        .unwrap_or_else(not_found)
}

/// Adds the download routes to `route`; they need [`AppState`] and an [`ImageFileCache`] as
/// data.
pub fn add_routes(route: Route) -> Route {
    route
        .at("/files/images/:file", get(image_file))
        .at("/files/images.zip", get(zip::images_zip))
        .at("/files/science/:file", get(science_download))
        .at("/scripts/images/:file", get(scripts::image_script))
        .at("/files/animations/:file", get(animations::animation_gif))
        .at(
            "/scripts/animations/:file",
            get(animations::animation_script),
        )
        .at("/scripts/overlays/:file", get(animations::overlay))
}
