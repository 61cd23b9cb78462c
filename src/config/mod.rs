//! The configuration: typed settings, read once from a TOML file and the
//! environment by [`load`], and printed with secrets hidden by `check-config`.
//!
//! This is the only module that reads files or the environment. Everything
//! else receives a finished [`Settings`] whose values have been checked.

mod load;
mod secret;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::template::{DnTemplate, FilterTemplate, ValueTemplate};

pub use load::{ConfigError, DEFAULT_PATH, load, load_str};
pub use secret::Secret;

/// Everything the service needs, checked and with secrets read from their files.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub http: Http,
    pub ldap: Ldap,
    pub log: Log,
    #[serde(flatten)]
    pub hosts: Hosts,
}

/// Which XMPP domains are served, and with what settings.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Hosts {
    /// No `[hosts]` table: one set of settings for every `server`.
    Any(Box<HostSettings>),
    /// Only these domains; any other `server` is refused.
    Named { hosts: BTreeMap<String, HostSettings> },
}

impl Settings {
    /// The settings for one XMPP domain, or `None` when the domain is not served.
    pub fn host(&self, server: &str) -> Option<&HostSettings> {
        match &self.hosts {
            Hosts::Any(settings) => Some(settings),
            Hosts::Named { hosts } => hosts.get(server),
        }
    }
}

/// What may differ between XMPP domains.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostSettings {
    pub users: Users,
    pub operations: Operations,
    pub register: Register,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Address to listen on. Default `127.0.0.1:5281`.
    pub listen: SocketAddr,
    /// `user:password`, as in Prosody's `http_auth_credentials`. Default: none
    /// (no `Authorization` required).
    pub credentials: Option<Secret>,
    /// A file holding `credentials`. Default: none.
    pub credentials_file: Option<PathBuf>,
    /// Every request is answered within this time. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Largest accepted request body. Default `8192`.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ldap {
    /// `ldap://host:port`, `ldaps://host:port` or `ldapi://%2Fpath%2Fsocket`.
    /// Default `ldap://127.0.0.1:389`.
    pub url: String,
    /// The service account that searches and writes. Default: none (anonymous search).
    pub bind_dn: Option<String>,
    pub bind_password: Option<Secret>,
    pub bind_password_file: Option<PathBuf>,
    /// Time allowed to open a connection. Default `3s`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed for one LDAP operation. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Base,
    One,
    Sub,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// Where users are searched. Required.
    pub base_dn: String,
    /// Default `sub`.
    #[serde(default = "defaults::scope")]
    pub scope: Scope,
    /// Default `(&(objectClass=inetOrgPerson)(uid={user}))`.
    #[serde(default = "defaults::filter")]
    pub filter: FilterTemplate,
    /// When set, logins bind to this DN directly instead of searching. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_dn_template: Option<DnTemplate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordChange {
    /// The Password Modify extended operation (RFC 3062): the directory hashes.
    Exop,
    /// A modify-replace of `password_attribute`.
    Modify,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Operations {
    /// Each write is refused with 501, without touching the directory, unless enabled.
    pub register: bool,
    pub set_password: bool,
    pub remove_user: bool,
    /// Default `exop`.
    pub password_change: PasswordChange,
    /// Default `userPassword`.
    pub password_attribute: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterPassword {
    /// Add the entry, then set its password with the Password Modify operation.
    Exop,
    /// Send the password as `operations.password_attribute` in the add itself.
    Attribute,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Register {
    /// DN of a new account. Required when `operations.register` is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dn: Option<DnTemplate>,
    /// Default `["top", "person", "organizationalPerson", "inetOrgPerson"]`.
    pub object_classes: Vec<String>,
    /// Default `{ uid = "{user}", cn = "{user}", sn = "{user}" }`.
    pub attributes: BTreeMap<String, ValueTemplate>,
    /// How the password of a new account is set. Default `exop`.
    pub password: RegisterPassword,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A tracing filter: `info`, `debug`, `auth_http_ldap=debug,warn`. Default `info`.
    pub level: String,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: defaults::listen(),
            credentials: None,
            credentials_file: None,
            request_timeout: defaults::request_timeout(),
            max_body_bytes: defaults::max_body_bytes(),
        }
    }
}

impl Default for Ldap {
    fn default() -> Self {
        Ldap {
            url: defaults::ldap_url(),
            bind_dn: None,
            bind_password: None,
            bind_password_file: None,
            connect_timeout: defaults::connect_timeout(),
            timeout: defaults::ldap_timeout(),
        }
    }
}

impl Default for Operations {
    fn default() -> Self {
        Operations {
            register: false,
            set_password: false,
            remove_user: false,
            password_change: PasswordChange::Exop,
            password_attribute: defaults::password_attribute(),
        }
    }
}

impl Default for Register {
    fn default() -> Self {
        Register {
            dn: None,
            object_classes: defaults::object_classes(),
            attributes: defaults::attributes(),
            password: RegisterPassword::Exop,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log { level: "info".into() }
    }
}

mod defaults {
    use super::*;

    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 5281))
    }
    pub fn request_timeout() -> Duration {
        Duration::from_secs(5)
    }
    pub fn max_body_bytes() -> usize {
        8192
    }
    pub fn ldap_url() -> String {
        "ldap://127.0.0.1:389".into()
    }
    pub fn connect_timeout() -> Duration {
        Duration::from_secs(3)
    }
    pub fn ldap_timeout() -> Duration {
        Duration::from_secs(5)
    }
    pub fn scope() -> Scope {
        Scope::Sub
    }
    pub fn filter() -> FilterTemplate {
        template("(&(objectClass=inetOrgPerson)(uid={user}))")
    }
    pub fn password_attribute() -> String {
        "userPassword".into()
    }
    pub fn object_classes() -> Vec<String> {
        ["top", "person", "organizationalPerson", "inetOrgPerson"].map(String::from).into()
    }
    pub fn attributes() -> BTreeMap<String, ValueTemplate> {
        ["uid", "cn", "sn"].into_iter().map(|name| (name.to_owned(), template("{user}"))).collect()
    }

    /// For the built-in defaults above, which the template tests cover.
    fn template<T: TryFrom<String, Error = String>>(source: &str) -> T {
        match T::try_from(source.to_owned()) {
            Ok(t) => t,
            Err(e) => unreachable!("built-in template {source:?}: {e}"),
        }
    }
}
