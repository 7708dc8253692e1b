//! The archive database: connecting (SQLite file or PostgreSQL), migrating, and the queries
//! the API and the workers share.

pub mod entities;
pub mod pagination;
pub mod tls;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use std::time::Duration;

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("database URL '{0}' must start with sqlite: or postgres://")]
    UnsupportedUrl(String),
    /// The SQLite file's directory could not be created.
    #[error("cannot create the directory {path} for the SQLite database: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL with any password removed.
        url: String,
        /// The cause.
        source: sea_orm::DbErr,
    },
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(sea_orm::DbErr),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite file (one process: API + workers).
    Sqlite,
    /// PostgreSQL (several API and worker processes share it).
    Postgres,
}

impl Engine {
    /// The engine named by a database URL.
    pub fn of_url(url: &str) -> Result<Engine, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact(url)))
        }
    }
}

/// Prefix of the `application_name` every PostgreSQL connection of [`connect`] carries.
pub const APPLICATION_NAME_PREFIX: &str = "stix-archive ";

/// A new `application_name` for the connections of one [`connect`]: the prefix and a ULID,
/// unique per connection pool. Operators see it in `pg_stat_activity`; the job-event trigger
/// puts it in each notification as its origin, so that a process ignores its own
/// notifications ([`crate::events::postgres`]).
fn new_application_name() -> String {
    format!("{APPLICATION_NAME_PREFIX}{}", ulid::Ulid::generate())
}

/// The URL with the password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A pooled connection idle at least this long is pinged before it is handed out; one in
/// use more recently is not. sqlx's default pings on every checkout, which is one more round
/// trip per statement (per transaction) on PostgreSQL: about 10 per reconstruction job. A
/// connection that died while idle (a PostgreSQL restart takes longer than this) is still
/// found and replaced before a statement fails on it; one lost in the moment between two
/// statements fails that statement, as one lost during it does, and the caller's error path
/// (`UNAVAILABLE`, a retried job) handles both.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens the database, creating a SQLite file (and its directory) when needed, and fails
/// within `timeout` when a server cannot be reached.
pub async fn connect(
    url: &str,
    max_connections: u32,
    timeout: Duration,
) -> Result<DatabaseConnection, StoreError> {
    let engine = Engine::of_url(url)?;
    let mut url = url.to_string();
    if engine == Engine::Sqlite {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let parent = std::path::Path::new(&path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = parent.filter(|_| path != ":memory:") {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
                path: dir.display().to_string(),
                source,
            })?;
        }
        if !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
    }
    let mut opt = ConnectOptions::new(url.clone());
    opt.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        .sqlx_logging(false)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    if engine == Engine::Postgres {
        opt.set_application_name(new_application_name());
    }
    let db = Database::connect(opt)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact(&url),
            source,
        })?;
    // Prove the connection really works now, not at the first request.
    db.ping().await.map_err(|source| StoreError::Connect {
        url: redact(&url),
        source,
    })?;
    Ok(db)
}

/// Applies all pending migrations of the archive schema.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await.map_err(StoreError::Migrate)
}

/// Reverts every migration (used by `stix-archive migrate --down` and tests of `down`).
pub async fn migrate_down(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::down(db, None).await.map_err(StoreError::Migrate)
}

/// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: a deferred
/// transaction that reads first cannot upgrade to a writer once another connection (another
/// process on the same file) has committed, and fails at once with "database is locked"
/// instead of waiting for the busy timeout. PostgreSQL ignores the mode.
pub async fn begin_write(
    db: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Inserts a row unless one with the same values in the unique `columns` exists (then nothing
/// happens): how re-running work stays idempotent. Returns the rows inserted (0 or 1).
pub async fn insert_or_ignore<A, C>(
    db: &C,
    row: A,
    columns: impl IntoIterator<Item = <A::Entity as sea_orm::EntityTrait>::Column>,
) -> Result<u64, sea_orm::DbErr>
where
    A: sea_orm::ActiveModelTrait + Send,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::EntityTrait;
    <A::Entity as EntityTrait>::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns(columns)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
}

/// True when `e` means the database cannot be reached right now (no connection, pool
/// timeout, server shutting down or restarting) rather than a fault of the query: callers
/// answer "unavailable, try again" and the process recovers by itself when it is back.
pub fn is_unavailable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(x)) | DbErr::Query(RuntimeErr::SqlxError(x)) => {
            use sea_orm::sqlx::Error as X;
            match x.as_ref() {
                X::Io(_)
                | X::Tls(_)
                | X::PoolTimedOut
                | X::PoolClosed
                | X::WorkerCrashed
                | X::Protocol(_) => true,
                // SQLSTATE class 08 (connection exception), 57P01–57P03 (admin/crash
                // shutdown, cannot connect now).
                X::Database(d) => d
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The engine of an open connection.
pub fn engine(db: &DatabaseConnection) -> Engine {
    match db.get_database_backend() {
        DbBackend::Postgres => Engine::Postgres,
        _ => Engine::Sqlite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact("sqlite://./data/x.sqlite"),
            "sqlite://./data/x.sqlite"
        );
        assert!(Engine::of_url("mysql://x").is_err());
    }
}
