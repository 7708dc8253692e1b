//! Issue #11: every image's quality assessment (`images.quality_grade` for filtering,
//! `images.quality` with the reasons and figures), and the background and net counts that
//! the `preview-v2` policy measures on every skipped box (`preview_skips`). Images made
//! before keep `NULL` (never graded); skips of `preview-v1` record total counts only.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Images {
    Table,
    QualityGrade,
    Quality,
}

#[derive(DeriveIden)]
enum PreviewSkips {
    Table,
    BackgroundCounts,
    NetCounts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let add = |table: DynIden, column: ColumnDef| {
            Table::alter().table(table).add_column(column).to_owned()
        };
        manager
            .alter_table(add(
                Images::Table.into_iden(),
                string_null(Images::QualityGrade),
            ))
            .await?;
        manager
            .alter_table(add(Images::Table.into_iden(), json_null(Images::Quality)))
            .await?;
        manager
            .alter_table(add(
                PreviewSkips::Table.into_iden(),
                double_null(PreviewSkips::BackgroundCounts),
            ))
            .await?;
        manager
            .alter_table(add(
                PreviewSkips::Table.into_iden(),
                double_null(PreviewSkips::NetCounts),
            ))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_images_quality_grade")
                    .table(Images::Table)
                    .col(Images::QualityGrade)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_images_quality_grade")
                    .table(Images::Table)
                    .to_owned(),
            )
            .await?;
        let drop = |table: DynIden, column: DynIden| {
            Table::alter().table(table).drop_column(column).to_owned()
        };
        manager
            .alter_table(drop(
                PreviewSkips::Table.into_iden(),
                PreviewSkips::NetCounts.into_iden(),
            ))
            .await?;
        manager
            .alter_table(drop(
                PreviewSkips::Table.into_iden(),
                PreviewSkips::BackgroundCounts.into_iden(),
            ))
            .await?;
        manager
            .alter_table(drop(Images::Table.into_iden(), Images::Quality.into_iden()))
            .await?;
        manager
            .alter_table(drop(
                Images::Table.into_iden(),
                Images::QualityGrade.into_iden(),
            ))
            .await
    }
}
