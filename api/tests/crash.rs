//! Crash safety with real processes: a `serve` process is killed (SIGKILL) in the middle of a
//! preview job. No half-written image row or file is left, and after a restart the job is
//! done again to completion without duplicates.

use jobs::store::entities::{image, reconstruction_job};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(60);

fn sample(rel: &str) -> String {
    format!("{}/../data/stix/{rel}", env!("CARGO_MANIFEST_DIR"))
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stix-archive"));
    c.current_dir(dir)
        .args(args)
        .env("STIX__SERVER__BIND", "127.0.0.1:0")
        .env(
            "STIX__AUTH__JWT_SECRET",
            "crash-test-secret-of-at-least-32-bytes",
        )
        .env("STIX__WORKERS__CONCURRENCY", "1")
        .env("STIX__WORKERS__STALE_AFTER_SECONDS", "3")
        .env("RUST_LOG", "warn");
    c
}

/// Starts `serve` and returns once it is listening (its "listening on" line), so that it has
/// finished creating and migrating the database before anything else touches it.
fn serve(dir: &Path) -> Child {
    use std::io::BufRead;
    let mut child = command(dir, &["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("listening on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(TIMEOUT)
        .expect("the server reports that it is listening");
    child
}

/// Starts `serve` in `dir`, queues the M1.2 preview from a separate `ingest` process (as an
/// operator would) and opens the archive database for the test to watch.
async fn serve_and_queue_m12(dir: &Path, with_background: bool) -> (Child, DatabaseConnection) {
    let server = serve(dir);
    let mut files = vec![sample(
        "l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits",
    )];
    if with_background {
        files.push(sample(
            "l1/solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits",
        ));
    }
    files.push(sample("l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits"));
    files.push(sample("flare_reference_locations.csv"));
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    let out = command(dir, &args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = jobs::store::connect(
        &format!("sqlite://{}/data/stix-archive.sqlite", dir.display()),
        2,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    (server, db)
}

/// Polls the database until `pred` holds for the job, failing after the timeout with the
/// last state seen.
async fn wait_job(
    db: &DatabaseConnection,
    pred: impl Fn(&reconstruction_job::Model) -> bool,
) -> reconstruction_job::Model {
    let last = std::sync::Mutex::new(None);
    let found = tokio::time::timeout(TIMEOUT, async {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tick.tick().await;
            if let Ok(Some(j)) = reconstruction_job::Entity::find()
                .filter(reconstruction_job::Column::Kind.eq("preview"))
                .one(db)
                .await
            {
                if pred(&j) {
                    return j;
                }
                *last.lock().unwrap() = Some(j);
            }
        }
    })
    .await;
    match found {
        Ok(j) => j,
        Err(_) => panic!(
            "the job did not reach the expected state in time; last seen: {:?}",
            last.lock().unwrap()
        ),
    }
}

/// Every image row's files exist with its checksums; apart from hidden `*.partial` temporary
/// files (allowed only when `partials_allowed`: a SIGKILL can interrupt a write, but the file
/// never gets its final name), the image tree holds only complete FITS and PNG files.
async fn check_consistent(db: &DatabaseConnection, data_dir: &Path, partials_allowed: bool) -> u64 {
    let rows = image::Entity::find().all(db).await.unwrap();
    let mut expected: Vec<PathBuf> = Vec::new();
    for r in &rows {
        let fits = data_dir.join(&r.fits_path);
        assert_eq!(
            jobs::pipeline::render::sha256_file(&fits).unwrap(),
            r.fits_sha256
        );
        let png = data_dir.join(r.png_path.as_ref().unwrap());
        assert_eq!(
            &jobs::pipeline::render::sha256_file(&png).unwrap(),
            r.png_sha256.as_ref().unwrap()
        );
        expected.push(fits);
        expected.push(png);
    }
    for p in jobs::test_support::files_under(&data_dir.join("images")) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if partials_allowed && name.starts_with('.') && name.ends_with(".partial") {
            continue;
        }
        assert!(
            name.ends_with(".fits") || name.ends_with(".png"),
            "a half-written file was left behind: {}",
            p.display()
        );
    }
    rows.len() as u64
}

#[tokio::test]
async fn a_killed_worker_leaves_nothing_half_written_and_the_job_is_redone() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data/store");
    let (mut server, db) = serve_and_queue_m12(dir.path(), true).await;

    // Kill the server once some, but not all, of the job's images are committed.
    let running = wait_job(&db, |j| j.status == "RUNNING" && j.progress_done >= 5).await;
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        running.progress_done < running.progress_total,
        "killed in the middle"
    );
    let partial = check_consistent(&db, &data_dir, true).await;
    assert!(partial < running.progress_total as u64);

    // Restart: the job is found orphaned, requeued and finished; nothing is duplicated.
    let mut server = serve(dir.path());
    let done = wait_job(&db, |j| j.status == "SUCCEEDED").await;
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        done.attempts >= 2,
        "done again after the restart (attempts {})",
        done.attempts
    );
    let total = check_consistent(&db, &data_dir, false).await;
    assert!(total > partial);
    let distinct = image::Entity::find().count(&db).await.unwrap();
    assert_eq!(total, distinct);
    // As many images as an uninterrupted run: boxes × algorithms minus recorded algorithm failures.
    let skips_with_alg = jobs::store::entities::preview_skip::Entity::find()
        .filter(jobs::store::entities::preview_skip::Column::Algorithm.is_not_null())
        .count(&db)
        .await
        .unwrap();
    assert_eq!(total + skips_with_alg, done.progress_total as u64);
}

#[tokio::test]
async fn sigterm_lets_the_running_job_finish_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data/store");
    let (server, db) = serve_and_queue_m12(dir.path(), false).await;
    let running = wait_job(&db, |j| j.status == "RUNNING" && j.progress_done >= 1).await;
    assert!(
        running.progress_done < running.progress_total,
        "signalled in the middle"
    );
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let mut server = server;
    let status = tokio::time::timeout(TIMEOUT, tokio::task::spawn_blocking(move || server.wait()))
        .await
        .expect("the server exits within the grace period")
        .unwrap()
        .unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    let done = reconstruction_job::Entity::find_by_id(running.id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        done.status, "SUCCEEDED",
        "the running job was allowed to finish"
    );
    assert_eq!(done.attempts, 1);
    check_consistent(&db, &data_dir, false).await;
}
