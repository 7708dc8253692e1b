//! The PostgreSQL transport of the event bus: job events cross processes with
//! `LISTEN/NOTIFY`.
//!
//! - The database sends them: a trigger on `reconstruction_jobs` (migration
//!   `m20261130_120000_notify_job_events`) notifies channel `stix_events` whenever an update
//!   changes what subscribers see of a job (status, stage, progress, message), with the
//!   update's own commit. A publishing process therefore sends nothing itself: no statement
//!   and no commit of its own per event, and no notification for a change that rolled back.
//! - The payload ([`Notice`]) names the writing connection pool (`o`, its `application_name`,
//!   unique per [`crate::store::connect`]) and the job (`j`), and carries the job's state when
//!   it fits PostgreSQL's 8000-byte limit; otherwise the receiver reads the row, which is the
//!   truth either way.
//! - Each process with subscribers listens on one dedicated connection (sqlx `PgListener`,
//!   outside the pool). When that connection is lost, the process reconnects with a short
//!   backoff (at most [`MAX_BACKOFF`] between tries, so it hears again within about a second
//!   of the database coming back) and then re-reads every job changed since shortly before
//!   the loss and publishes its current state, so no subscriber misses a terminal status that
//!   happened while it was deaf. Progress steps made while it was deaf are not heard (the row
//!   holds only the latest), which is why the deaf time must stay short and `/readyz` reports
//!   it ([`EventBus::is_listening`](super::EventBus::is_listening)).
//! - A process ignores its own notifications (its subscribers already had the event), and a
//!   state equal to the one last published for that job is not published again, so
//!   subscribers see each state once.

use super::{Hearing, JobEvent};
use crate::kinds::JobStatus;
use crate::store::entities::reconstruction_job;
use sea_orm::sqlx::postgres::{PgListener, PgPoolOptions};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    Statement,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot, watch};
use uuid::Uuid;

/// The notification channel.
pub const CHANNEL: &str = "stix_events";

/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more (the trigger sends only `o` and
/// `j` beyond this).
pub const MAX_PAYLOAD_BYTES: usize = 7999;

/// Re-read jobs changed since this long before the listening connection was lost (covers
/// clock differences between processes and the time the loss took to notice).
pub const RESYNC_MARGIN: Duration = Duration::from_secs(30);

/// Longest wait between reconnection attempts of the listening connection: every second
/// of it is a second in which other processes' progress is not heard.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The NOTIFY payload the trigger sends: who wrote, which job, and the job's state when it
/// fits (`s` is then always present: the status column is never null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The writing connection pool's `application_name` (its own notices a process ignores).
    pub o: String,
    /// Public id of the job whose row changed.
    pub j: Uuid,
    /// Status after the change; absent when the state did not fit the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<String>,
    /// Stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g: Option<String>,
    /// Units of work done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<i32>,
    /// Units of work planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<i32>,
    /// Error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<String>,
}

impl Notice {
    /// The event the notice carries; `None` when it carries only ids (the row must be read)
    /// or a status that is not one of ours.
    pub fn event(&self) -> Option<JobEvent> {
        let status = JobStatus::parse(self.s.as_deref()?)?;
        Some(JobEvent {
            job_id: self.j,
            status,
            stage: self.g.clone(),
            done: self.d.unwrap_or(0),
            total: self.t.unwrap_or(0),
            message: self.m.clone(),
        })
    }
}

/// The state of a job as subscribers see it; an equal re-read is not published again.
type Seen = (JobStatus, Option<String>, i32, i32, Option<String>);

fn seen_of(e: &JobEvent) -> Seen {
    (
        e.status,
        e.stage.clone(),
        e.done,
        e.total,
        e.message.clone(),
    )
}

/// The cross-process half of an [`EventBus`](super::EventBus) on PostgreSQL.
#[derive(Debug)]
pub(super) struct PgTransport {
    seen: Arc<Mutex<HashMap<Uuid, Seen>>>,
    listening: Arc<AtomicBool>,
    _stop: oneshot::Sender<()>,
}

/// The origin that the trigger writes into the notifications of `db`'s connections: their
/// `application_name`. A pool not opened by [`crate::store::connect`] has none of ours; then
/// a random origin is used, so that no other process's notice is mistaken for this one's
/// (this process then also hears its own, which the state comparison mostly filters).
async fn origin_of(db: &DatabaseConnection) -> String {
    let stmt = Statement::from_string(
        DbBackend::Postgres,
        "SELECT current_setting('application_name') AS name",
    );
    let name = match db.query_one_raw(stmt).await {
        Ok(Some(row)) => row.try_get::<String>("", "name").ok(),
        _ => None,
    };
    match name {
        Some(n) if n.starts_with(crate::store::APPLICATION_NAME_PREFIX) => n,
        other => {
            tracing::warn!(
                application_name = ?other,
                "the database connections were not opened by store::connect: job events of this process come back to it"
            );
            format!("unknown {}", ulid::Ulid::generate())
        }
    }
}

impl PgTransport {
    /// Starts, with [`Hearing::AllProcesses`], the listener; returns once it is listening (or
    /// `connect_timeout` passed: it keeps trying in the background). One attempt to open the
    /// listening connection gives up after `connect_timeout`. Publishing needs nothing
    /// started: the database's trigger sends the notifications.
    pub(super) async fn start(
        db: DatabaseConnection,
        url: String,
        local: broadcast::WeakSender<JobEvent>,
        changes: Arc<watch::Sender<u64>>,
        connect_timeout: Duration,
        hearing: Hearing,
    ) -> Self {
        let seen: Arc<Mutex<HashMap<Uuid, Seen>>> = Arc::default();
        let (stop, stopped) = oneshot::channel();
        if hearing == Hearing::ThisProcess {
            return Self {
                seen,
                // Nothing to hear, so never deaf.
                listening: Arc::new(AtomicBool::new(true)),
                _stop: stop,
            };
        }
        let origin = origin_of(&db).await;
        let listening: Arc<AtomicBool> = Arc::default();
        let (ready_tx, ready_rx) = oneshot::channel();
        let listener = Listener {
            db,
            url,
            origin,
            local,
            changes,
            seen: seen.clone(),
            listening: listening.clone(),
            connect_timeout,
        };
        tokio::spawn(listener.run(stopped, ready_tx));
        if tokio::time::timeout(connect_timeout, ready_rx)
            .await
            .is_err()
        {
            tracing::warn!("not yet listening for job events of other processes; still trying");
        }
        Self {
            seen,
            listening,
            _stop: stop,
        }
    }

    /// True while the listening connection is up and has caught up after its last loss.
    pub(super) fn is_listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    /// Notes `event` as published here: the row change behind it notifies the other
    /// processes (the trigger), and this process will not deliver that state again.
    pub(super) fn publish(&self, event: &JobEvent) {
        remember(&self.seen, event);
    }
}

/// Records `event` as the last state published for its job; false when it was already.
fn remember(seen: &Mutex<HashMap<Uuid, Seen>>, event: &JobEvent) -> bool {
    let mut map = seen.lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() > 100_000 {
        map.clear();
    }
    let state = seen_of(event);
    if map.get(&event.job_id) == Some(&state) {
        return false;
    }
    map.insert(event.job_id, state);
    true
}

/// The event of a job row, as subscribers see it; `None` (logged) for a row whose status is
/// not one of ours.
pub fn event_of(row: &reconstruction_job::Model) -> Option<JobEvent> {
    let Some(status) = JobStatus::parse(&row.status) else {
        tracing::warn!(job = %row.public_id, status = %row.status, "job row with an unknown status");
        return None;
    };
    Some(JobEvent {
        job_id: row.public_id,
        status,
        stage: row.stage.clone(),
        done: row.progress_done,
        total: row.progress_total,
        message: row.error_message.clone(),
    })
}

struct Listener {
    db: DatabaseConnection,
    url: String,
    origin: String,
    local: broadcast::WeakSender<JobEvent>,
    changes: Arc<watch::Sender<u64>>,
    seen: Arc<Mutex<HashMap<Uuid, Seen>>>,
    listening: Arc<AtomicBool>,
    connect_timeout: Duration,
}

impl Listener {
    async fn run(self, mut stopped: oneshot::Receiver<()>, ready: oneshot::Sender<()>) {
        let mut ready = Some(ready);
        let mut lost_at: Option<chrono::DateTime<chrono::Utc>> = None;
        let mut backoff = Duration::from_millis(100);
        loop {
            let connected = tokio::select! {
                _ = &mut stopped => return,
                l = listen(&self.url, self.connect_timeout) => l,
            };
            let mut listener = match connected {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("cannot listen for job events (retrying in {backoff:?}): {e}");
                    tokio::select! {
                        _ = &mut stopped => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            if let Some(since) = lost_at {
                // Notifications arriving meanwhile wait in the listener's buffer.
                tracing::info!(
                    "listening for job events again; re-reading jobs changed since {since}"
                );
                if let Err(e) = self.resync(since).await {
                    tracing::warn!(
                        "cannot re-read jobs after reconnecting (retrying in {backoff:?}): {e}"
                    );
                    drop(listener);
                    tokio::select! {
                        _ = &mut stopped => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                lost_at = None;
            }
            backoff = Duration::from_millis(100);
            self.listening.store(true, Ordering::SeqCst);
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
            loop {
                let next = tokio::select! {
                    _ = &mut stopped => return,
                    n = listener.try_recv() => n,
                };
                match next {
                    Ok(Some(n)) => self.on_notice(n.payload()).await,
                    Ok(None) | Err(_) => {
                        self.listening.store(false, Ordering::SeqCst);
                        let at = chrono::Utc::now()
                            - chrono::Duration::from_std(RESYNC_MARGIN).unwrap_or_default();
                        lost_at = Some(lost_at.map_or(at, |l| l.min(at)));
                        tracing::warn!(
                            "lost the connection listening for job events; reconnecting"
                        );
                        break;
                    }
                }
            }
        }
    }

    /// Publishes `event` to this process's subscribers unless it is what they saw last.
    fn deliver(&self, event: JobEvent) -> bool {
        let Some(tx) = self.local.upgrade() else {
            return false;
        };
        if remember(&self.seen, &event) {
            let _ = tx.send(event);
        }
        true
    }

    async fn on_notice(&self, payload: &str) {
        let Ok(notice) = serde_json::from_str::<Notice>(payload) else {
            tracing::debug!(payload, "ignoring a notification that is not ours");
            return;
        };
        // Our own notice: our subscribers had the event.
        if notice.o == self.origin {
            return;
        }
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        // The event is made only for subscribers of the events themselves.
        let has_subscribers = self
            .local
            .upgrade()
            .is_some_and(|tx| tx.receiver_count() > 0);
        if !has_subscribers {
            return;
        }
        if let Some(e) = notice.event() {
            self.deliver(e);
            return;
        }
        // The state did not fit the payload: the row has it.
        match reconstruction_job::Entity::find()
            .filter(reconstruction_job::Column::PublicId.eq(notice.j))
            .one(&self.db)
            .await
        {
            Ok(Some(row)) => {
                if let Some(e) = event_of(&row) {
                    self.deliver(e);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(job = %notice.j, "cannot read a changed job: {e}"),
        }
    }

    async fn resync(&self, since: chrono::DateTime<chrono::Utc>) -> Result<(), sea_orm::DbErr> {
        let rows = reconstruction_job::Entity::find()
            .filter(reconstruction_job::Column::UpdatedAt.gte(since))
            .all(&self.db)
            .await?;
        for e in rows.iter().filter_map(event_of) {
            self.deliver(e);
        }
        // Whatever changed while deaf, those following only the counter hear of it too.
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }
}

/// Opens the listening connection; gives up after `within`.
///
/// The one-connection pool is built here rather than by `PgListener::connect`, whose pool
/// waits up to 30 s for a connection, retrying a refused connect with a backoff that grows to
/// 6 s: after a PostgreSQL restart the listener then stayed deaf for up to 6 s after the
/// database was back (10 s after the loss in the `pg_outage` test), while the pools of the
/// API and the workers had recovered, and every progress step of a job run in that time was
/// lost. With `within` as the acquire timeout the retries inside one attempt are at most
/// `within / 5` apart, and between attempts at most [`MAX_BACKOFF`].
async fn listen(url: &str, within: Duration) -> Result<PgListener, sea_orm::sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(within)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy(url)?;
    let mut l = PgListener::connect_with(&pool).await?;
    l.eager_reconnect(false);
    l.listen(CHANNEL).await?;
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_carries_the_state_when_it_fits_and_else_only_ids() {
        let j = Uuid::new_v4();
        let full: Notice = serde_json::from_str(&format!(
            r#"{{"o":"stix-archive 01J","j":"{j}","s":"FAILED","g":"imaging","d":2,"t":5,"m":"bad file"}}"#
        ))
        .unwrap();
        assert_eq!(
            full.event(),
            Some(JobEvent {
                job_id: j,
                status: JobStatus::Failed,
                stage: Some("imaging".into()),
                done: 2,
                total: 5,
                message: Some("bad file".into()),
            })
        );
        // Nulls, as json_build_object writes them for a job without stage or message.
        let nulls: Notice = serde_json::from_str(&format!(
            r#"{{"o":"x","j":"{j}","s":"QUEUED","g":null,"d":0,"t":0,"m":null}}"#
        ))
        .unwrap();
        let e = nulls.event().unwrap();
        assert_eq!(
            (e.status, e.stage, e.message),
            (JobStatus::Queued, None, None)
        );
        // Too big for a payload: ids only, the row must be read.
        let ids: Notice = serde_json::from_str(&format!(r#"{{"o":"x","j":"{j}"}}"#)).unwrap();
        assert_eq!(ids.event(), None);
        // A status that is not ours is not turned into an event.
        let odd: Notice =
            serde_json::from_str(&format!(r#"{{"o":"x","j":"{j}","s":"PAUSED"}}"#)).unwrap();
        assert_eq!(odd.event(), None);
    }

    #[test]
    fn equal_states_are_delivered_once() {
        let seen = Mutex::new(HashMap::new());
        let e = JobEvent {
            job_id: Uuid::new_v4(),
            status: JobStatus::Running,
            stage: Some("imaging".into()),
            done: 1,
            total: 4,
            message: None,
        };
        assert!(remember(&seen, &e));
        assert!(!remember(&seen, &e));
        let later = JobEvent {
            done: 2,
            ..e.clone()
        };
        assert!(remember(&seen, &later));
    }
}
