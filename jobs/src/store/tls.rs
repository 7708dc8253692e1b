//! TLS on connections to PostgreSQL where it protects nothing. A URL that names this machine
//! by a loopback address and says nothing of `sslmode` takes TLS whenever the server offers it
//! (libpq's default, `prefer`, which sqlx follows; Debian's PostgreSQL offers it out of the
//! box). On one machine that protects no traffic and costs every statement CPU on both
//! sides, taken from the workers when they share the cores with the database (README, "TLS to
//! the database": two CLEAN workers made 9 % fewer jobs per second with it). The service
//! keeps the URL's meaning and tells the operator instead.

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::net::IpAddr;
use std::str::FromStr;

/// The warning logged when [`warn_if_tls_on_loopback`] finds TLS on a loopback connection.
pub const LOOPBACK_TLS_WARNING: &str = "the database connections use TLS to this machine, which protects nothing here and costs every statement CPU on both sides: connect over the Unix socket (?host=/var/run/postgresql) or add ?sslmode=disable to STIX__DATABASE__URL; to keep TLS, say so with ?sslmode=require (README: TLS to the database)";

/// True when `url` reaches PostgreSQL over TCP at a loopback address (`localhost`,
/// 127.0.0.0/8, `::1`) and leaves TLS to the default: neither the URL nor `PGSSLMODE`
/// (`env_sslmode`, read by the caller) sets `sslmode`. False for SQLite, a Unix socket and any
/// other host.
pub fn loopback_with_default_tls(url: &str, env_sslmode: Option<&str>) -> bool {
    if env_sslmode.is_some_and(|m| !m.is_empty()) {
        return false;
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return false;
    }
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let names_sslmode = query
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .any(|key| key.eq_ignore_ascii_case("sslmode") || key.eq_ignore_ascii_case("ssl-mode"));
    if names_sslmode {
        return false;
    }
    let Ok(options) = PgConnectOptions::from_str(url) else {
        return false;
    };
    options.get_socket().is_none() && is_loopback_host(options.get_host())
}

/// `localhost` or a loopback IP address (brackets of an IPv6 literal allowed); a socket
/// directory (`/var/run/postgresql`) is not.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || IpAddr::from_str(host).is_ok_and(|ip| ip.is_loopback())
}

/// Whether the connection `db` hands out is encrypted (PostgreSQL's `pg_stat_ssl` for this
/// backend); false on SQLite.
pub async fn uses_tls(db: &DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<bool>("", "ssl")?,
        None => false,
    })
}

/// Logs [`LOOPBACK_TLS_WARNING`] once when `url` (the URL `db` was opened with) is a loopback
/// URL that left TLS to the default and the server did encrypt the connection. A failed check
/// is logged at debug level and otherwise ignored: it decides nothing.
pub async fn warn_if_tls_on_loopback(db: &DatabaseConnection, url: &str) {
    let env_sslmode = std::env::var("PGSSLMODE").ok();
    if !loopback_with_default_tls(url, env_sslmode.as_deref()) {
        return;
    }
    match uses_tls(db).await {
        Ok(true) => tracing::warn!("{LOOPBACK_TLS_WARNING}"),
        Ok(false) => {}
        Err(e) => tracing::debug!("cannot tell whether the database connection uses TLS: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::loopback_with_default_tls as default_tls;

    #[test]
    fn a_loopback_url_without_sslmode_leaves_tls_to_the_server() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/stix",
            "postgresql://stix:secret@localhost/stix",
            "postgres://stix@127.0.0.2/stix?application_name=x",
            "postgres://stix@[::1]:5432/stix",
        ] {
            assert!(default_tls(url, None), "{url}");
        }
    }

    #[test]
    fn an_explicit_sslmode_a_socket_a_remote_host_or_sqlite_is_left_alone() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/stix?sslmode=disable",
            "postgres://postgres@127.0.0.1:5432/stix?application_name=x&sslmode=require",
            "postgres://postgres@localhost/stix?ssl-mode=prefer",
            "postgres://postgres@localhost/stix?host=/var/run/postgresql",
            "postgres://stix@db.example.org/stix",
            "postgres://stix@10.0.0.5/stix",
            "sqlite://stix.db",
        ] {
            assert!(!default_tls(url, None), "{url}");
        }
        // `PGSSLMODE` in the environment is a choice too.
        assert!(!default_tls(
            "postgres://postgres@127.0.0.1/stix",
            Some("disable")
        ));
        assert!(default_tls("postgres://postgres@127.0.0.1/stix", Some("")));
    }
}
