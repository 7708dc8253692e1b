//! The inbox watcher of `serve --inbox DIR`: files dropped into DIR are ingested once they
//! have stopped growing, their previews queued, and they are moved to `DIR/processed/` or
//! `DIR/rejected/` (with `<name>.reason.txt`), so the inbox only holds what is still new.

use crate::archive::{describe, ingest_and_queue};
use crate::state::AppState;
use jobs::pipeline::PipelineSettings;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the inbox is scanned.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(2);

fn candidates(dir: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, u64)> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
        .collect();
    out.sort();
    out
}

fn move_into(file: &Path, sub: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(sub)?;
    let target = sub.join(file.file_name().unwrap_or_default());
    std::fs::rename(file, &target)?;
    Ok(target)
}

/// Watches `dir` until `stop` resolves.
pub async fn watch(
    state: AppState,
    preview: PipelineSettings,
    dir: PathBuf,
    stop: impl std::future::Future<Output = ()>,
) {
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::error!(dir = %dir.display(), "inbox unusable: {e}");
        return;
    }
    tracing::info!(dir = %dir.display(), "watching the inbox");
    let (processed, rejected) = (dir.join("processed"), dir.join("rejected"));
    let mut seen: HashMap<PathBuf, u64> = HashMap::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(SCAN_INTERVAL) => {}
        }
        let now = candidates(&dir);
        // Ready: same size as at the previous scan (the copy into the inbox has finished).
        let ready: Vec<PathBuf> = now
            .iter()
            .filter(|(p, n)| seen.get(p) == Some(n))
            .map(|(p, _)| p.clone())
            .collect();
        seen = now.into_iter().collect();
        if ready.is_empty() {
            continue;
        }
        match ingest_and_queue(&state, &preview, &ready, |_, _, _| {}).await {
            Ok((report, jobs)) => {
                for o in &report.outcomes {
                    tracing::info!("inbox: {}", describe(o));
                    let moved = match &o.result {
                        Ok(_) => move_into(&o.path, &processed),
                        Err(r) => move_into(&o.path, &rejected).and_then(|t| {
                            std::fs::write(
                                t.with_extension(format!(
                                    "{}.reason.txt",
                                    t.extension().and_then(|e| e.to_str()).unwrap_or("")
                                )),
                                format!("{} [{}]\n", r.reason, r.code),
                            )?;
                            Ok(t)
                        }),
                    };
                    if let Err(e) = moved {
                        tracing::error!(file = %o.path.display(), "cannot move out of the inbox: {e}");
                    }
                    seen.remove(&o.path);
                }
                if !jobs.is_empty() {
                    tracing::info!(jobs = jobs.len(), "inbox: preview jobs queued");
                }
            }
            Err(e) => tracing::error!("inbox: {e}"),
        }
    }
}
