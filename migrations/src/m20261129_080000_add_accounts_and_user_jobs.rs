//! Accounts and user reconstructions: case-insensitive usernames, token versions (revocation)
//! and disabling on `users`; owner and supersession links on `images`; a cancel request on
//! `reconstruction_jobs`; the listed request UID on `flares`. One column per statement
//! (SQLite alters one thing at a time).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    UsernameKey,
    TokenVersion,
    Disabled,
}

#[derive(DeriveIden)]
enum Images {
    Table,
    OwnerId,
    SupersededById,
}

#[derive(DeriveIden)]
enum ReconstructionJobs {
    Table,
    OwnerId,
    Status,
    CancelRequested,
}

#[derive(DeriveIden)]
enum Flares {
    Table,
    ListRequestUid,
}

const USERNAME_KEY_INDEX: &str = "ux_users_username_key";
const JOBS_OWNER_INDEX: &str = "ix_reconstruction_jobs_owner_status";
const IMAGES_OWNER_INDEX: &str = "ix_images_owner_id";

async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    col: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(col).to_owned())
        .await
}

async fn drop(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    col: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(col).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add(manager, Users::Table, string_null(Users::UsernameKey)).await?;
        add(
            manager,
            Users::Table,
            integer(Users::TokenVersion).default(0).to_owned(),
        )
        .await?;
        add(
            manager,
            Users::Table,
            boolean(Users::Disabled).default(false).to_owned(),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name(USERNAME_KEY_INDEX)
                    .table(Users::Table)
                    .col(Users::UsernameKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        add(manager, Images::Table, big_integer_null(Images::OwnerId)).await?;
        add(
            manager,
            Images::Table,
            big_integer_null(Images::SupersededById),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name(IMAGES_OWNER_INDEX)
                    .table(Images::Table)
                    .col(Images::OwnerId)
                    .to_owned(),
            )
            .await?;
        add(
            manager,
            ReconstructionJobs::Table,
            boolean(ReconstructionJobs::CancelRequested)
                .default(false)
                .to_owned(),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name(JOBS_OWNER_INDEX)
                    .table(ReconstructionJobs::Table)
                    .col(ReconstructionJobs::OwnerId)
                    .col(ReconstructionJobs::Status)
                    .to_owned(),
            )
            .await?;
        add(manager, Flares::Table, string_null(Flares::ListRequestUid)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop(manager, Flares::Table, Flares::ListRequestUid).await?;
        manager
            .drop_index(
                Index::drop()
                    .name(JOBS_OWNER_INDEX)
                    .table(ReconstructionJobs::Table)
                    .to_owned(),
            )
            .await?;
        drop(
            manager,
            ReconstructionJobs::Table,
            ReconstructionJobs::CancelRequested,
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(IMAGES_OWNER_INDEX)
                    .table(Images::Table)
                    .to_owned(),
            )
            .await?;
        drop(manager, Images::Table, Images::SupersededById).await?;
        drop(manager, Images::Table, Images::OwnerId).await?;
        manager
            .drop_index(
                Index::drop()
                    .name(USERNAME_KEY_INDEX)
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        drop(manager, Users::Table, Users::Disabled).await?;
        drop(manager, Users::Table, Users::TokenVersion).await?;
        drop(manager, Users::Table, Users::UsernameKey).await
    }
}
