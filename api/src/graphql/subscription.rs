//! The subscription root (`/ws`, graphql-transport-ws): a job's status as it changes.

use super::AppState;
use super::accounts::authn;
use super::reconstruction::visible_job;
use super::types::JobStatusEvent;
use async_graphql::{Context, ID, Subscription};
use futures::Stream;
use jobs::events::JobEvent;
use jobs::kinds::JobStatus;
use jobs::store::entities::reconstruction_job;
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

/// The subscription root.
#[derive(Default)]
pub struct SubscriptionRoot;

/// The event that describes a job row as it is now.
fn event_of(row: &reconstruction_job::Model) -> JobEvent {
    JobEvent {
        job_id: row.public_id,
        status: JobStatus::parse(&row.status).unwrap_or(JobStatus::Failed),
        stage: row.stage.clone(),
        done: row.progress_done,
        total: row.progress_total,
        message: row.error_message.clone(),
    }
}

struct Follow {
    first: Option<JobEvent>,
    rx: Receiver<JobEvent>,
    db: DatabaseConnection,
    row_id: i64,
    public_id: uuid::Uuid,
    finished: bool,
}

impl Follow {
    async fn next(mut self) -> Option<(JobStatusEvent, Self)> {
        if self.finished {
            return None;
        }
        let ev = match self.first.take() {
            Some(ev) => ev,
            None => loop {
                match self.rx.recv().await {
                    Ok(ev) if ev.job_id == self.public_id => break ev,
                    Ok(_) => {}
                    // Missed events: the row is the truth.
                    Err(RecvError::Lagged(_)) => {
                        match reconstruction_job::Entity::find_by_id(self.row_id)
                            .one(&self.db)
                            .await
                        {
                            Ok(Some(row)) => break event_of(&row),
                            _ => return None,
                        }
                    }
                    Err(RecvError::Closed) => return None,
                }
            },
        };
        self.finished = ev.status.is_final();
        Some((JobStatusEvent::from(ev), self))
    }
}

#[Subscription]
impl SubscriptionRoot {
    /// A job's status: first its current state, then every change; the stream completes
    /// after a final status. Needs a token (`connection_init` payload); only the owner or an
    /// admin may follow a job, anyone else gets `NOT_FOUND`.
    async fn job_status(
        &self,
        ctx: &Context<'_>,
        job_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = JobStatusEvent> + use<>> {
        let st = ctx.data::<AppState>()?;
        let caller = authn(ctx).caller()?;
        // Subscribe before reading the row, so no change falls between the two.
        let rx = st.events.subscribe();
        let row = visible_job(&st.db, caller, &job_id).await?;
        let follow = Follow {
            first: Some(event_of(&row)),
            rx,
            db: st.db.clone(),
            row_id: row.id,
            public_id: row.public_id,
            finished: false,
        };
        Ok(futures::stream::unfold(follow, Follow::next))
    }
}
