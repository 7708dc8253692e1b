//! The archive: science files, flares (and their files), users, reconstruction jobs, images.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScienceFiles {
    Table,
    Id,
    RequestUid,
    ProductKind,
    FileName,
    Version,
    IsLatest,
    Sha256,
    SizeBytes,
    StoredPath,
    ObsStart,
    ObsEnd,
    NTimeBins,
    EnergyGroupsKev,
    EnergyLowKev,
    EnergyHighKev,
    PixelMask,
    DetectorMask,
    AttenuatorIn,
    Header,
    IngestedAt,
}

#[derive(DeriveIden)]
enum Flares {
    Table,
    Id,
    FlareId,
    StartTime,
    PeakTime,
    EndTime,
    PeakCounts4To10Kev,
    PeakCounts10To15Kev,
    PeakCounts15To25Kev,
    PeakCounts25To50Kev,
    PeakCounts50To84Kev,
    AttenuatorIn,
    GoesClass,
    LocationHpcXArcsec,
    LocationHpcYArcsec,
    LocationSource,
    Source,
    DetectorVersion,
    CreatedAt,
}

#[derive(DeriveIden)]
enum FlareScienceFiles {
    Table,
    FlareId,
    ScienceFileId,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    PublicId,
    Username,
    Email,
    PasswordHash,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ReconstructionJobs {
    Table,
    Id,
    PublicId,
    OwnerId,
    Kind,
    Status,
    Stage,
    ProgressDone,
    ProgressTotal,
    Attempts,
    ErrorCode,
    ErrorMessage,
    Request,
    RequestHash,
    ScienceFileId,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Images {
    Table,
    Id,
    PublicId,
    Kind,
    Algorithm,
    EnergyLowKev,
    EnergyHighKev,
    TimeStart,
    TimeEnd,
    ScienceFileId,
    BackgroundFileId,
    FlareId,
    JobId,
    DedupKey,
    Parameters,
    PolicyVersion,
    PolicyInputs,
    CalibrationVersion,
    SoftwareVersion,
    CenterHpcXArcsec,
    CenterHpcYArcsec,
    PeakHpcXArcsec,
    PeakHpcYArcsec,
    TotalCounts,
    BackgroundCounts,
    TotalFlux,
    FitsPath,
    FitsSha256,
    PngPath,
    PngSha256,
    CreatedAt,
}

/// `CREATE INDEX idx_<table>_<name> ON table (cols…)`.
fn index<T: IntoIden + 'static>(table: T, name: &str, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table).if_not_exists();
    for c in cols {
        idx.col(c);
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScienceFiles::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ScienceFiles::Id))
                    .col(big_integer(ScienceFiles::RequestUid))
                    .col(string(ScienceFiles::ProductKind))
                    .col(string(ScienceFiles::FileName))
                    .col(integer(ScienceFiles::Version))
                    .col(boolean(ScienceFiles::IsLatest).default(true))
                    .col(string_uniq(ScienceFiles::Sha256))
                    .col(big_integer(ScienceFiles::SizeBytes))
                    .col(string(ScienceFiles::StoredPath))
                    .col(timestamp_with_time_zone(ScienceFiles::ObsStart))
                    .col(timestamp_with_time_zone(ScienceFiles::ObsEnd))
                    .col(integer(ScienceFiles::NTimeBins))
                    .col(json_null(ScienceFiles::EnergyGroupsKev))
                    .col(double_null(ScienceFiles::EnergyLowKev))
                    .col(double_null(ScienceFiles::EnergyHighKev))
                    .col(integer_null(ScienceFiles::PixelMask))
                    .col(big_integer_null(ScienceFiles::DetectorMask))
                    .col(boolean_null(ScienceFiles::AttenuatorIn))
                    .col(json_null(ScienceFiles::Header))
                    .col(timestamp_with_time_zone(ScienceFiles::IngestedAt))
                    .to_owned(),
            )
            .await?;
        for stmt in [
            index(
                ScienceFiles::Table,
                "idx_science_files_uid",
                vec![ScienceFiles::RequestUid.into_iden()],
            ),
            index(
                ScienceFiles::Table,
                "idx_science_files_time",
                vec![
                    ScienceFiles::ObsStart.into_iden(),
                    ScienceFiles::ObsEnd.into_iden(),
                ],
            ),
            index(
                ScienceFiles::Table,
                "idx_science_files_kind_time",
                vec![
                    ScienceFiles::ProductKind.into_iden(),
                    ScienceFiles::ObsStart.into_iden(),
                ],
            ),
            index(
                ScienceFiles::Table,
                "idx_science_files_name",
                vec![ScienceFiles::FileName.into_iden()],
            ),
        ] {
            manager.create_index(stmt).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Flares::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Flares::Id))
                    .col(big_integer_uniq(Flares::FlareId))
                    .col(timestamp_with_time_zone(Flares::StartTime))
                    .col(timestamp_with_time_zone(Flares::PeakTime))
                    .col(timestamp_with_time_zone(Flares::EndTime))
                    .col(double_null(Flares::PeakCounts4To10Kev))
                    .col(double_null(Flares::PeakCounts10To15Kev))
                    .col(double_null(Flares::PeakCounts15To25Kev))
                    .col(double_null(Flares::PeakCounts25To50Kev))
                    .col(double_null(Flares::PeakCounts50To84Kev))
                    .col(boolean_null(Flares::AttenuatorIn))
                    .col(string_null(Flares::GoesClass))
                    .col(double_null(Flares::LocationHpcXArcsec))
                    .col(double_null(Flares::LocationHpcYArcsec))
                    .col(string_null(Flares::LocationSource))
                    .col(string(Flares::Source))
                    .col(string_null(Flares::DetectorVersion))
                    .col(timestamp_with_time_zone(Flares::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for stmt in [
            index(
                Flares::Table,
                "idx_flares_start",
                vec![Flares::StartTime.into_iden()],
            ),
            index(
                Flares::Table,
                "idx_flares_peak",
                vec![Flares::PeakTime.into_iden()],
            ),
            index(
                Flares::Table,
                "idx_flares_end",
                vec![Flares::EndTime.into_iden()],
            ),
            index(
                Flares::Table,
                "idx_flares_counts",
                vec![Flares::PeakCounts4To10Kev.into_iden()],
            ),
        ] {
            manager.create_index(stmt).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(FlareScienceFiles::Table)
                    .if_not_exists()
                    .col(big_integer(FlareScienceFiles::FlareId))
                    .col(big_integer(FlareScienceFiles::ScienceFileId))
                    .primary_key(
                        Index::create()
                            .col(FlareScienceFiles::FlareId)
                            .col(FlareScienceFiles::ScienceFileId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(FlareScienceFiles::Table, FlareScienceFiles::FlareId)
                            .to(Flares::Table, Flares::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(FlareScienceFiles::Table, FlareScienceFiles::ScienceFileId)
                            .to(ScienceFiles::Table, ScienceFiles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                FlareScienceFiles::Table,
                "idx_flare_science_files_file",
                vec![FlareScienceFiles::ScienceFileId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Users::Id))
                    .col(uuid_uniq(Users::PublicId))
                    .col(string_uniq(Users::Username))
                    .col(string_uniq(Users::Email))
                    .col(string(Users::PasswordHash))
                    .col(string(Users::Role))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReconstructionJobs::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ReconstructionJobs::Id))
                    .col(uuid_uniq(ReconstructionJobs::PublicId))
                    .col(big_integer_null(ReconstructionJobs::OwnerId))
                    .col(string(ReconstructionJobs::Kind))
                    .col(string(ReconstructionJobs::Status))
                    .col(string_null(ReconstructionJobs::Stage))
                    .col(integer(ReconstructionJobs::ProgressDone).default(0))
                    .col(integer(ReconstructionJobs::ProgressTotal).default(0))
                    .col(integer(ReconstructionJobs::Attempts).default(0))
                    .col(string_null(ReconstructionJobs::ErrorCode))
                    .col(text_null(ReconstructionJobs::ErrorMessage))
                    .col(json(ReconstructionJobs::Request))
                    .col(string(ReconstructionJobs::RequestHash))
                    .col(big_integer_null(ReconstructionJobs::ScienceFileId))
                    .col(timestamp_with_time_zone(ReconstructionJobs::CreatedAt))
                    .col(timestamp_with_time_zone_null(ReconstructionJobs::StartedAt))
                    .col(timestamp_with_time_zone_null(
                        ReconstructionJobs::FinishedAt,
                    ))
                    .col(timestamp_with_time_zone(ReconstructionJobs::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReconstructionJobs::Table, ReconstructionJobs::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReconstructionJobs::Table, ReconstructionJobs::ScienceFileId)
                            .to(ScienceFiles::Table, ScienceFiles::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for stmt in [
            index(
                ReconstructionJobs::Table,
                "idx_reconstruction_jobs_status",
                vec![
                    ReconstructionJobs::Status.into_iden(),
                    ReconstructionJobs::CreatedAt.into_iden(),
                ],
            ),
            index(
                ReconstructionJobs::Table,
                "idx_reconstruction_jobs_owner",
                vec![
                    ReconstructionJobs::OwnerId.into_iden(),
                    ReconstructionJobs::CreatedAt.into_iden(),
                ],
            ),
            index(
                ReconstructionJobs::Table,
                "idx_reconstruction_jobs_request_hash",
                vec![ReconstructionJobs::RequestHash.into_iden()],
            ),
            index(
                ReconstructionJobs::Table,
                "idx_reconstruction_jobs_science_file",
                vec![ReconstructionJobs::ScienceFileId.into_iden()],
            ),
        ] {
            manager.create_index(stmt).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Images::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Images::Id))
                    .col(uuid_uniq(Images::PublicId))
                    .col(string(Images::Kind))
                    .col(string(Images::Algorithm))
                    .col(double(Images::EnergyLowKev))
                    .col(double(Images::EnergyHighKev))
                    .col(timestamp_with_time_zone(Images::TimeStart))
                    .col(timestamp_with_time_zone(Images::TimeEnd))
                    .col(big_integer(Images::ScienceFileId))
                    .col(big_integer_null(Images::BackgroundFileId))
                    .col(big_integer_null(Images::FlareId))
                    .col(big_integer_null(Images::JobId))
                    .col(string_uniq(Images::DedupKey))
                    .col(json(Images::Parameters))
                    .col(string_null(Images::PolicyVersion))
                    .col(json_null(Images::PolicyInputs))
                    .col(string(Images::CalibrationVersion))
                    .col(string(Images::SoftwareVersion))
                    .col(double(Images::CenterHpcXArcsec))
                    .col(double(Images::CenterHpcYArcsec))
                    .col(double_null(Images::PeakHpcXArcsec))
                    .col(double_null(Images::PeakHpcYArcsec))
                    .col(double(Images::TotalCounts))
                    .col(double(Images::BackgroundCounts))
                    .col(double_null(Images::TotalFlux))
                    .col(string(Images::FitsPath))
                    .col(string(Images::FitsSha256))
                    .col(string_null(Images::PngPath))
                    .col(string_null(Images::PngSha256))
                    .col(timestamp_with_time_zone(Images::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Images::Table, Images::ScienceFileId)
                            .to(ScienceFiles::Table, ScienceFiles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Images::Table, Images::BackgroundFileId)
                            .to(ScienceFiles::Table, ScienceFiles::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Images::Table, Images::FlareId)
                            .to(Flares::Table, Flares::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Images::Table, Images::JobId)
                            .to(ReconstructionJobs::Table, ReconstructionJobs::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for stmt in [
            index(
                Images::Table,
                "idx_images_time",
                vec![Images::TimeStart.into_iden(), Images::TimeEnd.into_iden()],
            ),
            index(
                Images::Table,
                "idx_images_flare",
                vec![Images::FlareId.into_iden()],
            ),
            index(
                Images::Table,
                "idx_images_science_file",
                vec![Images::ScienceFileId.into_iden()],
            ),
            index(
                Images::Table,
                "idx_images_job",
                vec![Images::JobId.into_iden()],
            ),
            index(
                Images::Table,
                "idx_images_algorithm",
                vec![Images::Algorithm.into_iden(), Images::TimeStart.into_iden()],
            ),
            index(
                Images::Table,
                "idx_images_energy",
                vec![
                    Images::EnergyLowKev.into_iden(),
                    Images::EnergyHighKev.into_iden(),
                ],
            ),
            index(
                Images::Table,
                "idx_images_kind",
                vec![Images::Kind.into_iden(), Images::CreatedAt.into_iden()],
            ),
        ] {
            manager.create_index(stmt).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Images::Table.into_iden(),
            ReconstructionJobs::Table.into_iden(),
            Users::Table.into_iden(),
            FlareScienceFiles::Table.into_iden(),
            Flares::Table.into_iden(),
            ScienceFiles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
