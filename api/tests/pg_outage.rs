//! A PostgreSQL outage with real processes, on a PostgreSQL server of the test's own (stopped
//! and started by the test, so nothing else on the machine is disturbed): while it is down,
//! GraphQL requests fail fast with `UNAVAILABLE` and `/readyz` says which checks failed (the
//! database, and the API's listening for other processes' job events); when it is back, the API
//! process and the worker process recover by themselves (no restart): both are ready again,
//! the worker takes a newly queued preview, and a `jobStatus` subscription on a WebSocket
//! opened before the outage sees the progress of the next one cross from the worker process,
//! then SUCCEEDED. Then SIGTERM drains the worker: its running job
//! finishes and the process exits cleanly.

mod support;

use futures::SinkExt;
use jobs::store::entities::reconstruction_job;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use std::time::{Duration, Instant};
use support::private_pg::PrivatePg;
use support::{Proc, TIMEOUT, sample, until};
use tokio_tungstenite::tungstenite::Message;

const QUERY: &str = "{ flares(first: 1) { totalCount } }";

async fn graphql(base: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": QUERY }))
        .timeout(TIMEOUT)
        .send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("a JSON answer")
}

fn ingest(env: &[(String, String)], flare_file: &str, aux: &str) {
    let files = [
        sample(flare_file),
        sample(aux),
        sample("flare_reference_locations.csv"),
    ];
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    support::run_to_end(&args, env);
}

async fn newest_preview(db: &sea_orm::DatabaseConnection) -> reconstruction_job::Model {
    reconstruction_job::Entity::find()
        .filter(reconstruction_job::Column::Kind.eq("preview"))
        .order_by_desc(reconstruction_job::Column::Id)
        .one(db)
        .await
        .unwrap()
        .expect("a preview job")
}

#[tokio::test]
async fn a_postgres_outage_fails_fast_and_every_process_recovers_by_itself() {
    let server = PrivatePg::start();
    let pg = support::ThrowawayPg::create_on(&server.admin_url()).await;
    let dir = tempfile::tempdir().unwrap();
    let env = support::env(&pg.url, dir.path());
    let api = Proc::start("api", &["serve", "--no-workers"], &env, "listening on");
    let base = api.http_base();
    let worker = Proc::start("worker", &["worker"], &env, "worker running as");
    let r = graphql(&base).await;
    assert_eq!(r["data"]["flares"]["totalCount"], 0, "{r}");

    // A WebSocket opened now lives through the outage (it subscribes afterwards, below).
    let token = support::admin_token(&base, &env).await;
    let mut ws = support::ws_connect(&base, Some(&token)).await;

    // Outage.
    server.down();
    let started = Instant::now();
    let r = graphql(&base).await;
    let took = started.elapsed();
    assert_eq!(r["errors"][0]["extensions"]["code"], "UNAVAILABLE", "{r}");
    assert!(
        took < Duration::from_secs(5),
        "fails fast (connect timeout 2 s), took {took:?}"
    );
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    let failed: Vec<&str> = body["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(failed.contains(&"database"), "{body}");
    assert!(
        failed.contains(&"events"),
        "not hearing other processes: {body}"
    );
    assert!(!failed.contains(&"storage"), "{body}");
    let ready = reqwest::get(format!("{}/readyz", worker.ops_base()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503, "the worker is not ready either");

    // Back: both processes recover without a restart.
    server.up();
    until("the API answering again", || async {
        graphql(&base).await["data"]["flares"]["totalCount"] == 0
    })
    .await;
    // Ready again includes listening for the worker's job events again (and having caught
    // up): from then on a subscriber on the API hears every step of a job.
    until("the API being ready again", || async {
        reqwest::get(format!("{base}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    until("the worker being ready again", || async {
        reqwest::get(format!("{}/readyz", worker.ops_base()))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;

    // The worker takes new work.
    let db = jobs::store::connect(&pg.url, 2, Duration::from_secs(5))
        .await
        .unwrap();
    ingest(
        &env,
        "l1/solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits",
        "l1/solo_L2_stix-aux-ephemeris_20221113_V01.fits",
    );
    let job = newest_preview(&db).await;
    let row = |id: i64| {
        let db = db.clone();
        async move {
            reconstruction_job::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    until(
        "the worker finishing the job queued after the outage",
        || async { matches!(row(job.id).await.status.as_str(), "SUCCEEDED" | "FAILED") },
    )
    .await;
    let done = row(job.id).await;
    assert_eq!(done.status, "SUCCEEDED", "{:?}", done.error_message);
    assert!(
        done.worker
            .as_deref()
            .is_some_and(|w| w.ends_with(&format!(":{}", worker.pid()))),
        "run by the worker process that lived through the outage"
    );

    // The M1.2 preview, followed on the WebSocket opened before the outage: its progress
    // crosses from the worker process (the API listens for job events again). SIGTERM while
    // it runs drains: it finishes, the final status crosses too, and the worker exits cleanly.
    ingest(
        &env,
        "l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits",
        "l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits",
    );
    let long = newest_preview(&db).await;
    assert_ne!(long.id, job.id);
    ws.send(Message::Text(
        json!({
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription($id: ID!) { jobStatus(jobId: $id) { status done total } }",
                "variables": { "id": long.public_id.to_string() }
            }
        })
        .to_string()
        .into(),
    ))
    .await
    .unwrap();
    let midway = support::next_frame(&mut ws, |v| {
        let e = &v["payload"]["data"]["jobStatus"];
        v["type"] == "next"
            && e["status"] == "RUNNING"
            && e["done"].as_i64().unwrap_or(0) >= 1
            && e["done"].as_i64() < e["total"].as_i64()
    })
    .await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(worker.terminate());
    });
    let last = support::next_frame(&mut ws, |v| {
        v["type"] == "next"
            && matches!(
                v["payload"]["data"]["jobStatus"]["status"].as_str(),
                Some("SUCCEEDED" | "FAILED")
            )
    })
    .await;
    assert_eq!(
        last["payload"]["data"]["jobStatus"]["status"], "SUCCEEDED",
        "the running job was allowed to finish (signalled at {midway})"
    );
    let status = rx.await.unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    assert_eq!(row(long.id).await.status, "SUCCEEDED");
    assert!(api.terminate().success());
    drop(db);
    pg.drop_database().await;
}
