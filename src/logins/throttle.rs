//! Failed logins counted over a sliding window, per key (a user, or a client
//! address). A key with `max` failures inside the window is throttled until
//! the oldest of them leaves it.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::bounded::make_room;

pub struct Throttle<K> {
    max: usize,
    window: Duration,
    max_entries: usize,
    /// The times of each key's recent failures, oldest first, at most `max`.
    failures: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// `max` of 0 throttles nothing and keeps nothing.
    pub fn new(max: usize, window: Duration, max_entries: usize) -> Self {
        Throttle { max, window, max_entries, failures: Mutex::new(HashMap::new()) }
    }

    pub fn is_on(&self) -> bool {
        self.max > 0
    }

    pub fn is_throttled(&self, key: &K) -> bool {
        if self.max == 0 {
            return false;
        }
        let failures = self.lock();
        failures.get(key).is_some_and(|times| {
            times.len() >= self.max && times.front().is_some_and(|oldest| oldest.elapsed() < self.window)
        })
    }

    pub fn record_failure(&self, key: &K) {
        if self.max == 0 {
            return;
        }
        let mut failures = self.lock();
        if !failures.contains_key(key) {
            let window = self.window;
            make_room(&mut failures, self.max_entries, |times| {
                times.back().is_none_or(|latest| latest.elapsed() >= window)
            });
        }
        let times = failures.entry(key.clone()).or_default();
        if times.len() >= self.max {
            times.pop_front();
        }
        times.push_back(Instant::now());
    }

    /// A successful login starts the count again.
    pub fn clear(&self, key: &K) {
        if self.max > 0 {
            self.lock().remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, VecDeque<Instant>>> {
        // The map holds no invariant a panic elsewhere could break.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_at_the_limit_until_the_oldest_failure_leaves_the_window() {
        let throttle = Throttle::new(2, Duration::from_millis(200), 10);
        throttle.record_failure(&"romeo");
        assert!(!throttle.is_throttled(&"romeo"));
        std::thread::sleep(Duration::from_millis(100));
        throttle.record_failure(&"romeo");
        assert!(throttle.is_throttled(&"romeo"));
        assert!(!throttle.is_throttled(&"juliet"));
        // The first failure leaves the window; the second is still in it.
        std::thread::sleep(Duration::from_millis(120));
        assert!(!throttle.is_throttled(&"romeo"));
        throttle.record_failure(&"romeo");
        assert!(throttle.is_throttled(&"romeo"));
    }

    #[test]
    fn a_success_clears_and_zero_turns_it_off() {
        let throttle = Throttle::new(1, Duration::from_secs(60), 10);
        throttle.record_failure(&"romeo");
        assert!(throttle.is_throttled(&"romeo"));
        throttle.clear(&"romeo");
        assert!(!throttle.is_throttled(&"romeo"));

        let off = Throttle::new(0, Duration::from_secs(60), 10);
        off.record_failure(&"romeo");
        assert!(!off.is_throttled(&"romeo"));
        assert!(off.lock().is_empty());
    }

    #[test]
    fn stays_within_its_bound() {
        let throttle = Throttle::new(1, Duration::from_secs(60), 100);
        for user in 0..1000 {
            throttle.record_failure(&user);
        }
        assert!(throttle.lock().len() <= 100);
        // The newest is kept: a flood of other names does not free it.
        assert!(throttle.is_throttled(&999));
    }
}
