//! Databases for the workspace's tests: a fresh throwaway PostgreSQL database per test when
//! `TEST_DATABASE_URL` names an admin connection, else a SQLite file in the test's directory.
//! Only built with the `test-support` feature, which only dev-dependencies turn on: the
//! end-to-end tests of every crate share one recipe, and the library never ships it.

use sea_orm::ConnectionTrait;
use std::path::Path;

/// Prefix of every throwaway database name (CI drops them by this prefix).
pub const THROWAWAY_PREFIX: &str = "stix_e2e_";

/// A database URL for one test.
pub async fn fresh_database_url(dir: &Path) -> Result<String, sea_orm::DbErr> {
    let admin = match std::env::var("TEST_DATABASE_URL") {
        Ok(a) if !a.is_empty() => a,
        _ => return Ok(format!("sqlite://{}/archive.sqlite", dir.display())),
    };
    let name = format!(
        "{THROWAWAY_PREFIX}{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let conn = sea_orm::Database::connect(admin.as_str()).await?;
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    conn.close().await.ok();
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin.clone(), String::new()),
    };
    let root = base
        .rsplit_once('/')
        .map(|(r, _)| r.to_string())
        .unwrap_or(base);
    Ok(format!("{root}/{name}{query}"))
}
