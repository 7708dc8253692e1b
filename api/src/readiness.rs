//! Readiness (`/readyz`): can this process do its work right now? The database answers, the
//! queue's table can be read, the data directory can be written (and the shared object store,
//! when configured, answers a listing), and (on PostgreSQL) the process is listening for the
//! job events of other processes. Each check has a short
//! timeout so that a load balancer gets its answer fast; the reply names every failed check
//! (503) or is 200. Liveness (`/healthz`) stays a separate, cheaper page.

use crate::graphql::AppState;
use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, handler};
use sea_orm::ConnectionTrait;
use std::future::Future;
use std::time::Duration;

/// How long each check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of one check: `Ok` or why it failed.
pub type Check = Result<(), String>;

/// The checks of `/readyz`.
#[derive(Debug)]
pub struct Readiness {
    /// `SELECT 1` on the archive database.
    pub database: Check,
    /// apalis' task table is readable.
    pub queue: Check,
    /// The data directory accepts a write and, with S3 storage, the bucket answers.
    pub storage: Check,
    /// Job events of other processes are heard (always on SQLite; on PostgreSQL while the
    /// listening connection is up and has caught up after a loss).
    pub events: Check,
}

impl Readiness {
    /// Names of the failed checks, in a fixed order.
    pub fn failed(&self) -> Vec<&'static str> {
        [
            ("database", &self.database),
            ("queue", &self.queue),
            ("storage", &self.storage),
            ("events", &self.events),
        ]
        .into_iter()
        .filter(|(_, c)| c.is_err())
        .map(|(n, _)| n)
        .collect()
    }
}

async fn timed<F: Future<Output = Check>>(f: F) -> Check {
    tokio::time::timeout(CHECK_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())))
}

/// Runs the checks concurrently.
pub async fn check(state: &AppState) -> Readiness {
    let database = timed(async {
        state
            .db
            .execute_unprepared("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let queue = timed(async { state.queue.ping(&state.db).await.map_err(|e| e.to_string()) });
    let storage = timed(async { state.storage.check().await.map_err(|e| e.to_string()) });
    let (database, queue, storage) = tokio::join!(database, queue, storage);
    let events = if state.events.is_listening() {
        Ok(())
    } else {
        Err("not listening for job events of other processes (reconnecting)".to_string())
    };
    Readiness {
        database,
        queue,
        storage,
        events,
    }
}

/// `GET /readyz`: 200 `{"status":"ready",…}` or 503 `{"status":"unready","failed":[…],…}`.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> poem::Response {
    let r = check(&state).await;
    let failed = r.failed();
    let show = |c: &Check| match c {
        Ok(()) => serde_json::Value::from("ok"),
        Err(e) => serde_json::Value::from(e.as_str()),
    };
    for (name, c) in [
        ("database", &r.database),
        ("queue", &r.queue),
        ("storage", &r.storage),
        ("events", &r.events),
    ] {
        if let Err(e) = c {
            tracing::warn!(check = name, error = %e, "not ready");
        }
    }
    let body = serde_json::json!({
        "status": if failed.is_empty() { "ready" } else { "unready" },
        "failed": failed,
        "checks": {
            "database": show(&r.database),
            "queue": show(&r.queue),
            "storage": show(&r.storage),
            "events": show(&r.events),
        },
    });
    let status = if failed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Json(body).with_status(status).into_response()
}
