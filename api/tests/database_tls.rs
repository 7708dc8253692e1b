//! TLS to a PostgreSQL on the same machine (README, "TLS to the database"), on a throwaway
//! database of the machine's PostgreSQL (admin connection `STIX_TEST_PG_ADMIN`, else
//! `TEST_DATABASE_URL`, else the local server on 127.0.0.1), which must offer TLS, as Debian's
//! does out of the box:
//! - what the server did is read back: `sslmode=require` connections are encrypted and
//!   `sslmode=disable` ones are not;
//! - a `worker` process whose URL names the server by a loopback address and says nothing of
//!   `sslmode` (so it takes TLS, libpq's `prefer`) warns the operator at start; the same
//!   process with `?sslmode=disable`, or with `?sslmode=require` (TLS chosen on purpose), does
//!   not.

mod support;

use jobs::store::tls::{LOOPBACK_TLS_WARNING, loopback_with_default_tls, uses_tls};
use support::{Proc, ThrowawayPg};

/// `url` with its query replaced by `query` (none when empty).
fn with_query(url: &str, query: &str) -> String {
    let base = url.split_once('?').map_or(url, |(b, _)| b);
    if query.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{query}")
    }
}

/// Starts a `worker` on `url`, waits until it runs, and returns whether it logged the warning.
fn worker_warns(url: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let env = support::env(url, dir.path());
    let worker = Proc::start("worker", &["worker"], &env, "worker running as");
    let warned = worker
        .log()
        .iter()
        .any(|line| line.contains(LOOPBACK_TLS_WARNING));
    worker.terminate();
    warned
}

#[tokio::test]
async fn a_loopback_url_that_takes_tls_by_default_is_reported_at_start() {
    let pg = ThrowawayPg::create().await;
    let default_url = with_query(&pg.url, "");
    assert!(
        loopback_with_default_tls(&default_url, None),
        "this test needs the machine's PostgreSQL on a loopback address, not {}",
        jobs::store::redact(&default_url)
    );
    let db = support::pg_connect(&default_url).await;
    let ssl = support::pg_setting(&db, "ssl").await;
    assert_eq!(ssl, "on", "this test needs a PostgreSQL that offers TLS");
    assert!(
        uses_tls(&db).await.unwrap(),
        "a loopback URL without sslmode takes TLS"
    );
    db.close().await.unwrap();

    let required = with_query(&pg.url, "sslmode=require");
    let disabled = with_query(&pg.url, "sslmode=disable");
    let db = support::pg_connect(&required).await;
    assert!(uses_tls(&db).await.unwrap(), "sslmode=require encrypts");
    db.close().await.unwrap();
    let db = support::pg_connect(&disabled).await;
    assert!(!uses_tls(&db).await.unwrap(), "sslmode=disable does not");
    db.close().await.unwrap();

    assert!(
        worker_warns(&default_url),
        "a worker on a loopback URL that took TLS by default warns"
    );
    assert!(
        !worker_warns(&disabled),
        "a worker with sslmode=disable has nothing to warn of"
    );
    assert!(
        !worker_warns(&required),
        "a worker that asked for TLS chose it; no warning"
    );
    pg.drop_database().await;
}
