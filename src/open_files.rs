//! The limit on open files, which bounds the connections the service can
//! hold. systemd starts services with a soft limit of 1024 and a hard limit
//! far above it, leaving a program to raise the soft one itself: at 1024,
//! clients holding a thousand connections would leave none for Prosody, as
//! accepting would fail until one closed.

use tracing::warn;

use crate::config::Settings;

/// Descriptors beyond the API's connections and the directory's: the admin
/// listener's connections (64 at most), listening sockets, the log, the
/// configuration and certificates being read, and connections closed to
/// make room whose task has not yet run.
const SPARE: u64 = 256;

/// Raises the soft limit on open files to the hard one, and warns when the
/// result cannot hold the connections `settings` allows.
pub fn raise(settings: &Settings) {
    let needed = (settings.http.max_connections + settings.ldap.pool_size + settings.ldap.bind_pool_size)
        as u64
        + SPARE;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < needed => warn!(
            limit,
            needed,
            "the limit on open files is below http.max_connections plus the directory's connections: past it, new connections wait in the kernel's queue; raise LimitNOFILE= in the unit, or lower http.max_connections"
        ),
        Ok(_) => {}
        Err(error) => warn!(%error, "cannot read or raise the limit on open files"),
    }
}
