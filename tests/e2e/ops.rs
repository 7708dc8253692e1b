//! Operations pages over real HTTP: `/readyz` names the failed check, `/metrics` counts and
//! times GraphQL operations and HTTP requests, reports the job gauges of the service's own
//! database and the durations of the jobs and images of a real preview.
//!
//! All services of this test binary share one process-wide recorder, so counters fed by
//! other tests are compared as "at least" (or use a label value unique to this test), while
//! the database gauges are exact.

use crate::support::{TIMEOUT, spawn_app};
use api::archive::{ingest_and_queue, wait_for_jobs};
use jobs::store::entities::image;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One parsed sample line of the Prometheus text format.
fn parse_line(line: &str) -> Option<(String, BTreeMap<String, String>, f64)> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series.to_string(), BTreeMap::new()),
        Some((n, rest)) => {
            let body = rest.strip_suffix('}')?;
            let mut labels = BTreeMap::new();
            for pair in body.split("\",").filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once("=\"")?;
                labels.insert(k.to_string(), v.trim_end_matches('"').to_string());
            }
            (n.to_string(), labels)
        }
    };
    Some((name, labels, value))
}

/// The value of the series `name` whose labels are exactly `labels`.
fn value(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    page.lines()
        .filter_map(parse_line)
        .find(|(n, l, _)| n == name && *l == want)
        .map(|(_, _, v)| v)
}

async fn scrape(base: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .timeout(TIMEOUT)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "Prometheus text format"
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn readyz_is_ready_then_names_the_failed_check() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["queue"], "ok");
    assert_eq!(body["checks"]["storage"], "ok");

    // The data directory becomes a plain file: storage is no longer writable.
    std::fs::remove_dir_all(&app.data_dir).unwrap();
    std::fs::write(&app.data_dir, b"not a directory").unwrap();
    let r = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "unready", "{body}");
    assert_eq!(body["failed"], json!(["storage"]));
    assert_eq!(body["checks"]["database"], "ok");
    assert!(
        body["checks"]["storage"]
            .as_str()
            .unwrap()
            .contains("not writable")
    );
    // Liveness is unaffected.
    let r = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    std::fs::remove_file(&app.data_dir).unwrap();
    std::fs::create_dir_all(&app.data_dir).unwrap();
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_graphql_operations_and_the_sample_preview() {
    let app = spawn_app().await;
    // A GraphQL operation name unique to this run, so its counters are exact.
    let op = format!("MetricsProbe{}", ulid::Ulid::generate());
    let r = app
        .graphql(
            &format!("query {op} {{ flares(first: 1) {{ totalCount }} }}"),
            json!({}),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let r = app
        .graphql(
            &format!("query {op} {{ flares(first: -1) {{ totalCount }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    let page = scrape(&app.base).await;
    let ok = [
        ("operation", op.as_str()),
        ("type", "query"),
        ("status", "OK"),
    ];
    let bad = [
        ("operation", op.as_str()),
        ("type", "query"),
        ("status", "BAD_USER_INPUT"),
    ];
    assert_eq!(value(&page, "stix_graphql_requests_total", &ok), Some(1.0));
    assert_eq!(value(&page, "stix_graphql_requests_total", &bad), Some(1.0));
    assert_eq!(
        value(&page, "stix_graphql_request_duration_seconds_count", &ok),
        Some(1.0)
    );
    let mut inf = ok.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        value(&page, "stix_graphql_request_duration_seconds_bucket", &inf),
        Some(1.0),
        "a true histogram with buckets"
    );
    let sum = value(&page, "stix_graphql_request_duration_seconds_sum", &ok).unwrap();
    assert!(sum > 0.0 && sum < TIMEOUT.as_secs_f64());
    let posts = [("route", "graphql"), ("method", "POST"), ("status", "200")];
    assert!(value(&page, "stix_http_requests_total", &posts).unwrap() >= 2.0);
    // The gauges of this service's (empty) database.
    assert_eq!(value(&page, "stix_jobs_scrape_ok", &[]), Some(1.0));
    assert_eq!(
        value(&page, "stix_jobs", &[("status", "SUCCEEDED")]),
        Some(0.0)
    );
    assert_eq!(
        value(&page, "stix_queue_depth", &[("kind", "preview")]),
        Some(0.0)
    );
    let before = page;

    // The sample's C1.2 flare file with two algorithms, plus one file that is not FITS.
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/stix"));
    let junk = app.data_dir.parent().unwrap().join("junk.fits");
    std::fs::write(&junk, b"this is not a FITS file").unwrap();
    let files = vec![
        dir.join(
            "l1/solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits",
        ),
        dir.join("l1/solo_L2_stix-aux-ephemeris_20221113_V01.fits"),
        dir.join("flare_reference_locations.csv"),
        junk,
    ];
    let settings = jobs::pipeline::PipelineSettings {
        algorithms: vec![
            domain::imaging::Algorithm::Bp,
            domain::imaging::Algorithm::Clean,
        ],
        ..Default::default()
    };
    let (report, queued) = ingest_and_queue(&app.state, &settings, &files, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(report.new, 3);
    assert_eq!(report.rejected, 1);
    let reason = report
        .outcomes
        .iter()
        .find_map(|o| o.result.as_ref().err())
        .unwrap()
        .code;
    let ids: Vec<i64> = queued.iter().map(|j| j.id).collect();
    assert_eq!(ids.len(), 1);
    let done = tokio::time::timeout(TIMEOUT * 4, wait_for_jobs(&app.state, &ids))
        .await
        .expect("the preview finishes in time")
        .unwrap();
    assert_eq!(done[0].status, "SUCCEEDED", "{:?}", done[0].error_message);
    assert_eq!(
        done[0].worker.as_deref(),
        Some(jobs::worker::identity().as_str()),
        "the job row names the worker process (host:pid) that ran it"
    );

    let page = scrape(&app.base).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        value(&page, name, labels).unwrap_or(0.0) - value(&before, name, labels).unwrap_or(0.0)
    };
    assert_eq!(
        value(&page, "stix_jobs", &[("status", "SUCCEEDED")]),
        Some(1.0)
    );
    assert_eq!(
        value(&page, "stix_jobs", &[("status", "QUEUED")]),
        Some(0.0)
    );
    assert_eq!(
        value(&page, "stix_queue_depth", &[("kind", "preview")]),
        Some(0.0)
    );
    let job = [("kind", "preview"), ("status", "SUCCEEDED")];
    assert!(grew("stix_job_duration_seconds_count", &job) >= 1.0);
    assert!(grew("stix_job_duration_seconds_sum", &job) > 0.0);
    for alg in ["bp", "clean"] {
        let made = image::Entity::find()
            .filter(image::Column::Algorithm.eq(alg))
            .count(&app.state.db)
            .await
            .unwrap();
        assert!(made >= 1, "the preview made {alg} images");
        let labels = [("kind", "preview"), ("algorithm", alg)];
        assert!(
            grew("stix_image_duration_seconds_count", &labels) >= made as f64,
            "one duration per {alg} image"
        );
    }
    assert!(grew("stix_ingest_files_total", &[("outcome", "new")]) >= 3.0);
    assert!(grew("stix_ingest_files_total", &[("outcome", "rejected")]) >= 1.0);
    assert!(grew("stix_ingest_rejections_total", &[("reason", reason)]) >= 1.0);
    app.stop().await;
}
