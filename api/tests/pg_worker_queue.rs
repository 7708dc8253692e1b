//! The workers' PostgreSQL backend (`jobs::pg_worker_queue`) under apalis' own workers, on
//! a throwaway database of the machine's PostgreSQL (admin connection `STIX_TEST_PG_ADMIN`,
//! else `TEST_DATABASE_URL`, else the local server): the tasks that the service's queue
//! pushes are each run once, acknowledged in apalis' table as done by the worker that ran
//! them, the workers' heartbeats find them registered, and a worker name already registered
//! is refused.

mod support;

use apalis::prelude::{
    BoxDynError, Data, WorkerBuilder, WorkerBuilderExt, WorkerContext, WorkerError,
};
use apalis_core::backend::ext::BackendExt;
use jobs::pg_worker_queue::PgWorkerQueue;
use jobs::queue::{Queue, QueueTask};
use jobs::worker::Notified;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which worker ran each job id, as the handler saw it.
type Runs = Arc<Mutex<Vec<(i64, String)>>>;

async fn record(
    task: QueueTask,
    worker: WorkerContext,
    runs: Data<Runs>,
) -> Result<(), BoxDynError> {
    runs.lock()
        .unwrap()
        .push((task.job_id, worker.name().to_string()));
    Ok(())
}

async fn queue_on(pg: &support::ThrowawayPg) -> (DatabaseConnection, Queue) {
    let db = jobs::store::connect(&pg.url, 8, Duration::from_secs(10))
        .await
        .unwrap();
    jobs::store::migrate(&db).await.unwrap();
    let queue = Queue::setup(&db, 1).await.unwrap();
    (db, queue)
}

/// A worker named `name` of one slot on `queue`, as the service builds it (woken by apalis'
/// notifications and every 200 ms), recording what it runs in `runs`; runs until it fails.
fn worker(
    name: &str,
    queue: &Queue,
    runs: &Runs,
) -> impl Future<Output = Result<(), WorkerError>> + Send + 'static {
    let Queue::Postgres(storage) = queue else {
        panic!("the queue of a PostgreSQL database is on PostgreSQL")
    };
    let notices =
        apalis_postgres::Pubsub::new(storage.pool().clone(), storage.config().queue.to_string());
    WorkerBuilder::new(name)
        .backend(
            PgWorkerQueue::new(storage)
                .poll_with_strategy(Notified::new(notices, Duration::from_millis(200))),
        )
        .data(runs.clone())
        .concurrency(1)
        .build(record)
        .run()
}

/// How many rows `from` (a table and its condition) holds.
async fn count(db: &DatabaseConnection, from: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT count(*) AS n FROM {from}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}

/// apalis' rows of the queue's tasks: job id → (status, lock_by, attempts, done).
async fn task_rows(db: &DatabaseConnection) -> BTreeMap<i64, (String, Option<String>, i32, bool)> {
    db.query_all_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT (convert_from(job, 'UTF8')::jsonb ->> 'job_id')::bigint AS job_id, status, \
         lock_by, attempts, done_at IS NOT NULL AS done FROM apalis.jobs",
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.try_get::<i64>("", "job_id").unwrap(),
            (
                r.try_get("", "status").unwrap(),
                r.try_get("", "lock_by").unwrap(),
                r.try_get("", "attempts").unwrap(),
                r.try_get("", "done").unwrap(),
            ),
        )
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_every_task_once_and_acknowledge_it_as_theirs() {
    let pg = support::ThrowawayPg::create().await;
    let (db, queue) = queue_on(&pg).await;
    const TASKS: i64 = 120;
    for job_id in 0..TASKS {
        queue.push(QueueTask::for_job(job_id), None).await.unwrap();
    }
    let runs: Runs = Arc::default();
    let names = ["lean-a", "lean-b"];
    let workers: Vec<_> = names
        .iter()
        .map(|name| tokio::spawn(worker(name, &queue, &runs)))
        .collect();

    support::until("every task acknowledged", || async {
        task_rows(&db)
            .await
            .values()
            .all(|(status, ..)| status == "Done")
    })
    .await;
    let rows = task_rows(&db).await;
    // apalis' heartbeat (every 5 s on the service's queue) finds the workers as registered.
    support::until("both workers' heartbeats recorded", || async {
        count(&db, "apalis.workers WHERE last_seen > started_at").await == 2
    })
    .await;
    for w in &workers {
        assert!(!w.is_finished(), "a worker stopped on an error");
        w.abort();
    }

    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len() as i64, TASKS, "every task ran once: {runs:?}");
    let ran_by: BTreeMap<i64, String> = runs.into_iter().collect();
    assert_eq!(
        ran_by.keys().copied().collect::<Vec<_>>(),
        (0..TASKS).collect::<Vec<_>>(),
        "each task ran, none twice"
    );
    assert_eq!(rows.len() as i64, TASKS);
    for (job_id, (status, lock_by, attempts, done)) in &rows {
        assert_eq!(status, "Done", "task of job {job_id}");
        assert!(done, "task of job {job_id} has its done_at");
        assert_eq!(*attempts, 1, "task of job {job_id} ran in one attempt");
        assert_eq!(
            lock_by.as_deref(),
            Some(ran_by[job_id].as_str()),
            "task of job {job_id} is held by the worker that ran it"
        );
    }

    let registered = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM apalis.workers WHERE storage_name = 'PgStorage' \
             AND worker_type = 'stix-archive' AND started_at IS NOT NULL AND last_seen IS NOT NULL ORDER BY id",
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get::<String>("", "id").unwrap())
        .collect::<Vec<_>>();
    assert_eq!(registered, names, "both workers registered on the queue");
    db.close().await.ok();
    pg.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_name_already_registered_is_refused_and_takes_nothing() {
    let pg = support::ThrowawayPg::create().await;
    let (db, queue) = queue_on(&pg).await;
    let runs: Runs = Arc::default();
    let first = tokio::spawn(worker("taken", &queue, &runs));
    // The first worker has registered once its name is in apalis' table.
    support::until("the first worker registered", || async {
        count(&db, "apalis.workers WHERE id = 'taken'").await == 1
    })
    .await;
    first.abort();
    queue.push(QueueTask::for_job(7), None).await.unwrap();

    let outcome = tokio::time::timeout(support::TIMEOUT, worker("taken", &queue, &runs))
        .await
        .expect("the second worker stops on its own");
    let error = outcome
        .expect_err("a second worker of the same name is refused")
        .to_string();
    assert!(error.contains("WorkerAlreadyExists"), "{error}");
    assert!(runs.lock().unwrap().is_empty(), "no task ran");
    let rows = task_rows(&db).await;
    assert_eq!(
        rows[&7].0, "Pending",
        "the task waits for a worker: {rows:?}"
    );
    db.close().await.ok();
    pg.drop_database().await;
}
