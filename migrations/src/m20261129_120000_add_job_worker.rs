//! `reconstruction_jobs.worker`: which worker process runs (or last ran) the job, as
//! `host:pid`, so that operators and admins can tell the processes of a scale-out apart.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReconstructionJobs {
    Table,
    Worker,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ReconstructionJobs::Table)
                    .add_column(string_null(ReconstructionJobs::Worker))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ReconstructionJobs::Table)
                    .drop_column(ReconstructionJobs::Worker)
                    .to_owned(),
            )
            .await
    }
}
