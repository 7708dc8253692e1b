//! `/scripts/images/{id}.py` and `.pro`: the reproduction scripts of one image, rendered by
//! `domain::scripts` from its row, its science/background/aspect rows and its FITS header.

use super::{ImageFileCache, ids, not_found, serve};
use crate::graphql::AppState;
use crate::graphql::global_id::{NodeKind, encode};
use domain::scripts::{FileRef, ImageInputs};
use jobs::store::entities::{image, science_file};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{IntoResponse, Request, Response, handler};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serve::{ContentKind, Entity};
use uuid::Uuid;

fn file_ref(state: &AppState, row: &science_file::Model) -> FileRef {
    FileRef {
        request_uid: row.request_uid,
        version: row.version,
        file_name: row.file_name.clone(),
        sha256: row.sha256.clone(),
        url: state.links.science_file(row.request_uid, row.version),
    }
}

/// Everything a script of image `id` needs; `Ok(None)` when there is no such image.
pub async fn image_inputs(
    state: &AppState,
    cache: &ImageFileCache,
    id: Uuid,
) -> Result<Option<ImageInputs>, String> {
    let Some(row) = image::Entity::find()
        .filter(image::Column::PublicId.eq(id))
        .one(&state.db)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let Some(files) = cache.get(state, id).await else {
        return Ok(None);
    };
    let find = |file_id: i64| science_file::Entity::find_by_id(file_id).one(&state.db);
    let science = find(row.science_file_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("science file row missing")?;
    let background = match row.background_file_id {
        Some(b) => find(b).await.map_err(|e| e.to_string())?,
        None => None,
    };
    let fits_path = state
        .storage
        .local_path(&files.fits_path)
        .await
        .map_err(|e| e.to_string())?;
    let keys =
        tokio::task::spawn_blocking(move || domain::output::fits_map::read_map_keys(&fits_path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    let aspect = if keys.aux_file == "none" {
        None
    } else {
        science_file::Entity::find()
            .filter(science_file::Column::FileName.eq(keys.aux_file.clone()))
            .order_by_desc(science_file::Column::Version)
            .one(&state.db)
            .await
            .map_err(|e| e.to_string())?
    };
    let params = row
        .parameters
        .get("params")
        .cloned()
        .unwrap_or_else(|| row.parameters.clone());
    let detectors = params
        .get("detectors")
        .and_then(|d| d.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(ImageInputs {
        image_id: encode(NodeKind::Image, &id.to_string()),
        fits_url: state.links.image_fits(&id),
        fits_file_name: files.fits_name.clone(),
        fits_sha256: files.fits_sha256.clone(),
        png_url: state.links.image_png(&id),
        science: file_ref(state, &science),
        background_time_range_utc: background.as_ref().map(|b| {
            [
                domain::time_range::format_utc(&b.obs_start),
                domain::time_range::format_utc(&b.obs_end),
            ]
        }),
        background: background.as_ref().map(|b| file_ref(state, b)),
        aspect: aspect.as_ref().map(|a| file_ref(state, a)),
        time_range_utc: [keys.date_beg.clone(), keys.date_end.clone()],
        energy_range_kev: [row.energy_low_kev, row.energy_high_kev],
        center_stix_arcsec: keys.center_stix_arcsec,
        center_hpc_arcsec: keys.center_hpc_arcsec,
        roll_deg: keys.roll_deg,
        pointing_arcsec: keys.pointing_arcsec,
        observer: domain::scripts::Observer {
            lon_deg: keys.observer_lon_lat_deg[0],
            lat_deg: keys.observer_lon_lat_deg[1],
            distance_m: keys.observer_distance_m,
        },
        image_size_px: keys.size_px,
        pixel_arcsec: keys.pixel_arcsec,
        algorithm: row.algorithm.clone(),
        detectors,
        parameters: params,
        calibration_version: row.calibration_version.clone(),
        elut_file: keys.elut_file.clone(),
        software_version: row.software_version.clone(),
        policy_version: row.policy_version.clone(),
    }))
}

/// `GET /scripts/images/{id}.py|.pro`.
#[handler]
pub async fn image_script(
    Path(segment): Path<String>,
    state: Data<&AppState>,
    cache: Data<&ImageFileCache>,
    req: &Request,
) -> Response {
    let Some((id, ext)) = ids::split(&segment, &["py", "pro"]) else {
        return not_found();
    };
    let Some(uuid) = ids::public_uuid(NodeKind::Image, id) else {
        return not_found();
    };
    let inputs = match image_inputs(&state, &cache, uuid).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!("script inputs of image {uuid}: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let (text, name, kind) = if ext == "py" {
        let stem = inputs.fits_file_name.trim_end_matches(".fits").to_string();
        (
            domain::scripts::image_python(&inputs),
            format!("{stem}.py"),
            ContentKind::Python,
        )
    } else {
        (
            domain::scripts::idl_procedure(&inputs),
            format!(
                "{}.pro",
                domain::scripts::idl_procedure_name(&inputs.image_id)
            ),
            ContentKind::Idl,
        )
    };
    let text = match text {
        Ok(t) => t.into_bytes(),
        Err(e) => {
            tracing::error!("script of image {uuid}: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let sha = serve::sha256_hex(&text);
    serve::bytes(
        text,
        &Entity {
            file_name: &name,
            sha256: &sha,
            kind,
        },
        req.headers(),
    )
}
