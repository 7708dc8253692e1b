//! The response cache of anonymous GraphQL queries: the archive is read far more often than it
//! changes, and most readers are anonymous frontends asking the same pages (`images(first:
//! 50)`, `flares(first: 50)`). An answer is kept, keyed by the exact request body, together
//! with the archive *epoch* read before it was computed; it is served while the epoch is
//! unchanged.
//!
//! The epoch moves on
//! - every committed change of the archive tables, from any process: the `archive_generation`
//!   counter (kept by triggers, see the migration `m20261130_000001`) is polled every
//!   `graphql.response_cache_check_ms`;
//! - at once, in this process, after every mutation and on every job event (a preview or a
//!   reconstruction finishing writes images).
//!
//! So an answer is never older than the check interval for writes made elsewhere, and never
//! stale for writes made through this process. Only anonymous queries without errors are kept:
//! a signed-in caller's answer depends on who asks, a mutation or subscription is not a read.
//! Entries are bounded by their size in bytes (`graphql.response_cache_mb`; 0 turns the cache
//! off), evicted by `quick_cache`'s CLOCK-Pro policy.

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One kept answer.
#[derive(Clone)]
pub struct CachedAnswer {
    /// The epoch read before the answer was computed.
    epoch: u64,
    /// The JSON body.
    pub body: Bytes,
    /// The operation name, for the request metrics.
    pub operation: Arc<str>,
}

#[derive(Clone)]
struct BodyBytes;

impl Weighter<Bytes, CachedAnswer> for BodyBytes {
    fn weight(&self, key: &Bytes, val: &CachedAnswer) -> u64 {
        (key.len() + val.body.len() + 64) as u64
    }
}

/// The cache of anonymous answers; cheap to clone (shared).
#[derive(Clone)]
pub struct ResponseCache {
    inner: Arc<Inner>,
}

struct Inner {
    entries: Option<Cache<Bytes, CachedAnswer, BodyBytes>>,
    epoch: AtomicU64,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("enabled", &self.inner.entries.is_some())
            .field("epoch", &self.epoch())
            .finish()
    }
}

impl Default for ResponseCache {
    /// Off.
    fn default() -> Self {
        Self::new(0)
    }
}

impl ResponseCache {
    /// A cache holding up to `capacity_mb` megabytes of answers (0: off).
    pub fn new(capacity_mb: u64) -> Self {
        let bytes = capacity_mb.saturating_mul(1 << 20);
        let entries = (bytes > 0).then(|| {
            // quick_cache sizes its tables from an item estimate: answers of a few kB.
            let estimated_items = (bytes / 8192).clamp(16, 1 << 20) as usize;
            Cache::with_weighter(estimated_items, bytes, BodyBytes)
        });
        Self {
            inner: Arc::new(Inner {
                entries,
                epoch: AtomicU64::new(0),
            }),
        }
    }

    /// True when answers are kept.
    pub fn is_enabled(&self) -> bool {
        self.inner.entries.is_some()
    }

    /// The current epoch; read it *before* computing an answer to [`Self::put`].
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Every kept answer is stale from now on.
    pub fn invalidate(&self) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The kept answer to `request_body`, if it is of the current epoch.
    pub fn get(&self, request_body: &Bytes) -> Option<CachedAnswer> {
        let entries = self.inner.entries.as_ref()?;
        let hit = entries.get(request_body)?;
        if hit.epoch == self.epoch() {
            Some(hit)
        } else {
            entries.remove(request_body);
            None
        }
    }

    /// Keeps `body` as the answer to `request_body`, computed at `epoch`. An answer computed
    /// across a change (its epoch already old) is not kept.
    pub fn put(&self, request_body: Bytes, epoch: u64, body: Bytes, operation: Arc<str>) {
        let Some(entries) = &self.inner.entries else {
            return;
        };
        if epoch == self.epoch() {
            entries.insert(
                request_body,
                CachedAnswer {
                    epoch,
                    body,
                    operation,
                },
            );
        }
    }

    /// Follows the archive: polls the `archive_generation` counter every `check` and
    /// invalidates on a change, and invalidates on every event of `events`. Runs until `stop`
    /// resolves or the bus closes; a failed poll (database down) invalidates, since writes may
    /// be missed.
    pub async fn follow(
        self,
        db: DatabaseConnection,
        events: jobs::events::EventBus,
        check: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        if !self.is_enabled() {
            return;
        }
        tokio::pin!(stop);
        let mut rx = events.changes();
        let mut tick = tokio::time::interval(check.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen: Option<i64> = None;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                r = rx.changed() => match r {
                    Ok(()) => self.invalidate(),
                    Err(_) => return,
                },
                _ = tick.tick() => {
                    let now = archive_generation(&db).await;
                    if now.is_none() || now != seen {
                        self.invalidate();
                    }
                    seen = now;
                }
            }
        }
    }
}

/// The `archive_generation` counter, `None` when it cannot be read.
pub async fn archive_generation(db: &DatabaseConnection) -> Option<i64> {
    let stmt = Statement::from_string(
        db.get_database_backend(),
        "SELECT generation FROM archive_generation WHERE id = 1",
    );
    let row = db.query_one_raw(stmt).await.ok()??;
    row.try_get::<i64>("", "generation").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::from(s.to_string())
    }

    #[test]
    fn an_answer_lives_until_the_epoch_moves() {
        let cache = ResponseCache::new(1);
        let epoch = cache.epoch();
        cache.put(b("{q}"), epoch, b("{a}"), "op".into());
        assert_eq!(cache.get(&b("{q}")).unwrap().body, b("{a}"));
        assert!(cache.get(&b("{other}")).is_none());
        cache.invalidate();
        assert!(cache.get(&b("{q}")).is_none(), "stale after a change");
    }

    #[test]
    fn an_answer_computed_across_a_change_is_not_kept() {
        let cache = ResponseCache::new(1);
        let before = cache.epoch();
        cache.invalidate();
        cache.put(b("{q}"), before, b("{old}"), "op".into());
        assert!(cache.get(&b("{q}")).is_none());
    }

    #[test]
    fn size_bounds_the_cache_and_zero_turns_it_off() {
        let off = ResponseCache::new(0);
        assert!(!off.is_enabled());
        off.put(b("{q}"), off.epoch(), b("{a}"), "op".into());
        assert!(off.get(&b("{q}")).is_none());
        let small = ResponseCache::new(4);
        let big = Bytes::from(vec![b'x'; 100 * 1024]);
        for i in 0..100 {
            small.put(
                b(&format!("{{q{i}}}")),
                small.epoch(),
                big.clone(),
                "op".into(),
            );
        }
        let kept = (0..100)
            .filter(|i| small.get(&b(&format!("{{q{i}}}"))).is_some())
            .count();
        assert!(
            (1..=40).contains(&kept),
            "4 MB hold at most 40 answers of 100 kB: {kept}"
        );
    }
}
