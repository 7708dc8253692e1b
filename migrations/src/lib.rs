//! Database migrations of the stix-archive (sea-orm-migration), for SQLite and PostgreSQL.
//!
//! Files are named `mYYYYMMDD_HHMMSS_verb_noun.rs`, each with `up` and `down`, and are never
//! edited after they land: a change is a new migration. Table names never clash with apalis'
//! own tables (`Jobs`, `Workers` on SQLite; schema `apalis` on PostgreSQL).

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_archive;
mod m20261121_000002_create_preview_skips;
mod m20261129_080000_add_accounts_and_user_jobs;
mod m20261129_090000_create_animations;
mod m20261129_120000_add_job_worker;
mod m20261129_130000_add_image_quality;
mod m20261130_000001_add_archive_generation;
mod m20261130_120000_notify_job_events;

/// The ordered list of migrations, run at start-up by `stix-archive serve` and `migrate`.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_archive::Migration),
            Box::new(m20261121_000002_create_preview_skips::Migration),
            Box::new(m20261129_080000_add_accounts_and_user_jobs::Migration),
            Box::new(m20261129_090000_create_animations::Migration),
            Box::new(m20261129_120000_add_job_worker::Migration),
            Box::new(m20261129_130000_add_image_quality::Migration),
            Box::new(m20261130_000001_add_archive_generation::Migration),
            Box::new(m20261130_120000_notify_job_events::Migration),
        ]
    }
}
