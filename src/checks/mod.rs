//! What an administrator runs by hand to find out why logins fail, outside
//! the service: `test-login`, which makes one login as the service would
//! and tells each step, and `check-config --online`. Uses the service's own code; adds none of its own
//! to the directory path.
//!
//! - [`login`]: the `test-login` command.
//! - [`online`]: `check-config --online`, and the same checks at start.
//! - `printed`: the steps, printed as they happen.

pub mod login;
pub mod online;
mod printed;
