//! A running job's progress is recorded at most every `PROGRESS_EVERY`, on the real
//! database (SQLite here, PostgreSQL with `TEST_DATABASE_URL`): steps reported sooner are
//! held and the latest one recorded when the time is up; a held step of a job that ended
//! is handed back for its final update; a step after a quiet spell is recorded at once. With
//! an interval of zero every step is recorded as it is reported.

use jobs::events::EventBus;
use jobs::kinds::{JobKind, JobStatus};
use jobs::queue::Queue;
use jobs::store::entities::reconstruction_job;
use jobs::submit::{NewJob, submit};
use jobs::worker::{PROGRESS_EVERY, Progress};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use std::time::Duration;

/// The job's stage and `done/total` as stored.
async fn stored(db: &sea_orm::DatabaseConnection, id: i64) -> (Option<String>, i32, i32) {
    let j = reconstruction_job::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    (j.stage, j.progress_done, j.progress_total)
}

/// A fresh database (kept in the returned directory) with one submitted job, running at its
/// first stage as a claim leaves it.
async fn running_job() -> (
    tempfile::TempDir,
    sea_orm::DatabaseConnection,
    reconstruction_job::Model,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = jobs::test_support::fresh_database(dir.path())
        .await
        .unwrap();
    let queue = Queue::setup(&db, 1).await.unwrap();
    let (job, _) = submit(
        &db,
        &queue,
        NewJob {
            kind: JobKind::Preview,
            request: serde_json::json!({ "pacing": 1 }),
            science_file_id: None,
            owner_id: None,
        },
    )
    .await
    .unwrap();
    let mut am = job.clone().into_active_model();
    am.status = Set(JobStatus::Running.as_str().to_string());
    am.stage = Set(Some("reading".into()));
    let job = am.update(&db).await.unwrap();
    (dir, db, job)
}

#[tokio::test]
async fn progress_is_recorded_at_most_every_interval_and_the_latest_step_wins() {
    let (_dir, db, job) = running_job().await;
    let events = EventBus::default();
    let mut heard = events.subscribe();
    let progress = Progress::new(db.clone(), events.clone(), job.clone(), PROGRESS_EVERY);

    // Three steps right after the claim: none is written yet.
    for done in 0..3 {
        progress.report("imaging", done, 10).await.unwrap();
    }
    assert_eq!(stored(&db, job.id).await, (Some("reading".into()), 0, 0));
    assert!(heard.try_recv().is_err(), "nothing published yet");
    // When the interval is up, only the latest is written and published.
    tokio::time::sleep(PROGRESS_EVERY + Duration::from_millis(200)).await;
    assert_eq!(stored(&db, job.id).await, (Some("imaging".into()), 2, 10));
    let e = heard.try_recv().expect("one event");
    assert_eq!((e.status, e.done, e.total), (JobStatus::Running, 2, 10));
    assert!(heard.try_recv().is_err(), "exactly one event");

    // After a quiet spell a step is written at once.
    tokio::time::sleep(PROGRESS_EVERY).await;
    progress.report("imaging", 5, 10).await.unwrap();
    assert_eq!(stored(&db, job.id).await, (Some("imaging".into()), 5, 10));
    assert_eq!(heard.try_recv().expect("an event").done, 5);

    // A step held when the job ends is not written on its own: it is handed back for the
    // job's final update to carry.
    progress.report("imaging", 6, 10).await.unwrap();
    let held = progress.stop().expect("the held step");
    assert_eq!(
        (held.stage.as_str(), held.done, held.total),
        ("imaging", 6, 10)
    );
    assert_eq!(progress.stop(), None, "handed back once");
    tokio::time::sleep(PROGRESS_EVERY + Duration::from_millis(200)).await;
    assert_eq!(stored(&db, job.id).await, (Some("imaging".into()), 5, 10));
    assert!(
        heard.try_recv().is_err(),
        "the held step is not published on its own"
    );

    // A held step of a job that is no longer running is not written either.
    let progress = Progress::new(db.clone(), events.clone(), job.clone(), PROGRESS_EVERY);
    progress.report("imaging", 7, 10).await.unwrap();
    let mut am = reconstruction_job::Entity::find_by_id(job.id)
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    am.status = Set(JobStatus::Succeeded.as_str().to_string());
    am.stage = Set(Some("done".into()));
    am.update(&db).await.unwrap();
    tokio::time::sleep(PROGRESS_EVERY + Duration::from_millis(200)).await;
    assert_eq!(stored(&db, job.id).await, (Some("done".into()), 5, 10));
    assert!(
        heard.try_recv().is_err(),
        "an ended job's step is not published"
    );
}

/// With no pacing (`STIX__WORKERS__PROGRESS_EVERY_MS=0`) every step is written and published
/// as it is reported, and nothing is held for the final update.
#[tokio::test]
async fn with_no_interval_every_step_is_recorded_at_once() {
    let (_dir, db, job) = running_job().await;
    let events = EventBus::default();
    let mut heard = events.subscribe();
    let progress = Progress::new(db.clone(), events.clone(), job.clone(), Duration::ZERO);
    for done in 0..3 {
        progress.report("imaging", done, 3).await.unwrap();
        assert_eq!(stored(&db, job.id).await, (Some("imaging".into()), done, 3));
        let e = heard.try_recv().expect("an event per step");
        assert_eq!((e.status, e.done, e.total), (JobStatus::Running, done, 3));
    }
    assert_eq!(progress.stop(), None, "nothing held");
}

/// An interval too long to be represented (`STIX__WORKERS__PROGRESS_EVERY_MS` near `u64::MAX`)
/// is never up: no step is written on its own, nothing panics, and the last step is handed
/// back for the final status.
#[tokio::test]
async fn an_interval_beyond_any_clock_holds_every_step_for_the_final_status() {
    let (_dir, db, job) = running_job().await;
    let events = EventBus::default();
    let mut heard = events.subscribe();
    let progress = Progress::new(
        db.clone(),
        events.clone(),
        job.clone(),
        Duration::from_millis(u64::MAX),
    );
    for done in 0..3 {
        progress.report("imaging", done, 3).await.unwrap();
    }
    assert_eq!(stored(&db, job.id).await, (Some("reading".into()), 0, 0));
    assert!(heard.try_recv().is_err(), "nothing published");
    let held = progress.stop().expect("the last step, held");
    assert_eq!(
        (held.stage.as_str(), held.done, held.total),
        ("imaging", 2, 3)
    );
}
