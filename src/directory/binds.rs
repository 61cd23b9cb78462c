//! Connections for user binds: opened as needed up to `ldap.bind_pool_size`,
//! each lent to one bind at a time and kept open for the next, so that a
//! login costs a bind and not a new connection (and its TLS handshake).
//!
//! A bind sets who the whole connection acts as, so these connections are
//! used for nothing but user binds: whoever the last bind left them as
//! (the last user, or anonymous after a refusal) is never acted on, as the
//! next use is another bind, which replaces it. They are [`wire`]
//! connections: a bind runs on the task of the login that asked for it.
//! Past the limit, a login waits for a connection to come back, within the
//! request's deadline: a burst of logins cannot open a burst of
//! connections to the directory.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use super::connector::{Connector, Opened};
use super::error::DirectoryError;
use super::wire;
use crate::config;

pub(crate) struct BindPool {
    /// One permit for each connection that may be open.
    permits: Semaphore,
    /// Connections waiting for their next bind, the most recently used last.
    idle: Mutex<Vec<Idle>>,
    max_age: Duration,
    max_idle: Duration,
}

struct Idle {
    connection: wire::Connection,
    server: usize,
    opened: Instant,
    last_used: Instant,
}

/// A connection lent for one bind. Dropped, it goes back to the pool if
/// [`BindConnection::done`] was called, and is closed otherwise: a bind
/// that failed or was abandoned midway leaves the connection in a state
/// no other bind should inherit.
pub(crate) struct BindConnection<'a> {
    pool: &'a BindPool,
    /// Taken when the connection goes back to the pool.
    connection: Option<wire::Connection>,
    pub(crate) server: usize,
    opened: Instant,
    done: bool,
    _permit: SemaphorePermit<'a>,
}

impl BindPool {
    pub(crate) fn new(settings: &config::Ldap) -> Self {
        BindPool {
            permits: Semaphore::new(settings.bind_pool_size.max(1)),
            idle: Mutex::new(Vec::new()),
            max_age: settings.max_connection_age,
            max_idle: settings.max_connection_idle,
        }
    }

    /// A connection for one bind: an idle one still fit for use, or a new one.
    /// Waits while `ldap.bind_pool_size` binds are under way.
    pub(crate) async fn get(&self, connector: &Connector) -> Result<BindConnection<'_>, DirectoryError> {
        let permit = self.permits.acquire().await.expect("the semaphore is never closed");
        let preferred = connector.preferred();
        while let Some(mut idle) = self.take_idle() {
            let usable = idle.server == preferred
                && idle.opened.elapsed() < self.max_age
                && idle.last_used.elapsed() < self.max_idle
                && !idle.connection.is_closed();
            if usable {
                let Idle { connection, server, opened, .. } = idle;
                let connection = Some(connection);
                return Ok(BindConnection {
                    pool: self,
                    connection,
                    server,
                    opened,
                    done: false,
                    _permit: permit,
                });
            }
        }
        self.open(connector, permit).await
    }

    /// How many connections wait for a bind.
    pub(crate) fn idle_connections(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    async fn open<'a>(
        &'a self,
        connector: &Connector,
        permit: SemaphorePermit<'a>,
    ) -> Result<BindConnection<'a>, DirectoryError> {
        let Opened { connection, server } = connector.open_for_binds().await?;
        let opened = Instant::now();
        let connection = Some(connection);
        Ok(BindConnection { pool: self, connection, server, opened, done: false, _permit: permit })
    }

    fn take_idle(&self) -> Option<Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn give_back(&self, idle: Idle) {
        let mut connections = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        // Those left unused since the last burst go now rather than at their next use.
        connections.retain(|c| c.last_used.elapsed() < self.max_idle);
        connections.push(idle);
    }
}

impl BindConnection<'_> {
    pub(crate) fn connection(&mut self) -> &mut wire::Connection {
        self.connection.as_mut().expect("only taken when dropped")
    }

    /// The bind got an answer, whatever it said: the connection can serve another.
    pub(crate) fn done(&mut self) {
        self.done = true;
    }
}

impl Drop for BindConnection<'_> {
    fn drop(&mut self) {
        if let (true, Some(connection)) = (self.done, self.connection.take()) {
            let idle =
                Idle { connection, server: self.server, opened: self.opened, last_used: Instant::now() };
            self.pool.give_back(idle);
        }
    }
}
