//! Connections lent to one operation at a time: opened as needed up to a
//! limit, kept open for the next operation, so that a login costs its
//! operations and not a new connection (and its TLS handshake).
//!
//! There are two kinds of such pools, with one of each for each worker's
//! share ([`crate::workers`]). The service account's searches and writes
//! have one kind, bound as the service account when opened. User binds have
//! the other, whose connections are used for nothing but user binds: a bind
//! sets who the whole connection acts as, and whoever the last one left it
//! as (the last user, or anonymous after a refusal) is never acted on, as
//! the next use is another bind, which replaces it.
//!
//! A connection is ldap3's, and its driver task runs on the runtime that
//! opened it, which is the worker whose share it belongs to: the hand-offs
//! between an operation and the driver stay on one thread.
//!
//! Past the limit, an operation waits for a connection to come back,
//! within the request's deadline: a burst of logins cannot open a burst of
//! connections to the directory.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapError};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::connector::{Connector, Opened};
use super::error::DirectoryError;
use crate::config::{self, ServiceAccount};
use crate::step;

pub(crate) struct Pool {
    /// Who the connections are bound as when opened; `None`: anonymous.
    account: Option<ServiceAccount>,
    /// One permit for each connection that may be open.
    permits: Semaphore,
    /// Connections waiting for their next operation, the most recently used last.
    idle: Mutex<Vec<Idle>>,
    max_age: Duration,
    max_idle: Duration,
}

struct Idle {
    ldap: Ldap,
    server: usize,
    opened: Instant,
    last_used: Instant,
}

/// A connection lent for one operation. Dropped, it goes back to the pool
/// if its operation got an answer, and is closed otherwise: an operation
/// that failed, timed out or was abandoned midway leaves the connection in
/// a state no other operation should inherit.
pub(crate) struct Lent<'a> {
    pool: &'a Pool,
    /// Taken when the connection goes back to the pool.
    ldap: Option<Ldap>,
    pub(crate) server: usize,
    /// Whether it served an operation before this one: a connection found
    /// dead then may only have been dropped by the server while idle.
    pub(crate) reused: bool,
    opened: Instant,
    answered: bool,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    /// A pool of at most `size` connections, bound as `account` if given.
    pub(crate) fn new(settings: &config::Ldap, size: usize, account: Option<ServiceAccount>) -> Self {
        Pool {
            account,
            permits: Semaphore::new(size.max(1)),
            idle: Mutex::new(Vec::new()),
            max_age: settings.max_connection_age,
            max_idle: settings.max_connection_idle,
        }
    }

    /// A connection for one operation: an idle one still fit for use, or a
    /// new one. Waits while every connection the pool may open is lent.
    pub(crate) async fn get(&self, connector: &Connector) -> Result<Lent<'_>, DirectoryError> {
        let permit = self.permit().await;
        let preferred = connector.preferred();
        let now = Instant::now();
        while let Some(mut idle) = self.take_idle() {
            let usable = idle.server == preferred
                && now.saturating_duration_since(idle.opened) < self.max_age
                && now.saturating_duration_since(idle.last_used) < self.max_idle
                && !idle.ldap.is_closed();
            if usable {
                let Idle { ldap, server, opened, .. } = idle;
                step!(
                    "reusing a connection to {}, open for {:.1} s",
                    connector.url(server),
                    opened.elapsed().as_secs_f64()
                );
                return Ok(self.lend(ldap, server, opened, true, permit));
            }
        }
        self.open(connector, permit).await
    }

    /// A new connection, never an idle one: for trying an operation again
    /// after the connection it was lent turned out to be dead.
    pub(crate) async fn get_new(&self, connector: &Connector) -> Result<Lent<'_>, DirectoryError> {
        let permit = self.permit().await;
        self.open(connector, permit).await
    }

    /// Who the connections are bound as when opened; `None`: anonymous.
    pub(crate) fn account(&self) -> Option<&ServiceAccount> {
        self.account.as_ref()
    }

    /// How many connections wait for an operation.
    pub(crate) fn idle_connections(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    async fn permit(&self) -> SemaphorePermit<'_> {
        self.permits.acquire().await.expect("the semaphore is never closed")
    }

    async fn open<'a>(
        &'a self,
        connector: &Connector,
        permit: SemaphorePermit<'a>,
    ) -> Result<Lent<'a>, DirectoryError> {
        let Opened { connection, server } = connector.open(self.account.as_ref()).await?;
        Ok(self.lend(connection, server, Instant::now(), false, permit))
    }

    fn lend<'a>(
        &'a self,
        ldap: Ldap,
        server: usize,
        opened: Instant,
        reused: bool,
        permit: SemaphorePermit<'a>,
    ) -> Lent<'a> {
        Lent { pool: self, ldap: Some(ldap), server, reused, opened, answered: false, _permit: permit }
    }

    fn take_idle(&self) -> Option<Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn give_back(&self, idle: Idle) {
        let mut connections = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        // Those left unused since the last burst go now rather than at their
        // next use. The oldest are first, so the rest are younger.
        let stale = connections
            .iter()
            .take_while(|c| idle.last_used.saturating_duration_since(c.last_used) >= self.max_idle)
            .count();
        connections.drain(..stale);
        connections.push(idle);
    }
}

impl Lent<'_> {
    /// Runs `operation` on the connection, which ldap3 bounds by `timeout`.
    /// An answer, whatever it says, gives the connection back for the next
    /// operation; anything else closes it.
    pub(crate) async fn run<T>(
        mut self,
        timeout: Duration,
        operation: impl AsyncFnOnce(&mut Ldap) -> Result<T, LdapError>,
    ) -> Result<T, LdapError> {
        let ldap = self.ldap.as_mut().expect("only taken when dropped");
        ldap.with_timeout(timeout);
        let outcome = operation(ldap).await;
        self.answered = outcome.is_ok();
        outcome
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let (true, Some(ldap)) = (self.answered, self.ldap.take()) {
            let idle = Idle { ldap, server: self.server, opened: self.opened, last_used: Instant::now() };
            self.pool.give_back(idle);
        }
    }
}
