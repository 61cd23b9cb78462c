//! The LDAP directory: finding users, checking their passwords, and adding,
//! changing and deleting them. Knows nothing of HTTP or of mod_auth_http;
//! callers pass filters and DNs that are already rendered and escaped.
//!
//! Every LDAP operation goes through ldap3, on connections opened one way
//! (`connector`) and lent to one operation at a time (`pool`).
//!
//! - `connector`: which server to connect to, TLS and StartTLS, failover.
//! - `pool`: connections lent to one operation at a time.
//! - `account_state`: password policy controls and Active Directory sub-codes.
//! - `error`: what result codes and client errors mean.
//! - [`tls`]: the TLS client configuration, and whom it trusts.

mod account_state;
mod connector;
mod error;
mod pool;
pub mod tls;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use ldap3::controls::RawControl;
use ldap3::exop::PasswordModify;
use ldap3::{Ldap, LdapError, LdapResult, Mod, SearchEntry, SearchOptions};
use tracing::info;

use crate::step;

use crate::certificates::Described;
use crate::config::{self, Scope, ServiceAccount};
use crate::metrics::{DirectoryState, Metrics};
use crate::workers::{self, PerWorker};
use account_state::{PASSWORD_POLICY_OID, PolicyState, active_directory_reason, password_policy_response};
use connector::Connector;
pub use error::DirectoryError;
use error::{Meaning, connection_lost, meaning, succeeded};
use pool::{Lent, Pool};

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

/// One server, checked on a connection of its own.
#[derive(Debug)]
pub struct ServerProbe {
    pub url: String,
    pub outcome: Result<Probed, DirectoryError>,
}

#[derive(Debug)]
pub struct Probed {
    pub connected_in: std::time::Duration,
    /// The certificate the server presented, over TLS.
    pub certificate: Option<Described>,
}

pub struct Directory {
    connector: Connector,
    /// The service account's connections, for searches and writes, a share
    /// for each worker: a connection's driver runs on the runtime that
    /// opened it, which is quickest for that runtime's own tasks.
    service: PerWorker<Pool>,
    /// Connections for user binds, shared out the same way.
    binds: PerWorker<Pool>,
    metrics: Arc<Metrics>,
}

impl Directory {
    /// The directory `settings` describe, used by `workers` workers
    /// ([`crate::workers`]): the pool sizes are divided between them, so
    /// that they bound the connections of the whole process.
    pub fn new(settings: &config::Ldap, metrics: Arc<Metrics>, workers: usize) -> Self {
        let pools = |size, account: &Option<ServiceAccount>| {
            let pools = workers::shares(size, workers).into_iter();
            PerWorker::new(pools.map(|size| Pool::new(settings, size, account.clone())).collect())
        };
        Directory {
            connector: Connector::new(settings),
            service: pools(settings.pool_size, &settings.service_account),
            binds: pools(settings.bind_pool_size, &None),
            metrics,
        }
    }

    /// Sets the metrics that describe the connections as they are now.
    pub fn export_state(&self) {
        self.metrics.set_directory_state(&DirectoryState {
            servers: self.connector.health(),
            idle_search_connections: self.service.iter().map(Pool::idle_connections).sum(),
            idle_bind_connections: self.binds.iter().map(Pool::idle_connections).sum(),
        });
    }

    /// Searches for the entry matching `filter`, as the service account.
    pub async fn find(&self, base: &str, scope: Scope, filter: &str) -> Result<Lookup, DirectoryError> {
        let scope = match scope {
            Scope::Base => ldap3::Scope::Base,
            Scope::One => ldap3::Scope::OneLevel,
            Scope::Sub => ldap3::Scope::Subtree,
        };
        // Two entries are enough to know the answer is ambiguous.
        let (dns, result) = self.search("search", base, scope, filter, 2).await?;
        step!(
            "search under {base:?}, scope {}, filter {filter}: {} ({}){}",
            match scope {
                ldap3::Scope::Base => "base",
                ldap3::Scope::OneLevel => "one",
                ldap3::Scope::Subtree => "sub",
            },
            match dns.len() {
                0 => "no entry matches".to_owned(),
                1 => "1 entry".to_owned(),
                n => format!("{n} entries (the search stops at 2)"),
            },
            error::name(result.rc),
            dns.iter().map(|dn| format!("\n    {dn}")).collect::<String>()
        );
        match (meaning(result.rc), <[_; 1]>::try_from(dns)) {
            (Meaning::Success, Ok([dn])) => Ok(Lookup::Found(dn)),
            (Meaning::Success, Err(dns)) if dns.is_empty() => Ok(Lookup::NotFound),
            (Meaning::Success | Meaning::SizeLimitExceeded, _) => Ok(Lookup::Ambiguous),
            _ => Err(DirectoryError::from_result("search", &result)),
        }
    }

    /// Each server in turn, on a new connection bound as the service
    /// account (anonymous without one): how long the connection took, and
    /// the certificate the server presented, or why it failed.
    pub async fn probe_servers(&self) -> Vec<ServerProbe> {
        let mut probes = Vec::new();
        for server in 0..self.connector.server_count() {
            let started = Instant::now();
            let opened = self.connector.open_on(server, self.service.current().account()).await;
            let outcome = match opened {
                Ok(mut ldap) => {
                    let connected_in = started.elapsed();
                    // Only a TLS connection has one; a failure to fetch it is not the server's.
                    let certificate = ldap.get_peer_certificate().await.ok().flatten();
                    let _ = ldap.unbind().await;
                    Ok(Probed {
                        connected_in,
                        certificate: certificate.as_deref().and_then(Described::from_der),
                    })
                }
                Err(e) => Err(e),
            };
            probes.push(ServerProbe { url: self.connector.url(server).to_owned(), outcome });
        }
        probes
    }

    /// Whether an entry exists at `dn`, as the service account.
    pub async fn exists(&self, dn: &str) -> Result<bool, DirectoryError> {
        let (dns, result) = self.search("read", dn, ldap3::Scope::Base, EVERYTHING, 0).await?;
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
        step!(
            "bind as {dn}: result code {} ({}){}{}{}",
            result.rc,
            error::name(result.rc),
            if result.text.is_empty() { String::new() } else { format!(", \"{}\"", result.text) },
            ad_reason().map(|reason| format!("; Active Directory: {reason}")).unwrap_or_default(),
            match &policy {
                Some(PolicyState::Error(why)) => format!("; password policy: {why}"),
                Some(PolicyState::Warning(warning)) => format!("; password policy warning: {warning}"),
                Some(PolicyState::Fine) => "; password policy: no error".to_owned(),
                None => String::new(),
            }
        );
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
    /// binds, asking for the password policy control. Not retried on
    /// another connection or server: a bind that failed midway may still
    /// have counted against the account's lockout.
    async fn user_bind(&self, dn: &str, password: &str) -> Result<LdapResult, DirectoryError> {
        let bind = async |ldap: &mut Ldap| {
            let policy = RawControl { ctype: PASSWORD_POLICY_OID.to_owned(), crit: false, val: None };
            ldap.with_controls(policy).simple_bind(dn, password).await
        };
        let lent = self.binds.current().get(&self.connector).await?;
        self.on_lent(lent, bind).await.map_err(|e| DirectoryError::from_client("bind", e))
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
        scope: ldap3::Scope,
        filter: &str,
        size_limit: i32,
    ) -> Result<(Vec<String>, LdapResult), DirectoryError> {
        let started = Instant::now();
        let search = async |ldap: &mut Ldap| {
            let ldap = ldap.with_search_options(SearchOptions::new().sizelimit(size_limit));
            let ldap3::SearchResult(entries, result) =
                ldap.search(base, scope, filter, NO_ATTRIBUTES).await?;
            // References are left out by ldap3's search; entries alone remain.
            let dns = entries.into_iter().map(|entry| SearchEntry::construct(entry).dn).collect();
            Ok((dns, result))
        };
        let outcome = async {
            let pool = self.service.current();
            let lent = pool.get(&self.connector).await?;
            let reused = lent.reused;
            match self.on_lent(lent, search).await {
                Err(e) if reused && connection_lost(&e) => {
                    let lent = pool.get_new(&self.connector).await?;
                    self.on_lent(lent, search).await.map_err(|e| DirectoryError::from_client(operation, e))
                }
                outcome => outcome.map_err(|e| DirectoryError::from_client(operation, e)),
            }
        }
        .await;
        self.metrics.ldap_operation(operation, outcome.is_ok(), started.elapsed());
        outcome
    }

    /// Runs `operation` on `lent`, and passes over its server if it got no
    /// answer: the connection was lost, or the server did not answer in time.
    async fn on_lent<T>(
        &self,
        lent: Lent<'_>,
        operation: impl AsyncFnOnce(&mut Ldap) -> Result<T, LdapError>,
    ) -> Result<T, LdapError> {
        let server = lent.server;
        let outcome = lent.run(self.connector.timeout, operation).await;
        if let Err(e) = &outcome
            && (connection_lost(e) || matches!(e, LdapError::Timeout { .. }))
        {
            self.connector.mark_failed(server, e);
        }
        outcome
    }

    /// Adds an entry, as the service account.
    pub async fn add(&self, dn: &str, attributes: Vec<Attribute>) -> Result<Added, DirectoryError> {
        let attributes: Vec<(Vec<u8>, HashSet<Vec<u8>>)> =
            attributes.into_iter().map(|(name, values)| (name.into_bytes(), values)).collect();
        let result = self.as_service("add", async |ldap: &mut Ldap| ldap.add(dn, attributes).await).await?;
        match meaning(result.rc) {
            Meaning::Success => Ok(Added::Created),
            Meaning::AlreadyExists => Ok(Added::AlreadyExists),
            _ => Err(DirectoryError::from_result("add", &result)),
        }
    }

    /// Sets a password with the Password Modify extended operation (RFC 3062),
    /// as the service account, so the directory hashes it by its own rules.
    pub async fn set_password_exop(&self, dn: &str, password: &str) -> Result<(), DirectoryError> {
        let modify = async |ldap: &mut Ldap| {
            let exop = PasswordModify { user_id: Some(dn), old_pass: None, new_pass: Some(password) };
            // The response carries no value when the new password is supplied:
            // only the result code is read (ldap3's parser would panic on it).
            ldap.extended(exop).await.map(|ldap3::result::ExopResult(_, result)| result)
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
        let value = password_value(attribute, password);
        let modify = async |ldap: &mut Ldap| {
            let change = Mod::Replace(attribute.as_bytes().to_vec(), HashSet::from([value]));
            ldap.modify(dn, vec![change]).await
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
        let (dns, result) = self.search("group search", group_dn, ldap3::Scope::Base, &filter, 0).await?;
        step!(
            "group check, {group_dn} {}: {}",
            if nested { "or the groups in it" } else { "directly" },
            match (meaning(result.rc), dns.is_empty()) {
                (Meaning::Success, false) => "a member".to_owned(),
                (Meaning::Success, true) => "not a member".to_owned(),
                (Meaning::NoSuchObject, _) => "the group does not exist".to_owned(),
                _ => format!("result code {} ({})", result.rc, error::name(result.rc)),
            }
        );
        match meaning(result.rc) {
            Meaning::Success => Ok(!dns.is_empty()),
            _ => Err(DirectoryError::from_result("group search", &result)),
        }
    }

    /// Deletes an entry, as the service account.
    pub async fn delete(&self, dn: &str) -> Result<Deleted, DirectoryError> {
        let result = self.as_service("delete", async |ldap: &mut Ldap| ldap.delete(dn).await).await?;
        match meaning(result.rc) {
            Meaning::Success => Ok(Deleted::Deleted),
            Meaning::NoSuchObject => Ok(Deleted::NotFound),
            _ => Err(DirectoryError::from_result("delete", &result)),
        }
    }

    /// Writes as the service account, on one of its connections. A write
    /// is never tried twice, as it may have been carried out the first time.
    async fn as_service<T>(
        &self,
        operation: &'static str,
        write: impl AsyncFnOnce(&mut Ldap) -> Result<T, LdapError>,
    ) -> Result<T, DirectoryError> {
        let started = Instant::now();
        let outcome = async {
            let lent = self.service.current().get(&self.connector).await?;
            self.on_lent(lent, write).await.map_err(|e| DirectoryError::from_client(operation, e))
        }
        .await;
        self.metrics.ldap_operation(operation, outcome.is_ok(), started.elapsed());
        outcome
    }
}

/// Every entry matches it: for reading one entry, or the root DSE, by its DN.
const EVERYTHING: &str = "(objectClass=*)";

/// No attributes, only DNs: RFC 4511's "1.1".
const NO_ATTRIBUTES: [&str; 1] = ["1.1"];

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
