//! The steps of a call to the directory, told as `debug` events under one
//! target: the server chosen, the connection and its certificate, the
//! binds, the search and what it found. `test-login` prints them; with
//! `log.level = "debug"` the service logs them. No password is ever in one.

/// The target of every step event.
pub const TARGET: &str = "auth_http_ldap::steps";

/// A step, as a `debug` event under [`TARGET`], its message formatted as
/// `format!` would.
#[macro_export]
macro_rules! step {
    ($($arg:tt)+) => {
        ::tracing::debug!(target: $crate::steps::TARGET, $($arg)+)
    };
}
