//! The worker pool: apalis workers on the service's queue, running each task's job row
//! through [`JobRunner`]. Panics are caught and recorded, never kill the worker; bad input
//! ends the job with its reason; transient faults are retried with backoff.

use crate::events::{EventBus, JobEvent};
use crate::kinds::JobStatus;
use crate::pg_worker_queue::PgWorkerQueue;
use crate::queue::{Queue, QueueTask};
use crate::store::entities::reconstruction_job;
use apalis::prelude::{Attempt, BoxDynError, Data, Monitor, WorkerBuilder, WorkerBuilderExt};
use apalis_core::backend::ext::BackendExt;
use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// How a job attempt failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobFailure {
    /// The input is wrong: retrying cannot help. The job ends FAILED with this reason.
    #[error("{message}")]
    BadInput {
        /// Machine-readable code, e.g. `BAD_L1_FILE`.
        code: String,
        /// Human message.
        message: String,
    },
    /// A fault that may pass (I/O, database): retried with backoff.
    #[error("{0}")]
    Transient(String),
    /// The job was cancelled while running; it ends CANCELLED (images made stay).
    #[error("cancelled")]
    Cancelled,
}

/// Shared state every job handler gets.
pub struct WorkerState {
    /// The archive database.
    pub db: DatabaseConnection,
    /// The queue (for re-queuing with backoff).
    pub queue: Queue,
    /// Status events for subscriptions.
    pub events: EventBus,
    /// What actually runs a job of each kind.
    pub runner: Arc<dyn JobRunner>,
    /// A `RUNNING` job not updated for this long is presumed orphaned (its worker died) and
    /// requeued. A running job's heartbeat touches its row every third of this.
    pub stale_after: Duration,
    /// Threads the jobs of this process compute on (see [`size_compute_pool`]); 0: one per
    /// job slot, so that a process with `concurrency` slots uses that many cores.
    pub compute_threads: usize,
    /// Shortest time between two recorded progress steps of a job (see [`Progress`]);
    /// [`PROGRESS_EVERY`] unless the operator chose otherwise.
    pub progress_every: Duration,
}

/// Sizes the threads that the algorithms' parallel parts (MEM's and FWDFIT's inner loops, the
/// algorithms of one box side by side) run on in this process: rayon's global pool. Returns
/// the size in effect, which is `threads` unless the pool was already in use (it is sized
/// once per process, on first use).
///
/// One thread per job slot makes `concurrency` the number of cores a worker process uses, so
/// that processes can be sized against a machine's cores; otherwise every job of every
/// process would spread over all of them.
pub fn size_compute_pool(threads: usize) -> usize {
    let threads = threads.max(1);
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("stix-compute-{i}"))
        .build_global()
    {
        Ok(()) => threads,
        Err(e) => {
            tracing::debug!("the compute pool was already sized: {e}");
            rayon::current_num_threads()
        }
    }
}

/// Shortest time between two recorded progress steps of a job, by default
/// (`STIX__WORKERS__PROGRESS_EVERY_MS`). A step reported sooner
/// after the last one (or after the claim, which records the first stage) is held and
/// recorded when this time is up, unless a later step replaces it or the job ends first:
/// its final update then carries the last stage. Subscribers still see every job's
/// progress at least this often, and a job of a few milliseconds costs no progress write.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Progress reporting handed to a running job.
#[derive(Clone)]
pub struct Progress {
    db: DatabaseConnection,
    events: EventBus,
    job: reconstruction_job::Model,
    pacing: Arc<std::sync::Mutex<Pacing>>,
    every: Duration,
}

/// When the last progress step was recorded, the step waiting to be, and the step the job
/// said it ends with if it succeeds.
struct Pacing {
    recorded_at: tokio::time::Instant,
    held: Option<ProgressStep>,
    flush: Option<tokio::task::JoinHandle<()>>,
    conclusion: Option<ProgressStep>,
}

/// One progress step: a stage and `done/total` (also the last one a job ends with, written
/// with its final status).
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressStep {
    /// What the job is doing, e.g. `imaging`.
    pub stage: String,
    /// Units of work done.
    pub done: i32,
    /// Units of work planned.
    pub total: i32,
}

impl Progress {
    /// Progress reporting for `job` (the worker makes one per attempt), recording a step at
    /// most `every` (0: every step as it is reported).
    pub fn new(
        db: DatabaseConnection,
        events: EventBus,
        job: reconstruction_job::Model,
        every: Duration,
    ) -> Self {
        Self {
            db,
            events,
            job,
            every,
            // The claim recorded the first stage.
            pacing: Arc::new(std::sync::Mutex::new(Pacing {
                recorded_at: tokio::time::Instant::now(),
                held: None,
                flush: None,
                conclusion: None,
            })),
        }
    }

    /// Records the stage and progress a job ends with when it succeeds: written in the same
    /// update (and event) as its `SUCCEEDED` status rather than as a progress step of its own.
    /// Ignored when the job does not succeed.
    pub fn conclude(&self, stage: &str, done: i32, total: i32) {
        self.pacing().conclusion = Some(ProgressStep {
            stage: stage.to_string(),
            done,
            total,
        });
    }

    fn conclusion(&self) -> Option<ProgressStep> {
        self.pacing().conclusion.clone()
    }

    /// Records and publishes a stage and `done/total` progress: at once when the last step
    /// was recorded at least the pacing interval ago, else when that time is up (a step
    /// reported meanwhile replaces this one). A failed immediate write fails the job as
    /// transient; a failed delayed one is logged and left to the next step or the end.
    pub async fn report(&self, stage: &str, done: i32, total: i32) -> Result<(), JobFailure> {
        let step = ProgressStep {
            stage: stage.to_string(),
            done,
            total,
        };
        let now_due = {
            let mut p = self.pacing();
            // An interval too long to be represented is never up: steps are then carried by
            // the final status only.
            let due = p.recorded_at.checked_add(self.every);
            if p.flush.is_none() && due.is_some_and(|d| tokio::time::Instant::now() >= d) {
                p.recorded_at = tokio::time::Instant::now();
                true
            } else {
                p.held = Some(step.clone());
                if let (None, Some(due)) = (&p.flush, due) {
                    let me = self.clone();
                    p.flush = Some(tokio::spawn(async move {
                        tokio::time::sleep_until(due).await;
                        me.flush_held().await;
                    }));
                }
                false
            }
        };
        if now_due {
            self.record(&step)
                .await
                .map_err(|e| JobFailure::Transient(format!("recording progress: {e}")))?;
        }
        Ok(())
    }

    /// Ends the reporting when the job has ended: a held step is not written on its own but
    /// returned, for the job's final update to carry.
    pub fn stop(&self) -> Option<ProgressStep> {
        let mut p = self.pacing();
        if let Some(f) = p.flush.take() {
            f.abort();
        }
        p.held.take()
    }

    fn pacing(&self) -> std::sync::MutexGuard<'_, Pacing> {
        self.pacing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the held step, if any (the delayed half of [`report`](Self::report)).
    async fn flush_held(&self) {
        let held = {
            let mut p = self.pacing();
            p.flush = None;
            p.recorded_at = tokio::time::Instant::now();
            p.held.take()
        };
        if let Some(step) = held
            && let Err(e) = self.record(&step).await
        {
            tracing::warn!(job = %self.job.public_id, "cannot record progress: {e}");
        }
    }

    /// Writes a step to the job's row while it is running, and publishes it.
    async fn record(&self, step: &ProgressStep) -> Result<(), sea_orm::DbErr> {
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, QueryFilter};
        let updated = reconstruction_job::Entity::update_many()
            .col_expr(
                reconstruction_job::Column::Stage,
                Expr::value(step.stage.clone()),
            )
            .col_expr(
                reconstruction_job::Column::ProgressDone,
                Expr::value(step.done),
            )
            .col_expr(
                reconstruction_job::Column::ProgressTotal,
                Expr::value(step.total),
            )
            .col_expr(
                reconstruction_job::Column::UpdatedAt,
                Expr::value(Utc::now()),
            )
            .filter(reconstruction_job::Column::Id.eq(self.job.id))
            .filter(reconstruction_job::Column::Status.eq(JobStatus::Running.as_str()))
            .exec(&self.db)
            .await?;
        // No longer running (ended, or requeued by a reaper): nothing to tell.
        if updated.rows_affected == 1 {
            self.events.publish(JobEvent {
                job_id: self.job.public_id,
                status: JobStatus::Running,
                stage: Some(step.stage.clone()),
                done: step.done,
                total: step.total,
                message: None,
            });
        }
        Ok(())
    }
}

/// Runs one job row of a given kind. Implemented by the preview pipeline and user
/// reconstructions; must be idempotent (a retried job must not duplicate images).
pub trait JobRunner: Send + Sync {
    /// Runs the job to completion or failure.
    fn run<'a>(
        &'a self,
        job: &'a reconstruction_job::Model,
        progress: Progress,
    ) -> Pin<Box<dyn Future<Output = Result<(), JobFailure>> + Send + 'a>>;
}

/// The host name of this machine (`/proc/sys/kernel/hostname`, else `localhost`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// This process as a worker, `host:pid`: stored in `reconstruction_jobs.worker` when it
/// claims a job.
pub fn identity() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| format!("{}:{}", host_name(), std::process::id()))
        .clone()
}

/// Backoff before retry number `attempt` (1-based): 2 s, 4 s, 8 s, … capped at 60 s.
pub fn backoff(attempt: usize) -> Duration {
    Duration::from_secs((1u64 << attempt.min(6)).min(60))
}

/// Poll strategy that always re-arms its timer (apalis 1.0's interval strategy can lose its
/// wake-up and then only polls on the heartbeat: dependencies.md gotcha 1), and polls at once
/// when a task is pushed in this process (a submitted job does not wait for the tick).
pub struct Tick {
    every: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    woken: Option<Pin<Box<tokio::sync::futures::Notified<'static>>>>,
    seen: u64,
}

impl Tick {
    /// Polls every `every`, and whenever this process pushes a task.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            sleep: None,
            woken: None,
            seen: crate::queue::PUSHES.load(std::sync::atomic::Ordering::SeqCst),
        }
    }
}

impl Clone for Tick {
    fn clone(&self) -> Self {
        Self::new(self.every)
    }
}

impl PollStrategy for Tick {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        use std::sync::atomic::Ordering;
        let every = self.every;
        // Register for the next push before looking at the counter, so none is missed.
        let woken = self
            .woken
            .get_or_insert_with(|| Box::pin(crate::queue::WAKE.notified()));
        let fired = woken.as_mut().poll(cx).is_ready();
        if fired {
            self.woken = None;
        }
        let pushes = crate::queue::PUSHES.load(Ordering::SeqCst);
        if fired || pushes != self.seen {
            self.seen = pushes;
            if self.woken.is_none() {
                let mut next = Box::pin(crate::queue::WAKE.notified());
                let _ = next.as_mut().poll(cx);
                self.woken = Some(next);
            }
            return Poll::Ready(Some(()));
        }
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
        if sleep.as_mut().poll(cx).is_ready() {
            let mut next = Box::pin(tokio::time::sleep(every));
            let _ = next.as_mut().poll(cx);
            self.sleep = Some(next);
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }
}

/// Poll strategy of the PostgreSQL queue: apalis' `LISTEN/NOTIFY` wake-ups (`notices`), every
/// pending one taken at each poll, plus a [`Tick`] as a safety net.
///
/// apalis' own `StreamStrategy` takes one notification per poll. When the poll that takes it
/// also ends a fetch that came back empty (the task was committed just after the fetch began),
/// the worker parks with no waker on the stream: a notification that is already waiting wakes
/// nobody, and tasks pushed in the meantime waited for the worker's next heartbeat. Under a
/// steady stream of submissions that kept jobs queued for seconds on idle workers (p50 1.9 s,
/// p99 4.1 s at 300 tiny jobs/s). Taking every waiting notification leaves the stream pending,
/// so its waker is always registered; the tick covers a listening connection that is lost.
pub struct Notified<S> {
    notices: S,
    tick: Tick,
}

impl<S> Notified<S> {
    /// Wakes on `notices` and every `every`.
    pub fn new(notices: S, every: Duration) -> Self {
        Self {
            notices,
            tick: Tick::new(every),
        }
    }
}

impl<S: futures::Stream + Unpin> PollStrategy for Notified<S> {
    fn poll_drive(&mut self, cx: &mut Context<'_>, snapshot: &PollSnapshot) -> Poll<Option<()>> {
        use futures::StreamExt;
        let mut woken = false;
        // Until pending (which registers the waker) or ended (a lost connection: the tick
        // polls until the worker pool restarts on the database fault).
        while let Poll::Ready(Some(_)) = self.notices.poll_next_unpin(cx) {
            woken = true;
        }
        let ticked = self.tick.poll_drive(cx, snapshot).is_ready();
        if woken || ticked {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

/// Records a job's new status (with `last_step`, the stage and progress it ended at) and
/// publishes it. With `retry_after` the job goes back to the
/// queue: its row and its delayed task are written in one transaction on PostgreSQL, so that
/// a fault between the two cannot leave a QUEUED job without a task.
async fn set_status(
    state: &WorkerState,
    job: &reconstruction_job::Model,
    new_status: JobStatus,
    failure: Option<(&str, &str)>,
    last_step: Option<ProgressStep>,
    retry_after: Option<Duration>,
) -> Result<reconstruction_job::Model, BoxDynError> {
    let now = Utc::now();
    let mut am = job.clone().into_active_model();
    am.status = Set(new_status.as_str().to_string());
    if let Some(c) = last_step {
        am.stage = Set(Some(c.stage));
        am.progress_done = Set(c.done);
        am.progress_total = Set(c.total);
    }
    am.updated_at = Set(now);
    if new_status.is_final() {
        am.finished_at = Set(Some(now));
    }
    if let Some((code, message)) = failure {
        am.error_code = Set(Some(code.to_string()));
        am.error_message = Set(Some(message.to_string()));
    }
    let saved = match retry_after {
        None => am.update(&state.db).await?,
        Some(delay) => {
            let txn = crate::store::begin_write(&state.db).await?;
            let saved = am.update(&txn).await?;
            state
                .queue
                .commit_with_task(txn, QueueTask::for_job(job.id), Some(delay))
                .await?;
            saved
        }
    };
    if let (Some(started), Some(finished)) = (saved.started_at, saved.finished_at) {
        let elapsed = (finished - started).to_std().unwrap_or_default();
        crate::metrics::job_finished(&saved.kind, &saved.status, elapsed);
    }
    state.events.publish(JobEvent {
        job_id: saved.public_id,
        status: JobStatus::parse(&saved.status).unwrap_or(new_status),
        stage: saved.stage.clone(),
        done: saved.progress_done,
        total: saved.progress_total,
        message: saved.error_message.clone(),
    });
    Ok(saved)
}

/// The stage of a job from its claim until its runner reports another.
pub const FIRST_STAGE: &str = "reading";

/// Claims a queued job for this attempt: `QUEUED → RUNNING` in one conditional update, so
/// that of two deliveries of the same job only one runs it. `None`: not claimable (running
/// elsewhere, finished or cancelled).
async fn claim(
    state: &WorkerState,
    job_id: i64,
) -> Result<Option<reconstruction_job::Model>, sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ColumnTrait, QueryFilter};
    let now = Utc::now();
    // One statement: the update returns the claimed row (PostgreSQL and SQLite `RETURNING`).
    let job = reconstruction_job::Entity::update_many()
        .col_expr(
            reconstruction_job::Column::Status,
            Expr::value(JobStatus::Running.as_str()),
        )
        .col_expr(reconstruction_job::Column::StartedAt, Expr::value(now))
        .col_expr(reconstruction_job::Column::UpdatedAt, Expr::value(now))
        .col_expr(reconstruction_job::Column::Worker, Expr::value(identity()))
        // Every job starts by reading its inputs; saying so here spares a progress write.
        .col_expr(reconstruction_job::Column::Stage, Expr::value(FIRST_STAGE))
        .col_expr(reconstruction_job::Column::ProgressDone, Expr::value(0))
        .col_expr(reconstruction_job::Column::ProgressTotal, Expr::value(0))
        .col_expr(
            reconstruction_job::Column::Attempts,
            Expr::col(reconstruction_job::Column::Attempts).add(1),
        )
        .filter(reconstruction_job::Column::Id.eq(job_id))
        .filter(reconstruction_job::Column::Status.eq(JobStatus::Queued.as_str()))
        .exec_with_returning(&state.db)
        .await?
        .pop();
    if let Some(j) = &job {
        state.events.publish(JobEvent {
            job_id: j.public_id,
            status: JobStatus::Running,
            stage: j.stage.clone(),
            done: j.progress_done,
            total: j.progress_total,
            message: None,
        });
    }
    Ok(job)
}

/// Puts jobs whose worker died back in the queue: every `RUNNING` job when `stale_after` is
/// `None` (the single-process SQLite service at start-up), else those not updated for that
/// long (PostgreSQL, where other processes may be running jobs right now). Returns how many.
pub async fn requeue_interrupted(
    db: &DatabaseConnection,
    queue: &Queue,
    events: &EventBus,
    stale_after: Option<Duration>,
) -> Result<usize, BoxDynError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut q = reconstruction_job::Entity::find()
        .filter(reconstruction_job::Column::Status.eq(JobStatus::Running.as_str()));
    if let Some(d) = stale_after {
        let cutoff = Utc::now() - chrono::Duration::from_std(d)?;
        q = q.filter(reconstruction_job::Column::UpdatedAt.lt(cutoff));
    }
    let stuck = q.all(db).await?;
    let n = stuck.len();
    for job in stuck {
        let mut am = job.clone().into_active_model();
        am.status = Set(JobStatus::Queued.as_str().to_string());
        am.stage = Set(Some("requeued after an interrupted attempt".to_string()));
        am.updated_at = Set(Utc::now());
        // The row and its new task in one transaction on PostgreSQL, so a fault between the
        // two cannot leave a QUEUED job that no task will ever run.
        let txn = crate::store::begin_write(db).await?;
        am.update(&txn).await?;
        queue
            .commit_with_task(txn, QueueTask::for_job(job.id), None)
            .await?;
        events.publish(JobEvent {
            job_id: job.public_id,
            status: JobStatus::Queued,
            stage: Some("requeued after an interrupted attempt".to_string()),
            done: job.progress_done,
            total: job.progress_total,
            message: None,
        });
        tracing::warn!(job = %job.public_id, "requeued a job whose worker stopped mid-way");
    }
    Ok(n)
}

/// The apalis handler: one attempt of one job row.
pub async fn handle(
    task: QueueTask,
    attempt: Attempt,
    state: Data<Arc<WorkerState>>,
) -> Result<(), BoxDynError> {
    let state: Arc<WorkerState> = (*state).clone();
    if task.v != QueueTask::VERSION {
        tracing::error!(
            version = task.v,
            "dropping a task of an unknown payload version"
        );
        return Ok(());
    }
    let Some(job) = claim(&state, task.job_id).await? else {
        // Finished, cancelled, or claimed by another delivery: nothing to do.
        tracing::debug!(
            job_id = task.job_id,
            "task for a job that is not queued; ignored"
        );
        return Ok(());
    };

    let progress = Progress::new(
        state.db.clone(),
        state.events.clone(),
        job.clone(),
        state.progress_every,
    );
    let concluded = progress.clone();
    let runner = state.runner.clone();
    let job_for_run = job.clone();
    // While it runs, the job's row is touched well within `stale_after`, so that the reapers
    // (of every process) requeue only jobs whose worker is really gone, not a live job busy
    // with a long box.
    let heartbeat = tokio::spawn(heartbeat(
        state.db.clone(),
        job.id,
        (state.stale_after / 3).max(Duration::from_millis(200)),
    ));
    // Run on its own task so that a panic is caught as a JoinError and recorded.
    let outcome = tokio::spawn(async move { runner.run(&job_for_run, progress).await }).await;
    heartbeat.abort();
    // The last step reported but not yet written goes into the final update.
    let held = concluded.stop();
    // The final update names only the columns it sets and returns the whole row, so the
    // claimed row (with this attempt's count) is all it needs: no re-read.
    match outcome {
        Ok(Ok(())) => {
            let last = concluded.conclusion().or(held);
            set_status(&state, &job, JobStatus::Succeeded, None, last, None).await?;
        }
        Ok(Err(JobFailure::Cancelled)) => {
            tracing::info!(job = %job.public_id, "job cancelled while running");
            set_status(&state, &job, JobStatus::Cancelled, None, held, None).await?;
        }
        Ok(Err(JobFailure::BadInput { code, message })) => {
            tracing::warn!(job = %job.public_id, %code, %message, "job failed on bad input");
            set_status(
                &state,
                &job,
                JobStatus::Failed,
                Some((&code, &message)),
                held,
                None,
            )
            .await?;
        }
        Ok(Err(JobFailure::Transient(message))) => {
            let n = attempt.current().max(job.attempts as usize);
            if n >= crate::queue::MAX_ATTEMPTS {
                tracing::error!(job = %job.public_id, %message, "job failed after {n} attempts");
                set_status(
                    &state,
                    &job,
                    JobStatus::Failed,
                    Some(("TRANSIENT_EXHAUSTED", &message)),
                    held,
                    None,
                )
                .await?;
            } else {
                tracing::warn!(job = %job.public_id, %message, "transient failure, retrying");
                set_status(
                    &state,
                    &job,
                    JobStatus::Queued,
                    Some(("TRANSIENT", &message)),
                    held,
                    Some(backoff(n)),
                )
                .await?;
            }
        }
        Err(join) => {
            let message = if join.is_panic() {
                "the job panicked (internal error)"
            } else {
                "the job was aborted"
            };
            tracing::error!(job = %job.public_id, "{message}: {join}");
            set_status(
                &state,
                &job,
                JobStatus::Failed,
                Some(("INTERNAL", message)),
                held,
                None,
            )
            .await?;
        }
    }
    Ok(())
}

/// Refreshes `updated_at` of a `RUNNING` job every `every` until aborted (a failed write is
/// logged and tried again at the next beat).
async fn heartbeat(db: DatabaseConnection, job_id: i64, every: Duration) {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let beat = reconstruction_job::Entity::update_many()
            .col_expr(
                reconstruction_job::Column::UpdatedAt,
                Expr::value(Utc::now()),
            )
            .filter(reconstruction_job::Column::Id.eq(job_id))
            .filter(reconstruction_job::Column::Status.eq(JobStatus::Running.as_str()))
            .exec(&db)
            .await;
        if let Err(e) = beat {
            tracing::warn!(job_id, "cannot record that the job is alive: {e}");
        }
    }
}

/// An apalis monitor with this process's worker of `concurrency` slots on the queue.
fn register(
    monitor: Monitor,
    state: &Arc<WorkerState>,
    name: String,
    concurrency: usize,
) -> Monitor {
    let st = state.clone();
    match state.queue.clone() {
        Queue::Sqlite(storage) => monitor.register(move |_| {
            WorkerBuilder::new(name.as_str())
                .backend(
                    storage
                        .clone()
                        .poll_with_strategy(Tick::new(Duration::from_millis(200))),
                )
                .data(st.clone())
                .concurrency(concurrency)
                .build(handle)
        }),
        Queue::Postgres(storage) => monitor.register(move |_| {
            let notices = apalis_postgres::Pubsub::new(
                storage.pool().clone(),
                storage.config().queue.to_string(),
            );
            WorkerBuilder::new(name.as_str())
                .backend(
                    PgWorkerQueue::new(&storage)
                        .poll_with_strategy(Notified::new(notices, Duration::from_secs(1))),
                )
                .data(st.clone())
                .concurrency(concurrency)
                .build(handle)
        }),
    }
}

/// Runs `concurrency` job slots on the queue until `shutdown` resolves; running jobs are
/// given `grace` to finish, the rest stay queued for the next start.
pub async fn run_pool<F>(
    state: Arc<WorkerState>,
    concurrency: usize,
    grace: Duration,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let name = format!("stix-worker-{}", ulid::Ulid::generate());
    let compute_threads = size_compute_pool(match state.compute_threads {
        0 => concurrency,
        n => n,
    });
    tracing::info!(concurrency, compute_threads, "worker pool starting");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    // The reaper: jobs of a worker that died (crash, kill, lost machine) go back in the queue.
    let reaper = {
        let st = state.clone();
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let every = (st.stale_after / 4).max(Duration::from_millis(500));
            loop {
                match requeue_interrupted(&st.db, &st.queue, &st.events, Some(st.stale_after)).await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "requeued interrupted jobs"),
                    Err(e) => tracing::warn!("cannot check for interrupted jobs: {e}"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop_rx.wait_for(|v| *v) => return,
                }
            }
        })
    };
    tokio::spawn(shutdown);
    // One apalis monitor per generation: when the worker dies on a database fault (e.g. a
    // PostgreSQL restart ends its connections), a new one starts after a backoff, so the
    // process recovers by itself.
    let mut backoff = Duration::from_millis(200);
    let mut generation = 0u32;
    let result = loop {
        generation += 1;
        let (dead_tx, mut dead_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let monitor = Monitor::new()
            .shutdown_timeout(grace)
            .should_restart(move |w, error| {
                tracing::warn!(worker = %w.name(), %error, "worker stopped on an error; it will be restarted");
                let _ = dead_tx.send(());
                false
            });
        let name = format!("{name}-{generation}");
        let monitor = register(monitor, &state, name, concurrency);
        let mut stop = stop_rx.clone();
        let born = std::time::Instant::now();
        let result = monitor
            .run_with_signal(async move {
                tokio::select! {
                    _ = stop.wait_for(|v| *v) => {}
                    _ = dead_rx.recv() => {}
                }
                Ok(())
            })
            .await
            .map_err(std::io::Error::other);
        if *stop_rx.borrow() {
            break result;
        }
        if born.elapsed() > Duration::from_secs(30) {
            backoff = Duration::from_millis(200);
        }
        tracing::warn!("restarting the worker pool in {backoff:?}");
        let mut stop = stop_rx.clone();
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|v| *v) => break result,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    };
    reaper.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use apalis_core::backend::ext::poll_strategy::PollMetrics;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CountingWaker(AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn every_waiting_notification_is_taken_so_the_next_one_wakes_the_worker() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let mut strategy = Notified::new(rx, Duration::from_secs(3600));
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = std::task::Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let snapshot = PollMetrics::default().snapshot();
        // Three tasks pushed while the worker was busy: one poll takes all three wake-ups.
        for n in 0..3 {
            tx.unbounded_send(n).unwrap();
        }
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_ready());
        assert!(
            strategy.poll_drive(&mut cx, &snapshot).is_pending(),
            "no wake-up is left over for a later poll"
        );
        // The worker parks; the next push wakes it (apalis' StreamStrategy, which takes one
        // per poll, would have left two waiting and no waker registered).
        let before = counter.0.load(Ordering::SeqCst);
        tx.unbounded_send(3).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), before + 1);
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_ready());
    }
}
