//! The scale-out under load, with real processes on the real PostgreSQL of the machine (a
//! throwaway database) and S3 storage (moto's server on loopback; every process has its own
//! empty data directory, as on separate machines): one API process (`serve --no-workers`)
//! and two `worker` processes.
//! Twenty clients, each with its own account and its own `/ws` connection, submit ten CLEAN
//! reconstructions each (200 jobs) and follow every one over `jobStatus`. While they run, one
//! worker is killed with SIGKILL in the middle of a job and a third worker takes its place:
//! the killed job is requeued when its lease (`STIX__WORKERS__STALE_AFTER_SECONDS`) expires
//! and finished by another worker. Then every job ended SUCCEEDED exactly once, with exactly
//! one image; the workers shared the work; every subscriber saw each of its jobs reach
//! SUCCEEDED through valid transitions; and no product object is left in the bucket that no
//! image row names.
//! A second test restarts PostgreSQL (a server of the test's own) while forty jobs run: the
//! processes recover by themselves, and the same checks hold: no job lost, none duplicated.

mod support;

use api::graphql::global_id::{NodeKind, encode};
use futures::{SinkExt, StreamExt};
use jobs::store::entities::{image, reconstruction_job};
use jobs::test_support::MotoS3;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};
use support::Proc;
use support::private_pg::PrivatePg;
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 20;
const JOBS_PER_CLIENT: usize = 10;

/// A CLEAN reconstruction of one minute of the M1.2 flare (4–10 keV), its start `offset`
/// seconds after 11:30:00: every job asks for a different interval, so none is a resubmission.
fn job_input(offset: usize) -> Value {
    let start = chrono::DateTime::parse_from_rfc3339("2022-11-11T11:30:00Z").unwrap()
        + chrono::Duration::seconds(offset as i64);
    let end = start + chrono::Duration::seconds(60);
    json!({
        "scienceFileUid": 2211116471i64,
        "timeRange": { "start": start.to_rfc3339(), "end": end.to_rfc3339() },
        "energyRange": { "lowKev": 4.0, "highKev": 10.0 },
        "algorithms": ["CLEAN"],
        "imageSize": 129,
    })
}

/// One client: registers, submits its jobs, follows each over `jobStatus` until it completes;
/// returns the statuses seen per job id.
async fn client(base: String, index: usize, jobs: usize) -> BTreeMap<String, Vec<String>> {
    let token = support::user_token(&base, &format!("client{index:02}")).await;
    let mut ws = support::ws_connect(&base, Some(&token)).await;
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in 0..jobs {
        let r = support::graphql_as(
            &base,
            Some(&token),
            "mutation($i: SubmitReconstructionInput!) { submitReconstruction(input: $i) { id } }",
            json!({ "i": job_input(index * jobs + k) }),
        )
        .await;
        let id = r["data"]["submitReconstruction"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("client {index} job {k}: {r}"))
            .to_string();
        ws.send(Message::Text(
            json!({
                "id": id,
                "type": "subscribe",
                "payload": {
                    "query": "subscription($j: ID!) { jobStatus(jobId: $j) { status } }",
                    "variables": { "j": id }
                }
            })
            .to_string()
            .into(),
        ))
        .await
        .unwrap();
        seen.insert(id, Vec::new());
    }
    let mut open: BTreeSet<String> = seen.keys().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !open.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("client {index}: jobs {open:?} never completed"));
        let Some(Ok(Message::Text(t))) = frame else {
            match frame {
                Some(Ok(_)) => continue,
                other => panic!("client {index}: the socket ended: {other:?}"),
            }
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        let id = v["id"].as_str().unwrap_or_default().to_string();
        match v["type"].as_str() {
            Some("next") => {
                let status = v["payload"]["data"]["jobStatus"]["status"]
                    .as_str()
                    .unwrap_or_else(|| panic!("client {index}: {v}"))
                    .to_string();
                seen.get_mut(&id)
                    .expect("a job of this client")
                    .push(status);
            }
            Some("complete") => {
                open.remove(&id);
            }
            _ => panic!("client {index}: unexpected frame {v}"),
        }
    }
    seen
}

/// Every file under `root/jobs` (recursively), as paths relative to `root` with `/`.
fn job_files(root: &Path) -> Vec<String> {
    jobs::test_support::files_under(&root.join("jobs"))
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The shared settings (a short lease, a quota fitting the load, the `storage` settings),
/// the API process and the M1.2 files ingested by an operator's process. With object storage
/// every process gets a data directory of its own.
async fn start_api(
    pg_url: &str,
    dir: &Path,
    jobs_per_client: usize,
    storage: &[(String, String)],
) -> (Vec<(String, String)>, Proc) {
    let mut env = support::env(pg_url, dir);
    env.extend(storage.iter().cloned());
    env.push(("STIX__WORKERS__STALE_AFTER_SECONDS".into(), "3".into()));
    env.push((
        "STIX__WORKERS__MAX_ACTIVE_JOBS_PER_USER".into(),
        jobs_per_client.to_string(),
    ));
    let separate = !storage.is_empty();
    let api = Proc::start(
        "api",
        &["serve", "--no-workers"],
        &own_data_dir(&env, dir, "api", separate),
        "listening on",
    );
    let files = support::m12_files();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    support::run_to_end(&args, &own_data_dir(&env, dir, "ingest", separate));
    (env, api)
}

/// `env` with a data directory of the process `name`'s own (as on a machine of its own),
/// when `separate`; else `env` as it is (one shared directory).
fn own_data_dir(
    env: &[(String, String)],
    dir: &Path,
    name: &str,
    separate: bool,
) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    if separate {
        for (k, v) in &mut env {
            if k == "STIX__STORAGE__DATA_DIR" {
                *v = dir.join(name).display().to_string();
            }
        }
    }
    env
}

/// Checks that every one of `expected` reconstruction jobs SUCCEEDED exactly once with one
/// image, that every subscriber saw its jobs reach SUCCEEDED through valid transitions, and
/// that `products` (the user-job products stored: files or objects under `jobs/`) are exactly
/// those the image rows name. Returns the jobs finished per worker process.
async fn check_exactly_once(
    db: &sea_orm::DatabaseConnection,
    products: Vec<String>,
    seen: &BTreeMap<String, Vec<String>>,
    expected: usize,
) -> (Vec<reconstruction_job::Model>, BTreeMap<String, usize>) {
    assert_eq!(seen.len(), expected);
    let rows = reconstruction_job::Entity::find()
        .filter(reconstruction_job::Column::Kind.eq("reconstruction"))
        .all(db)
        .await
        .unwrap();
    assert_eq!(rows.len(), expected, "one row per submission");
    let images = image::Entity::find()
        .filter(image::Column::Kind.eq("user"))
        .all(db)
        .await
        .unwrap();
    let mut per_job: BTreeMap<i64, usize> = BTreeMap::new();
    for img in &images {
        *per_job
            .entry(img.job_id.expect("a user image names its job"))
            .or_default() += 1;
    }
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        assert_eq!(row.status, "SUCCEEDED", "{row:?}");
        assert_eq!(
            per_job.get(&row.id),
            Some(&1),
            "one image for job {}",
            row.public_id
        );
        *by_worker
            .entry(row.worker.clone().unwrap_or_default())
            .or_default() += 1;
    }
    assert_eq!(images.len(), rows.len(), "no duplicate image");

    let allowed = |from: &str, to: &str| {
        matches!(
            (from, to),
            ("QUEUED", "RUNNING")
                | ("RUNNING", "RUNNING")
                | ("RUNNING", "QUEUED")
                | ("RUNNING", "SUCCEEDED")
                | ("QUEUED", "SUCCEEDED")
                | ("QUEUED", "QUEUED")
        )
    };
    for (id, statuses) in seen {
        assert_eq!(
            statuses.last().map(String::as_str),
            Some("SUCCEEDED"),
            "job {id}: {statuses:?}"
        );
        for w in statuses.windows(2) {
            assert!(allowed(&w[0], &w[1]), "job {id}: {statuses:?}");
        }
    }

    let on_disk = products;
    let named: BTreeSet<String> = images
        .iter()
        .flat_map(|i| [Some(i.fits_path.clone()), i.png_path.clone()])
        .flatten()
        .collect();
    let orphans: Vec<&String> = on_disk.iter().filter(|f| !named.contains(*f)).collect();
    assert!(orphans.is_empty(), "orphaned products: {orphans:?}");
    assert_eq!(
        on_disk.len(),
        2 * images.len(),
        "a FITS and a PNG per image"
    );
    (rows, by_worker)
}

/// Runs `clients` clients of `jobs` jobs each against `base`, returning their statuses.
fn spawn_clients(
    base: &str,
    clients: usize,
    jobs: usize,
) -> Vec<tokio::task::JoinHandle<BTreeMap<String, Vec<String>>>> {
    (0..clients)
        .map(|i| tokio::spawn(client(base.to_string(), i, jobs)))
        .collect()
}

async fn join_clients(
    clients: Vec<tokio::task::JoinHandle<BTreeMap<String, Vec<String>>>>,
) -> BTreeMap<String, Vec<String>> {
    let mut seen = BTreeMap::new();
    for c in clients {
        seen.extend(c.await.expect("a client finished"));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_jobs_from_twenty_clients_survive_a_killed_worker() {
    let pg = support::ThrowawayPg::create().await;
    let s3 = MotoS3::start("stix-load").await;
    let dir = tempfile::tempdir().unwrap();
    let (env, api) = start_api(
        &pg.url,
        dir.path(),
        JOBS_PER_CLIENT,
        &s3.settings_env("archive"),
    )
    .await;
    let base = api.http_base();
    let db = jobs::store::connect(&pg.url, 4, Duration::from_secs(5))
        .await
        .unwrap();
    let worker = |name: &str| {
        Proc::start(
            name,
            &["worker"],
            &own_data_dir(&env, dir.path(), name, true),
            "worker running as",
        )
    };
    let doomed = worker("worker-1");
    let survivor = worker("worker-2");
    let doomed_name = format!("{}:{}", jobs::worker::host_name(), doomed.pid());
    let started = Instant::now();
    let clients = spawn_clients(&base, CLIENTS, JOBS_PER_CLIENT);

    // Once worker-1 has finished a job, kill it while it runs the next, and start worker-3.
    let killed_job = loop {
        let finished_by_doomed = reconstruction_job::Entity::find()
            .filter(reconstruction_job::Column::Status.eq("SUCCEEDED"))
            .filter(reconstruction_job::Column::Kind.eq("reconstruction"))
            .filter(reconstruction_job::Column::Worker.eq(doomed_name.clone()))
            .count(&db)
            .await
            .unwrap();
        let running = reconstruction_job::Entity::find()
            .filter(reconstruction_job::Column::Status.eq("RUNNING"))
            .filter(reconstruction_job::Column::Kind.eq("reconstruction"))
            .filter(reconstruction_job::Column::Worker.eq(doomed_name.clone()))
            .one(&db)
            .await
            .unwrap();
        if let Some(job) = running.filter(|_| finished_by_doomed > 0) {
            doomed.kill();
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "worker-1 never ran a reconstruction"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let third = worker("worker-3");
    eprintln!("killed worker-1 while it ran job {}", killed_job.public_id);

    let seen = join_clients(clients).await;
    let elapsed = started.elapsed();
    let objects = s3
        .storage(&dir.path().join("check"), "archive")
        .list_objects_under("jobs")
        .await
        .expect("the bucket lists");
    let (rows, by_worker) =
        check_exactly_once(&db, objects, &seen, CLIENTS * JOBS_PER_CLIENT).await;
    eprintln!(
        "{} jobs in {elapsed:?} ({:.1} jobs/s); jobs finished per worker: {by_worker:?}",
        rows.len(),
        rows.len() as f64 / elapsed.as_secs_f64()
    );
    let survivors = [
        format!("{}:{}", jobs::worker::host_name(), survivor.pid()),
        format!("{}:{}", jobs::worker::host_name(), third.pid()),
    ];
    assert!(
        survivors
            .iter()
            .chain([&doomed_name])
            .all(|w| by_worker.get(w).is_some_and(|&n| n > 0)),
        "every worker did work (worker-1 before it was killed): {by_worker:?}"
    );
    let redone = rows.iter().find(|r| r.id == killed_job.id).unwrap();
    assert!(
        survivors.contains(redone.worker.as_ref().unwrap()),
        "the killed job was finished by another worker: {redone:?}"
    );
    let killed_id = encode(
        NodeKind::ReconstructionJob,
        &killed_job.public_id.to_string(),
    );
    eprintln!("the killed job's statuses: {:?}", seen.get(&killed_id));

    drop((survivor, third, api));
    pg.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_restart_under_load_loses_no_job_and_duplicates_none() {
    const RESTART_CLIENTS: usize = 8;
    const RESTART_JOBS: usize = 5;
    let server = PrivatePg::start();
    let pg = support::ThrowawayPg::create_on(&server.admin_url()).await;
    let dir = tempfile::tempdir().unwrap();
    let (env, api) = start_api(&pg.url, dir.path(), RESTART_JOBS, &[]).await;
    let base = api.http_base();
    let workers = [
        Proc::start("worker-1", &["worker"], &env, "worker running as"),
        Proc::start("worker-2", &["worker"], &env, "worker running as"),
    ];
    let clients = spawn_clients(&base, RESTART_CLIENTS, RESTART_JOBS);

    // Once every job is submitted and some have finished, PostgreSQL goes down for 3 s.
    {
        let db = jobs::store::connect(&pg.url, 2, Duration::from_secs(5))
            .await
            .unwrap();
        let started = Instant::now();
        loop {
            let rows = reconstruction_job::Entity::find()
                .filter(reconstruction_job::Column::Kind.eq("reconstruction"))
                .all(&db)
                .await
                .unwrap();
            let done = rows.iter().filter(|r| r.status == "SUCCEEDED").count();
            if rows.len() == RESTART_CLIENTS * RESTART_JOBS && done >= 3 {
                eprintln!(
                    "restarting PostgreSQL with {done} of {} jobs done",
                    rows.len()
                );
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the load never got going"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        db.close().await.unwrap();
    }
    server.down();
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.up();

    let seen = join_clients(clients).await;
    let db = jobs::store::connect(&pg.url, 2, Duration::from_secs(5))
        .await
        .unwrap();
    let products = job_files(&dir.path().join("store"));
    let (_, by_worker) =
        check_exactly_once(&db, products, &seen, RESTART_CLIENTS * RESTART_JOBS).await;
    eprintln!("after the restart, jobs finished per worker: {by_worker:?}");
    for w in &workers {
        assert!(
            reqwest::get(format!("{}/readyz", w.ops_base()))
                .await
                .is_ok_and(|r| r.status() == 200),
            "worker {} ready again without a restart",
            w.pid()
        );
    }
    db.close().await.unwrap();
    drop((workers, api));
    pg.drop_database().await;
}
