//! The LDAP directory: finding users, checking their passwords, and adding,
//! changing and deleting them. Knows nothing of HTTP or of mod_auth_http;
//! callers pass filters and DNs that are already rendered and escaped.
//!
//! - `connector`: which server to connect to, TLS and StartTLS, failover.
//! - `lent`: connections lent to one search or one user bind at a time.
//! - `wire`: those connections, driven on the caller's task.
//! - `writes`: the service account's connection for writes.
//! - `account_state`: password policy controls and Active Directory sub-codes.
//! - `error`: what result codes mean.
//! - [`tls`]: the TLS client configuration.

mod account_state;
mod connector;
mod error;
mod lent;
pub mod tls;
mod wire;
mod writes;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use ldap3::exop::PasswordModify;
use ldap3::{Ldap, LdapError, LdapResult, Mod};
use tracing::info;

use crate::config::{self, Scope, ServiceAccount};
use crate::metrics::{DirectoryState, Metrics};
use crate::workers::{self, PerWorker};
use account_state::{PASSWORD_POLICY_OID, PolicyState, active_directory_reason, password_policy_response};
use connector::Connector;
pub use error::DirectoryError;
use error::{Meaning, connection_lost, meaning, succeeded};
use lent::{Lent, LentPool, NoAnswer};
use wire::{Filter, SearchScope, WireError};
use writes::{Lease, WriteConnection};

/// The result of looking a user up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(String),
    NotFound,
    /// More than one entry matched; which one is meant is unknowable.
    Ambiguous,
}

/// The directory's verdict on a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    /// Why, for the log: the directory's own words where it gave any.
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Created,
    AlreadyExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    NotFound,
}

/// One attribute of a new entry and its values.
/// Values are bytes: a password written as `unicodePwd` is not UTF-8.
pub type Attribute = (String, HashSet<Vec<u8>>);

/// A password as `attribute` must hold it: Active Directory's `unicodePwd`
/// takes the password in double quotes, encoded UTF-16LE; every other
/// attribute takes it as it is.
pub fn password_value(attribute: &str, password: &str) -> Vec<u8> {
    if attribute.eq_ignore_ascii_case("unicodePwd") {
        format!("\"{password}\"").encode_utf16().flat_map(u16::to_le_bytes).collect()
    } else {
        password.as_bytes().to_vec()
    }
}

pub struct Directory {
    connector: Connector,
    /// The service account's connections for searches, a share for each
    /// worker: a connection answers on the runtime that opened it, which is
    /// quickest for that runtime's own tasks.
    searches: PerWorker<LentPool>,
    /// Connections for user binds, shared out the same way.
    binds: PerWorker<LentPool>,
    /// The service account's connection for writes.
    writes: WriteConnection,
    metrics: Arc<Metrics>,
}

impl Directory {
    /// The directory `settings` describe, used by `workers` workers
    /// ([`crate::workers`]): the pool sizes are divided between them, so
    /// that they bound the connections of the whole process.
    pub fn new(settings: &config::Ldap, metrics: Arc<Metrics>, workers: usize) -> Self {
        let pools = |size, account: &Option<ServiceAccount>| {
            let pools = workers::shares(size, workers).into_iter();
            PerWorker::new(pools.map(|size| LentPool::new(settings, size, account.clone())).collect())
        };
        Directory {
            connector: Connector::new(settings),
            searches: pools(settings.pool_size, &settings.service_account),
            binds: pools(settings.bind_pool_size, &None),
            writes: WriteConnection::new(settings),
            metrics,
        }
    }

    /// Sets the metrics that describe the connections as they are now.
    pub fn export_state(&self) {
        self.metrics.set_directory_state(&DirectoryState {
            servers: self.connector.health(),
            idle_search_connections: self.searches.iter().map(LentPool::idle_connections).sum(),
            idle_bind_connections: self.binds.iter().map(LentPool::idle_connections).sum(),
            write_connections: self.writes.open_connections(),
        });
    }

    /// Searches for the entry matching `filter`, as the service account.
    pub async fn find(&self, base: &str, scope: Scope, filter: &str) -> Result<Lookup, DirectoryError> {
        let scope = match scope {
            Scope::Base => SearchScope::Base,
            Scope::One => SearchScope::One,
            Scope::Sub => SearchScope::Sub,
        };
        let filter = parsed("search", filter)?;
        // Two entries are enough to know the answer is ambiguous.
        let (dns, result) = self.search("search", base, scope, &filter, 2).await?;
        match (meaning(result.rc), <[_; 1]>::try_from(dns)) {
            (Meaning::Success, Ok([dn])) => Ok(Lookup::Found(dn)),
            (Meaning::Success, Err(dns)) if dns.is_empty() => Ok(Lookup::NotFound),
            (Meaning::Success | Meaning::SizeLimitExceeded, _) => Ok(Lookup::Ambiguous),
            _ => Err(DirectoryError::from_result("search", &result)),
        }
    }

    /// Whether the directory answers: a read of the root DSE, as the service
    /// account, on the connections for searches (and so through failover).
    pub async fn answers(&self) -> Result<(), DirectoryError> {
        let (_, result) =
            self.search("root DSE read", "", SearchScope::Base, &Filter::everything(), 0).await?;
        succeeded("root DSE read", &result)
    }

    /// Whether an entry exists at `dn`, as the service account.
    pub async fn exists(&self, dn: &str) -> Result<bool, DirectoryError> {
        let (dns, result) = self.search("read", dn, SearchScope::Base, &Filter::everything(), 0).await?;
        match meaning(result.rc) {
            Meaning::Success => Ok(!dns.is_empty()),
            Meaning::NoSuchObject => Ok(false),
            _ => Err(DirectoryError::from_result("read", &result)),
        }
    }

    /// Binds as `dn` with `password` on a connection used for nothing but
    /// user binds. The password must not be empty:
    /// an empty one is an unauthenticated bind, which some servers let through.
    pub async fn check_password(&self, dn: &str, password: &str) -> Result<Verdict, DirectoryError> {
        if password.is_empty() {
            return Ok(Verdict::Invalid("empty password".into()));
        }
        let _in_flight = self.metrics.user_bind_started();
        let started = Instant::now();
        let result = self.user_bind(dn, password).await;
        self.metrics.ldap_operation("user bind", result.is_ok(), started.elapsed());
        let result = result?;
        let policy = password_policy_response(&result.ctrls);
        let ad_reason = || active_directory_reason(&result.text);
        match (meaning(result.rc), policy) {
            // OpenLDAP lets an account whose password was reset bind, but
            // for nothing except changing it: that is not a login.
            (Meaning::Success, Some(PolicyState::Error(why))) => Ok(Verdict::Invalid(why.into())),
            (Meaning::Success, policy) => {
                if let Some(PolicyState::Warning(warning)) = policy {
                    info!(dn, %warning, "password policy warning");
                }
                Ok(Verdict::Valid)
            }
            (Meaning::InvalidCredentials | Meaning::PolicyRefused, Some(PolicyState::Error(why))) => {
                Ok(Verdict::Invalid(why.into()))
            }
            (Meaning::InvalidCredentials, _) => {
                Ok(Verdict::Invalid(ad_reason().unwrap_or("invalid credentials").into()))
            }
            (Meaning::PolicyRefused, _) => Ok(Verdict::Invalid(match ad_reason() {
                Some(reason) => reason.into(),
                None => format!("refused by the directory: {}", result.text),
            })),
            _ => Err(DirectoryError::from_result("bind", &result)),
        }
    }

    /// The directory's answer to a bind as `dn`, on a connection for user
    /// binds. Not retried on another connection or server: a bind that
    /// failed midway may still have counted against the account's lockout.
    async fn user_bind(&self, dn: &str, password: &str) -> Result<LdapResult, DirectoryError> {
        let bind = async |connection: &mut wire::Connection| {
            connection.bind(dn, password, &[PASSWORD_POLICY_OID]).await
        };
        let lent = self.binds.current().get(&self.connector).await?;
        self.on_lent(lent, bind).await.map_err(|e| e.into_error("bind"))
    }

    /// The DNs of the entries under `base` that `filter` matches, and the
    /// search's result, as the service account. A search that finds its
    /// connection closed is tried once more on a new one if the connection
    /// had served before, and so may have been dropped while idle: the first
    /// request after a directory restart succeeds. One that got no answer in
    /// time is not, as that would double the wait.
    async fn search(
        &self,
        operation: &'static str,
        base: &str,
        scope: SearchScope,
        filter: &Filter,
        size_limit: i32,
    ) -> Result<(Vec<String>, LdapResult), DirectoryError> {
        let started = Instant::now();
        let search = async |connection: &mut wire::Connection| {
            connection.search_dns(base, scope, filter, size_limit).await
        };
        let outcome = async {
            let searches = self.searches.current();
            let lent = searches.get(&self.connector).await?;
            let reused = lent.reused;
            match self.on_lent(lent, search).await {
                Err(e) if e.lost() && reused => {
                    let lent = searches.get_new(&self.connector).await?;
                    self.on_lent(lent, search).await.map_err(|e| e.into_error(operation))
                }
                outcome => outcome.map_err(|e| e.into_error(operation)),
            }
        }
        .await;
        self.metrics.ldap_operation(operation, outcome.is_ok(), started.elapsed());
        outcome
    }

    /// Runs `operation` on `lent`, and passes over its server if it got no answer.
    async fn on_lent<T>(
        &self,
        lent: Lent<'_>,
        operation: impl AsyncFnOnce(&mut wire::Connection) -> Result<T, WireError>,
    ) -> Result<T, NoAnswer> {
        let server = lent.server;
        let outcome = lent.run(self.connector.timeout, operation).await;
        if let Err(e) = &outcome {
            self.connector.mark_failed(server, e);
        }
        outcome
    }

    /// Adds an entry, as the service account.
    pub async fn add(&self, dn: &str, attributes: Vec<Attribute>) -> Result<Added, DirectoryError> {
        let timeout = self.connector.timeout;
        let attributes: Vec<(Vec<u8>, HashSet<Vec<u8>>)> =
            attributes.into_iter().map(|(name, values)| (name.into_bytes(), values)).collect();
        let add = async |mut ldap: Ldap| ldap.with_timeout(timeout).add(dn, attributes.clone()).await;
        let result = self.as_service("add", add).await?;
        match meaning(result.rc) {
            Meaning::Success => Ok(Added::Created),
            Meaning::AlreadyExists => Ok(Added::AlreadyExists),
            _ => Err(DirectoryError::from_result("add", &result)),
        }
    }

    /// Sets a password with the Password Modify extended operation (RFC 3062),
    /// as the service account, so the directory hashes it by its own rules.
    pub async fn set_password_exop(&self, dn: &str, password: &str) -> Result<(), DirectoryError> {
        let timeout = self.connector.timeout;
        let modify = async |mut ldap: Ldap| {
            let exop = PasswordModify { user_id: Some(dn), old_pass: None, new_pass: Some(password) };
            // The response carries no value when the new password is supplied:
            // only the result code is read (ldap3's parser would panic on it).
            ldap.with_timeout(timeout).extended(exop).await.map(|ldap3::result::ExopResult(_, result)| result)
        };
        let result = self.as_service("password modify", modify).await?;
        succeeded("password modify", &result)
    }

    /// Replaces the password in `attribute` (encoded as [`password_value`]
    /// says), as the service account.
    pub async fn replace_password(
        &self,
        dn: &str,
        attribute: &str,
        password: &str,
    ) -> Result<(), DirectoryError> {
        let timeout = self.connector.timeout;
        let value = password_value(attribute, password);
        let modify = async |mut ldap: Ldap| {
            let change = Mod::Replace(attribute.as_bytes().to_vec(), HashSet::from([value.clone()]));
            ldap.with_timeout(timeout).modify(dn, vec![change]).await
        };
        let result = self.as_service("modify", modify).await?;
        succeeded("modify", &result)
    }

    /// Whether `member_dn` is a member of the group `group_dn`, directly
    /// (`member` or `uniqueMember`) or, with `nested`, through nested groups
    /// (Active Directory's LDAP_MATCHING_RULE_IN_CHAIN), as the service account.
    pub async fn is_member(
        &self,
        group_dn: &str,
        member_dn: &str,
        nested: bool,
    ) -> Result<bool, DirectoryError> {
        let member = ldap3::ldap_escape(member_dn);
        let filter = if nested {
            format!("(member:1.2.840.113556.1.4.1941:={member})")
        } else {
            format!("(|(member={member})(uniqueMember={member}))")
        };
        let filter = parsed("group search", &filter)?;
        let (dns, result) = self.search("group search", group_dn, SearchScope::Base, &filter, 0).await?;
        match meaning(result.rc) {
            Meaning::Success => Ok(!dns.is_empty()),
            _ => Err(DirectoryError::from_result("group search", &result)),
        }
    }

    /// Deletes an entry, as the service account.
    pub async fn delete(&self, dn: &str) -> Result<Deleted, DirectoryError> {
        let timeout = self.connector.timeout;
        let delete = async |mut ldap: Ldap| ldap.with_timeout(timeout).delete(dn).await;
        let result = self.as_service("delete", delete).await?;
        match meaning(result.rc) {
            Meaning::Success => Ok(Deleted::Deleted),
            Meaning::NoSuchObject => Ok(Deleted::NotFound),
            _ => Err(DirectoryError::from_result("delete", &result)),
        }
    }

    /// Writes as the service account: runs `write` on the connection for
    /// writes. A connection found dead, or whose operation timed out or was
    /// abandoned by the request's deadline, is discarded: a server that
    /// stopped answering may never answer on it again. A write is never
    /// tried twice, as it may have been carried out the first time.
    async fn as_service<T, Fut>(
        &self,
        operation: &'static str,
        write: impl FnOnce(Ldap) -> Fut,
    ) -> Result<T, DirectoryError>
    where
        Fut: Future<Output = Result<T, LdapError>>,
    {
        let lease = self.writes.get(&self.connector).await?;
        let outcome = self.watched(operation, &lease, write(lease.ldap.clone())).await;
        outcome.map_err(|e| DirectoryError::from_client(operation, e))
    }

    /// Awaits one operation on a leased connection, and discards the
    /// connection if the operation fails with it or is cancelled.
    async fn watched<T>(
        &self,
        name: &'static str,
        lease: &Lease,
        operation: impl Future<Output = Result<T, LdapError>>,
    ) -> Result<T, LdapError> {
        let mut guard = DiscardUnlessDone { writes: &self.writes, lease, done: false };
        let started = Instant::now();
        let outcome = operation.await;
        self.metrics.ldap_operation(name, outcome.is_ok(), started.elapsed());
        guard.done = match &outcome {
            Ok(_) => true,
            Err(e) if connection_lost(e) || matches!(e, LdapError::Timeout { .. }) => {
                // The server went away or stopped answering: pass over it too.
                self.connector.mark_failed(lease.server, e);
                false
            }
            Err(_) => true,
        };
        outcome
    }
}

/// `filter`, parsed; a filter that does not parse is a bug, since the
/// configured templates are checked at start and every value is escaped.
fn parsed(operation: &'static str, filter: &str) -> Result<Filter, DirectoryError> {
    Filter::parse(filter)
        .ok_or_else(|| DirectoryError::Client { operation, message: "the filter does not parse".into() })
}

/// Discards a leased connection when dropped before it is marked done: on
/// failure, and when the request's deadline drops the operation midway.
struct DiscardUnlessDone<'a> {
    writes: &'a WriteConnection,
    lease: &'a Lease,
    done: bool,
}

impl Drop for DiscardUnlessDone<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.writes.discard(self.lease);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::password_value;

    #[test]
    fn unicode_pwd_is_the_quoted_password_in_utf16le() {
        let value = password_value("unicodePwd", "pä");
        assert_eq!(value, [0x22, 0, b'p', 0, 0xe4, 0, 0x22, 0]);
        assert_eq!(password_value("UNICODEPWD", "x"), password_value("unicodePwd", "x"));
        assert_eq!(password_value("userPassword", "pä"), "pä".as_bytes());
    }
}
