//! Queue throughput on PostgreSQL with real worker processes: submits `--jobs` tiny jobs from
//! `--clients` concurrent clients into a throwaway database, with `--workers` `stix-archive
//! worker` processes of `--concurrency` slots each taking them, and reports jobs per second
//! (first submission → last final status), the submission → final latency p50/p99 (from the
//! rows' `created_at`/`finished_at`) and the part of it spent queued (to `started_at`), and how many jobs each worker process ran.
//!
//! The jobs are preview jobs whose payload is not a preview request: each is claimed
//! (`QUEUED → RUNNING`), ended at once (`FAILED`, `BAD_REQUEST`) and its events published, so
//! what is measured is the queue, the claim and the status path, not imaging.
//!
//! ```sh
//! cargo build --bin stix-archive --example queue_throughput
//! target/debug/examples/queue_throughput --workers 2 --concurrency 1 --jobs 200 --clients 20
//! ```
//! (`--admin postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable` by default; `--bin`
//! the binary.) Every process of a run is on this machine, so, as the README advises for
//! PostgreSQL on the same machine, none of them speaks TLS to it: Debian's PostgreSQL offers
//! TLS, and a URL without `sslmode` takes it (`prefer`), which costs each job CPU on both sides
//! of every statement. To measure with TLS, give `--admin` a URL without `sslmode`; for the
//! Unix socket, `postgres://postgres@localhost/postgres?host=/var/run/postgresql`.
//!
//! With `--job clean` (a 129² CLEAN of one minute of the M1.2 flare) or `--job box` (the
//! five algorithms of one box), real reconstructions are measured instead: an operator's
//! `ingest` process stores the M1.2 files, an API process (`serve --no-workers`) takes the
//! submissions of `--clients` users over GraphQL, the workers image them. The clock starts
//! once the ingest's own preview job is done. `--rate R` submits at R jobs/s in all (open
//! loop) instead of as fast as the clients can, to measure the latency below saturation.
//!
//! ```sh
//! cargo build --release --bin stix-archive --example queue_throughput
//! target/release/examples/queue_throughput --job clean --workers 2 --jobs 60 --clients 10
//! ```
//!
//! `--backlog` measures the workers alone: every job is submitted while no worker runs, then
//! the workers start and drain the queue; jobs per second is then counted from the first
//! claim to the last final status (the rows' `started_at`/`finished_at`), so the submissions,
//! the API process and the clients take none of the measured time or CPU. Without it, the
//! submissions run while the workers work, and all of it shares the machine's cores.
//!
//! `--pin` starts each worker process under `taskset -c` on CPUs of its own (worker `i` on
//! CPUs `i × concurrency …`, round the machine's CPUs), as the README advises operators to
//! run worker processes that share a machine; the other processes and PostgreSQL stay free.
//!
//! `--scaling ROUNDS` measures how throughput scales from one worker process to `--workers`
//! (2 by default): it runs this benchmark `ROUNDS` times with one worker and `ROUNDS` times
//! with `--workers`, interleaved (one first in odd rounds, the other in even rounds, so that a
//! drift of the machine favours neither), and prints every run, the ratio per round, its
//! median and the ratio of the summed jobs per second:
//!
//! ```sh
//! target/release/examples/queue_throughput --job clean --jobs 600 --clients 10 --backlog --pin --scaling 10
//! ```

use jobs::queue::Queue;
use jobs::store::entities::reconstruction_job;
use jobs::submit::{NewJob, submit};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What each job is.
#[derive(Clone, Copy, PartialEq)]
enum JobMix {
    /// A preview job with a payload the workers refuse at once: the queue alone.
    Tiny,
    /// A 129² CLEAN reconstruction.
    Clean,
    /// The five algorithms of one box.
    Box5,
}

struct Args {
    job: JobMix,
    rate: Option<f64>,
    admin: String,
    bin: String,
    workers: usize,
    concurrency: usize,
    jobs: usize,
    clients: usize,
    backlog: bool,
    pin: bool,
    scaling: Option<usize>,
}

fn args() -> Args {
    let exe = std::env::current_exe().expect("own path");
    let default_bin = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("stix-archive").display().to_string())
        .unwrap_or_default();
    let mut a = Args {
        job: JobMix::Tiny,
        rate: None,
        admin: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into(),
        bin: default_bin,
        workers: 1,
        concurrency: 1,
        jobs: 200,
        clients: 20,
        backlog: false,
        pin: false,
        scaling: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--backlog" {
            a.backlog = true;
            continue;
        }
        if k == "--pin" {
            a.pin = true;
            continue;
        }
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--admin" => a.admin = v,
            "--job" => {
                a.job = match v.as_str() {
                    "tiny" => JobMix::Tiny,
                    "clean" => JobMix::Clean,
                    "box" => JobMix::Box5,
                    other => panic!("--job tiny|clean|box, not {other}"),
                }
            }
            "--rate" => a.rate = Some(v.parse().expect("--rate jobs/s")),
            "--bin" => a.bin = v,
            "--workers" => a.workers = v.parse().expect("--workers N"),
            "--concurrency" => a.concurrency = v.parse().expect("--concurrency N"),
            "--jobs" => a.jobs = v.parse().expect("--jobs N"),
            "--clients" => a.clients = v.parse().expect("--clients N"),
            "--scaling" => a.scaling = Some(v.parse().expect("--scaling ROUNDS")),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// `admin` with its database replaced by `name`, keeping its options (`?sslmode=…`).
fn database_url(admin: &str, name: &str) -> String {
    let (base, options) = admin
        .split_once('?')
        .map_or((admin, None), |(b, o)| (b, Some(o)));
    let root = base.rsplit_once('/').map(|(r, _)| r).unwrap_or(base);
    match options {
        Some(o) => format!("{root}/{name}?{o}"),
        None => format!("{root}/{name}"),
    }
}

/// `stix-archive ARGS` with the settings every process of the run shares; on the CPUs `cpus`
/// (a `taskset -c` list) when given.
fn process(
    a: &Args,
    url: &str,
    dir: &std::path::Path,
    args: &[&str],
    cpus: Option<&str>,
) -> Command {
    let mut c = match cpus {
        Some(list) => {
            let mut t = Command::new("taskset");
            t.args(["-c", list, &a.bin]);
            t
        }
        None => Command::new(&a.bin),
    };
    c.args(args)
        .env("STIX__DATABASE__URL", url)
        .env("STIX__STORAGE__DATA_DIR", dir.join("store"))
        .env("STIX__WORKERS__CONCURRENCY", a.concurrency.to_string())
        .env("STIX__WORKERS__MAX_ACTIVE_JOBS_PER_USER", "100000")
        .env("STIX__SERVER__BIND", "127.0.0.1:0")
        // `worker` and `serve` refuse to start without a shared secret of at least 32 bytes.
        .env(
            "STIX__AUTH__JWT_SECRET",
            "queue-throughput-secret-of-at-least-32-bytes",
        )
        .env("RUST_LOG", "error,stix_archive=info,api=info");
    c
}

/// Starts `stix-archive ARGS` and waits for the stderr line containing `ready`; returns the
/// process and that line.
fn start(
    a: &Args,
    url: &str,
    dir: &std::path::Path,
    args: &[&str],
    cpus: Option<&str>,
    ready: &str,
) -> (Child, String) {
    let mut child = process(a, url, dir, args, cpus)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the stix-archive binary (cargo build --bin stix-archive)");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains(&ready) {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{args:?} starts"));
    (child, line)
}

/// Starts worker process number `index` (from 0); with `--pin`, on CPUs of its own: its
/// `concurrency` CPUs follow those of the workers before it, round the machine's CPUs.
fn start_worker(a: &Args, url: &str, dir: &std::path::Path, index: usize) -> Child {
    let cpus = a.pin.then(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        let first = index * a.concurrency;
        let mut list: Vec<usize> = (first..first + a.concurrency).map(|c| c % n).collect();
        list.sort_unstable();
        list.dedup();
        list.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",")
    });
    start(
        a,
        url,
        dir,
        &["worker"],
        cpus.as_deref(),
        "worker running as",
    )
    .0
}

/// Stops the worker processes (SIGTERM, so each finishes its job) and waits for them.
fn stop_workers(workers: &mut Vec<Child>) {
    for w in workers.iter() {
        let _ = Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .status();
    }
    for mut w in workers.drain(..) {
        let _ = w.wait();
    }
}

/// A GraphQL POST to the API at `base`.
async fn graphql(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    let mut req = http
        .post(format!("{base}/graphql"))
        .json(&serde_json::json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("JSON")
}

/// The reconstruction input of job `k`: one minute of the M1.2 flare starting `k` seconds
/// after 11:20:00 (distinct, so none is a resubmission), 4-10 keV, 129 pixels.
fn reconstruction(mix: JobMix, k: usize) -> serde_json::Value {
    let start = chrono::DateTime::parse_from_rfc3339("2022-11-11T11:20:00Z").unwrap()
        + chrono::Duration::seconds(k as i64);
    let algorithms = match mix {
        JobMix::Box5 => serde_json::json!(["BP", "CLEAN", "MEM", "EM", "FWDFIT"]),
        _ => serde_json::json!(["CLEAN"]),
    };
    serde_json::json!({
        "scienceFileUid": 2211116471i64,
        "timeRange": {
            "start": start.to_rfc3339(),
            "end": (start + chrono::Duration::seconds(60)).to_rfc3339(),
        },
        "energyRange": { "lowKev": 4.0, "highKev": 10.0 },
        "algorithms": algorithms,
        "imageSize": 129,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `--scaling`: this benchmark run again as a child process per measurement, one worker
/// process against `a.workers`, in interleaved rounds.
fn scaling(a: &Args, rounds: usize) {
    let workers = if a.workers > 1 { a.workers } else { 2 };
    // This invocation's arguments without `--scaling` and `--workers`, which are set per run.
    let mut base = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--backlog" | "--pin" => base.push(k),
            "--scaling" | "--workers" => {
                it.next();
            }
            _ => {
                base.push(k);
                base.extend(it.next());
            }
        }
    }
    let exe = std::env::current_exe().expect("own path");
    let run = |w: usize| -> f64 {
        let out = Command::new(&exe)
            .args(&base)
            .args(["--workers", &w.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .expect("the benchmark runs");
        assert!(out.status.success(), "a run with {w} workers failed");
        let line = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        println!("{line}");
        let v: serde_json::Value = serde_json::from_str(&line).expect("the run's JSON line");
        assert_eq!(v["jobs_not_run_exactly_once"], 0, "{line}");
        assert_eq!(v["not_succeeded"], 0, "{line}");
        v["jobs_per_s"].as_f64().expect("jobs_per_s")
    };
    let mut pairs = Vec::new();
    for r in 0..rounds {
        let (one, many) = if r % 2 == 0 {
            let one = run(1);
            (one, run(workers))
        } else {
            let many = run(workers);
            (run(1), many)
        };
        pairs.push((one, many));
    }
    let mut ratios: Vec<f64> = pairs.iter().map(|(one, many)| many / one).collect();
    let per_round: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let median = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    let (sum_one, sum_many) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (one, many)| (a + one, b + many));
    println!(
        "{{\"scaling_workers\":{workers},\"rounds\":{rounds},\"ratio_per_round\":[{}],\"ratio_median\":{median:.3},\"ratio_of_sums\":{:.3},\"one_jobs_per_s\":{:?},\"many_jobs_per_s\":{:?}}}",
        per_round.join(","),
        sum_many / sum_one,
        pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
        pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
    );
}

#[tokio::main]
async fn main() {
    let a = args();
    if let Some(rounds) = a.scaling {
        scaling(&a, rounds.max(1));
        return;
    }
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
    // Real reconstructions: the M1.2 files, an API process, one user per client.
    let mut api = None;
    let mut tokens = Vec::new();
    let http = reqwest::Client::new();
    if a.job != JobMix::Tiny {
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/stix/l1/");
        let files = [
            "solo_L2_stix-aux-ephemeris_20221111_V01.fits",
            "solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits",
            "solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits",
        ]
        .map(|f| format!("{data}{f}"));
        let mut args = vec!["ingest"];
        args.extend(files.iter().map(String::as_str));
        let out = process(&a, &url, dir.path(), &args, None).output().unwrap();
        assert!(
            out.status.success(),
            "ingest: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (child, line) = start(
            &a,
            &url,
            dir.path(),
            &["serve", "--no-workers"],
            None,
            "listening on",
        );
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("a URL")
            .trim_end_matches("/graphql")
            .to_string();
        api = Some((child, base.clone()));
        for c in 0..a.clients {
            let r = graphql(
                &http,
                &base,
                None,
                "mutation($i: RegisterInput!) { register(input: $i) { token } }",
                serde_json::json!({ "i": { "username": format!("bench{c}"), "email": format!("bench{c}@example.org"), "password": "bench-password-123" } }),
            )
            .await;
            tokens.push(
                r["data"]["register"]["token"]
                    .as_str()
                    .expect("a token")
                    .to_string(),
            );
        }
    }
    let mut workers: Vec<Child> = (0..a.workers)
        .map(|i| start_worker(&a, &url, dir.path(), i))
        .collect();
    if a.job != JobMix::Tiny {
        // The ingest's own preview job runs first, outside the measurement.
        loop {
            let open = reconstruction_job::Entity::find()
                .filter(reconstruction_job::Column::FinishedAt.is_null())
                .count(&db)
                .await
                .unwrap();
            if open == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let before = reconstruction_job::Entity::find().count(&db).await.unwrap() as usize;
    if a.backlog {
        // No worker may take a job before the whole backlog is queued.
        stop_workers(&mut workers);
    }

    let started = Instant::now();
    let per_client = a.jobs.div_ceil(a.clients);
    let mut tasks = Vec::new();
    for c in 0..a.clients {
        let (db, queue, http) = (db.clone(), queue.clone(), http.clone());
        let n = per_client.min(a.jobs.saturating_sub(c * per_client));
        let api_base = api.as_ref().map(|(_, b)| b.clone());
        let token = tokens.get(c).cloned();
        let (mix, rate, clients) = (a.job, a.rate, a.clients);
        tasks.push(tokio::spawn(async move {
            // Open loop: each client submits every clients/rate seconds, offset by its index.
            let period = rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
            if let Some(p) = period {
                tokio::time::sleep(p.mul_f64(c as f64 / clients as f64)).await;
            }
            let mut tick = period.map(tokio::time::interval);
            for i in 0..n {
                if let Some(t) = tick.as_mut() {
                    t.tick().await;
                }
                if mix == JobMix::Tiny {
                    let job = NewJob {
                        kind: jobs::kinds::JobKind::Preview,
                        request: serde_json::json!({ "v": 1, "client": c, "i": i }),
                        science_file_id: None,
                        owner_id: None,
                    };
                    submit(&db, &queue, job).await.expect("submit");
                } else {
                    let r = graphql(
                        &http,
                        api_base.as_deref().unwrap(),
                        token.as_deref(),
                        "mutation($i: SubmitReconstructionInput!) { submitReconstruction(input: $i) { id } }",
                        serde_json::json!({ "i": reconstruction(mix, c * n + i) }),
                    )
                    .await;
                    assert!(r["errors"].is_null(), "submit: {r}");
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let submitted = started.elapsed();
    if a.backlog {
        workers = (0..a.workers)
            .map(|i| start_worker(&a, &url, dir.path(), i))
            .collect();
    }
    loop {
        let finished = reconstruction_job::Entity::find()
            .filter(reconstruction_job::Column::FinishedAt.is_not_null())
            .count(&db)
            .await
            .unwrap() as usize;
        if finished >= before + a.jobs {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {finished} of {} jobs finished in 10 minutes",
            a.jobs
        );
        // Coarse enough that this watching costs the database little next to the jobs, fine
        // enough to add at most 1 % to a run of 10 s.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = started.elapsed();
    let rows: Vec<_> = reconstruction_job::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| a.job == JobMix::Tiny || r.kind == "reconstruction")
        .collect();
    let failed = rows
        .iter()
        .filter(|r| a.job != JobMix::Tiny && r.status != "SUCCEEDED")
        .count();
    let mut lat: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.finished_at.map(|f| (f - r.created_at).as_seconds_f64()))
        .collect();
    lat.sort_by(f64::total_cmp);
    // Of which waiting in the queue (submission → claim).
    let mut wait: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.started_at.map(|s| (s - r.created_at).as_seconds_f64()))
        .collect();
    wait.sort_by(f64::total_cmp);
    // Of which running (claim → final status), on average.
    let running: Vec<f64> = rows
        .iter()
        .filter_map(|r| {
            r.started_at
                .zip(r.finished_at)
                .map(|(s, f)| (f - s).as_seconds_f64())
        })
        .collect();
    let running_mean_ms = 1e3 * running.iter().sum::<f64>() / running.len().max(1) as f64;
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *by_worker
            .entry(r.worker.clone().unwrap_or_else(|| "-".into()))
            .or_default() += 1;
    }
    let attempts_over_one = rows.iter().filter(|r| r.attempts != 1).count();
    // With a backlog, the workers' own time: first claim to last final status.
    let measured = if a.backlog {
        let first = rows
            .iter()
            .filter_map(|r| r.started_at)
            .min()
            .expect("a claim");
        let last = rows
            .iter()
            .filter_map(|r| r.finished_at)
            .max()
            .expect("an end");
        (last - first).to_std().unwrap_or_default()
    } else {
        total
    };
    println!(
        "{{\"workers\":{},\"concurrency\":{},\"clients\":{},\"jobs\":{},\"backlog\":{},\"submit_s\":{:.3},\"total_s\":{:.3},\"jobs_per_s\":{:.1},\"latency_p50_s\":{:.3},\"latency_p99_s\":{:.3},\"queued_p50_s\":{:.3},\"queued_p99_s\":{:.3},\"running_mean_ms\":{:.1},\"jobs_not_run_exactly_once\":{},\"not_succeeded\":{},\"by_worker\":{:?}}}",
        a.workers,
        a.concurrency,
        a.clients,
        rows.len(),
        a.backlog,
        submitted.as_secs_f64(),
        measured.as_secs_f64(),
        a.jobs as f64 / measured.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&wait, 0.5),
        percentile(&wait, 0.99),
        running_mean_ms,
        attempts_over_one,
        failed,
        by_worker.values().collect::<Vec<_>>(),
    );
    if let Some((mut child, _)) = api {
        let _ = child.kill();
        let _ = child.wait();
    }
    stop_workers(&mut workers);
    db.close().await.ok();
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
}
