//! What an administrator runs by hand to find out why logins fail, outside
//! the service: `test-login`, which makes one login as the service would
//! and tells each step. Uses the service's own code; adds none of its own
//! to the directory path.
//!
//! - [`login`]: `test-login`.
//! - `printed`: the steps, printed as they happen.

pub mod login;
mod printed;
