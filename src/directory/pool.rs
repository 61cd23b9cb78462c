//! The service account's connection for writes (`register`, `set_password`,
//! `remove_user`): ldap3's, which multiplexes the requests on it, so one
//! carries them all; writes are rare. It is opened when first needed,
//! checked before it is lent, and replaced once it is older than
//! `ldap.max_connection_age`, ahead of the idle cut-off of Active Directory
//! and of firewalls.
//!
//! Clones of an `Ldap` share one socket, and binding on any clone rebinds
//! them all, so this connection is never used to bind as a user.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ldap3::Ldap;
use tokio::sync::Mutex;
use tracing::debug;

use super::connector::{Connector, Opened};
use super::error::DirectoryError;
use crate::config::{self, ServiceAccount};

/// How many connections writes share.
const CONNECTIONS: usize = 1;

pub(crate) struct ServicePool {
    account: Option<ServiceAccount>,
    slots: Vec<Slot>,
    next_slot: AtomicUsize,
    /// Every connection opened gets the next number, so that a request that
    /// saw its connection fail discards that one and not a newer one.
    next_generation: AtomicU64,
    max_age: Duration,
    /// Firewalls and load balancers drop idle connections without a word;
    /// one unused for this long is replaced rather than trusted.
    max_idle: Duration,
}

#[derive(Default)]
struct Slot {
    current: Mutex<Option<Current>>,
    /// Connections of this generation and older are not to be used again.
    discarded: AtomicU64,
}

struct Current {
    ldap: Ldap,
    generation: u64,
    server: usize,
    opened: Instant,
    last_used: Instant,
}

/// A service connection as lent to one operation.
pub(crate) struct Lease {
    pub(crate) ldap: Ldap,
    /// Which server it is to, so that a failure can be laid at its door.
    pub(crate) server: usize,
    generation: u64,
    slot: usize,
}

impl ServicePool {
    pub(crate) fn new(settings: &config::Ldap) -> Self {
        ServicePool {
            account: settings.service_account.clone(),
            slots: (0..CONNECTIONS).map(|_| Slot::default()).collect(),
            next_slot: AtomicUsize::new(0),
            next_generation: AtomicU64::new(1),
            max_age: settings.max_connection_age,
            max_idle: settings.max_connection_idle,
        }
    }

    /// The next slot's connection, or a new one in its place.
    pub(crate) async fn get(&self, connector: &Connector) -> Result<Lease, DirectoryError> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        self.get_in(connector, slot).await
    }

    /// `slot`'s connection, replaced first when it is closed or discarded,
    /// too old or too long idle, or to a server that failed or is not the
    /// preferred one. The slot's lock is held while connecting, so that after
    /// an outage each slot opens one connection rather than one per request.
    async fn get_in(&self, connector: &Connector, slot: usize) -> Result<Lease, DirectoryError> {
        let entry = &self.slots[slot];
        let mut current = entry.current.lock().await;
        if let Some(open) = current.as_mut() {
            let usable = open.generation > entry.discarded.load(Ordering::Acquire)
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
                    slot,
                });
            }
            debug!(slot, server = open.server, "replacing a service connection");
        }
        *current = None;
        let Opened { connection: ldap, server } = connector.open(self.account.as_ref()).await?;
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        *current = Some(Current { ldap: ldap.clone(), generation, server, opened: now, last_used: now });
        Ok(Lease { ldap, server, generation, slot })
    }

    /// How many connections are open. A slot busy opening one counts as open.
    pub(crate) fn open_connections(&self) -> usize {
        let open = |slot: &Slot| {
            let discarded = slot.discarded.load(Ordering::Acquire);
            slot.current.try_lock().map_or(true, |mut current| {
                current.as_mut().is_some_and(|c| c.generation > discarded && !c.ldap.is_closed())
            })
        };
        self.slots.iter().filter(|slot| open(slot)).count()
    }

    /// Marks the lease's connection as not to be used again; its slot opens
    /// a new one when next asked. Takes no lock, so it can run in a `Drop`.
    pub(crate) fn discard(&self, lease: &Lease) {
        self.slots[lease.slot].discarded.fetch_max(lease.generation, Ordering::AcqRel);
    }
}
