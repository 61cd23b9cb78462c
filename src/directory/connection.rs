//! Opening connections to the directory, and the one shared connection of
//! the service account, reopened when the directory has closed it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use tokio::sync::Mutex;
use tracing::{debug, warn};

use super::error::{DirectoryError, Meaning, meaning};
use crate::config::{self, ServiceAccount};

/// Opens connections with the configured URL and connect timeout.
pub(crate) struct Connector {
    url: String,
    connect_timeout: Duration,
    /// Applied to every operation: ldap3 waits forever otherwise.
    pub(crate) timeout: Duration,
}

impl Connector {
    pub(crate) fn new(settings: &config::Ldap) -> Self {
        Connector {
            url: settings.url.to_string(),
            connect_timeout: settings.connect_timeout,
            timeout: settings.timeout,
        }
    }

    pub(crate) async fn open(&self) -> Result<Ldap, DirectoryError> {
        let settings = LdapConnSettings::new().set_conn_timeout(self.connect_timeout);
        // ldap3's connect timeout covers the TCP connect only; this covers the rest.
        let connecting = LdapConnAsync::with_settings(settings, &self.url);
        let (conn, ldap) = match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                return Err(DirectoryError::Unavailable(format!("connect to {}: {e}", self.url)));
            }
            Err(_) => {
                return Err(DirectoryError::Unavailable(format!(
                    "connect to {}: no answer within {:?}",
                    self.url, self.connect_timeout
                )));
            }
        };
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                debug!(error = %e, "directory connection ended");
            }
        });
        Ok(ldap)
    }
}

/// The service account's connection. Clones of an `Ldap` share one socket,
/// and binding on any clone rebinds them all, so this connection is never
/// used to bind as a user.
///
/// Each connection opened gets the next generation number, so that a request
/// that saw its connection fail discards that connection and not a newer
/// one another request has opened since.
pub(crate) struct ServiceConnection {
    account: Option<ServiceAccount>,
    current: Mutex<Option<(u64, Ldap)>>,
    next_generation: AtomicU64,
    /// Connections of this generation and older are not to be used again.
    discarded: AtomicU64,
}

/// The service account's connection as lent to one operation.
pub(crate) struct Lease {
    pub(crate) ldap: Ldap,
    generation: u64,
}

impl ServiceConnection {
    pub(crate) fn new(settings: &config::Ldap) -> Self {
        ServiceConnection {
            account: settings.service_account.clone(),
            current: Mutex::new(None),
            next_generation: AtomicU64::new(1),
            discarded: AtomicU64::new(0),
        }
    }

    /// The open connection, or a new one, bound as the service account.
    /// The lock is held while connecting so that, after an outage, one
    /// connection is opened rather than one per waiting request.
    pub(crate) async fn get(&self, connector: &Connector) -> Result<Lease, DirectoryError> {
        let mut current = self.current.lock().await;
        if let Some((generation, ldap)) = current.as_mut() {
            let generation = *generation;
            if generation > self.discarded.load(Ordering::Acquire) && !ldap.is_closed() {
                return Ok(Lease { ldap: ldap.clone(), generation });
            }
            debug!("service connection closed or discarded; reconnecting");
        }
        *current = None;
        let mut ldap = connector.open().await?;
        if let Some(ServiceAccount { dn, password }) = &self.account {
            let result = ldap
                .with_timeout(connector.timeout)
                .simple_bind(dn, password.expose())
                .await
                .map_err(|e| DirectoryError::from_client("service account bind", e))?;
            if meaning(result.rc) != Meaning::Success {
                let error = DirectoryError::from_result("service account bind", &result);
                warn!(error = %error, bind_dn = %dn, "the service account cannot bind; check ldap.bind_dn and its password");
                return Err(error);
            }
        }
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        *current = Some((generation, ldap.clone()));
        Ok(Lease { ldap, generation })
    }

    /// Marks the lease's connection as not to be used again; the next
    /// request opens a new one. Needs no lock, so it can run in a `Drop`.
    pub(crate) fn discard(&self, lease: &Lease) {
        self.discarded.fetch_max(lease.generation, Ordering::AcqRel);
    }
}
