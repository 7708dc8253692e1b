//! The worker pool against faulty job code, on a real database and the real apalis queue:
//! a panicking job ends FAILED (code INTERNAL) and the pool goes on with the next job; a
//! transient failure is retried with backoff and then succeeds; bad input is not retried.
//! The runner here is deliberately faulty job code, not a stand-in for one of our components.

use jobs::events::{EventBus, JobEvent};
use jobs::kinds::JobKind;
use jobs::queue::Queue;
use jobs::store::entities::reconstruction_job;
use jobs::submit::{NewJob, submit};
use jobs::worker::{JobFailure, JobRunner, Progress, WorkerState, run_pool};
use sea_orm::EntityTrait;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Job code that fails on purpose, by the request's `fault`: `panic` panics, `flaky` fails
/// transiently on its first attempt, `bad` is bad input, `ok` succeeds.
struct Faulty;

impl JobRunner for Faulty {
    fn run<'a>(
        &'a self,
        job: &'a reconstruction_job::Model,
        progress: Progress,
    ) -> Pin<Box<dyn Future<Output = Result<(), JobFailure>> + Send + 'a>> {
        Box::pin(async move {
            progress.report("working", 0, 1).await?;
            match job.request["fault"].as_str().unwrap_or_default() {
                "panic" => panic!("deliberate panic in job code"),
                "flaky" if job.attempts < 2 => {
                    Err(JobFailure::Transient("the disk hiccupped".into()))
                }
                // Busy for three times `stale_after` without reporting progress.
                "slow" => {
                    tokio::time::sleep(Duration::from_millis(3 * 600)).await;
                    progress.report("working", 1, 1).await
                }
                "bad" => Err(JobFailure::BadInput {
                    code: "BAD".into(),
                    message: "nonsense input".into(),
                }),
                _ => progress.report("working", 1, 1).await,
            }
        })
    }
}

async fn final_events(
    events: &EventBus,
    wanted: usize,
    run: impl Future<Output = ()>,
) -> HashMap<uuid::Uuid, JobEvent> {
    let mut rx = events.subscribe();
    run.await;
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut done = HashMap::new();
        while done.len() < wanted {
            let ev = rx.recv().await.expect("bus open");
            if ev.status.is_final() {
                done.insert(ev.job_id, ev);
            }
        }
        done
    })
    .await
    .expect("every job reaches a final state in time")
}

/// A fresh database, queue and bus with a one-slot pool running [`Faulty`] (so jobs run one
/// after another); stop it with the sender, then await the handle.
struct Pool {
    _dir: tempfile::TempDir,
    db: sea_orm::DatabaseConnection,
    queue: Queue,
    events: EventBus,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn pool(stale_after: Duration) -> Pool {
    let dir = tempfile::tempdir().unwrap();
    let db = jobs::test_support::fresh_database(dir.path())
        .await
        .unwrap();
    let queue = Queue::setup(&db, 1).await.unwrap();
    let events = EventBus::default();
    let state = Arc::new(WorkerState {
        db: db.clone(),
        queue: queue.clone(),
        events: events.clone(),
        runner: Arc::new(Faulty),
        stale_after,
        compute_threads: 0,
        progress_every: jobs::worker::PROGRESS_EVERY,
    });
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(run_pool(state, 1, Duration::from_secs(5), async move {
        let _ = stop_rx.await;
    }));
    Pool {
        _dir: dir,
        db,
        queue,
        events,
        stop,
        handle,
    }
}

impl Pool {
    async fn shut_down(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn panics_and_transient_faults_do_not_kill_the_pool() {
    // One slot: the jobs run one after another, so "ok" runs after "panic" on the same pool.
    let p = pool(Duration::from_secs(300)).await;
    let (db, queue, events) = (p.db.clone(), p.queue.clone(), p.events.clone());
    let mut ids = HashMap::new();
    let results = final_events(&events, 4, async {
        for kind in ["panic", "bad", "flaky", "ok"] {
            let (job, _) = submit(
                &db,
                &queue,
                NewJob {
                    kind: JobKind::Preview,
                    request: serde_json::json!({ "fault": kind }),
                    science_file_id: None,
                    owner_id: None,
                },
            )
            .await
            .unwrap();
            ids.insert(kind, job.id);
        }
    })
    .await;
    let row = |kind: &str| {
        let db = db.clone();
        let id = ids[kind];
        async move {
            reconstruction_job::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let panicked = row("panic").await;
    assert_eq!(panicked.status, "FAILED");
    assert_eq!(panicked.error_code.as_deref(), Some("INTERNAL"));
    assert!(results.contains_key(&panicked.public_id));
    let bad = row("bad").await;
    assert_eq!(
        (bad.status.as_str(), bad.attempts),
        ("FAILED", 1),
        "bad input is not retried"
    );
    assert_eq!(bad.error_message.as_deref(), Some("nonsense input"));
    let flaky = row("flaky").await;
    assert_eq!(
        (flaky.status.as_str(), flaky.attempts),
        ("SUCCEEDED", 2),
        "retried once, then done"
    );
    assert!(
        flaky.finished_at.unwrap() - flaky.created_at >= chrono::Duration::seconds(2),
        "the retry waited for its backoff"
    );
    let ok = row("ok").await;
    assert_eq!(ok.status, "SUCCEEDED", "the pool survived the panic");
    p.shut_down().await;
}

/// A live job that is busy for longer than `stale_after` without progress is not taken for an
/// orphan: the worker's heartbeat keeps its row fresh, so the reaper leaves it alone and it
/// runs exactly once.
#[tokio::test]
async fn a_long_job_with_no_progress_is_not_requeued_while_alive() {
    let p = pool(Duration::from_millis(600)).await;
    let (db, queue, events) = (p.db.clone(), p.queue.clone(), p.events.clone());
    let mut rx = events.subscribe();
    let (job, _) = submit(
        &db,
        &queue,
        NewJob {
            kind: JobKind::Preview,
            request: serde_json::json!({ "fault": "slow" }),
            science_file_id: None,
            owner_id: None,
        },
    )
    .await
    .unwrap();
    let statuses = tokio::time::timeout(Duration::from_secs(60), async {
        let mut seen = Vec::new();
        loop {
            let ev = rx.recv().await.expect("bus open");
            if ev.job_id == job.public_id {
                seen.push(ev.status);
                if ev.status.is_final() {
                    return seen;
                }
            }
        }
    })
    .await
    .expect("the job ends in time");
    let row = reconstruction_job::Entity::find_by_id(job.id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status.as_str(), row.attempts),
        ("SUCCEEDED", 1),
        "{statuses:?}"
    );
    let first_running = statuses
        .iter()
        .position(|s| *s == jobs::kinds::JobStatus::Running)
        .expect("it ran");
    assert!(
        !statuses[first_running..].contains(&jobs::kinds::JobStatus::Queued),
        "never requeued while running: {statuses:?}"
    );
    p.shut_down().await;
}
