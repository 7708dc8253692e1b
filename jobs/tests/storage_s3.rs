//! `jobs::storage` against a real S3-compatible server (moto's server mode on loopback, see
//! `jobs::test_support::MotoS3`), and ingest through it: what one process publishes another
//! process with an empty data directory can read; objects are never overwritten; a failed
//! insert leaves no object behind.

use jobs::ingest::{IngestStatus, Ingestor};
use jobs::storage::{Storage, StorageError};
use jobs::store::entities::science_file;
use jobs::test_support::MotoS3;
use sea_orm::{ConnectionTrait, EntityTrait};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

#[tokio::test]
async fn publish_fetch_conflict_delete_on_a_real_s3_server() {
    let s3 = MotoS3::start("stix-storage").await;
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = s3.storage(a_dir.path(), "archive/one");
    let b = s3.storage(b_dir.path(), "archive/one");
    a.check().await.expect("the bucket answers");
    assert_eq!(a.remote_url(), Some("s3://stix-storage/archive/one"));

    // Process A writes and publishes; process B (empty data directory) reads the same bytes.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(a_dir.path(), "images/1/x.fits", &bytes);
    let started = std::time::Instant::now();
    assert!(a.publish("images/1/x.fits").await.unwrap(), "created");
    eprintln!("publish of 300 kB: {:?}", started.elapsed());
    assert_eq!(a.list_objects().await.unwrap(), vec!["images/1/x.fits"]);
    let got = b.local_path("images/1/x.fits").await.unwrap();
    assert_eq!(got, b_dir.path().join("images/1/x.fits"));
    assert_eq!(sha256(&std::fs::read(&got).unwrap()), sha256(&bytes));
    // No temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(b_dir.path().join("images/1"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    // Publishing the same bytes again is accepted (not created); other bytes are refused.
    assert!(!b.publish("images/1/x.fits").await.unwrap());
    write(b_dir.path(), "images/1/y.fits", b"ours");
    write(a_dir.path(), "images/1/y.fits", b"theirs");
    assert!(a.publish("images/1/y.fits").await.unwrap());
    match b.publish("images/1/y.fits").await {
        Err(StorageError::Conflict(rel)) => assert_eq!(rel, "images/1/y.fits"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let c_dir = tempfile::tempdir().unwrap();
    let c = s3.storage(c_dir.path(), "archive/one");
    let theirs = c.local_path("images/1/y.fits").await.unwrap();
    assert_eq!(
        std::fs::read(theirs).unwrap(),
        b"theirs",
        "never overwritten"
    );

    // Missing objects, other prefixes, deletes.
    assert!(matches!(
        b.local_path("images/1/none.fits").await,
        Err(StorageError::NotFound(_))
    ));
    let other = s3.storage(c_dir.path(), "archive/two");
    assert!(other.list_objects().await.unwrap().is_empty());
    a.delete("images/1/x.fits").await.unwrap();
    assert!(!a_dir.path().join("images/1/x.fits").exists());
    assert_eq!(a.list_objects().await.unwrap(), vec!["images/1/y.fits"]);
    a.delete("images/1/x.fits")
        .await
        .expect("deleting twice is fine");

    // A bucket that does not exist fails the readiness check.
    let mut cfg = s3.config("x");
    cfg.url = "s3://no-such-bucket/x".into();
    let missing = Storage::s3(c_dir.path().to_path_buf(), &cfg).unwrap();
    assert!(missing.check().await.is_err());
}

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/stix/l1")
}

const FILE: &str =
    "solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits";

#[tokio::test]
async fn a_failed_insert_leaves_no_object_and_a_retry_publishes_once() {
    let s3 = MotoS3::start("stix-ingest").await;
    let dir = tempfile::tempdir().unwrap();
    let url = jobs::test_support::fresh_database_url(dir.path())
        .await
        .expect("TEST_DATABASE_URL must be reachable");
    let db = jobs::store::connect(&url, 4, Duration::from_secs(20))
        .await
        .unwrap();
    jobs::store::migrate(&db).await.unwrap();
    let data_dir = dir.path().join("store");
    let storage = s3.storage(&data_dir, "p");
    let ingestor = Ingestor::new(db.clone(), storage.clone());

    // The database refuses the row (a trigger stands in for any failure of the insert).
    let sqlite = db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
    if sqlite {
        db.execute_unprepared(
            "CREATE TRIGGER refuse BEFORE INSERT ON science_files BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
        )
        .await
        .unwrap();
    } else {
        db.execute_unprepared(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse BEFORE INSERT ON science_files FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
        .await
        .unwrap();
    }
    let out = ingestor.ingest_file(&sample_dir().join(FILE)).await;
    let err = out.result.expect_err("the insert fails");
    assert_eq!(err.code, "database_error", "{err:?}");
    assert!(
        storage.list_objects().await.unwrap().is_empty(),
        "no orphan object"
    );
    let local: Vec<_> = jobs::test_support::files_under(&data_dir);
    assert!(local.is_empty(), "no orphan local copy: {local:?}");

    // Without the fault the file is published once and its row points at the object.
    db.execute_unprepared(if sqlite {
        "DROP TRIGGER refuse"
    } else {
        "DROP TRIGGER refuse ON science_files"
    })
    .await
    .unwrap();
    let out = ingestor.ingest_file(&sample_dir().join(FILE)).await;
    let ok = out.result.expect("ingested");
    assert_eq!(ok.status, IngestStatus::New);
    let row = science_file::Entity::find_by_id(ok.science_file_id.unwrap())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        storage.list_objects().await.unwrap(),
        vec![row.stored_path.clone()]
    );
    // Another process with an empty data directory reads the very bytes of the row.
    let other_dir = tempfile::tempdir().unwrap();
    let other = s3.storage(other_dir.path(), "p");
    let path = other.local_path(&row.stored_path).await.unwrap();
    assert_eq!(sha256(&std::fs::read(path).unwrap()), row.sha256);
}
