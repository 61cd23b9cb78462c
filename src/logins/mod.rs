//! What keeps logins from locking accounts: failed logins are throttled per
//! user and per client address before the directory is asked, and a password
//! that just failed for a user is answered from memory instead of being sent
//! to the directory again (a client retrying a stale password would otherwise
//! move the directory's lockout counter on every reconnect). Optionally, a
//! password that just succeeded is answered from memory too.
//!
//! Only answers the directory gave count as failures; a directory that
//! cannot be reached counts for nothing.

mod bounded;
mod remembered;
mod throttle;
mod turns;

use std::net::IpAddr;

use ring::hmac;
use ring::rand::SystemRandom;

use crate::config::Logins as Settings;
use remembered::{Digest, RememberedPasswords, UserKey};
use throttle::Throttle;
use turns::{Turn, Turns};

/// Distinct wrong passwords remembered per user: a stale client or two.
const FAILED_PASSWORDS_PER_USER: usize = 4;

pub struct LoginGuard {
    per_user: Throttle<UserKey>,
    per_address: Throttle<IpAddr>,
    failed: RememberedPasswords,
    succeeded: RememberedPasswords,
    turns: Turns,
    /// A new random key for each start, never written anywhere.
    key: hmac::Key,
}

/// One login, as the guard sees it.
pub struct Attempt {
    user: UserKey,
    client: IpAddr,
    /// Only when a password is remembered at all.
    digest: Option<Digest>,
}

/// An answer given without asking the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Early {
    /// Too many failed logins for this user.
    ThrottledUser,
    /// Too many failed logins from this client address.
    ThrottledAddress,
    /// This password failed for this user a moment ago.
    RecentlyFailed,
    /// This password succeeded for this user a moment ago.
    RecentlySucceeded,
}

/// What the directory said of a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Valid,
    /// The directory refused the password (wrong, or the account locked or expired).
    PasswordRefused,
    /// Refused before a bind: no such user, or not in the required group.
    UserRefused,
}

impl LoginGuard {
    pub fn new(settings: &Settings) -> Self {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .expect("the system's random number generator works");
        LoginGuard {
            per_user: Throttle::new(
                settings.max_failures_per_user,
                settings.failure_window,
                settings.max_entries,
            ),
            per_address: Throttle::new(
                settings.max_failures_per_address,
                settings.failure_window,
                settings.max_entries,
            ),
            failed: RememberedPasswords::new(
                settings.remember_failed_for,
                FAILED_PASSWORDS_PER_USER,
                settings.max_entries,
            ),
            succeeded: RememberedPasswords::new(settings.remember_success_for, 1, settings.max_entries),
            turns: Turns::default(),
            key,
        }
    }

    pub fn attempt(&self, server: &str, user: &str, password: &str, client: IpAddr) -> Attempt {
        let remembers = self.failed.is_on() || self.succeeded.is_on();
        Attempt {
            user: (server.to_owned(), user.to_owned()),
            // One address for each host, whichever way it reached us.
            client: client.to_canonical(),
            digest: remembers.then(|| Digest::of(&self.key, server, user, password)),
        }
    }

    /// Waits until no other login of the attempt's user is in progress, so
    /// that [`LoginGuard::check`] sees what the one before it was answered;
    /// hold the turn until [`LoginGuard::record`]. `None` when neither the
    /// user's failures nor their wrong passwords are kept.
    pub async fn turn(&self, attempt: &Attempt) -> Option<Turn<'_>> {
        if !self.per_user.is_on() && !self.failed.is_on() {
            return None;
        }
        Some(self.turns.take(&attempt.user).await)
    }

    /// The answer to give without the directory, if any. Throttling comes
    /// first: remembered successes must not become an unthrottled oracle.
    pub fn check(&self, attempt: &Attempt) -> Option<Early> {
        if self.per_user.is_throttled(&attempt.user) {
            return Some(Early::ThrottledUser);
        }
        if self.per_address.is_throttled(&attempt.client) {
            return Some(Early::ThrottledAddress);
        }
        let digest = attempt.digest.as_ref()?;
        if self.failed.contains(&attempt.user, digest) {
            return Some(Early::RecentlyFailed);
        }
        if self.succeeded.contains(&attempt.user, digest) {
            return Some(Early::RecentlySucceeded);
        }
        None
    }

    /// Records what the directory answered.
    pub fn record(&self, attempt: &Attempt, answer: Answer) {
        if answer == Answer::Valid {
            self.per_user.clear(&attempt.user);
            if let Some(digest) = &attempt.digest {
                self.succeeded.remember(&attempt.user, digest.clone());
            }
            return;
        }
        self.per_user.record_failure(&attempt.user);
        self.per_address.record_failure(&attempt.client);
        // A refusal may mean a locked account: no password opens it now.
        self.succeeded.forget(&attempt.user);
        if let (Answer::PasswordRefused, Some(digest)) = (answer, &attempt.digest) {
            self.failed.remember(&attempt.user, digest.clone());
        }
    }

    /// After a write to the user's account, every password is asked of the
    /// directory again, and the count starts again.
    pub fn forget(&self, server: &str, user: &str) {
        let user = (server.to_owned(), user.to_owned());
        self.per_user.clear(&user);
        self.failed.forget(&user);
        self.succeeded.forget(&user);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn guard(per_user: usize, per_address: usize, failed: u64, succeeded: u64) -> LoginGuard {
        LoginGuard::new(&Settings {
            max_failures_per_user: per_user,
            max_failures_per_address: per_address,
            failure_window: Duration::from_secs(60),
            remember_failed_for: Duration::from_secs(failed),
            remember_success_for: Duration::from_secs(succeeded),
            max_entries: 100,
        })
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_wrong_password_is_remembered_and_a_right_one_is_not_by_default() {
        let guard = guard(0, 0, 60, 0);
        let wrong = guard.attempt("x", "romeo", "wrong", LOCAL);
        assert_eq!(guard.check(&wrong), None);
        guard.record(&wrong, Answer::PasswordRefused);
        assert_eq!(guard.check(&guard.attempt("x", "romeo", "wrong", LOCAL)), Some(Early::RecentlyFailed));
        assert_eq!(guard.check(&guard.attempt("x", "romeo", "other", LOCAL)), None);
        assert_eq!(guard.check(&guard.attempt("x", "juliet", "wrong", LOCAL)), None);

        let right = guard.attempt("x", "romeo", "right", LOCAL);
        guard.record(&right, Answer::Valid);
        assert_eq!(guard.check(&right), None);
    }

    #[test]
    fn an_unknown_user_is_not_a_remembered_password() {
        let guard = guard(0, 0, 60, 60);
        let attempt = guard.attempt("x", "nobody", "secret", LOCAL);
        guard.record(&attempt, Answer::UserRefused);
        assert_eq!(guard.check(&attempt), None);
    }

    #[test]
    fn throttling_comes_before_a_remembered_success() {
        let guard = guard(2, 0, 0, 60);
        let right = guard.attempt("x", "romeo", "right", LOCAL);
        guard.record(&right, Answer::Valid);
        assert_eq!(guard.check(&right), Some(Early::RecentlySucceeded));
        for _ in 0..2 {
            guard.record(&guard.attempt("x", "romeo", "guess", LOCAL), Answer::PasswordRefused);
        }
        assert_eq!(guard.check(&right), Some(Early::ThrottledUser));
    }

    #[test]
    fn addresses_are_throttled_apart_from_users() {
        let guard = guard(0, 2, 0, 0);
        guard.record(&guard.attempt("x", "a", "1", LOCAL), Answer::UserRefused);
        guard.record(&guard.attempt("x", "b", "1", LOCAL), Answer::PasswordRefused);
        assert_eq!(guard.check(&guard.attempt("x", "c", "1", LOCAL)), Some(Early::ThrottledAddress));
        let other = "192.0.2.1".parse().unwrap();
        assert_eq!(guard.check(&guard.attempt("x", "c", "1", other)), None);
        // An IPv4 client seen through an IPv6 socket is the same client.
        let mapped = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(guard.check(&guard.attempt("x", "c", "1", mapped)), Some(Early::ThrottledAddress));
    }

    #[test]
    fn a_write_forgets_everything_about_the_user() {
        let guard = guard(1, 0, 60, 60);
        let attempt = guard.attempt("x", "romeo", "new", LOCAL);
        guard.record(&attempt, Answer::PasswordRefused);
        assert_eq!(guard.check(&attempt), Some(Early::ThrottledUser));
        guard.forget("x", "romeo");
        assert_eq!(guard.check(&attempt), None);
    }
}
