//! Issue 9's mutations: `createAnimation` (a saved selection with a server-rendered GIF and
//! a Python template) and `createOverlay` (a Python template drawing contour maps on a base
//! map). A member of the merged `MutationRoot`.

use super::AppState;
use super::error::ApiError;
use super::global_id::{NodeKind, encode};
use crate::downloads::ids::public_uuid;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use jobs::store::entities::{animation, image};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

/// Most images an animation may hold.
pub const MAX_ANIMATION_IMAGES: usize = 300;
/// Most contour maps of one overlay.
pub const MAX_OVERLAY_CONTOURS: usize = 10;

/// `createAnimation` input.
#[derive(Debug, Clone, InputObject)]
pub struct CreateAnimationInput {
    /// The images (`Image.id`), 1 to 300; any order (frames are put in time order); bands and
    /// algorithms may be mixed (the frame labels say which is which).
    pub image_ids: Vec<ID>,
    /// Frames per second (default 2; at most 50).
    pub fps: Option<f64>,
}

/// A saved animation.
#[derive(Debug, Clone, SimpleObject)]
pub struct Animation {
    /// Global id.
    pub id: ID,
    /// Frames per second.
    pub fps: f64,
    /// The images, in frame (time) order.
    pub image_ids: Vec<ID>,
    /// Python template: downloads the FITS files, animates them with sunpy + matplotlib and
    /// writes a GIF with Pillow.
    pub python_script_url: String,
    /// Server-rendered GIF of the quick-looks, labelled with time, band and algorithm.
    pub gif_url: String,
}

/// `createOverlay` input.
#[derive(Debug, Clone, InputObject)]
pub struct CreateOverlayInput {
    /// The base map (`Image.id`).
    pub base_image_id: ID,
    /// The maps drawn as contours (`Image.id`), 1 to 10.
    pub contour_image_ids: Vec<ID>,
    /// Contour levels in percent of each contour map's maximum (default 30, 50, 70, 90).
    pub levels_percent: Option<Vec<f64>>,
}

/// An overlay plot template.
#[derive(Debug, Clone, SimpleObject)]
pub struct Overlay {
    /// The template's stable URL.
    pub python_script_url: String,
    /// The template itself.
    pub python_script: String,
}

fn image_uuid(id: &ID) -> Result<Uuid, ApiError> {
    public_uuid(NodeKind::Image, id.as_str())
        .ok_or_else(|| ApiError::BadUserInput(format!("{} is not an image id", id.as_str())))
}

/// The image rows of `ids`, in the order of `ids`; NOT_FOUND names one that is missing or
/// that `scope` may not see.
pub async fn image_rows(
    state: &AppState,
    ids: &[Uuid],
    scope: crate::auth::ImageScope,
) -> Result<Vec<image::Model>, ApiError> {
    let rows: Vec<image::Model> = image::Entity::find()
        .filter(image::Column::PublicId.is_in(ids.to_vec()))
        .all(&state.db)
        .await?
        .into_iter()
        .filter(|m| scope.allows(m))
        .collect();
    ids.iter()
        .map(|u| {
            rows.iter()
                .find(|r| r.public_id == *u)
                .cloned()
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "no image {}",
                        encode(NodeKind::Image, &u.to_string())
                    ))
                })
        })
        .collect()
}

/// Frame order: time, then band, then algorithm.
pub fn sort_frames(rows: &mut [image::Model]) {
    rows.sort_by(|a, b| {
        a.time_start
            .cmp(&b.time_start)
            .then(a.energy_low_kev.total_cmp(&b.energy_low_kev))
            .then(a.algorithm.cmp(&b.algorithm))
    });
}

/// Default contour levels, percent.
pub const DEFAULT_LEVELS_PERCENT: [f64; 4] = [30.0, 50.0, 70.0, 90.0];

/// Checks contour levels: 1–10 values in (0, 100].
pub fn check_levels(levels: &[f64]) -> Result<(), ApiError> {
    if levels.is_empty()
        || levels.len() > 10
        || levels
            .iter()
            .any(|l| !(l.is_finite() && *l > 0.0 && *l <= 100.0))
    {
        return Err(ApiError::BadUserInput(format!(
            "levelsPercent: 1 to 10 values in (0, 100], got {levels:?}"
        )));
    }
    Ok(())
}

/// Issue 9's mutation fields.
#[derive(Default)]
pub struct AnimationMutation;

#[Object]
impl AnimationMutation {
    /// Saves a selection of images as an animation (stable GIF and template URLs).
    async fn create_animation(
        &self,
        ctx: &Context<'_>,
        input: CreateAnimationInput,
    ) -> async_graphql::Result<Animation> {
        let state = ctx.data::<AppState>()?;
        let n = input.image_ids.len();
        if n == 0 || n > MAX_ANIMATION_IMAGES {
            return Err(ApiError::BadUserInput(format!(
                "imageIds: 1 to {MAX_ANIMATION_IMAGES} images, got {n}"
            ))
            .into());
        }
        let fps = input.fps.unwrap_or(2.0);
        if !(fps.is_finite() && fps > 0.0 && fps <= 50.0) {
            return Err(
                ApiError::BadUserInput(format!("fps must be in (0, 50], got {fps}")).into(),
            );
        }
        let mut ids = Vec::with_capacity(n);
        for id in &input.image_ids {
            let u = image_uuid(id)?;
            if !ids.contains(&u) {
                ids.push(u);
            }
        }
        let scope = super::accounts::authn(ctx).image_scope();
        let mut rows = image_rows(state, &ids, scope).await?;
        sort_frames(&mut rows);
        let ordered: Vec<Uuid> = rows.iter().map(|r| r.public_id).collect();
        let public_id = Uuid::new_v4();
        animation::ActiveModel {
            public_id: Set(public_id),
            fps: Set(fps),
            image_ids: Set(serde_json::json!(
                ordered.iter().map(|u| u.to_string()).collect::<Vec<_>>()
            )),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        }
        .insert(&state.db)
        .await
        .map_err(ApiError::from)?;
        Ok(Animation {
            id: ID(encode(NodeKind::Animation, &public_id.to_string())),
            fps,
            image_ids: ordered
                .iter()
                .map(|u| ID(encode(NodeKind::Image, &u.to_string())))
                .collect(),
            python_script_url: state.links.animation_python(&public_id),
            gif_url: state.links.animation_gif(&public_id),
        })
    }

    /// A Python template that draws the contour maps on the base map with sunpy (for
    /// example 16–28 keV contours on a 4–10 keV map).
    async fn create_overlay(
        &self,
        ctx: &Context<'_>,
        input: CreateOverlayInput,
    ) -> async_graphql::Result<Overlay> {
        let state = ctx.data::<AppState>()?;
        let n = input.contour_image_ids.len();
        if n == 0 || n > MAX_OVERLAY_CONTOURS {
            return Err(ApiError::BadUserInput(format!(
                "contourImageIds: 1 to {MAX_OVERLAY_CONTOURS} images, got {n}"
            ))
            .into());
        }
        let levels = input
            .levels_percent
            .unwrap_or_else(|| DEFAULT_LEVELS_PERCENT.to_vec());
        check_levels(&levels)?;
        let base = image_uuid(&input.base_image_id)?;
        let contours: Vec<Uuid> = input
            .contour_image_ids
            .iter()
            .map(image_uuid)
            .collect::<Result<_, _>>()?;
        let cache = crate::downloads::ImageFileCache::default();
        let scope = super::accounts::authn(ctx).image_scope();
        let script = crate::downloads::animations::overlay_script(
            state, &cache, base, &contours, &levels, scope,
        )
        .await?;
        Ok(Overlay {
            python_script_url: state.links.overlay_python(&base, &contours, &levels),
            python_script: script,
        })
    }
}
