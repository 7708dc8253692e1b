//! Putting files into the archive and getting their previews made: the glue between
//! `jobs::ingest` (register files) and `jobs::pipeline` (queue preview jobs), shared by
//! `stix-archive ingest`, `demo` and the inbox watcher of `serve`.

use crate::state::AppState;
use jobs::ingest::{IngestOutcome, IngestReport, IngestStatus, Ingestor, ProductKind};
use jobs::kinds::JobStatus;
use jobs::pipeline::{PipelineSettings, submit_preview};
use jobs::store::entities::{reconstruction_job, science_file};
use sea_orm::EntityTrait;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

/// Ingests `paths` and queues the preview of every flare file that is new (or a new
/// version). Flare lists in the same batch are registered before the previews are queued.
/// Returns the report and the preview jobs queued (or found already queued/done).
pub async fn ingest_and_queue(
    state: &AppState,
    preview: &PipelineSettings,
    paths: &[PathBuf],
    on_progress: impl FnMut(&IngestOutcome, usize, usize),
) -> Result<(IngestReport, Vec<reconstruction_job::Model>), String> {
    let ingestor = Ingestor::new(state.db.clone(), state.storage.clone());
    let report = ingestor.ingest_paths(paths, on_progress).await;
    let mut jobs = Vec::new();
    for o in &report.outcomes {
        let Ok(i) = &o.result else { continue };
        if i.kind != ProductKind::FlarePixelData || i.status == IngestStatus::AlreadyPresent {
            continue;
        }
        let Some(id) = i.science_file_id else {
            continue;
        };
        let file = science_file::Entity::find_by_id(id)
            .one(&state.db)
            .await
            .map_err(|e| format!("database error: {e}"))?
            .ok_or_else(|| format!("science file {id} vanished"))?;
        let (job, _) = submit_preview(&state.db, &state.queue, &file, preview)
            .await
            .map_err(|e| e.to_string())?;
        jobs.push(job);
    }
    Ok((report, jobs))
}

/// A one-line human description of an ingest outcome.
pub fn describe(o: &IngestOutcome) -> String {
    let name = o.path.display();
    match &o.result {
        Ok(i) => {
            let what = match i.status {
                IngestStatus::New => "new",
                IngestStatus::AlreadyPresent => "already present",
                IngestStatus::NewVersion { .. } => "new version",
            };
            if i.kind == ProductKind::FlareList {
                format!(
                    "{what:<15} {:<17} {name} ({} flares)",
                    i.kind.as_str(),
                    i.flares_imported
                )
            } else {
                format!("{what:<15} {:<17} {name}", i.kind.as_str())
            }
        }
        Err(r) => format!("{:<15} {:<17} {name}: {}", "rejected", r.code, r.reason),
    }
}

/// True when a job status is final.
pub fn is_final(s: &str) -> bool {
    JobStatus::parse(s).is_some_and(JobStatus::is_final)
}

/// Waits until every job in `ids` is final (events from the bus, with a database check as a
/// backstop against missed events) and returns the final rows.
pub async fn wait_for_jobs(
    state: &AppState,
    ids: &[i64],
) -> Result<Vec<reconstruction_job::Model>, String> {
    let mut rx = state.events.subscribe();
    let mut pending: HashSet<i64> = ids.iter().copied().collect();
    let mut public: HashSet<Uuid> = HashSet::new();
    loop {
        // Authoritative check in the database.
        let mut rows = Vec::new();
        for id in ids {
            if let Some(r) = reconstruction_job::Entity::find_by_id(*id)
                .one(&state.db)
                .await
                .map_err(|e| format!("database error: {e}"))?
            {
                public.insert(r.public_id);
                if is_final(&r.status) {
                    pending.remove(id);
                }
                rows.push(r);
            }
        }
        if pending.is_empty() {
            return Ok(rows);
        }
        // Sleep until a final event for one of ours arrives, or a short backstop passes.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(ev) = rx.recv().await {
                if public.contains(&ev.job_id) && ev.status.is_final() {
                    break;
                }
            }
        })
        .await;
    }
}
