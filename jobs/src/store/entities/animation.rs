//! `animations`: saved image selections of `createAnimation` (stable GIF/template URLs).

use sea_orm::entity::prelude::*;

/// One animation.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "animations")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Public id.
    #[sea_orm(unique)]
    pub public_id: Uuid,
    /// Frames per second.
    pub fps: f64,
    /// Public ids of the images, in time order (JSON array of UUID strings).
    pub image_ids: Json,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
}

/// Relations are queried explicitly in `store`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
