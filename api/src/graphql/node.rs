//! The Relay `Node` interface and the permalink lookups: `node(id)`, `image(id)`,
//! `scienceFile(uid, version)` (`flare(flareId)` is on the connections' root).

use super::AppState;
use super::accounts::authn;
use super::error::ApiError;
use super::global_id::{NodeKind, decode};
use super::scalars::BigInt;
use super::types::{Flare, Image, ScienceFile};
use crate::auth::ImageScope;
use async_graphql::{Context, ID, Interface, Object};
use jobs::store::entities::{flare, image, science_file};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

/// An object with a global id that `node(id)` resolves.
// One short-lived value per resolved node: boxing the image would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID", desc = "Global id: opaque and URL-safe."))]
pub enum Node {
    /// An image.
    Image(Image),
    /// A flare.
    Flare(Flare),
    /// A science file.
    ScienceFile(ScienceFile),
}

/// The image with this public id, if `scope` may see it (another user's image is "none").
async fn image_by_uuid(
    db: &DatabaseConnection,
    key: &str,
    scope: ImageScope,
) -> Result<Option<Image>, ApiError> {
    let Ok(uuid) = uuid::Uuid::parse_str(key) else {
        return Ok(None);
    };
    Ok(image::Entity::find()
        .filter(image::Column::PublicId.eq(uuid))
        .one(db)
        .await?
        .filter(|m| scope.allows(m))
        .map(Image::from))
}

async fn flare_by_id(db: &DatabaseConnection, key: &str) -> Result<Option<Flare>, ApiError> {
    let Ok(fid) = key.parse::<i64>() else {
        return Ok(None);
    };
    Ok(flare::Entity::find()
        .filter(flare::Column::FlareId.eq(fid))
        .one(db)
        .await?
        .map(Flare::from))
}

/// The science file with request `uid` and `version` (the latest version when `None`).
pub async fn science_file_by_uid(
    db: &DatabaseConnection,
    uid: i64,
    version: Option<i32>,
) -> Result<Option<ScienceFile>, ApiError> {
    let mut q = science_file::Entity::find().filter(science_file::Column::RequestUid.eq(uid));
    if let Some(v) = version {
        q = q.filter(science_file::Column::Version.eq(v));
    }
    Ok(q.order_by_desc(science_file::Column::Version)
        .order_by_asc(science_file::Column::Id)
        .one(db)
        .await?
        .map(ScienceFile::from))
}

async fn science_file_by_key(
    db: &DatabaseConnection,
    key: &str,
) -> Result<Option<ScienceFile>, ApiError> {
    let Some((uid, version)) = key.split_once(':') else {
        return Ok(None);
    };
    let (Ok(uid), Ok(version)) = (uid.parse::<i64>(), version.parse::<i32>()) else {
        return Ok(None);
    };
    science_file_by_uid(db, uid, Some(version)).await
}

/// Resolves a global id; `Ok(None)` when it is well-formed but nothing has it.
pub async fn resolve(
    db: &DatabaseConnection,
    id: &str,
    scope: ImageScope,
) -> Result<Option<Node>, ApiError> {
    let (kind, key) =
        decode(id).ok_or_else(|| ApiError::BadUserInput(format!("'{id}' is not a global id")))?;
    Ok(match kind {
        NodeKind::Image => image_by_uuid(db, &key, scope).await?.map(Node::Image),
        NodeKind::Flare => flare_by_id(db, &key).await?.map(Node::Flare),
        NodeKind::ScienceFile => science_file_by_key(db, &key).await?.map(Node::ScienceFile),
        _ => None,
    })
}

/// The lookup fields of the query root.
#[derive(Default)]
pub struct LookupQuery;

#[Object]
impl LookupQuery {
    /// Any object by its global id (null when nothing has that id).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let st = ctx.data::<AppState>()?;
        Ok(resolve(&st.db, &id, authn(ctx).image_scope()).await?)
    }

    /// One image by its global id (a bare image UUID is accepted too).
    async fn image(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Image> {
        let st = ctx.data::<AppState>()?;
        let scope = authn(ctx).image_scope();
        let found = match decode(&id) {
            Some((NodeKind::Image, key)) => image_by_uuid(&st.db, &key, scope).await?,
            Some(_) => {
                return Err(ApiError::BadUserInput(format!(
                    "'{}' is the id of another type, not an image",
                    id.as_str()
                ))
                .into());
            }
            None if uuid::Uuid::parse_str(&id).is_ok() => image_by_uuid(&st.db, &id, scope).await?,
            None => {
                return Err(ApiError::BadUserInput(format!(
                    "'{}' is not an image id",
                    id.as_str()
                ))
                .into());
            }
        };
        Ok(found.ok_or_else(|| ApiError::NotFound(format!("no image with id {}", id.as_str())))?)
    }

    /// One science file by its STIX request unique id and version (default: the latest).
    async fn science_file(
        &self,
        ctx: &Context<'_>,
        uid: BigInt,
        version: Option<i32>,
    ) -> async_graphql::Result<ScienceFile> {
        let st = ctx.data::<AppState>()?;
        Ok(science_file_by_uid(&st.db, uid.0, version)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(match version {
                    Some(v) => format!("no science file with uid {} version {v}", uid.0),
                    None => format!("no science file with uid {}", uid.0),
                })
            })?)
    }
}
