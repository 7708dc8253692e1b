//! The login rate limit: at most N attempts a minute per account and per client address
//! (`auth.login_attempts_per_minute`), in a sliding window kept in memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Sliding-window counters of login attempts.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    per_minute: usize,
    seen: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl LoginLimiter {
    /// At most `per_minute` attempts a minute per key.
    pub fn new(per_minute: usize) -> Self {
        Self {
            per_minute,
            seen: Arc::default(),
        }
    }

    /// Records an attempt for every key; false (and nothing recorded) when one of them has
    /// used up its attempts of the last minute.
    pub fn allow(&self, keys: &[String]) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        for k in keys {
            let q = seen.entry(k.clone()).or_default();
            while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                q.pop_front();
            }
            if q.len() >= self.per_minute {
                return false;
            }
        }
        for k in keys {
            seen.entry(k.clone()).or_default().push_back(now);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_key() {
        let l = LoginLimiter::new(3);
        let k = |a: &str, b: &str| vec![format!("user:{a}"), format!("addr:{b}")];
        for _ in 0..3 {
            assert!(l.allow(&k("ann", "1.1.1.1")));
        }
        assert!(!l.allow(&k("ann", "2.2.2.2")), "per account");
        assert!(!l.allow(&k("bob", "1.1.1.1")), "per address");
        assert!(l.allow(&k("bob", "2.2.2.2")));
    }
}
