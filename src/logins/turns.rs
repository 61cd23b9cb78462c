//! One login at a time per user reaches the directory. The guard counts a
//! failure once the directory has answered, so logins for one user that
//! arrived together would all pass its check before the first failure was
//! counted: ten guesses sent at once would all be tried, past
//! `max_failures_per_user`, and all move the directory's lockout counter.
//! Taking turns, each login is checked after the one before it was
//! counted. A user's own devices logging in together each wait for the
//! logins ahead of them (a search and a bind); no one is refused for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};

use super::remembered::UserKey;

/// The users with a login in progress, each with the lock their logins
/// take in turn. An entry lives only while a login holds or waits for it.
#[derive(Default)]
pub struct Turns {
    users: Mutex<HashMap<UserKey, Arc<TurnLock<()>>>>,
}

/// A user's turn, held until dropped.
pub struct Turn<'a> {
    turns: &'a Turns,
    user: UserKey,
    held: Option<OwnedMutexGuard<()>>,
}

impl Turns {
    /// Waits until no other login of `user` is in progress.
    pub async fn take(&self, user: &UserKey) -> Turn<'_> {
        let lock = self.lock().entry(user.clone()).or_default().clone();
        // Made before the wait, so that a login abandoned while waiting
        // (its request's deadline) still removes an entry no one uses.
        let mut turn = Turn { turns: self, user: user.clone(), held: None };
        turn.held = Some(lock.lock_owned().await);
        turn
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserKey, Arc<TurnLock<()>>>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn in_progress(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // Our hold first: the entry is unused when the map's is the only one left.
        self.held = None;
        let mut users = self.turns.lock();
        if users.get(&self.user).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            users.remove(&self.user);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn user(name: &str) -> UserKey {
        ("example.com".into(), name.into())
    }

    #[tokio::test]
    async fn a_user_waits_for_their_own_login_only() {
        let turns = Turns::default();
        let first = turns.take(&user("romeo")).await;
        let other = tokio::time::timeout(Duration::from_millis(50), turns.take(&user("juliet"))).await;
        assert!(other.is_ok(), "another user does not wait");
        drop(other);
        let same = tokio::time::timeout(Duration::from_millis(50), turns.take(&user("romeo"))).await;
        assert!(same.is_err(), "the same user waits");
        drop(first);
        let next = tokio::time::timeout(Duration::from_millis(50), turns.take(&user("romeo"))).await;
        assert!(next.is_ok(), "the next login goes once the first is done");
        drop(next);
        assert_eq!(turns.in_progress(), 0, "nothing is kept once every login is done");
    }

    #[tokio::test]
    async fn a_login_abandoned_while_waiting_leaves_nothing_behind() {
        let turns = Turns::default();
        let romeo = user("romeo");
        let first = turns.take(&romeo).await;
        let mut waiting = Box::pin(turns.take(&romeo));
        // Polled once, so that it waits in line, then left there.
        tokio::select! {
            biased;
            _ = &mut waiting => panic!("the first login still holds the turn"),
            () = std::future::ready(()) => {}
        }
        drop(first);
        assert_eq!(turns.in_progress(), 1, "the waiting login still uses the entry");
        // Dropped as a request's deadline drops it, never polled again.
        drop(waiting);
        assert_eq!(turns.in_progress(), 0, "the abandoned login's entry is gone");
    }
}
