//! Queue throughput on PostgreSQL with real worker processes: submits `--jobs` tiny jobs from
//! `--clients` concurrent clients into a throwaway database, with `--workers` `stix-archive
//! worker` processes of `--concurrency` slots each taking them, and reports jobs per second
//! (first submission → last final status), the submission → final latency p50/p99 (from the
//! rows' `created_at`/`finished_at`), and how many jobs each worker process ran.
//!
//! The jobs are preview jobs whose payload is not a preview request: each is claimed
//! (`QUEUED → RUNNING`), ended at once (`FAILED`, `BAD_REQUEST`) and its events published, so
//! what is measured is the queue, the claim and the status path, not imaging.
//!
//! ```sh
//! cargo build --bin stix-archive --example queue_throughput
//! target/debug/examples/queue_throughput --workers 2 --concurrency 1 --jobs 200 --clients 20
//! ```
//! (`--admin postgres://postgres@127.0.0.1:5432/postgres` by default; `--bin` the binary.)

use jobs::queue::Queue;
use jobs::store::entities::reconstruction_job;
use jobs::submit::{NewJob, submit};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    admin: String,
    bin: String,
    workers: usize,
    concurrency: usize,
    jobs: usize,
    clients: usize,
}

fn args() -> Args {
    let exe = std::env::current_exe().expect("own path");
    let default_bin = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("stix-archive").display().to_string())
        .unwrap_or_default();
    let mut a = Args {
        admin: "postgres://postgres@127.0.0.1:5432/postgres".into(),
        bin: default_bin,
        workers: 1,
        concurrency: 1,
        jobs: 200,
        clients: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--admin" => a.admin = v,
            "--bin" => a.bin = v,
            "--workers" => a.workers = v.parse().expect("--workers N"),
            "--concurrency" => a.concurrency = v.parse().expect("--concurrency N"),
            "--jobs" => a.jobs = v.parse().expect("--jobs N"),
            "--clients" => a.clients = v.parse().expect("--clients N"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn database_url(admin: &str, name: &str) -> String {
    let root = admin.rsplit_once('/').map(|(r, _)| r).unwrap_or(admin);
    format!("{root}/{name}")
}

fn start_worker(a: &Args, url: &str, dir: &std::path::Path) -> Child {
    let mut child = Command::new(&a.bin)
        .arg("worker")
        .env("STIX__DATABASE__URL", url)
        .env("STIX__STORAGE__DATA_DIR", dir.join("store"))
        .env("STIX__WORKERS__CONCURRENCY", a.concurrency.to_string())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the stix-archive binary (cargo build --bin stix-archive)");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("worker running as") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the worker starts");
    child
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let a = args();
    let name = format!("stix_e2e_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(a.admin.as_str())
        .await
        .expect("PostgreSQL admin connection");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = database_url(&a.admin, &name);
    let dir = tempfile::tempdir().unwrap();
    let db = jobs::store::connect(&url, (a.clients as u32).max(2), Duration::from_secs(5))
        .await
        .unwrap();
    jobs::store::migrate(&db).await.unwrap();
    let queue = Queue::setup(&db, 1).await.unwrap();
    let mut workers: Vec<Child> = (0..a.workers)
        .map(|_| start_worker(&a, &url, dir.path()))
        .collect();

    let started = Instant::now();
    let per_client = a.jobs.div_ceil(a.clients);
    let mut tasks = Vec::new();
    for c in 0..a.clients {
        let (db, queue) = (db.clone(), queue.clone());
        let n = per_client.min(a.jobs.saturating_sub(c * per_client));
        tasks.push(tokio::spawn(async move {
            for i in 0..n {
                let job = NewJob {
                    kind: jobs::kinds::JobKind::Preview,
                    request: serde_json::json!({ "v": 1, "client": c, "i": i }),
                    science_file_id: None,
                    owner_id: None,
                };
                submit(&db, &queue, job).await.expect("submit");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let submitted = started.elapsed();
    loop {
        let finished = reconstruction_job::Entity::find()
            .filter(reconstruction_job::Column::FinishedAt.is_not_null())
            .count(&db)
            .await
            .unwrap();
        if finished as usize >= a.jobs {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {finished} of {} jobs finished in 10 minutes",
            a.jobs
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    let rows = reconstruction_job::Entity::find().all(&db).await.unwrap();
    let mut lat: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.finished_at.map(|f| (f - r.created_at).as_seconds_f64()))
        .collect();
    lat.sort_by(f64::total_cmp);
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *by_worker
            .entry(r.worker.clone().unwrap_or_else(|| "-".into()))
            .or_default() += 1;
    }
    let attempts_over_one = rows.iter().filter(|r| r.attempts != 1).count();
    println!(
        "{{\"workers\":{},\"concurrency\":{},\"clients\":{},\"jobs\":{},\"submit_s\":{:.3},\"total_s\":{:.3},\"jobs_per_s\":{:.1},\"latency_p50_s\":{:.3},\"latency_p99_s\":{:.3},\"jobs_not_run_exactly_once\":{},\"by_worker\":{:?}}}",
        a.workers,
        a.concurrency,
        a.clients,
        rows.len(),
        submitted.as_secs_f64(),
        total.as_secs_f64(),
        a.jobs as f64 / total.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        attempts_over_one,
        by_worker.values().collect::<Vec<_>>(),
    );
    for w in &mut workers {
        let _ = Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .status();
        let _ = w.wait();
    }
    db.close().await.ok();
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
}
