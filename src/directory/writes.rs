//! The service account's connection for writes (`register`, `set_password`,
//! `remove_user`): ldap3's, which multiplexes the requests on it, so one
//! carries them all; writes are rare. It is opened when first needed,
//! checked before it is lent, and replaced once it is older than
//! `ldap.max_connection_age`, ahead of the idle cut-off of Active Directory
//! and of firewalls.
//!
//! Clones of an `Ldap` share one socket, and binding on any clone rebinds
//! them all, so this connection is never used to bind as a user.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ldap3::Ldap;
use tokio::sync::Mutex;
use tracing::debug;

use super::connector::{Connector, Opened};
use super::error::DirectoryError;
use crate::config::{self, ServiceAccount};

pub(crate) struct WriteConnection {
    account: Option<ServiceAccount>,
    current: Mutex<Option<Current>>,
    /// Every connection opened gets the next number, so that a request that
    /// saw its connection fail discards that one and not a newer one.
    next_generation: AtomicU64,
    /// Connections of this generation and older are not to be used again.
    discarded: AtomicU64,
    max_age: Duration,
    /// Firewalls and load balancers drop idle connections without a word;
    /// one unused for this long is replaced rather than trusted.
    max_idle: Duration,
}

struct Current {
    ldap: Ldap,
    generation: u64,
    server: usize,
    opened: Instant,
    last_used: Instant,
}

/// The service connection as lent to one operation.
pub(crate) struct Lease {
    pub(crate) ldap: Ldap,
    /// Which server it is to, so that a failure can be laid at its door.
    pub(crate) server: usize,
    generation: u64,
}

impl WriteConnection {
    pub(crate) fn new(settings: &config::Ldap) -> Self {
        WriteConnection {
            account: settings.service_account.clone(),
            current: Mutex::new(None),
            next_generation: AtomicU64::new(1),
            discarded: AtomicU64::new(0),
            max_age: settings.max_connection_age,
            max_idle: settings.max_connection_idle,
        }
    }

    /// The connection, replaced first when it is closed or discarded, too
    /// old or too long idle, or to a server that failed or is not the
    /// preferred one. The lock is held while connecting, so that after an
    /// outage one connection is opened rather than one per request.
    pub(crate) async fn get(&self, connector: &Connector) -> Result<Lease, DirectoryError> {
        let mut current = self.current.lock().await;
        if let Some(open) = current.as_mut() {
            let usable = open.generation > self.discarded.load(Ordering::Acquire)
                && open.opened.elapsed() < self.max_age
                && open.last_used.elapsed() < self.max_idle
                && open.server == connector.preferred()
                && !open.ldap.is_closed();
            if usable {
                open.last_used = Instant::now();
                return Ok(Lease {
                    ldap: open.ldap.clone(),
                    server: open.server,
                    generation: open.generation,
                });
            }
            debug!(server = open.server, "replacing the connection for writes");
        }
        *current = None;
        let Opened { connection: ldap, server } = connector.open(self.account.as_ref()).await?;
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        *current = Some(Current { ldap: ldap.clone(), generation, server, opened: now, last_used: now });
        Ok(Lease { ldap, server, generation })
    }

    /// How many connections are open: 0 or 1. One being opened counts as open.
    pub(crate) fn open_connections(&self) -> usize {
        let discarded = self.discarded.load(Ordering::Acquire);
        let open = self.current.try_lock().map_or(true, |mut current| {
            current.as_mut().is_some_and(|c| c.generation > discarded && !c.ldap.is_closed())
        });
        usize::from(open)
    }

    /// Marks the lease's connection as not to be used again; a new one is
    /// opened when next asked. Takes no lock, so it can run in a `Drop`.
    pub(crate) fn discard(&self, lease: &Lease) {
        self.discarded.fetch_max(lease.generation, Ordering::AcqRel);
    }
}
