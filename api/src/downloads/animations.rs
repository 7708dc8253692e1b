//! Animation and overlay downloads: `/files/animations/{id}.gif` (rendered once from the
//! quick-look PNGs, kept under `animations/` in the storage, never rewritten),
//! `/scripts/animations/{id}.py` and `/scripts/overlays/{base id}.py?contours=…&levels=…`.

use super::{ImageFileCache, bad_request, ids, not_found, serve};
use crate::graphql::AppState;
use crate::graphql::animation::{check_levels, image_rows};
use crate::graphql::error::ApiError;
use crate::graphql::global_id::{NodeKind, encode};
use domain::scripts::{AnimationFrame, AnimationInputs, OverlayInputs};
use jobs::store::entities::{animation, image};
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, Response, handler};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serve::{ContentKind, Entity};
use uuid::Uuid;

async fn frame(
    state: &AppState,
    cache: &ImageFileCache,
    row: &image::Model,
) -> Result<AnimationFrame, ApiError> {
    let files = cache
        .get(state, row.public_id)
        .await
        .ok_or_else(|| ApiError::NotFound("image files missing".into()))?;
    Ok(AnimationFrame {
        image_id: encode(NodeKind::Image, &row.public_id.to_string()),
        fits_url: state.links.image_fits(&row.public_id),
        fits_file_name: files.fits_name.clone(),
        time_start: domain::time_range::format_utc(&row.time_start),
        energy_low_kev: row.energy_low_kev,
        energy_high_kev: row.energy_high_kev,
        algorithm: row.algorithm.clone(),
    })
}

/// The overlay template of `base` with `contours` at `levels` percent.
pub async fn overlay_script(
    state: &AppState,
    cache: &ImageFileCache,
    base: Uuid,
    contours: &[Uuid],
    levels: &[f64],
    scope: crate::auth::ImageScope,
) -> Result<String, ApiError> {
    check_levels(levels)?;
    let base_row = image_rows(state, &[base], scope).await?.remove(0);
    let rows = image_rows(state, contours, scope).await?;
    let mut frames = Vec::with_capacity(rows.len());
    for r in &rows {
        frames.push(frame(state, cache, r).await?);
    }
    let base = frame(state, cache, &base_row).await?;
    let png_name = format!(
        "overlay_{}.png",
        base.fits_file_name.trim_end_matches(".fits")
    );
    domain::scripts::overlay_python(&OverlayInputs {
        base,
        contours: frames,
        levels_percent: levels.to_vec(),
        png_name,
        software_version: domain::SOFTWARE_VERSION.to_string(),
    })
    .map_err(|e| ApiError::BadUserInput(e.to_string()))
}

/// The animation row and its image rows in frame order.
async fn animation_rows(
    state: &AppState,
    id: Uuid,
) -> Result<Option<(animation::Model, Vec<image::Model>)>, ApiError> {
    let Some(a) = animation::Entity::find()
        .filter(animation::Column::PublicId.eq(id))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let ids: Vec<Uuid> = a
        .image_ids
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                .collect()
        })
        .unwrap_or_default();
    // The animation's images were checked when it was made; its link carries its random id.
    let rows = image_rows(state, &ids, crate::auth::ImageScope::All).await?;
    Ok(Some((a, rows)))
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("animation download failed: {e}");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn animation_id(segment: &str, ext: &'static str) -> Option<Uuid> {
    let (id, _) = ids::split(segment, &[ext])?;
    ids::public_uuid(NodeKind::Animation, id)
}

/// `GET /files/animations/{id}.gif`.
#[handler]
pub async fn animation_gif(
    Path(segment): Path<String>,
    state: Data<&AppState>,
    cache: Data<&ImageFileCache>,
    req: &Request,
) -> Response {
    let Some(id) = animation_id(&segment, "gif") else {
        return not_found();
    };
    let (a, rows) = match animation_rows(&state, id).await {
        Ok(Some(x)) => x,
        Ok(None) => return not_found(),
        Err(ApiError::NotFound(_)) => return not_found(),
        Err(e) => return internal(e.message()),
    };
    // Rendered once by whichever process is asked first; with S3 storage the GIF is
    // published to the bucket, so that the other processes serve the same file.
    let rel = format!("animations/{id}.gif");
    let path = match state.storage.local_path(&rel).await {
        Ok(p) => p,
        Err(jobs::storage::StorageError::NotFound(_)) => match state.storage.join(&rel) {
            Ok(p) => p,
            Err(e) => return internal(e),
        },
        Err(e) => return internal(e),
    };
    if !path.is_file() {
        let mut pngs = Vec::with_capacity(rows.len());
        for r in &rows {
            let Some(files) = cache.get(&state, r.public_id).await else {
                return not_found();
            };
            let Some((png_rel, _, _)) = &files.png else {
                return not_found();
            };
            let png = match super::local_file(&state, png_rel).await {
                Ok(p) => p,
                Err(r) => return r,
            };
            let label = format!(
                "{}  {:.4}-{:.4} keV  {}",
                r.time_start.format("%Y-%m-%d %H:%M:%S"),
                r.energy_low_kev,
                r.energy_high_kev,
                r.algorithm
            )
            .replace(".0000", "");
            pngs.push((png.clone(), label));
        }
        let (p2, fps) = (path.clone(), a.fps);
        let made = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(p2.parent().unwrap_or(std::path::Path::new(".")))
                .map_err(|e| e.to_string())?;
            let frames: Vec<domain::output::animation::GifFrame<'_>> = pngs
                .iter()
                .map(|(png, label)| domain::output::animation::GifFrame {
                    png,
                    label: label.clone(),
                })
                .collect();
            domain::output::animation::write_animated_gif(&p2, &frames, fps)
                .map_err(|e| e.to_string())
        })
        .await;
        match made {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return internal(e),
            Err(e) => return internal(e),
        }
        match state.storage.publish(&rel).await {
            Ok(_) => {}
            Err(jobs::storage::StorageError::Conflict(_)) => {
                // Another process published its rendering first: serve that one.
                let _ = state.storage.remove_local(&rel).await;
                if let Err(e) = state.storage.local_path(&rel).await {
                    return internal(e);
                }
            }
            Err(e) => {
                let _ = state.storage.remove_local(&rel).await;
                return internal(e);
            }
        }
    }
    let p2 = path.clone();
    let sha = match tokio::task::spawn_blocking(move || std::fs::read(&p2)).await {
        Ok(Ok(bytes)) => serve::sha256_hex(&bytes),
        _ => return not_found(),
    };
    let name = format!("stix-animation-{id}.gif");
    serve::file(
        &path,
        &Entity {
            file_name: &name,
            sha256: &sha,
            kind: ContentKind::Gif,
        },
        req.headers(),
    )
    .await
    .unwrap_or_else(not_found)
}

/// `GET /scripts/animations/{id}.py`.
#[handler]
pub async fn animation_script(
    Path(segment): Path<String>,
    state: Data<&AppState>,
    cache: Data<&ImageFileCache>,
    req: &Request,
) -> Response {
    let Some(id) = animation_id(&segment, "py") else {
        return not_found();
    };
    let (a, rows) = match animation_rows(&state, id).await {
        Ok(Some(x)) => x,
        Ok(None) | Err(ApiError::NotFound(_)) => return not_found(),
        Err(e) => return internal(e.message()),
    };
    let mut frames = Vec::with_capacity(rows.len());
    for r in &rows {
        match frame(&state, &cache, r).await {
            Ok(f) => frames.push(f),
            Err(_) => return not_found(),
        }
    }
    let text = match domain::scripts::animation_python(&AnimationInputs {
        animation_id: encode(NodeKind::Animation, &id.to_string()),
        fps: a.fps,
        gif_name: format!("stix-animation-{id}-sunpy.gif"),
        frames,
        software_version: domain::SOFTWARE_VERSION.to_string(),
    }) {
        Ok(t) => t.into_bytes(),
        Err(e) => return internal(e),
    };
    let sha = serve::sha256_hex(&text);
    let name = format!("stix-animation-{id}.py");
    serve::bytes(
        text,
        &Entity {
            file_name: &name,
            sha256: &sha,
            kind: ContentKind::Python,
        },
        req.headers(),
    )
}

/// `?contours=a,b&levels=30,50`.
#[derive(Debug, serde::Deserialize)]
pub struct OverlayQuery {
    contours: Option<String>,
    levels: Option<String>,
}

/// `GET /scripts/overlays/{base id}.py?contours=…&levels=…`.
#[handler]
pub async fn overlay(
    Path(segment): Path<String>,
    Query(q): Query<OverlayQuery>,
    state: Data<&AppState>,
    cache: Data<&ImageFileCache>,
    req: &Request,
) -> Response {
    let Some((id, _)) = ids::split(&segment, &["py"]) else {
        return not_found();
    };
    let Some(base) = ids::public_uuid(NodeKind::Image, id) else {
        return not_found();
    };
    let mut contours = Vec::new();
    for c in q.contours.as_deref().unwrap_or_default().split(',') {
        if c.is_empty() {
            continue;
        }
        match ids::public_uuid(NodeKind::Image, c) {
            Some(u) => contours.push(u),
            None => return not_found(),
        }
    }
    if contours.is_empty() {
        return bad_request("contours: give one or more image ids".into());
    }
    let levels: Result<Vec<f64>, _> = match q.levels.as_deref() {
        Some(l) if !l.is_empty() => l.split(',').map(str::parse::<f64>).collect(),
        _ => Ok(crate::graphql::animation::DEFAULT_LEVELS_PERCENT.to_vec()),
    };
    let Ok(levels) = levels else {
        return bad_request("levels: comma-separated numbers".into());
    };
    let text = match overlay_script(
        &state,
        &cache,
        base,
        &contours,
        &levels,
        crate::auth::ImageScope::All,
    )
    .await
    {
        Ok(t) => t.into_bytes(),
        Err(ApiError::NotFound(_)) => return not_found(),
        Err(ApiError::BadUserInput(m)) => return bad_request(m),
        Err(e) => return internal(e.message()),
    };
    let sha = serve::sha256_hex(&text);
    let name = format!("stix-overlay-{id}.py");
    serve::bytes(
        text,
        &Entity {
            file_name: &name,
            sha256: &sha,
            kind: ContentKind::Python,
        },
        req.headers(),
    )
}
