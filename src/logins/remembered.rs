//! Passwords recently seen for a user, kept only as keyed hashes: a digest
//! that the process's own random key went into, so that nothing kept in
//! memory could be checked against a guess without that key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::hmac;
use subtle::ConstantTimeEq;

use super::bounded::make_room;

/// The keyed hash of one (server, user, password).
#[derive(Clone)]
pub struct Digest(hmac::Tag);

impl Digest {
    pub fn of(key: &hmac::Key, server: &str, user: &str, password: &str) -> Digest {
        let mut context = hmac::Context::with_key(key);
        // Lengths first, so that no two triples give the same input.
        for part in [server, user, password] {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        Digest(context.sign())
    }

    fn matches(&self, other: &Digest) -> bool {
        self.0.as_ref().ct_eq(other.0.as_ref()).into()
    }
}

/// A user is identified by (server, user).
pub type UserKey = (String, String);

/// How long a password is remembered, and from when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// For the time to live after it was remembered: a password that
    /// succeeded is asked of the directory again at the latest by then.
    AfterStored,
    /// For the time to live after it was last tried: a client retrying a
    /// stale password more often than that never reaches the directory
    /// again, however long it goes on.
    AfterLastTry,
}

/// The passwords of each user, with the time each was stored or last tried.
pub struct RememberedPasswords {
    per_user: usize,
    expiry: Expiry,
    entries: Mutex<HashMap<UserKey, Vec<(Digest, Instant)>>>,
}

impl RememberedPasswords {
    /// Keeps up to `per_user` passwords per user. The time to live is passed
    /// with each call, so that a reload applies a new one to what is kept;
    /// a time to live of 0 keeps nothing.
    pub fn new(per_user: usize, expiry: Expiry) -> Self {
        RememberedPasswords { per_user, expiry, entries: Mutex::new(HashMap::new()) }
    }

    /// Whether `digest` is remembered for `user`; with [`Expiry::AfterLastTry`]
    /// this counts as a try.
    pub fn contains(&self, user: &UserKey, digest: &Digest, ttl: Duration, now: Instant) -> bool {
        if ttl.is_zero() {
            return false;
        }
        let mut entries = self.lock();
        let Some(seen) = entries.get_mut(user) else { return false };
        let Some((_, stored)) =
            seen.iter_mut().find(|(known, stored)| alive(*stored, ttl, now) && known.matches(digest))
        else {
            return false;
        };
        if self.expiry == Expiry::AfterLastTry {
            *stored = now;
        }
        true
    }

    /// How many passwords are remembered for `user`.
    pub fn count(&self, user: &UserKey, ttl: Duration, now: Instant) -> usize {
        let entries = self.lock();
        entries.get(user).map_or(0, |seen| seen.iter().filter(|(_, stored)| alive(*stored, ttl, now)).count())
    }

    pub fn remember(&self, user: &UserKey, digest: Digest, ttl: Duration, max_entries: usize, now: Instant) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if !entries.contains_key(user) {
            make_room(&mut entries, max_entries, |seen| {
                seen.iter().all(|(_, stored)| !alive(*stored, ttl, now))
            });
        }
        let seen = entries.entry(user.clone()).or_default();
        seen.retain(|(known, stored)| alive(*stored, ttl, now) && !known.matches(&digest));
        if seen.len() >= self.per_user {
            seen.remove(0);
        }
        seen.push((digest, now));
    }

    pub fn forget(&self, user: &UserKey) {
        self.lock().remove(user);
    }

    pub fn clear_all(&self) {
        self.lock().clear();
    }

    /// The users that `matches` picks, whatever the age of their passwords.
    pub fn users(&self, matches: impl Fn(&UserKey) -> bool) -> Vec<UserKey> {
        self.lock().keys().filter(|user| matches(user)).cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserKey, Vec<(Digest, Instant)>>> {
        // The map holds no invariant a panic elsewhere could break.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn alive(stored: Instant, ttl: Duration, now: Instant) -> bool {
    now.saturating_duration_since(stored) < ttl
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    fn key() -> hmac::Key {
        hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new()).unwrap()
    }

    fn user(name: &str) -> UserKey {
        ("example.com".into(), name.into())
    }

    #[test]
    fn digests_depend_on_every_part_and_the_key() {
        let key = key();
        let digest = Digest::of(&key, "a", "bc", "d");
        assert!(digest.matches(&Digest::of(&key, "a", "bc", "d")));
        assert!(!digest.matches(&Digest::of(&key, "a", "b", "cd")));
        assert!(!digest.matches(&Digest::of(&key, "b", "bc", "d")));
        assert!(!digest.matches(&Digest::of(&self::key(), "a", "bc", "d")));
    }

    const TTL: Duration = Duration::from_secs(60);

    #[test]
    fn remembers_for_the_ttl_up_to_the_limit_per_user() {
        let key = key();
        let remembered = RememberedPasswords::new(2, Expiry::AfterStored);
        let now = Instant::now();
        let digest = |password| Digest::of(&key, "example.com", "romeo", password);
        remembered.remember(&user("romeo"), digest("one"), TTL, 10, now);
        remembered.remember(&user("romeo"), digest("two"), TTL, 10, now);
        assert!(remembered.contains(&user("romeo"), &digest("one"), TTL, now));
        assert!(!remembered.contains(&user("juliet"), &digest("one"), TTL, now));
        remembered.remember(&user("romeo"), digest("three"), TTL, 10, now);
        assert!(!remembered.contains(&user("romeo"), &digest("one"), TTL, now), "the oldest makes room");
        assert!(remembered.contains(&user("romeo"), &digest("three"), TTL, now));
        assert_eq!(remembered.count(&user("romeo"), TTL, now), 2);
        // Asked again just before the end: the time still counts from the storing.
        assert!(remembered.contains(&user("romeo"), &digest("three"), TTL, now + TTL / 2));
        assert!(!remembered.contains(&user("romeo"), &digest("three"), TTL, now + TTL));
        assert_eq!(remembered.count(&user("romeo"), TTL, now + TTL), 0);
    }

    #[test]
    fn a_password_retried_within_the_ttl_stays_remembered() {
        let key = key();
        let remembered = RememberedPasswords::new(2, Expiry::AfterLastTry);
        let start = Instant::now();
        let stale = Digest::of(&key, "example.com", "romeo", "stale");
        remembered.remember(&user("romeo"), stale.clone(), TTL, 10, start);
        // A client retrying every 50 s, for ten minutes.
        for retry in 1..=12 {
            let now = start + Duration::from_secs(50 * retry);
            assert!(remembered.contains(&user("romeo"), &stale, TTL, now), "retry {retry}");
        }
        // Once it stops for the whole time to live, the directory is asked again.
        let quiet = start + Duration::from_secs(50 * 12) + TTL;
        assert!(!remembered.contains(&user("romeo"), &stale, TTL, quiet));
    }

    #[test]
    fn forgets_on_request_and_keeps_nothing_when_off() {
        let key = key();
        let remembered = RememberedPasswords::new(2, Expiry::AfterStored);
        let now = Instant::now();
        let digest = Digest::of(&key, "example.com", "romeo", "secret");
        remembered.remember(&user("romeo"), digest.clone(), TTL, 10, now);
        remembered.forget(&user("romeo"));
        assert!(!remembered.contains(&user("romeo"), &digest, TTL, now));

        remembered.remember(&user("romeo"), digest.clone(), Duration::ZERO, 10, now);
        assert!(!remembered.contains(&user("romeo"), &digest, Duration::ZERO, now));
        assert!(remembered.lock().is_empty());
    }
}
