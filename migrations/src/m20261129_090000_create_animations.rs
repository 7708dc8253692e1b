//! `animations`: a saved selection of images (`createAnimation`), so that its GIF and Python
//! template URLs stay stable. The image public ids are stored in time order.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Animations {
    Table,
    Id,
    PublicId,
    Fps,
    ImageIds,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Animations::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Animations::Id))
                    .col(uuid_uniq(Animations::PublicId))
                    .col(double(Animations::Fps))
                    .col(json(Animations::ImageIds))
                    .col(timestamp_with_time_zone(Animations::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Animations::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
