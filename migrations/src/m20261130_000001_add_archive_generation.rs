//! `archive_generation`: one counter that every committed change of what anonymous readers
//! see (science files, flares and their links, images, preview skips, animations) moves on.
//! The API's response cache (`api::response_cache`) polls it so that a write by any process
//! (a separate `ingest`, a worker on another machine) invalidates cached answers.
//!
//! Triggers keep it, inside the writing transaction, so the new value becomes visible exactly
//! when the data does: SQLite per row (its writers are serialised anyway); PostgreSQL once per
//! statement, *before* the statement touches a row, so that a transaction takes the counter's
//! row lock before any row lock of the watched tables and two writers cannot deadlock on it.
//! Writers of these tables therefore commit one at a time on PostgreSQL; their transactions
//! are short (a few rows), so this costs little next to the reads it lets the cache serve.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose changes anonymous answers depend on.
const WATCHED: [&str; 6] = [
    "science_files",
    "flares",
    "flare_science_files",
    "images",
    "preview_skips",
    "animations",
];

const BUMP: &str = "UPDATE archive_generation SET generation = generation + 1 WHERE id = 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE archive_generation (id INTEGER PRIMARY KEY, generation BIGINT NOT NULL)",
        )
        .await?;
        db.execute_unprepared("INSERT INTO archive_generation (id, generation) VALUES (1, 0)")
            .await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION archive_generation_bump() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN {BUMP}; RETURN NULL; END $$"
                ))
                .await?;
                for table in WATCHED {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER archive_generation_{table} BEFORE INSERT OR UPDATE OR DELETE \
                         ON {table} FOR EACH STATEMENT EXECUTE FUNCTION archive_generation_bump()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in WATCHED {
                    for op in ["INSERT", "UPDATE", "DELETE"] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER archive_generation_{table}_{} AFTER {op} ON {table} \
                             BEGIN {BUMP}; END",
                            op.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for table in WATCHED {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS archive_generation_{table} ON {table}"
                    ))
                    .await?;
                }
                db.execute_unprepared("DROP FUNCTION IF EXISTS archive_generation_bump()")
                    .await?;
            }
            _ => {
                for table in WATCHED {
                    for op in ["insert", "update", "delete"] {
                        db.execute_unprepared(&format!(
                            "DROP TRIGGER IF EXISTS archive_generation_{table}_{op}"
                        ))
                        .await?;
                    }
                }
            }
        }
        db.execute_unprepared("DROP TABLE archive_generation")
            .await?;
        Ok(())
    }
}
