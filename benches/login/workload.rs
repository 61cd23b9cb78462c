//! Which user each request logs in as, and with which password: the same
//! sequence for the directory ceiling and for the bridge.
//!
//! Request `i` is for user `i mod users`; one round in ten of each user's
//! requests carries a wrong password. The wrong password is new every time
//! and every wrong one is followed by right ones, so the bridge's default
//! login guard (which remembers refused passwords and throttles users after
//! three failures) never answers one early: every login costs it a search
//! and a bind, as it does the ceiling.

use std::sync::atomic::{AtomicU64, Ordering};

/// Every user's password is `password-<number>`; see [`Workload::login`].
pub fn password(user: u64) -> String {
    format!("password-{user}")
}

pub fn uid(user: u64) -> String {
    format!("user{user:05}")
}

pub struct Workload {
    users: u64,
    /// Shared by every run, so that no wrong password is ever sent twice.
    next: AtomicU64,
}

pub struct Login {
    pub uid: String,
    pub password: String,
    /// Whether the directory should accept it.
    pub valid: bool,
}

impl Workload {
    pub fn new(users: u64) -> Self {
        Workload { users, next: AtomicU64::new(0) }
    }

    /// The next request's login.
    pub fn next_login(&self) -> Login {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let (user, round) = (i % self.users, i / self.users);
        let valid = (round + user) % 10 != 7;
        let password = if valid { password(user) } else { format!("wrong-{i}") };
        Login { uid: uid(user), password, valid }
    }

    /// The next request's user, for user_exists.
    pub fn next_user(&self) -> String {
        uid(self.next.fetch_add(1, Ordering::Relaxed) % self.users)
    }
}

#[cfg(test)]
mod tests {
    use super::Workload;

    #[test]
    fn a_wrong_password_is_never_repeated_nor_followed_by_another() {
        let workload = Workload::new(7);
        let logins: Vec<_> = (0..7 * 40).map(|_| workload.next_login()).collect();
        let wrong: Vec<_> = logins.iter().filter(|l| !l.valid).collect();
        assert_eq!(wrong.len(), 7 * 4);
        let distinct: std::collections::HashSet<_> = wrong.iter().map(|l| &l.password).collect();
        assert_eq!(distinct.len(), wrong.len());
        for user in 0..7 {
            let answers: Vec<bool> = logins.iter().skip(user).step_by(7).map(|l| l.valid).collect();
            assert!(answers.windows(2).all(|pair| pair[0] || pair[1]), "{answers:?}");
        }
    }
}
