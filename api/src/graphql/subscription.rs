//! The subscription root (`/ws`, graphql-transport-ws): job status as it changes.

use super::AppState;
use super::error::ApiError;
use super::types::JobStatusEvent;
use async_graphql::{Context, ID, Subscription};
use futures::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

/// The subscription root.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Every status or progress change of one job, from now on.
    async fn job_status(
        &self,
        ctx: &Context<'_>,
        job_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = JobStatusEvent>> {
        let st = ctx.data::<AppState>()?;
        let wanted = uuid::Uuid::parse_str(&job_id).map_err(|_| {
            ApiError::BadUserInput(format!("'{}' is not a job id", job_id.as_str()))
        })?;
        let rx = st.events.subscribe();
        Ok(BroadcastStream::new(rx)
            .filter_map(|r| r.ok())
            .filter(move |e| e.job_id == wanted)
            .map(JobStatusEvent::from))
    }
}
