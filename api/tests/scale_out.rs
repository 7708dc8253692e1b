//! Scale-out with real processes on the real PostgreSQL of the machine (a throwaway database
//! per test, on the admin connection `STIX_TEST_PG_ADMIN`, else `TEST_DATABASE_URL`, else
//! `postgres://postgres@127.0.0.1:5432/postgres`): an API-only process (`serve
//! --no-workers`), a `worker` process, and an operator's `ingest` process share the database.
//! A `jobStatus` subscriber on the API process sees the preview job that runs in the worker
//! process go RUNNING, make progress and end SUCCEEDED (PostgreSQL `LISTEN/NOTIFY`); the job
//! row names the worker process; each process's `/metrics` reports what it did. With two
//! worker processes, `ReconstructionJob.worker` names (for an admin) the process that ran each
//! job, and a `newImages` subscriber on the API process receives the images they made.

mod support;

use api::graphql::global_id::{NodeKind, encode};
use futures::SinkExt;
use jobs::store::entities::{image, reconstruction_job};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use support::{Proc, metric, sample, scrape};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn job_status_from_a_worker_process_reaches_a_subscriber_on_the_api_process() {
    let pg = support::ThrowawayPg::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = support::env(&pg.url, dir.path());

    // The API alone: it must not run the job.
    let api = Proc::start("api", &["serve", "--no-workers"], &env, "listening on");
    let base = api.http_base();

    // An operator queues the C1.2 preview from another process.
    let files = [
        sample(
            "l1/solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits",
        ),
        sample("l1/solo_L2_stix-aux-ephemeris_20221113_V01.fits"),
        sample("flare_reference_locations.csv"),
    ];
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    support::run_to_end(&args, &env);

    let db = jobs::store::connect(&pg.url, 2, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let job = reconstruction_job::Entity::find()
        .filter(reconstruction_job::Column::Kind.eq("preview"))
        .one(&db)
        .await
        .unwrap()
        .expect("the preview job is queued");
    assert_eq!(job.status, "QUEUED");
    assert_eq!(job.worker, None);
    let page = scrape(&base).await;
    assert_eq!(
        metric(&page, "stix_queue_depth", &[("kind", "preview")]),
        Some(1.0),
        "the API process reports the queued job"
    );

    // Subscribe on the API process.
    let token = support::admin_token(&base, &env).await;
    let mut ws = support::ws_connect(&base, Some(&token)).await;
    ws.send(Message::Text(
        json!({
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription($id: ID!) { jobStatus(jobId: $id) { status stage done total } }",
                "variables": { "id": job.public_id.to_string() }
            }
        })
        .to_string()
        .into(),
    ))
    .await
    .unwrap();

    // Only now a worker process: it takes the job.
    // Every progress step recorded (no pacing), so that steps after the first reach the
    // subscriber on their own, not only with the final status.
    let mut worker_env = env.clone();
    worker_env.push(("STIX__WORKERS__PROGRESS_EVERY_MS".into(), "0".into()));
    let worker = Proc::start("worker", &["worker"], &worker_env, "worker running as");
    let mut seen = Vec::new();
    loop {
        let v = support::next_frame(&mut ws, |v| v["type"] == "next").await;
        let ev = v["payload"]["data"]["jobStatus"].clone();
        seen.push(ev.clone());
        if ev["status"] == "SUCCEEDED" || ev["status"] == "FAILED" {
            break;
        }
    }
    eprintln!("events seen by the subscriber: {seen:?}");
    let statuses: Vec<&str> = seen.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.last(), Some(&"SUCCEEDED"), "{seen:?}");
    // The first event is the job's state when the subscription starts (issue 8): the worker
    // process is started only afterwards, so the job is still queued.
    assert_eq!(statuses[0], "QUEUED", "{seen:?}");
    assert!(statuses.contains(&"RUNNING"), "{seen:?}");
    // A step the worker recorded after work was done (with no pacing every step is
    // recorded), seen while the job was still running.
    assert!(
        seen.iter()
            .any(|e| e["status"] == "RUNNING" && e["done"].as_i64().unwrap() > 0),
        "progress crossed processes: {seen:?}"
    );
    let dones: Vec<i64> = seen.iter().map(|e| e["done"].as_i64().unwrap()).collect();
    assert!(dones.windows(2).all(|w| w[0] <= w[1]), "in order: {seen:?}");
    let last = seen.last().unwrap();
    assert_eq!(last["done"], last["total"]);

    // The row names the worker process that ran it.
    let done = reconstruction_job::Entity::find_by_id(job.id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, "SUCCEEDED");
    let worker_id = done.worker.clone().expect("the worker is recorded");
    assert!(
        worker_id.ends_with(&format!(":{}", worker.pid())),
        "{worker_id} is host:pid of the worker process"
    );

    // Each process reports its own work; the job gauges come from the shared database.
    let images = image::Entity::find().count(&db).await.unwrap();
    assert!(images >= 1);
    let wpage = scrape(&worker.ops_base()).await;
    let job_labels = [("kind", "preview"), ("status", "SUCCEEDED")];
    assert_eq!(
        metric(&wpage, "stix_job_duration_seconds_count", &job_labels),
        Some(1.0)
    );
    let mut per_alg = 0.0;
    for alg in ["bp", "clean"] {
        per_alg += metric(
            &wpage,
            "stix_image_duration_seconds_count",
            &[("kind", "preview"), ("algorithm", alg)],
        )
        .unwrap_or(0.0);
    }
    assert_eq!(per_alg, images as f64, "one duration per image made");
    let page = scrape(&base).await;
    assert_eq!(
        metric(&page, "stix_jobs", &[("status", "SUCCEEDED")]),
        Some(1.0)
    );
    assert_eq!(
        metric(&page, "stix_job_duration_seconds_count", &job_labels),
        None,
        "the API process ran no job"
    );
    let ready = reqwest::get(format!("{}/readyz", worker.ops_base()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // Only the API process listens for job events: the worker process publishes them and has
    // no subscriber to hear other processes' events for.
    let listeners = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*)::bigint AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %stix_events%'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(listeners, 1, "one listening connection: the API process's");

    // SIGTERM: both exit cleanly.
    for p in [worker, api] {
        assert!(p.terminate().success());
    }
    db.execute_unprepared("SELECT 1").await.unwrap();
    drop(db);
    pg.drop_database().await;
}

/// The M1.2 flare file's STIX request UID.
const M12_UID: i64 = 2211116471;

/// A BP reconstruction of one minute of the M1.2 peak (6–10 keV), starting at `second`.
fn m12_reconstruction(second: u32) -> serde_json::Value {
    json!({
        "scienceFileUid": M12_UID,
        "timeRange": {
            "start": format!("2022-11-11T11:36:{second:02}Z"),
            "end": format!("2022-11-11T11:37:{second:02}Z"),
        },
        "energyRange": { "lowKev": 6.0, "highKev": 10.0 },
        "algorithms": ["BP"],
        "imageSize": 65,
    })
}

const JOB_WORKER: &str =
    "query($id: ID!) { reconstructionJob(id: $id) { status worker owner { username } } }";

#[tokio::test]
async fn two_worker_processes_name_the_jobs_they_ran_and_their_images_reach_new_images() {
    let pg = support::ThrowawayPg::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = support::env(&pg.url, dir.path());
    let api = Proc::start("api", &["serve", "--no-workers"], &env, "listening on");
    let base = api.http_base();

    // The M1.2 flare file with its background and aspect files: ingest queues its preview.
    let mut files = support::m12_files();
    files.push(sample("flare_reference_locations.csv"));
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    support::run_to_end(&args, &env);
    let admin = support::admin_token(&base, &env).await;
    let alice = support::user_token(&base, "alice").await;

    // Before any worker runs: a `newImages` subscriber on the API process, signed in as
    // alice: the previews are public and the reconstructions hers, so she sees every image.
    let db = jobs::store::connect(&pg.url, 2, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(image::Entity::find().count(&db).await.unwrap(), 0);
    let mut live = support::ws_connect(&base, Some(&alice)).await;
    live.send(Message::Text(
        json!({
            "id": "images",
            "type": "subscribe",
            "payload": { "query": "subscription { newImages { id algorithm } }" }
        })
        .to_string()
        .into(),
    ))
    .await
    .unwrap();

    // Alice's reconstructions wait in the queue beside the preview; then two worker
    // processes share it.
    let mut submitted = Vec::new();
    for second in [0, 5, 10, 15, 20, 25] {
        let r = support::graphql_as(
            &base,
            Some(&alice),
            "mutation($i: SubmitReconstructionInput!) { submitReconstruction(input: $i) { id worker } }",
            json!({ "i": m12_reconstruction(second) }),
        )
        .await;
        let job = &r["data"]["submitReconstruction"];
        assert!(
            job["worker"].is_null(),
            "no worker before one takes it: {r}"
        );
        submitted.push(
            job["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{r}"))
                .to_string(),
        );
    }
    let workers = [
        Proc::start("worker-1", &["worker"], &env, "worker running as"),
        Proc::start("worker-2", &["worker"], &env, "worker running as"),
    ];
    support::until("every job ending", || async {
        reconstruction_job::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .iter()
            .all(|j| matches!(j.status.as_str(), "SUCCEEDED" | "FAILED" | "CANCELLED"))
    })
    .await;
    let rows = reconstruction_job::Entity::find().all(&db).await.unwrap();
    assert_eq!(
        rows.iter().filter(|j| j.kind == "reconstruction").count(),
        submitted.len()
    );

    // Each job names, for an admin, the worker process that ran it; each process counted
    // exactly the jobs that name it.
    let names: Vec<String> = workers
        .iter()
        .map(|w| format!("{}:{}", jobs::worker::host_name(), w.pid()))
        .collect();
    let mut ran = [0usize; 2];
    for row in &rows {
        assert_eq!(row.status, "SUCCEEDED", "{row:?}");
        let id = row.public_id.to_string();
        let r = support::graphql_as(&base, Some(&admin), JOB_WORKER, json!({ "id": id })).await;
        let worker = r["data"]["reconstructionJob"]["worker"]
            .as_str()
            .unwrap_or_else(|| panic!("an admin sees the worker: {r}"));
        assert_eq!(Some(worker), row.worker.as_deref(), "{r}");
        let which = names
            .iter()
            .position(|n| n == worker)
            .unwrap_or_else(|| panic!("{worker} is one of the worker processes {names:?}"));
        ran[which] += 1;
    }
    eprintln!("jobs run by each worker process: {ran:?}");
    assert!(ran.iter().all(|&n| n > 0), "both workers did work: {ran:?}");
    for (w, n) in workers.iter().zip(ran) {
        let page = scrape(&w.ops_base()).await;
        let counted: f64 = ["preview", "reconstruction"]
            .iter()
            .filter_map(|kind| {
                metric(
                    &page,
                    "stix_job_duration_seconds_count",
                    &[("kind", kind), ("status", "SUCCEEDED")],
                )
            })
            .sum();
        assert_eq!(
            counted,
            n as f64,
            "the jobs naming {} are those it ran",
            w.pid()
        );
    }
    // The owner sees their job, but not which machine ran it.
    for id in &submitted {
        let r = support::graphql_as(&base, Some(&alice), JOB_WORKER, json!({ "id": id })).await;
        let job = &r["data"]["reconstructionJob"];
        assert_eq!(job["status"], "SUCCEEDED", "{r}");
        assert!(job["worker"].is_null(), "admins only: {r}");
    }

    // The subscriber on the API process received every image the worker processes made,
    // each once.
    let made: std::collections::BTreeSet<String> = image::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .iter()
        .map(|i| encode(NodeKind::Image, &i.public_id.to_string()))
        .collect();
    assert!(
        made.len() > submitted.len(),
        "previews and reconstructions made images"
    );
    let mut received = std::collections::BTreeSet::new();
    while received.len() < made.len() {
        let v = support::next_frame(&mut live, |v| v["type"] == "next").await;
        let id = v["payload"]["data"]["newImages"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string();
        assert!(made.contains(&id), "{id} is an image the workers made");
        assert!(received.insert(id.clone()), "{id} arrived twice");
    }

    for p in workers.into_iter().chain([api]) {
        assert!(p.terminate().success());
    }
    drop(db);
    pg.drop_database().await;
}

/// A worker process takes jobs as they are pushed, not at its next heartbeat (5 s): under a
/// steady stream of submissions from another process, apalis' one-notification-per-poll
/// wake-ups let a worker park with notifications waiting and no waker on them, and jobs then
/// waited seconds in the queue of an idle worker (`worker::Notified` takes them all).
#[tokio::test]
async fn a_steady_stream_of_submissions_is_taken_at_once_not_at_the_next_heartbeat() {
    use jobs::kinds::JobKind;
    use jobs::submit::{NewJob, submit};
    let pg = support::ThrowawayPg::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = support::env(&pg.url, dir.path());
    env.push(("STIX__WORKERS__CONCURRENCY".into(), "4".into()));
    let worker = Proc::start("worker", &["worker"], &env, "worker running as");
    let db = jobs::store::connect(&pg.url, 4, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let queue = jobs::queue::Queue::setup(&db, 1).await.unwrap();
    // 300 jobs at about 150 per second; each is refused by the worker at once (its payload is
    // not a preview request), so what is measured is the time a job waits to be taken.
    let jobs = 300;
    let mut tick = tokio::time::interval(std::time::Duration::from_micros(6_667));
    for i in 0..jobs {
        tick.tick().await;
        let job = NewJob {
            kind: JobKind::Preview,
            request: json!({ "v": 1, "i": i }),
            science_file_id: None,
            owner_id: None,
        };
        submit(&db, &queue, job).await.unwrap();
    }
    support::until("every job ends", || async {
        reconstruction_job::Entity::find()
            .filter(reconstruction_job::Column::FinishedAt.is_not_null())
            .count(&db)
            .await
            .unwrap()
            == jobs
    })
    .await;
    let mut queued: Vec<f64> = reconstruction_job::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.started_at.expect("claimed") - r.created_at).as_seconds_f64())
        .collect();
    queued.sort_by(f64::total_cmp);
    let (p50, p90) = (queued[queued.len() / 2], queued[queued.len() * 9 / 10]);
    assert!(
        p50 < 0.5 && p90 < 2.0,
        "jobs waited in the queue of an idle worker: p50 {p50:.3} s, p90 {p90:.3} s"
    );
    drop(worker);
    db.close().await.ok();
    pg.drop_database().await;
}

/// On PostgreSQL a submission's queue task is written in the submission's own transaction:
/// rolled back with it, committed with it, and taken and run by a worker process like any
/// task apalis pushed itself; a retry's task is due after its backoff. (Before, the task was pushed after the commit: a PostgreSQL
/// restart in between left a QUEUED row without a task, which resubmissions of the same
/// request then returned forever.)
#[tokio::test]
async fn a_submission_and_its_queue_task_commit_together() {
    use jobs::kinds::JobKind;
    use jobs::queue::{Queue, QueueTask};
    use jobs::submit::{NewJob, submit};
    use sea_orm::{DbBackend, Statement, TransactionTrait};
    let pg = support::ThrowawayPg::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = support::env(&pg.url, dir.path());
    let db = jobs::store::connect(&pg.url, 4, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    jobs::store::migrate(&db).await.unwrap();
    let queue = Queue::setup(&db, 1).await.unwrap();
    let tasks = |db: sea_orm::DatabaseConnection| async move {
        db.query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT status, convert_from(job, 'UTF8') AS job FROM apalis.jobs",
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.try_get::<String>("", "status").unwrap(),
                serde_json::from_str::<QueueTask>(&r.try_get::<String>("", "job").unwrap())
                    .unwrap(),
            )
        })
        .collect::<Vec<_>>()
    };

    let txn = db.begin().await.unwrap();
    let pushed = queue
        .push_within(&txn, QueueTask::for_job(12345), None)
        .await
        .unwrap();
    assert!(pushed.is_some(), "PostgreSQL pushes inside the transaction");
    txn.rollback().await.unwrap();
    assert!(tasks(db.clone()).await.is_empty(), "rolled back with it");

    let job = NewJob {
        kind: JobKind::Preview,
        request: json!({ "v": 1, "not": "a preview request" }),
        science_file_id: None,
        owner_id: None,
    };
    let (row, new) = submit(&db, &queue, job).await.unwrap();
    assert!(new);
    assert_eq!(
        tasks(db.clone()).await,
        vec![("Pending".to_string(), QueueTask::for_job(row.id))],
        "committed with it"
    );

    // A worker process takes it (its payload is refused at once: the job ends FAILED).
    let worker = Proc::start("worker", &["worker"], &env, "worker running as");
    support::until("the worker ends the job", || {
        let db = db.clone();
        async move {
            reconstruction_job::Entity::find_by_id(row.id)
                .one(&db)
                .await
                .unwrap()
                .is_some_and(|r| r.finished_at.is_some())
        }
    })
    .await;
    let done = reconstruction_job::Entity::find_by_id(row.id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            done.status.as_str(),
            done.error_code.as_deref(),
            done.attempts
        ),
        ("FAILED", Some("BAD_REQUEST"), 1)
    );
    support::until("apalis records the task done", || {
        let db = db.clone();
        async move { tasks(db).await.iter().all(|(status, _)| status == "Done") }
    })
    .await;

    // A retry's task (pushed with its row's change, after a backoff) is due only then.
    let txn = db.begin().await.unwrap();
    queue
        .push_within(
            &txn,
            QueueTask::for_job(999),
            Some(std::time::Duration::from_secs(60)),
        )
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let due_in_seconds = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT extract(epoch FROM run_at - now())::float8 AS s FROM apalis.jobs \
             WHERE convert_from(job, 'UTF8')::jsonb ->> 'job_id' = '999'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<f64>("", "s")
        .unwrap();
    assert!(
        (55.0..=60.0).contains(&due_in_seconds),
        "due in {due_in_seconds} s"
    );
    drop(worker);
    db.close().await.ok();
    pg.drop_database().await;
}
