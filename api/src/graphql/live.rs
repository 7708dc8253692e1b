//! `newImages(filter)`: images as they appear, with the same filter as `images`.
//!
//! Images are committed by workers, which announce their progress on the job-event bus
//! after every box; each event (and, for workers in other processes, a periodic tick) makes
//! the subscription read the matching rows it has not sent yet, in row order.

use super::AppState;
use super::error::ApiError;
use super::query::{ImageFilter, image_query};
use super::types::Image;
use async_graphql::{Context, Subscription};
use futures::Stream;
use jobs::store::entities::image;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often a subscription looks for images written by other processes.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// The subscription fields of this module.
#[derive(Default)]
pub struct LiveSubscription;

struct Follow {
    db: DatabaseConnection,
    select: Select<image::Entity>,
    last_id: i64,
    events: broadcast::Receiver<jobs::events::JobEvent>,
    tick: tokio::time::Interval,
    ready: VecDeque<Image>,
}

impl Follow {
    async fn next(mut self) -> Option<(Image, Self)> {
        loop {
            if let Some(img) = self.ready.pop_front() {
                return Some((img, self));
            }
            tokio::select! {
                r = self.events.recv() => {
                    if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                        return None;
                    }
                }
                _ = self.tick.tick() => {}
            }
            let rows = self
                .select
                .clone()
                .filter(image::Column::Id.gt(self.last_id))
                .order_by_asc(image::Column::Id)
                .limit(100)
                .all(&self.db)
                .await;
            match rows {
                Ok(rows) => {
                    for r in rows {
                        self.last_id = r.id;
                        self.ready.push_back(Image::from(r));
                    }
                }
                Err(e) => tracing::warn!("newImages: reading new images failed: {e}"),
            }
        }
    }
}

#[Subscription]
impl LiveSubscription {
    /// Images committed from now on that match `filter` (the filter of `images`).
    async fn new_images(
        &self,
        ctx: &Context<'_>,
        filter: Option<ImageFilter>,
    ) -> async_graphql::Result<impl Stream<Item = Image> + use<>> {
        let st = ctx.data::<AppState>()?;
        let select = image_query(&filter.unwrap_or_default())?;
        let events = st.events.subscribe();
        let last_id: Option<i64> = image::Entity::find()
            .select_only()
            .column_as(image::Column::Id.max(), "m")
            .into_tuple::<Option<i64>>()
            .one(&st.db)
            .await
            .map_err(ApiError::from)?
            .flatten();
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let follow = Follow {
            db: st.db.clone(),
            select,
            last_id: last_id.unwrap_or(0),
            events,
            tick,
            ready: VecDeque::new(),
        };
        Ok(futures::stream::unfold(follow, Follow::next))
    }
}
