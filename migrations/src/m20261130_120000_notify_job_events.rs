//! Job events on PostgreSQL are sent by the database itself: a trigger on `reconstruction_jobs`
//! notifies channel `stix_events` whenever an update changes what subscribers see of a job
//! (status, stage, progress, message), inside the updating transaction.
//!
//! Before, every event was a `SELECT pg_notify(...)` of its own after the update: one more
//! statement and one more commit (a NOTIFY takes a transaction id, so its commit is flushed
//! to the WAL) per event, three or four per job, for the workers and the database alike.
//! Now the notification leaves with the update's own commit, so it can neither be sent for a
//! change that rolled back nor be lost after one that committed.
//!
//! The payload carries the writing process (`o`, its connections' `application_name`, which
//! `jobs::store::connect` makes unique per process) so that a process ignores its own
//! notifications, the job's public id (`j`) and, when they fit in PostgreSQL's 8000-byte
//! limit, the state itself (`s`, `g`, `d`, `t`, `m`), so that receivers need not read the
//! row; when they do not fit, only `o` and `j` are sent and receivers read the row.
//! Heartbeats (which move only `updated_at`) notify nothing. SQLite has one process and keeps
//! the in-process bus: nothing to create there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const FUNCTION: &str = r#"
CREATE FUNCTION reconstruction_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    payload := json_build_object(
        'o', current_setting('application_name'),
        'j', NEW.public_id,
        's', NEW.status,
        'g', NEW.stage,
        'd', NEW.progress_done,
        't', NEW.progress_total,
        'm', NEW.error_message)::text;
    IF octet_length(payload) > 7999 THEN
        payload := json_build_object(
            'o', current_setting('application_name'),
            'j', NEW.public_id)::text;
    END IF;
    PERFORM pg_notify('stix_events', payload);
    RETURN NULL;
END
$$"#;

const TRIGGER: &str = "CREATE TRIGGER reconstruction_jobs_notify \
    AFTER UPDATE ON reconstruction_jobs FOR EACH ROW \
    WHEN (OLD.status IS DISTINCT FROM NEW.status \
       OR OLD.stage IS DISTINCT FROM NEW.stage \
       OR OLD.progress_done IS DISTINCT FROM NEW.progress_done \
       OR OLD.progress_total IS DISTINCT FROM NEW.progress_total \
       OR OLD.error_message IS DISTINCT FROM NEW.error_message) \
    EXECUTE FUNCTION reconstruction_jobs_notify()";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(FUNCTION).await?;
        db.execute_unprepared(TRIGGER).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "DROP TRIGGER IF EXISTS reconstruction_jobs_notify ON reconstruction_jobs",
        )
        .await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS reconstruction_jobs_notify()")
            .await?;
        Ok(())
    }
}
