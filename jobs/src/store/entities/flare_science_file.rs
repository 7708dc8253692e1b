//! `flare_science_files`: which science files cover which flare.

use sea_orm::entity::prelude::*;

/// One link.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "flare_science_files")]
pub struct Model {
    /// The flare row.
    #[sea_orm(primary_key, auto_increment = false)]
    pub flare_id: i64,
    /// The science file row.
    #[sea_orm(primary_key, auto_increment = false)]
    pub science_file_id: i64,
}

/// Relations are queried explicitly in `store`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
