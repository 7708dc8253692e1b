//! `stix-archive ingest [--wait] PATH…` and `stix-archive demo`.

use crate::archive::{describe, ingest_and_queue, wait_for_jobs};
use crate::settings::Settings;
use crate::startup::{Application, Backend, shutdown_signal};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bundled demo sample, relative to the sample directory (`data/stix` of the repo):
/// the 2022-11-11 M1.2 and 2022-11-13 C1.2 flares, the 2022-11-09 background file, their two
/// aspect files and the community flare list.
pub const DEMO_FILES: [&str; 6] = [
    "l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits",
    "l1/solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits",
    "l1/solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits",
    "l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits",
    "l1/solo_L2_stix-aux-ephemeris_20221113_V01.fits",
    "flare_reference_locations.csv",
];

fn bar(total: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} {{msg}}"
    )) {
        pb.set_style(style);
    }
    pb
}

/// One file of the `ingest --json` report.
fn outcome_json(o: &jobs::ingest::IngestOutcome) -> serde_json::Value {
    match &o.result {
        Ok(i) => serde_json::json!({
            "path": o.path.display().to_string(),
            "accepted": true,
            "kind": i.kind.as_str(),
            "status": match i.status {
                jobs::ingest::IngestStatus::New => "new",
                jobs::ingest::IngestStatus::AlreadyPresent => "already_present",
                jobs::ingest::IngestStatus::NewVersion { .. } => "new_version",
            },
            "science_file_id": i.science_file_id,
            "flares_imported": i.flares_imported,
        }),
        Err(r) => serde_json::json!({
            "path": o.path.display().to_string(),
            "accepted": false,
            "code": r.code,
            "reason": r.reason,
        }),
    }
}

/// Ingests `paths`, queues previews, and with `wait` runs them to completion here. Prints
/// one line per file (rejected ones with their code and reason) on stdout, or with `json` one
/// JSON report `{files: [...], new, new_versions, already_present, rejected, flares_imported,
/// preview_jobs, failed_previews}`.
/// Exit status: success only when no file was rejected and no preview failed.
pub async fn ingest(
    settings: &Settings,
    paths: &[PathBuf],
    wait: bool,
    json: bool,
) -> Result<(), String> {
    // Only a waiting ingest follows its jobs, which worker processes elsewhere may run;
    // otherwise it opens no listening connection.
    let hearing = if wait {
        jobs::events::Hearing::AllProcesses
    } else {
        jobs::events::Hearing::ThisProcess
    };
    let backend = Backend::open(settings, hearing)
        .await
        .map_err(|e| e.to_string())?;
    let pb = bar(0, "ingest");
    let (report, jobs) = ingest_and_queue(
        &backend.state,
        &settings.preview,
        paths,
        |o, done, total| {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
            // Not `pb.println`: that prints nothing when stderr is not a terminal, and the
            // reasons of rejected files must always reach the user.
            if !json {
                pb.suspend(|| println!("{}", describe(o)));
            }
        },
    )
    .await?;
    pb.finish_and_clear();
    let summary = format!(
        "ingested: {} new, {} new versions, {} already present, {} rejected, {} flares imported; {} preview jobs queued",
        report.new,
        report.new_versions,
        report.already_present,
        report.rejected,
        report.flares_imported,
        jobs.len()
    );
    if !json {
        println!("{summary}");
    }
    let mut failed_jobs = 0;
    if wait && !jobs.is_empty() {
        let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let pool = tokio::spawn(jobs::worker::run_pool(
            backend.worker_state(),
            settings.workers.concurrency.max(1),
            Duration::from_secs(settings.server.shutdown_grace_seconds),
            async move {
                let _ = rx.await;
            },
        ));
        let pb = bar(ids.len() as u64, "previews");
        let watcher = {
            let (state, pb) = (backend.state.clone(), pb.clone());
            tokio::spawn(async move {
                let mut rx = state.events.subscribe();
                while let Ok(ev) = rx.recv().await {
                    pb.set_message(format!(
                        "{} {}/{}",
                        ev.stage.unwrap_or_default(),
                        ev.done,
                        ev.total
                    ));
                    if ev.status.is_final() {
                        pb.inc(1);
                    }
                }
            })
        };
        let rows = wait_for_jobs(&backend.state, &ids).await;
        let _ = tx.send(());
        watcher.abort();
        pb.finish_and_clear();
        let _ = pool.await;
        for r in rows? {
            if !json {
                println!(
                    "preview {} {}{}",
                    r.public_id,
                    r.status,
                    r.error_message
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                );
            }
            if r.status != jobs::kinds::JobStatus::Succeeded.as_str() {
                failed_jobs += 1;
            }
        }
    }
    if json {
        let doc = serde_json::json!({
            "files": report.outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
            "new": report.new,
            "new_versions": report.new_versions,
            "already_present": report.already_present,
            "rejected": report.rejected,
            "flares_imported": report.flares_imported,
            "preview_jobs": jobs.len(),
            "failed_previews": failed_jobs,
        });
        println!("{doc}");
    }
    if report.rejected > 0 || failed_jobs > 0 {
        return Err(format!(
            "{} file(s) rejected, {failed_jobs} preview job(s) failed",
            report.rejected
        ));
    }
    Ok(())
}

/// The directory holding the demo sample: `--sample`, else `./data/stix`, else the copy in
/// the source tree this binary was built from.
pub fn sample_dir(given: Option<&Path>) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    let here = PathBuf::from("data/stix");
    if here.join(DEMO_FILES[0]).is_file() {
        return here;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/stix"))
}

/// Ingests the bundled sample into the configured archive, queues its previews, and serves
/// (the in-process workers make the previews while the API is already up).
pub async fn demo(settings: &Settings, sample: Option<&Path>) -> Result<(), String> {
    let dir = sample_dir(sample);
    let paths: Vec<PathBuf> = DEMO_FILES.iter().map(|f| dir.join(f)).collect();
    if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
        return Err(format!(
            "demo sample file {} is missing (give --sample DIR)",
            missing.display()
        ));
    }
    // The demo is for trying frontends against: any origin may call it unless configured.
    let mut settings = settings.clone();
    if settings.server.cors_origins.is_none() {
        settings.server.cors_origins = Some("*".to_string());
    }
    if settings.auth.checked_secret().is_err() {
        let file = crate::cli::user::demo_secret_path(&settings);
        let secret = crate::cli::user::demo_secret(&file)?;
        println!("demo: JWT secret in {} (mode 0600)", file.display());
        settings.auth.jwt_secret = secret.into();
    }
    let settings = &settings;
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    let (report, jobs) = ingest_and_queue(app.state(), &settings.preview, &paths, |o, _, _| {
        println!("{}", describe(o))
    })
    .await?;
    println!(
        "demo: {} files new, {} already present, {} rejected; {} preview jobs queued",
        report.new + report.new_versions,
        report.already_present,
        report.rejected,
        jobs.len()
    );
    println!(
        "serving {} — try {{ images(first: 10) {{ totalCount edges {{ node {{ algorithm energyLowKev timeStart }} }} }} }}",
        app.graphql_url()
    );
    app.run_until_stopped(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}
