//! `newImages(filter)`: images as they appear, with the same filter as `images`.
//!
//! Images are committed by workers, which announce their progress on the job-event bus
//! after every box (on PostgreSQL the bus carries it from worker processes to this one);
//! each event, and a periodic tick in case one is lost, makes the subscription read the
//! matching rows it has not sent yet. Rows are read in id order, but on PostgreSQL two
//! workers' inserts can commit out of id order, so a read looks again at recent ids
//! ([`Handled`]): an image committed late is sent late, never skipped.

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
use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// How often a subscription looks for new images without being woken by an event.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// How long after a read saw an image id, lower ids still being committed are looked for:
/// an insert whose statement takes less than this (minus [`POLL_EVERY`]) is never skipped.
pub const SETTLE: Duration = Duration::from_secs(30);

/// Rows read per query.
const PAGE: u64 = 100;

/// Which image rows a subscription has handled: every id up to `floor`, and the ids above it
/// in `sent`. `floor` passes an id only [`SETTLE`] after a read saw a higher one (an id is
/// taken from the sequence before the row commits, so a row with a lower id still invisible
/// then took its id earlier and commits within its statement's time).
#[derive(Debug)]
struct Handled {
    floor: i64,
    sent: BTreeSet<i64>,
    /// (when, highest id handled then) of each read, oldest first.
    reads: VecDeque<(Instant, i64)>,
}

impl Handled {
    /// Nothing above `floor` handled yet.
    fn new(floor: i64) -> Self {
        Self {
            floor,
            sent: BTreeSet::new(),
            reads: VecDeque::new(),
        }
    }

    /// True (and recorded) when row `id` is to be sent: not handled before.
    fn take(&mut self, id: i64) -> bool {
        id > self.floor && self.sent.insert(id)
    }

    /// Records a read that ended at `now`, and forgets what no longer needs remembering.
    fn read_at(&mut self, now: Instant) {
        let top = self.sent.last().copied().unwrap_or(self.floor);
        self.reads.push_back((now, top));
        while let Some(&(at, top)) = self.reads.front() {
            if now.duration_since(at) < SETTLE {
                break;
            }
            self.floor = self.floor.max(top);
            self.reads.pop_front();
        }
        self.sent = self.sent.split_off(&(self.floor + 1));
    }
}

/// The subscription fields of this module.
#[derive(Default)]
pub struct LiveSubscription;

struct Follow {
    db: DatabaseConnection,
    select: Select<image::Entity>,
    handled: Handled,
    events: tokio::sync::watch::Receiver<u64>,
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
                r = self.events.changed() => {
                    if r.is_err() {
                        return None;
                    }
                }
                _ = self.tick.tick() => {}
            }
            if let Err(e) = self.read().await {
                tracing::warn!("newImages: reading new images failed: {e}");
            }
        }
    }

    /// Queues the matching rows not handled yet, in id order.
    async fn read(&mut self) -> Result<(), sea_orm::DbErr> {
        let mut after = self.handled.floor;
        loop {
            let rows = self
                .select
                .clone()
                .filter(image::Column::Id.gt(after))
                .order_by_asc(image::Column::Id)
                .limit(PAGE)
                .all(&self.db)
                .await?;
            let full = rows.len() as u64 == PAGE;
            for r in rows {
                after = r.id;
                if self.handled.take(r.id) {
                    self.ready.push_back(Image::from(r));
                }
            }
            if !full {
                break;
            }
        }
        self.handled.read_at(Instant::now());
        Ok(())
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
        let scope = super::accounts::authn(ctx).image_scope();
        let select = image_query(&filter.unwrap_or_default(), scope)?;
        let events = st.events.changes();
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
            handled: Handled::new(last_id.unwrap_or(0)),
            events,
            tick,
            ready: VecDeque::new(),
        };
        Ok(futures::stream::unfold(follow, Follow::next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_committed_after_a_higher_id_is_sent_once() {
        let t0 = Instant::now();
        let mut h = Handled::new(10);
        assert!(!h.take(9), "committed before the subscription");
        // A read sees 12 while 11 is still being committed.
        assert!(h.take(12));
        h.read_at(t0);
        // The next reads see 11 (late) and 12 (again).
        assert!(h.take(11));
        assert!(!h.take(12));
        h.read_at(t0 + POLL_EVERY);
        assert!(!h.take(11));
        assert_eq!(h.floor, 10, "nothing is forgotten before SETTLE");
        // Long after, the floor has passed them and only their ids are forgotten.
        h.read_at(t0 + SETTLE + POLL_EVERY);
        assert_eq!(h.floor, 12);
        assert!(h.sent.is_empty());
        assert!(!h.take(12));
        assert!(h.take(13));
    }
}
