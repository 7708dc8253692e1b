//! `preview_skips`: boxes the preview policy planned but did not image, with the reason
//! (too few counts, algorithm failure), so a user can see why a flare has no image.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PreviewSkips {
    Table,
    Id,
    ScienceFileId,
    FlareId,
    JobId,
    DedupKey,
    Algorithm,
    EnergyLowKev,
    EnergyHighKev,
    TimeStart,
    TimeEnd,
    Counts,
    Reason,
    PolicyVersion,
    PolicyInputs,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScienceFiles {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Flares {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PreviewSkips::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PreviewSkips::Id))
                    .col(big_integer(PreviewSkips::ScienceFileId))
                    .col(big_integer_null(PreviewSkips::FlareId))
                    .col(big_integer_null(PreviewSkips::JobId))
                    .col(string_uniq(PreviewSkips::DedupKey))
                    .col(string_null(PreviewSkips::Algorithm))
                    .col(double(PreviewSkips::EnergyLowKev))
                    .col(double(PreviewSkips::EnergyHighKev))
                    .col(timestamp_with_time_zone(PreviewSkips::TimeStart))
                    .col(timestamp_with_time_zone(PreviewSkips::TimeEnd))
                    .col(double_null(PreviewSkips::Counts))
                    .col(text(PreviewSkips::Reason))
                    .col(string(PreviewSkips::PolicyVersion))
                    .col(json_null(PreviewSkips::PolicyInputs))
                    .col(timestamp_with_time_zone(PreviewSkips::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PreviewSkips::Table, PreviewSkips::ScienceFileId)
                            .to(ScienceFiles::Table, ScienceFiles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PreviewSkips::Table, PreviewSkips::FlareId)
                            .to(Flares::Table, Flares::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_preview_skips_flare", PreviewSkips::FlareId),
            (
                "idx_preview_skips_science_file",
                PreviewSkips::ScienceFileId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(PreviewSkips::Table)
                        .col(col)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(PreviewSkips::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
