//! What the login guard holds for one user, as the administrator sees it:
//! counts and times only, never a password or its digest.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// The XMPP domain the logins named.
    pub server: String,
    pub user: String,
    /// Failed logins counted since the last success, until
    /// `logins.failure_window` passes without one.
    pub failures: usize,
    /// When the last of them was answered.
    #[serde(with = "humantime_serde")]
    pub last_failure: Option<SystemTime>,
    /// `logins.max_failures_per_user`: 0 when no budget is set.
    pub budget: usize,
    /// Whether a new password is answered `false` without the directory.
    pub throttled: bool,
    /// Until when, if `throttled`.
    #[serde(with = "humantime_serde")]
    pub throttled_until: Option<SystemTime>,
    /// Wrong passwords answered `false` without the directory while they are retried.
    pub wrong_passwords_remembered: usize,
    /// Whether a password that just succeeded is answered `true` without a bind.
    pub right_password_remembered: bool,
}

impl UserState {
    /// Whether anything is held for the user at all.
    pub fn is_clean(&self) -> bool {
        self.failures == 0 && self.wrong_passwords_remembered == 0 && !self.right_password_remembered
    }
}
