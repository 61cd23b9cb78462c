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

pub struct RememberedPasswords {
    ttl: Duration,
    per_user: usize,
    max_entries: usize,
    entries: Mutex<HashMap<UserKey, Vec<(Digest, Instant)>>>,
}

impl RememberedPasswords {
    /// Keeps up to `per_user` passwords per user for `ttl`; a `ttl` of 0
    /// keeps nothing.
    pub fn new(ttl: Duration, per_user: usize, max_entries: usize) -> Self {
        RememberedPasswords { ttl, per_user, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    pub fn is_on(&self) -> bool {
        !self.ttl.is_zero()
    }

    pub fn contains(&self, user: &UserKey, digest: &Digest) -> bool {
        if !self.is_on() {
            return false;
        }
        let entries = self.lock();
        entries.get(user).is_some_and(|seen| {
            seen.iter().any(|(known, stored)| stored.elapsed() < self.ttl && known.matches(digest))
        })
    }

    pub fn remember(&self, user: &UserKey, digest: Digest) {
        if !self.is_on() {
            return;
        }
        let ttl = self.ttl;
        let mut entries = self.lock();
        if !entries.contains_key(user) {
            make_room(&mut entries, self.max_entries, |seen| {
                seen.iter().all(|(_, stored)| stored.elapsed() >= ttl)
            });
        }
        let seen = entries.entry(user.clone()).or_default();
        seen.retain(|(known, stored)| stored.elapsed() < ttl && !known.matches(&digest));
        if seen.len() >= self.per_user {
            seen.remove(0);
        }
        seen.push((digest, Instant::now()));
    }

    pub fn forget(&self, user: &UserKey) {
        if self.is_on() {
            self.lock().remove(user);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserKey, Vec<(Digest, Instant)>>> {
        // The map holds no invariant a panic elsewhere could break.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
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

    #[test]
    fn remembers_for_the_ttl_up_to_the_limit_per_user() {
        let key = key();
        let remembered = RememberedPasswords::new(Duration::from_millis(150), 2, 10);
        let digest = |password| Digest::of(&key, "example.com", "romeo", password);
        remembered.remember(&user("romeo"), digest("one"));
        remembered.remember(&user("romeo"), digest("two"));
        assert!(remembered.contains(&user("romeo"), &digest("one")));
        assert!(!remembered.contains(&user("juliet"), &digest("one")));
        remembered.remember(&user("romeo"), digest("three"));
        assert!(!remembered.contains(&user("romeo"), &digest("one")), "the oldest makes room");
        assert!(remembered.contains(&user("romeo"), &digest("three")));
        std::thread::sleep(Duration::from_millis(200));
        assert!(!remembered.contains(&user("romeo"), &digest("three")));
    }

    #[test]
    fn forgets_on_request_and_keeps_nothing_when_off() {
        let key = key();
        let remembered = RememberedPasswords::new(Duration::from_secs(60), 2, 10);
        let digest = Digest::of(&key, "example.com", "romeo", "secret");
        remembered.remember(&user("romeo"), digest.clone());
        remembered.forget(&user("romeo"));
        assert!(!remembered.contains(&user("romeo"), &digest));

        let off = RememberedPasswords::new(Duration::ZERO, 2, 10);
        off.remember(&user("romeo"), digest.clone());
        assert!(!off.contains(&user("romeo"), &digest));
        assert!(off.lock().is_empty());
    }
}
