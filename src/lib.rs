//! auth-http-ldap answers Prosody's `mod_auth_http` API from an LDAP directory.
//!
//! # Layout
//!
//! - [`config`]: reads and checks the configuration; the only module that
//!   touches files and the environment.
//! - [`http`]: the hyper server: routing on the last path segment, parameters,
//!   API credentials, deadlines, which connections are kept when clients
//!   hold many open ([`http::admission`]), TLS, and the mapping from
//!   outcomes to responses.
//! - [`protocol`]: the mod_auth_http methods and their outcomes.
//! - [`service`]: one call turned into directory operations for its host.
//! - [`checks`]: `test-login`, for an administrator at the command line.
//! - [`cache`]: recent `user_exists` answers, and the stale ones for outages.
//! - [`logins`]: remembered wrong passwords and an optional budget of
//!   failures, so that failed logins do not lock accounts; what it holds
//!   per user, for the admin listener.
//! - [`admin_client`]: the `logins` command, which asks the admin listener.
//! - [`metrics`]: the counters behind `/metrics`.
//! - [`directory`]: LDAP connections and operations, and what result codes mean.
//! - [`template`]: configured filters and DNs, and the escaping each needs.
//! - [`certificates`]: certificates described in words, for logs and checks.
//! - [`systemd`]: socket activation and readiness notifications.
//! - [`logging`]: plain, journald or JSON log lines.
//! - [`steps`]: what a call did at the directory, step by step, for `test-login`.
//! - [`workers`]: the threads that serve requests, by default one per core.
//! - [`open_files`]: raises the limit on open files, which bounds connections.

pub mod admin_client;
pub mod cache;
pub mod certificates;
pub mod checks;
pub mod config;
pub mod directory;
pub mod http;
pub mod logging;
pub mod logins;
pub mod metrics;
pub mod open_files;
pub mod protocol;
pub mod service;
pub mod steps;
pub mod systemd;
pub mod template;
pub mod workers;

pub use http::{Listening, Sockets, serve, serve_with_reloads};
