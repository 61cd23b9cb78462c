//! Recent `user_exists` answers. Prosody asks on the message path (twice
//! per message to an offline user), and a failure there bounces the message
//! to its sender; so answers are kept for a while, and a user known to
//! exist is still answered `true` while the directory cannot be reached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::Cache as Settings;

pub struct UserExistsCache {
    settings: Settings,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    answers: HashMap<(String, String), Entry>,
    /// Set when the map was found full with nothing expired: nothing in it
    /// expires before this, so until then a new answer is not kept without
    /// looking again. A flood of new names would otherwise cost a scan of
    /// the whole map for each.
    full_until: Option<Instant>,
}

#[derive(Clone, Copy)]
struct Entry {
    exists: bool,
    stored: Instant,
}

/// What the cache knows of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cached {
    /// A recent answer: use it without asking the directory.
    Fresh(bool),
    /// Nothing recent: ask the directory.
    Miss,
}

impl UserExistsCache {
    pub fn new(settings: &Settings) -> Self {
        UserExistsCache { settings: settings.clone(), entries: Mutex::new(Entries::default()) }
    }

    pub fn get(&self, server: &str, user: &str) -> Cached {
        let entries = self.lock();
        match entries.answers.get(&key(server, user)) {
            Some(entry) if entry.stored.elapsed() < self.ttl(entry.exists) => Cached::Fresh(entry.exists),
            _ => Cached::Miss,
        }
    }

    /// Whether `user` was known to exist within `cache.stale_if_error`: the
    /// answer to give while the directory cannot be reached.
    pub fn known_to_exist(&self, server: &str, user: &str) -> bool {
        let entries = self.lock();
        entries
            .answers
            .get(&key(server, user))
            .is_some_and(|entry| entry.exists && entry.stored.elapsed() < self.settings.stale_if_error)
    }

    pub fn put(&self, server: &str, user: &str, exists: bool) {
        // Kept only if it can serve: fresh for a while, or stale in an outage.
        let serves_fresh = !self.ttl(exists).is_zero();
        let serves_stale = exists && !self.settings.stale_if_error.is_zero();
        if !serves_fresh && !serves_stale {
            return;
        }
        let mut entries = self.lock();
        if entries.answers.len() >= self.settings.max_entries {
            // Make room from what no longer serves any purpose; when nothing
            // has expired, the new answer is simply not kept.
            if entries.full_until.is_some_and(|until| Instant::now() < until) {
                return;
            }
            let keep_for = self.settings.user_exists_ttl.max(self.settings.stale_if_error);
            entries.answers.retain(|_, entry| entry.stored.elapsed() < keep_for);
            if entries.answers.len() >= self.settings.max_entries {
                let oldest = entries.answers.values().map(|entry| entry.stored).min();
                entries.full_until = oldest.map(|stored| stored + keep_for);
                return;
            }
        }
        entries.answers.insert(key(server, user), Entry { exists, stored: Instant::now() });
    }

    /// Forgets `user`: after a write, the next question goes to the directory.
    pub fn forget(&self, server: &str, user: &str) {
        self.lock().answers.remove(&key(server, user));
    }

    fn ttl(&self, exists: bool) -> Duration {
        if exists { self.settings.user_exists_ttl } else { self.settings.user_exists_negative_ttl }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map holds no invariant a panic elsewhere could break.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(server: &str, user: &str) -> (String, String) {
    (server.to_owned(), user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(ttl: u64, negative: u64, stale: u64, max: usize) -> UserExistsCache {
        UserExistsCache::new(&Settings {
            user_exists_ttl: Duration::from_millis(ttl),
            user_exists_negative_ttl: Duration::from_millis(negative),
            stale_if_error: Duration::from_millis(stale),
            max_entries: max,
        })
    }

    #[test]
    fn answers_expire_negatives_first() {
        let cache = cache(200, 50, 1000, 10);
        cache.put("x", "romeo", true);
        cache.put("x", "nobody", false);
        assert_eq!(cache.get("x", "romeo"), Cached::Fresh(true));
        assert_eq!(cache.get("x", "nobody"), Cached::Fresh(false));
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(cache.get("x", "romeo"), Cached::Fresh(true));
        assert_eq!(cache.get("x", "nobody"), Cached::Miss);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(cache.get("x", "romeo"), Cached::Miss);
        assert!(cache.known_to_exist("x", "romeo"));
        assert!(!cache.known_to_exist("x", "nobody"));
    }

    #[test]
    fn hosts_and_users_are_apart_and_forgotten_on_request() {
        let cache = cache(1000, 1000, 1000, 10);
        cache.put("a.example", "romeo", true);
        assert_eq!(cache.get("b.example", "romeo"), Cached::Miss);
        cache.forget("a.example", "romeo");
        assert_eq!(cache.get("a.example", "romeo"), Cached::Miss);
        assert!(!cache.known_to_exist("a.example", "romeo"));
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let cache = cache(1000, 1000, 1000, 3);
        for user in ["a", "b", "c", "d", "e"] {
            cache.put("x", user, true);
        }
        assert_eq!(cache.lock().answers.len(), 3);
        assert_eq!(cache.get("x", "e"), Cached::Miss);
    }

    #[test]
    fn a_full_cache_keeps_new_answers_once_old_ones_expire() {
        let cache = cache(100, 100, 0, 2);
        cache.put("x", "a", true);
        cache.put("x", "b", true);
        cache.put("x", "c", true);
        assert_eq!(cache.get("x", "c"), Cached::Miss, "full, and nothing expired");
        std::thread::sleep(Duration::from_millis(120));
        cache.put("x", "d", true);
        assert_eq!(cache.get("x", "d"), Cached::Fresh(true));
    }

    #[test]
    fn a_zero_ttl_keeps_nothing_fresh() {
        let cache = cache(0, 0, 0, 10);
        cache.put("x", "romeo", true);
        assert_eq!(cache.get("x", "romeo"), Cached::Miss);
        assert!(!cache.known_to_exist("x", "romeo"));
    }
}
