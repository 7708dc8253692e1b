//! Job events on the real PostgreSQL of the machine (a throwaway database per test, on the
//! admin connection `STIX_TEST_PG_ADMIN`, else `TEST_DATABASE_URL`, else
//! `postgres://postgres@127.0.0.1:5432/postgres`): the database itself notifies `stix_events`
//! when a job's visible state changes (a trigger, with the change's commit), and a process's
//! event bus turns other processes' notifications into events for its subscribers while
//! ignoring its own.

mod support;

use jobs::events::postgres::{CHANNEL, MAX_PAYLOAD_BYTES, Notice};
use jobs::events::{EventBus, Hearing, JobEvent};
use jobs::kinds::{JobKind, JobStatus};
use jobs::queue::Queue;
use jobs::store::entities::reconstruction_job;
use jobs::submit::{NewJob, submit};
use sea_orm::sea_query::Expr;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn new_job(db: &DatabaseConnection, queue: &Queue, k: u32) -> reconstruction_job::Model {
    let job = NewJob {
        kind: JobKind::Preview,
        request: serde_json::json!({ "v": 1, "k": k }),
        science_file_id: None,
        owner_id: None,
    };
    submit(db, queue, job).await.unwrap().0
}

/// Sets columns of job `id` in one autocommitted statement.
async fn set(db: &impl ConnectionTrait, id: i64, cols: Vec<(reconstruction_job::Column, Expr)>) {
    let mut update = reconstruction_job::Entity::update_many();
    for (c, v) in cols {
        update = update.col_expr(c, v);
    }
    let done = update
        .filter(reconstruction_job::Column::Id.eq(id))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(done.rows_affected, 1);
}

#[tokio::test]
async fn the_database_notifies_each_visible_change_of_a_job_once_with_its_state() {
    use reconstruction_job::Column as C;
    let pg = support::ThrowawayPg::create().await;
    let db = support::pg_connect(&pg.url).await;
    jobs::store::migrate(&db).await.unwrap();
    let queue = Queue::setup(&db, 1).await.unwrap();
    let origin = support::pg_setting(&db, "application_name").await;
    assert!(
        origin.starts_with(jobs::store::APPLICATION_NAME_PREFIX),
        "store::connect names its connections: {origin}"
    );
    assert_ne!(
        origin,
        support::pg_setting(&support::pg_connect(&pg.url).await, "application_name").await,
        "each pool has its own name, so processes tell their notices apart"
    );
    let mut listener = PgListener::connect(&pg.url).await.unwrap();
    listener.listen(CHANNEL).await.unwrap();

    // Nothing subscribers see changes: no notice for a new job (it is QUEUED as submitted),
    // a heartbeat, or a change that rolls back.
    let job = new_job(&db, &queue, 1).await;
    set(
        &db,
        job.id,
        vec![(C::UpdatedAt, Expr::value(chrono::Utc::now()))],
    )
    .await;
    let txn = db.begin().await.unwrap();
    set(&txn, job.id, vec![(C::Status, Expr::value("RUNNING"))]).await;
    txn.rollback().await.unwrap();

    // Three visible changes: a claim, a progress step, and a failure whose message is too
    // long for a payload.
    set(
        &db,
        job.id,
        vec![
            (C::Status, Expr::value("RUNNING")),
            (C::Stage, Expr::value("reading")),
        ],
    )
    .await;
    set(
        &db,
        job.id,
        vec![
            (C::Stage, Expr::value("imaging")),
            (C::ProgressDone, Expr::value(1)),
            (C::ProgressTotal, Expr::value(2)),
        ],
    )
    .await;
    let long = "x".repeat(9000);
    set(
        &db,
        job.id,
        vec![
            (C::Status, Expr::value("FAILED")),
            (C::ErrorMessage, Expr::value(long.clone())),
        ],
    )
    .await;

    let mut notices = Vec::new();
    for _ in 0..3 {
        let n = tokio::time::timeout(WAIT, listener.recv())
            .await
            .expect("a notification")
            .unwrap();
        assert!(n.payload().len() <= MAX_PAYLOAD_BYTES);
        notices.push(serde_json::from_str::<Notice>(n.payload()).unwrap());
    }
    let event = |stage: &str, status, done, total| JobEvent {
        job_id: job.public_id,
        status,
        stage: Some(stage.into()),
        done,
        total,
        message: None,
    };
    assert!(
        notices
            .iter()
            .all(|n| n.o == origin && n.j == job.public_id)
    );
    assert_eq!(
        notices[0].event(),
        Some(event("reading", JobStatus::Running, 0, 0)),
        "the first notice is the claim: the insert, the heartbeat and the rollback sent none"
    );
    assert_eq!(
        notices[1].event(),
        Some(event("imaging", JobStatus::Running, 1, 2))
    );
    assert_eq!(
        notices[2].event(),
        None,
        "a state beyond the payload limit is left to be read from the row"
    );
    let row = reconstruction_job::Entity::find_by_id(job.id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.error_message.as_deref(), Some(long.as_str()));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), listener.recv())
            .await
            .is_err(),
        "one notice per change"
    );
    pg.drop_database().await;
}

#[tokio::test]
async fn a_process_hears_the_job_changes_of_others_and_not_its_own_notices() {
    use reconstruction_job::Column as C;
    let pg = support::ThrowawayPg::create().await;
    // Two processes' pools: `a` has subscribers, `b` only writes.
    let a = support::pg_connect(&pg.url).await;
    jobs::store::migrate(&a).await.unwrap();
    let b = support::pg_connect(&pg.url).await;
    let queue = Queue::setup(&a, 1).await.unwrap();
    let bus = EventBus::for_database(&a, &pg.url, WAIT, Hearing::AllProcesses).await;
    assert!(bus.is_listening());
    let mut events = bus.subscribe();
    let mut changes = bus.changes();
    let job = new_job(&a, &queue, 2).await;

    // `b` claims the job: `a`'s subscriber hears it from the notice alone.
    set(
        &b,
        job.id,
        vec![
            (C::Status, Expr::value("RUNNING")),
            (C::Stage, Expr::value("reading")),
        ],
    )
    .await;
    let e = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("b's change reaches a")
        .unwrap();
    assert_eq!((e.job_id, e.status), (job.public_id, JobStatus::Running));
    assert_eq!(e.stage.as_deref(), Some("reading"));
    assert_eq!(*changes.borrow_and_update(), 1);

    // `a` records progress and publishes it itself: its subscriber has it once, and its own
    // notice neither repeats it nor counts as another change.
    set(
        &a,
        job.id,
        vec![
            (C::Stage, Expr::value("imaging")),
            (C::ProgressDone, Expr::value(1)),
            (C::ProgressTotal, Expr::value(1)),
        ],
    )
    .await;
    let mine = JobEvent {
        job_id: job.public_id,
        status: JobStatus::Running,
        stage: Some("imaging".into()),
        done: 1,
        total: 1,
        message: None,
    };
    bus.publish(mine.clone());
    assert_eq!(events.recv().await.unwrap(), mine);

    // `b` finishes it.
    set(
        &b,
        job.id,
        vec![
            (C::Status, Expr::value("SUCCEEDED")),
            (C::Stage, Expr::value("done")),
        ],
    )
    .await;
    let e = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("b's final status reaches a")
        .unwrap();
    assert_eq!(e.status, JobStatus::Succeeded, "{e:?}");
    assert_eq!(
        *changes.borrow_and_update(),
        3,
        "b's two changes and a's own publish: a's own notice is not counted again"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), events.recv())
            .await
            .is_err(),
        "each state once"
    );
    drop(bus);
    pg.drop_database().await;
}
