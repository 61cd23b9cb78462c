//! What keeps logins from locking accounts: a password that just failed for
//! a user is answered from memory instead of being sent to the directory
//! again while it is retried (a client retrying a stale password would
//! otherwise move the directory's lockout counter on every reconnect); and,
//! when the administrator sets a budget under the directory's lockout
//! threshold, a user who has used it up is answered `false` before the
//! directory is asked. Without a budget, new passwords always reach the
//! directory, so no one is locked out here by their own typing. Optionally,
//! a password that just succeeded is answered from memory too.
//!
//! Only answers the directory gave count as failures; a directory that
//! cannot be reached counts for nothing. What the guard has learnt outlives
//! a reload ([`LoginGuard::carried_over`]); the administrator can see and
//! clear it per user ([`LoginGuard::state`], [`LoginGuard::clear`]).

mod bounded;
mod remembered;
mod state;
mod throttle;
mod turns;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use ring::hmac;
use ring::rand::SystemRandom;

use crate::config::Logins as Settings;
use remembered::{Digest, Expiry, RememberedPasswords, UserKey};
pub use state::UserState;
use throttle::Throttle;
use turns::{Turn, Turns};

/// Distinct wrong passwords remembered per user: a stale client or two.
const FAILED_PASSWORDS_PER_USER: usize = 4;

/// The guard of one configuration: its settings, and what it has learnt,
/// which a reload hands on to the next.
pub struct LoginGuard {
    settings: Settings,
    memory: Arc<Memory>,
}

/// What the guard has learnt. Holds no settings, so that a reload can
/// change them without forgetting anything.
struct Memory {
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
    /// This user has used up their budget of failed logins.
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
        let memory = Memory {
            per_user: Throttle::default(),
            per_address: Throttle::default(),
            failed: RememberedPasswords::new(FAILED_PASSWORDS_PER_USER, Expiry::AfterLastTry),
            succeeded: RememberedPasswords::new(1, Expiry::AfterStored),
            turns: Turns::default(),
            key,
        };
        LoginGuard { settings: settings.clone(), memory: Arc::new(memory) }
    }

    /// The guard for `settings` after a reload: it goes on from what
    /// `previous` learnt, under the new settings, so that a reload never
    /// hands a guesser a fresh budget. A part the new settings turn off
    /// forgets what it kept.
    pub fn carried_over(settings: &Settings, previous: &LoginGuard) -> Self {
        let memory = &previous.memory;
        if settings.max_failures_per_address == 0 {
            memory.per_address.clear_all();
        }
        if settings.remember_failed_for.is_zero() {
            memory.failed.clear_all();
        }
        if settings.remember_success_for.is_zero() {
            memory.succeeded.clear_all();
        }
        LoginGuard { settings: settings.clone(), memory: memory.clone() }
    }

    pub fn attempt(&self, server: &str, user: &str, password: &str, client: IpAddr) -> Attempt {
        let remembers =
            !self.settings.remember_failed_for.is_zero() || !self.settings.remember_success_for.is_zero();
        Attempt {
            user: (server.to_owned(), user.to_owned()),
            // One address for each host, whichever way it reached us.
            client: client.to_canonical(),
            digest: remembers.then(|| Digest::of(&self.memory.key, server, user, password)),
        }
    }

    /// Waits until no other login of the attempt's user is in progress, so
    /// that [`LoginGuard::check`] sees what the one before it was answered;
    /// hold the turn until [`LoginGuard::record`]. `None` when neither a
    /// budget nor wrong passwords are kept.
    pub async fn turn(&self, attempt: &Attempt) -> Option<Turn<'_>> {
        if self.settings.max_failures_per_user == 0 && self.settings.remember_failed_for.is_zero() {
            return None;
        }
        Some(self.memory.turns.take(&attempt.user).await)
    }

    /// The answer to give without the directory, if any. Throttling comes
    /// first: remembered successes must not become an unthrottled oracle.
    pub fn check(&self, attempt: &Attempt) -> Option<Early> {
        let (settings, memory, now) = (&self.settings, &self.memory, Instant::now());
        let window = settings.failure_window;
        if memory.per_user.is_throttled(&attempt.user, settings.max_failures_per_user, window, now) {
            return Some(Early::ThrottledUser);
        }
        if memory.per_address.is_throttled(&attempt.client, settings.max_failures_per_address, window, now) {
            return Some(Early::ThrottledAddress);
        }
        let digest = attempt.digest.as_ref()?;
        if memory.failed.contains(&attempt.user, digest, settings.remember_failed_for, now) {
            return Some(Early::RecentlyFailed);
        }
        if memory.succeeded.contains(&attempt.user, digest, settings.remember_success_for, now) {
            return Some(Early::RecentlySucceeded);
        }
        None
    }

    /// Records what the directory answered.
    pub fn record(&self, attempt: &Attempt, answer: Answer) {
        let (settings, memory, now) = (&self.settings, &self.memory, Instant::now());
        let (window, max_entries) = (settings.failure_window, settings.max_entries);
        if answer == Answer::Valid {
            memory.per_user.clear(&attempt.user);
            if let Some(digest) = &attempt.digest {
                memory.succeeded.remember(
                    &attempt.user,
                    digest.clone(),
                    settings.remember_success_for,
                    max_entries,
                    now,
                );
            }
            return;
        }
        if settings.max_failures_per_address > 0 {
            memory.per_address.record_failure(&attempt.client, window, max_entries, now);
        }
        // A refusal may mean a locked account: no password opens it now.
        memory.succeeded.forget(&attempt.user);
        // Only a refused bind moves the directory's lockout counter: an
        // unknown name or a non-member never reached one. Counted even
        // without a budget, for the administrator to see.
        if answer == Answer::PasswordRefused {
            memory.per_user.record_failure(&attempt.user, window, max_entries, now);
            if let Some(digest) = &attempt.digest {
                memory.failed.remember(
                    &attempt.user,
                    digest.clone(),
                    settings.remember_failed_for,
                    max_entries,
                    now,
                );
            }
        }
    }

    /// After a write to the user's account, every password is asked of the
    /// directory again, and the count starts again.
    pub fn forget(&self, server: &str, user: &str) {
        let user = (server.to_owned(), user.to_owned());
        self.memory.per_user.clear(&user);
        self.memory.failed.forget(&user);
        self.memory.succeeded.forget(&user);
    }

    /// What is held for `user`: in `server` (even when that is nothing),
    /// or in every domain where anything is.
    pub fn state(&self, server: Option<&str>, user: &str) -> Vec<UserState> {
        let now = Instant::now();
        match server {
            Some(server) => vec![self.state_of(&(server.to_owned(), user.to_owned()), now)],
            None => {
                let users = self.users_named(user);
                users.iter().map(|key| self.state_of(key, now)).filter(|state| !state.is_clean()).collect()
            }
        }
    }

    /// Forgets what is held for `user`, as [`LoginGuard::state`] picks
    /// them, and gives what it was.
    pub fn clear(&self, server: Option<&str>, user: &str) -> Vec<UserState> {
        let cleared = self.state(server, user);
        for state in &cleared {
            self.forget(&state.server, &state.user);
        }
        cleared
    }

    fn users_named(&self, user: &str) -> Vec<UserKey> {
        let named = |key: &UserKey| key.1 == user;
        let memory = &self.memory;
        let mut users = memory.per_user.keys(named);
        users.extend(memory.failed.users(named));
        users.extend(memory.succeeded.users(named));
        users.sort();
        users.dedup();
        users
    }

    fn state_of(&self, user: &UserKey, now: Instant) -> UserState {
        let (settings, memory) = (&self.settings, &self.memory);
        let window = settings.failure_window;
        let failures = memory.per_user.failures(user, window, now);
        let budget = settings.max_failures_per_user;
        let throttled = memory.per_user.is_throttled(user, budget, window, now);
        UserState {
            server: user.0.clone(),
            user: user.1.clone(),
            failures: failures.map_or(0, |failures| failures.count),
            last_failure: failures.map(|failures| failures.last_seen),
            budget,
            throttled,
            throttled_until: failures
                .filter(|_| throttled)
                .and_then(|failures| failures.last_seen.checked_add(window)),
            wrong_passwords_remembered: memory.failed.count(user, settings.remember_failed_for, now),
            right_password_remembered: memory.succeeded.count(user, settings.remember_success_for, now) > 0,
        }
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

    #[test]
    fn without_a_budget_a_new_password_always_reaches_the_directory() {
        let guard = guard(0, 0, 60, 0);
        for guess in 0..10 {
            guard.record(
                &guard.attempt("x", "romeo", &format!("guess-{guess}"), LOCAL),
                Answer::PasswordRefused,
            );
        }
        assert_eq!(guard.check(&guard.attempt("x", "romeo", "right", LOCAL)), None);
        assert_eq!(guard.check(&guard.attempt("x", "romeo", "guess-9", LOCAL)), Some(Early::RecentlyFailed));
        // Still counted, for the administrator to see.
        let [state] = &guard.state(Some("x"), "romeo")[..] else { panic!("one state") };
        assert_eq!((state.failures, state.budget, state.throttled), (10, 0, false));
        assert_eq!(state.wrong_passwords_remembered, FAILED_PASSWORDS_PER_USER);
    }

    #[test]
    fn only_refused_passwords_use_the_budget() {
        let guard = guard(1, 0, 0, 0);
        guard.record(&guard.attempt("x", "romeo", "secret", LOCAL), Answer::UserRefused);
        assert_eq!(guard.check(&guard.attempt("x", "romeo", "secret", LOCAL)), None);
        assert!(guard.state(None, "romeo").is_empty());
    }

    #[test]
    fn the_state_of_a_user_is_shown_and_cleared_per_domain() {
        let guard = guard(2, 0, 60, 0);
        for guess in ["guess-1", "guess-2"] {
            guard.record(&guard.attempt("a.example", "romeo", guess, LOCAL), Answer::PasswordRefused);
        }
        guard.record(&guard.attempt("b.example", "romeo", "guess", LOCAL), Answer::PasswordRefused);
        guard.record(&guard.attempt("a.example", "juliet", "guess", LOCAL), Answer::PasswordRefused);

        let states = guard.state(None, "romeo");
        let servers: Vec<_> = states.iter().map(|state| state.server.as_str()).collect();
        assert_eq!(servers, ["a.example", "b.example"]);
        let a = &states[0];
        assert_eq!((a.user.as_str(), a.failures, a.budget, a.throttled), ("romeo", 2, 2, true));
        assert_eq!(a.wrong_passwords_remembered, 2);
        let (last, until) = (a.last_failure.unwrap(), a.throttled_until.unwrap());
        assert_eq!(until.duration_since(last).unwrap(), Duration::from_secs(60));
        assert!(!states[1].throttled);

        let cleared = guard.clear(Some("a.example"), "romeo");
        assert_eq!(cleared, vec![a.clone()]);
        assert_eq!(guard.check(&guard.attempt("a.example", "romeo", "guess-1", LOCAL)), None);
        assert!(guard.state(Some("a.example"), "romeo")[0].is_clean());
        assert_eq!(guard.state(None, "romeo").len(), 1, "the other domain is kept");
        assert_eq!(guard.state(None, "juliet").len(), 1, "the other user is kept");
        assert_eq!(guard.clear(None, "romeo").len(), 1);
        assert!(guard.state(None, "romeo").is_empty());
    }

    #[test]
    fn a_reload_goes_on_from_what_was_learnt_under_the_new_settings() {
        let before = guard(2, 0, 60, 0);
        for guess in ["guess-1", "guess-2"] {
            before.record(&before.attempt("x", "romeo", guess, LOCAL), Answer::PasswordRefused);
        }
        let same = LoginGuard::carried_over(&before.settings, &before);
        assert_eq!(same.check(&same.attempt("x", "romeo", "right", LOCAL)), Some(Early::ThrottledUser));

        let mut settings = before.settings.clone();
        settings.max_failures_per_user = 3;
        let larger = LoginGuard::carried_over(&settings, &before);
        assert_eq!(larger.check(&larger.attempt("x", "romeo", "right", LOCAL)), None);
        assert_eq!(
            larger.check(&larger.attempt("x", "romeo", "guess-1", LOCAL)),
            Some(Early::RecentlyFailed)
        );
        larger.record(&larger.attempt("x", "romeo", "guess-3", LOCAL), Answer::PasswordRefused);
        assert_eq!(larger.check(&larger.attempt("x", "romeo", "right", LOCAL)), Some(Early::ThrottledUser));

        settings.remember_failed_for = Duration::ZERO;
        let off = LoginGuard::carried_over(&settings, &larger);
        assert_eq!(off.state(Some("x"), "romeo")[0].wrong_passwords_remembered, 0);
        assert_eq!(off.memory.failed.users(|_| true), vec![], "turned off, it keeps nothing");
    }
}
