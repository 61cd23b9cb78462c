//! Failed logins counted per key (a user, or a client address), the way
//! directories count them towards a lockout: the count grows with each
//! failure and starts again once `window` passes without one, as Active
//! Directory's "reset account lockout counter after" does. A key whose
//! count has reached `max` is throttled until then.
//!
//! A sliding window (at most `max` failures in any `window`) would not do:
//! one failure every `window / max` never fills it, yet never leaves the
//! directory a quiet `window` in which to forget, and its counter climbs to
//! the lockout. The limits are passed in with each call, not kept, so that
//! a reload applies new ones to the counts made so far.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::bounded::make_room;

/// The failures counted for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: usize,
    pub last: Instant,
    /// The same moment on the wall clock, taken once, for the administrator.
    pub last_seen: SystemTime,
}

impl Failures {
    /// Whether `window` has passed since the last failure, so that the count starts again.
    fn expired(&self, window: Duration, now: Instant) -> bool {
        now.saturating_duration_since(self.last) >= window
    }
}

pub struct Throttle<K> {
    failures: Mutex<HashMap<K, Failures>>,
}

impl<K: Hash + Eq + Clone> Default for Throttle<K> {
    fn default() -> Self {
        Throttle { failures: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// The failures counted for `key` that `window` has not yet forgotten.
    pub fn failures(&self, key: &K, window: Duration, now: Instant) -> Option<Failures> {
        self.lock().get(key).copied().filter(|failures| !failures.expired(window, now))
    }

    /// Whether `key` has `max` failures or more; `max` of 0 throttles nothing.
    pub fn is_throttled(&self, key: &K, max: usize, window: Duration, now: Instant) -> bool {
        max > 0 && self.failures(key, window, now).is_some_and(|failures| failures.count >= max)
    }

    /// Counts a failure of `key`, keeping at most `max_entries` keys.
    pub fn record_failure(&self, key: &K, window: Duration, max_entries: usize, now: Instant) {
        let mut failures = self.lock();
        if !failures.contains_key(key) {
            make_room(&mut failures, max_entries, |entry| entry.expired(window, now));
        }
        let last_seen = SystemTime::now();
        let entry = failures.entry(key.clone()).or_insert(Failures { count: 0, last: now, last_seen });
        if entry.expired(window, now) {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        (entry.last, entry.last_seen) = (now, last_seen);
    }

    /// A successful login, or an administrator, starts the count again.
    pub fn clear(&self, key: &K) {
        self.lock().remove(key);
    }

    pub fn clear_all(&self) {
        self.lock().clear();
    }

    /// The keys that `matches` picks, whatever their age.
    pub fn keys(&self, matches: impl Fn(&K) -> bool) -> Vec<K> {
        self.lock().keys().filter(|key| matches(key)).cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Failures>> {
        // The map holds no invariant a panic elsewhere could break.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    #[test]
    fn throttles_at_the_limit_until_the_window_passes_without_a_failure() {
        let throttle = Throttle::default();
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        throttle.record_failure(&"romeo", WINDOW, 10, at(0));
        assert!(!throttle.is_throttled(&"romeo", 2, WINDOW, at(0)));
        // Spread out, but never a quiet window: the count goes on, as the directory's does.
        throttle.record_failure(&"romeo", WINDOW, 10, at(50));
        assert!(throttle.is_throttled(&"romeo", 2, WINDOW, at(50)));
        assert!(!throttle.is_throttled(&"juliet", 2, WINDOW, at(50)));
        assert!(throttle.is_throttled(&"romeo", 2, WINDOW, at(109)));
        assert!(!throttle.is_throttled(&"romeo", 2, WINDOW, at(110)));
        assert_eq!(throttle.failures(&"romeo", WINDOW, at(110)), None);
        // After the quiet window, the count starts again.
        throttle.record_failure(&"romeo", WINDOW, 10, at(111));
        assert_eq!(throttle.failures(&"romeo", WINDOW, at(111)).map(|f| f.count), Some(1));
    }

    #[test]
    fn a_limit_of_zero_throttles_nothing_but_still_counts() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for _ in 0..5 {
            throttle.record_failure(&"romeo", WINDOW, 10, now);
        }
        assert!(!throttle.is_throttled(&"romeo", 0, WINDOW, now));
        assert_eq!(throttle.failures(&"romeo", WINDOW, now).map(|f| f.count), Some(5));
        throttle.clear(&"romeo");
        assert_eq!(throttle.failures(&"romeo", WINDOW, now), None);
    }

    #[test]
    fn stays_within_its_bound() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for user in 0..1000 {
            throttle.record_failure(&user, WINDOW, 100, now);
        }
        assert!(throttle.lock().len() <= 100);
        // The newest is kept: a flood of other names does not free it.
        assert!(throttle.is_throttled(&999, 1, WINDOW, now));
    }
}
