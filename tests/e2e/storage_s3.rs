//! The service with S3 storage (issue 12), against a real S3-compatible server (moto's server
//! mode on loopback): ingest and previews publish every file to the bucket, downloads give
//! the bytes whose SHA-256 the API reports, and a second service with its own empty data
//! directory but the same database and bucket serves the same downloads.

use crate::support::{TIMEOUT, TestApp, spawn_app_on, spawn_app_with};
use api::archive::{ingest_and_queue, wait_for_jobs};
use api::cli::ingest::DEMO_FILES;
use jobs::store::entities::{image, science_file};
use jobs::test_support::MotoS3;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The M1.2 flare file, the background file, its day's ephemeris and the flare list.
fn m12_sample() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/stix"));
    [0, 2, 3, 5]
        .iter()
        .map(|&i| dir.join(DEMO_FILES[i]))
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

const LISTING: &str = "{ images(first: 100) { edges { node { id fitsSha256 fitsUrl pngUrl } } }
    scienceFiles(first: 100) { edges { node { fileName sha256 downloadUrl } } } }";

/// Every download of `app` (image FITS and PNG, science files): the bytes whose SHA-256 the
/// API (or, for PNGs, the database row) reports, with that SHA-256 as the strong ETag.
/// Returns how many files were checked.
async fn check_downloads(
    app: &TestApp,
    png_sha: &std::collections::HashMap<String, String>,
) -> usize {
    let http = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();
    let r = app.graphql(LISTING, json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let get = |url: String| {
        let http = http.clone();
        async move {
            let resp = http.get(&url).send().await.expect("GET");
            assert_eq!(resp.status(), 200, "{url}");
            let etag = resp
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().trim_matches('"').to_string());
            (resp.bytes().await.unwrap().to_vec(), etag)
        }
    };
    let mut n = 0;
    let images = r["data"]["images"]["edges"].as_array().unwrap().clone();
    assert!(!images.is_empty(), "previews were made: {r}");
    for e in &images {
        let node = &e["node"];
        let s = |v: &Value| v.as_str().unwrap().to_string();
        let (fits, etag) = get(s(&node["fitsUrl"])).await;
        assert_eq!(sha256(&fits), s(&node["fitsSha256"]));
        assert_eq!(etag.as_deref(), Some(s(&node["fitsSha256"]).as_str()));
        let (png, etag) = get(s(&node["pngUrl"])).await;
        let want = &png_sha[&s(&node["fitsSha256"])];
        assert_eq!(&sha256(&png), want);
        assert_eq!(etag.as_deref(), Some(want.as_str()));
        n += 2;
    }
    for e in r["data"]["scienceFiles"]["edges"].as_array().unwrap() {
        let node = &e["node"];
        let (bytes, _) = get(node["downloadUrl"].as_str().unwrap().to_string()).await;
        assert_eq!(
            sha256(&bytes),
            node["sha256"].as_str().unwrap(),
            "{}",
            node["fileName"]
        );
        n += 1;
    }
    n
}

#[tokio::test]
async fn s3_storage_shares_files_between_processes() {
    let s3 = MotoS3::start("stix-e2e").await;
    let env = s3.settings_env("archive");
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&extra).await;
    assert!(
        jobs::test_support::files_under(&app.data_dir).is_empty(),
        "a fresh, empty data directory"
    );

    // Ingest the M1.2 sample and wait for its previews.
    let settings = jobs::pipeline::PipelineSettings::default();
    let started = std::time::Instant::now();
    let (report, queued) = ingest_and_queue(&app.state, &settings, &m12_sample(), |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(report.rejected, 0, "{:?}", report.outcomes);
    let ids: Vec<i64> = queued.iter().map(|j| j.id).collect();
    assert_eq!(ids.len(), 1, "one preview job for the M1.2 file");
    let done = tokio::time::timeout(TIMEOUT * 4, wait_for_jobs(&app.state, &ids))
        .await
        .expect("previews finish in time")
        .unwrap();
    for j in &done {
        assert_eq!(j.status, "SUCCEEDED", "{:?}", j.error_message);
    }
    eprintln!("ingest + previews with S3 storage: {:?}", started.elapsed());

    // Every ingested file and every product is an object of the bucket (and nothing else).
    let db = &app.state.db;
    let files = science_file::Entity::find().all(db).await.unwrap();
    let images = image::Entity::find().all(db).await.unwrap();
    assert_eq!(files.len(), 3, "flare file, background, ephemeris");
    assert!(
        images.len() >= 5,
        "previews of the M1.2 flare: {}",
        images.len()
    );
    let mut want: BTreeSet<String> = files.iter().map(|f| f.stored_path.clone()).collect();
    for i in &images {
        want.insert(i.fits_path.clone());
        want.insert(i.png_path.clone().expect("a PNG"));
    }
    let objects: BTreeSet<String> = app
        .state
        .storage
        .list_objects()
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(objects, want, "the bucket holds exactly the rows' files");
    let png_sha: std::collections::HashMap<String, String> = images
        .iter()
        .map(|i| (i.fits_sha256.clone(), i.png_sha256.clone().unwrap()))
        .collect();

    // Downloads from the process that made the files.
    let n = check_downloads(&app, &png_sha).await;
    assert_eq!(n, images.len() * 2 + files.len());

    // A second process: same database and bucket, its own empty data directory, no workers.
    let db_url = app.db_url.clone();
    let mut extra2 = extra.clone();
    extra2.push(("STIX__WORKERS__CONCURRENCY", "0"));
    let second = spawn_app_on(tempfile::tempdir().unwrap(), &db_url, &extra2).await;
    assert!(jobs::test_support::files_under(&second.data_dir).is_empty());
    let n2 = check_downloads(&second, &png_sha).await;
    assert_eq!(n2, n);
    // It served them from copies fetched from the bucket.
    let fetched = jobs::test_support::files_under(&second.data_dir).len();
    assert_eq!(fetched, want.len(), "every file fetched once");

    // Readiness counts the bucket in.
    let ready = reqwest::get(format!("{}/readyz", second.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    drop(s3);
    let unready = reqwest::get(format!("{}/readyz", second.base))
        .await
        .unwrap();
    assert_eq!(unready.status(), 503);
    let body: Value = unready.json().await.unwrap();
    assert_eq!(body["failed"], json!(["storage"]), "{body}");
    second.stop().await;
    app.stop().await;
}
