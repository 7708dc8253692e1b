//! Scale-out with real processes on the real PostgreSQL of the machine (a throwaway database
//! per test, on the admin connection `STIX_TEST_PG_ADMIN`, else `TEST_DATABASE_URL`, else
//! `postgres://postgres@127.0.0.1:5432/postgres`): an API-only process (`serve
//! --no-workers`), a `worker` process, and an operator's `ingest` process share the database.
//! A `jobStatus` subscriber on the API process sees the preview job that runs in the worker
//! process go RUNNING, make progress and end SUCCEEDED (PostgreSQL `LISTEN/NOTIFY`); the job
//! row names the worker process; each process's `/metrics` reports what it did.

mod support;

use futures::SinkExt;
use jobs::store::entities::{image, reconstruction_job};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use support::{Proc, metric, sample, scrape};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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
    let mut req = format!("{}/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    support::next_frame(&mut ws, |v| v["type"] == "connection_ack").await;
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
    let worker = Proc::start("worker", &["worker"], &env, "worker running as");
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

    // SIGTERM: both exit cleanly.
    for p in [worker, api] {
        assert!(p.terminate().success());
    }
    db.execute_unprepared("SELECT 1").await.unwrap();
    drop(db);
    pg.drop_database().await;
}
