//! The configuration: typed settings, read once from a TOML file and the
//! environment by [`load`], and printed with secrets hidden by `check-config`.
//!
//! This is the only module that reads files or the environment. Everything
//! else receives a finished [`Settings`] whose values have been checked.

mod check;
mod credentials;
mod dn;
mod error;
mod listen;
mod load;
mod one_or_many;
mod presets;
mod secret;
mod servers;
mod tls;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::template::{DnTemplate, FilterTemplate, ValueTemplate};

pub use credentials::{API_CREDENTIALS, LDAP_PASSWORD};
pub use error::ConfigError;
pub use listen::Addresses;
pub use load::{DEFAULT_PATH, load, load_str};
pub use presets::DirectoryKind;
pub use secret::{ApiCredentials, Secret, ServiceAccount};
pub use servers::{LdapUrl, Servers};
pub use tls::TlsMaterial;

/// Everything the service needs, checked and with secrets read from their files.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub http: Http,
    pub ldap: Ldap,
    pub cache: Cache,
    pub logins: Logins,
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

impl Hosts {
    /// Each host's settings, with its name (`None` for the single set).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Option<&str>, &HostSettings)> + '_> {
        match self {
            Hosts::Any(settings) => Box::new(std::iter::once((None, &**settings))),
            Hosts::Named { hosts } => {
                Box::new(hosts.iter().map(|(name, settings)| (Some(name.as_str()), settings)))
            }
        }
    }
}

impl Settings {
    /// Settings that are allowed but weaken security, to be logged at every start.
    pub fn warnings(&self) -> Vec<String> {
        tls::warnings(&self.http, &self.ldap)
    }

    /// What `ldap.ca_file` holds, a line for each certificate with its
    /// subject and validity, and warnings for those that expire within 30
    /// days of `now` (Unix seconds) or have expired; `None` without the key.
    pub fn ca_file_summary(&self, now: i64) -> Option<(Vec<String>, Vec<String>)> {
        tls::ca_file_summary(&self.ldap, now)
    }

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
    /// Address to listen on, or a list of them; a host name stands for every
    /// address it resolves to. Default `127.0.0.1:5281`.
    pub listen: Addresses,
    /// `user:password`, as in Prosody's `http_auth_credentials`. Default: none
    /// (no `Authorization` required).
    pub credentials: Option<Secret>,
    /// A separate address for `/health`, `/ready` and `/metrics`, served there without
    /// credentials. Default: none (they are served on `listen`).
    #[serde(deserialize_with = "listen::one_address")]
    pub admin_listen: Option<SocketAddr>,
    /// A file holding `credentials`. Default: none.
    pub credentials_file: Option<PathBuf>,
    /// The credentials in force, from either key; set when the file is read.
    #[serde(skip)]
    pub api_credentials: Option<ApiCredentials>,
    /// Every request is answered within this time. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Largest accepted request body. Default `8192`.
    pub max_body_bytes: usize,
    /// A new connection's request line and headers (and TLS handshake) must
    /// all arrive within this, or within `request_timeout` if shorter.
    /// Default `2s`.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Most connections open at once on `listen`. Past it, a new connection
    /// closes an incomplete one, or is refused if every one is
    /// serving a request. Default `4096`.
    pub max_connections: usize,
    /// Most connections open at once whose request has not all arrived;
    /// past it, the oldest of the address holding the most is closed to make
    /// room. Default `1024`.
    pub max_incomplete_connections: usize,
    /// Most incomplete connections from one address (an IPv6 /64 counts as
    /// one); past it, new ones from there are refused. Loopback is never limited. 0 for no limit.
    /// Default `256`.
    pub max_incomplete_per_address: usize,
    /// Threads that serve requests, each with listening sockets of its own
    /// and a share of the directory connections. Default: one per core the
    /// process may use.
    pub workers: Option<usize>,
    /// A certificate chain (PEM) and its key: `listen` then speaks HTTPS.
    /// Default: none (plain HTTP).
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Built from the two files above when the configuration is read.
    #[serde(skip)]
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ldap {
    /// The kind of directory, whose preset gives the defaults of `users`,
    /// `operations` and `register`. Default `openldap`.
    pub directory: DirectoryKind,
    /// `ldap://host:port`, `ldaps://host:port` or `ldapi://%2Fpath%2Fsocket`,
    /// or a list of them tried in order. Default `ldap://127.0.0.1:389`.
    pub url: Servers,
    /// Upgrade `ldap://` connections with StartTLS; a failure is an error,
    /// never a fall-back to plain text. Default `false`.
    pub starttls: bool,
    /// CA certificates (PEM) that the servers' certificates must chain to,
    /// instead of the system's. Default: none (the system's roots).
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM chain) and its key, for servers that ask.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// Accept any server certificate. Logged as a warning at every start.
    pub tls_insecure_skip_verify: bool,
    /// Allow passwords over unencrypted connections to other machines.
    pub allow_plaintext: bool,
    /// The certificates named above, read when the file is read.
    #[serde(skip)]
    pub tls: TlsMaterial,
    /// The service account that searches and writes. Default: none (anonymous search).
    pub bind_dn: Option<String>,
    pub bind_password: Option<Secret>,
    pub bind_password_file: Option<PathBuf>,
    /// `bind_dn` with its password from either key; set when the file is read.
    #[serde(skip)]
    pub service_account: Option<ServiceAccount>,
    /// Time allowed to open a connection. Default `3s`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed for one LDAP operation. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How many connections the service account's searches may use at once,
    /// each kept open for the next search; past it, searches wait for one.
    /// Default `16`.
    pub pool_size: usize,
    /// How many connections user binds may use at once, each kept open for
    /// the next bind; past it, logins wait for one. Default `64`.
    pub bind_pool_size: usize,
    /// A connection older than this is replaced before it is used,
    /// ahead of Active Directory's 15-minute idle cut-off. Default `10m`.
    #[serde(with = "humantime_serde")]
    pub max_connection_age: Duration,
    /// A connection unused for this long is replaced before it is
    /// used: firewalls drop idle connections without a word. Default `1m`.
    #[serde(with = "humantime_serde")]
    pub max_connection_idle: Duration,
    /// A server that failed is passed over for this long, then tried again
    /// in its place in the list. Default `30s`.
    #[serde(with = "humantime_serde")]
    pub skip_failed_server_for: Duration,
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
    /// Only members of this group (a DN) may log in. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_group: Option<String>,
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
    /// Apply SASLprep (RFC 4013) to new passwords, as Prosody does to the
    /// password at login. Default `true`.
    pub normalize_passwords: bool,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// How long a `true` from user_exists is reused. `0s` turns the cache
    /// off. Default `5m`.
    #[serde(with = "humantime_serde")]
    pub user_exists_ttl: Duration,
    /// How long a `false` is reused: shorter, so a new account is seen soon.
    /// Default `30s`.
    #[serde(with = "humantime_serde")]
    pub user_exists_negative_ttl: Duration,
    /// While the directory cannot be reached, a user known to exist within
    /// this time is still answered `true`, so messages to offline users are
    /// stored rather than bounced. `0s` turns this off. Default `24h`.
    #[serde(with = "humantime_serde")]
    pub stale_if_error: Duration,
    /// Most answers kept at once. Default `100000`.
    pub max_entries: usize,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            user_exists_ttl: Duration::from_secs(300),
            user_exists_negative_ttl: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(24 * 3600),
            max_entries: 100_000,
        }
    }
}

/// What keeps failed logins from locking accounts in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logins {
    /// The budget: a user with this many refused passwords, counted until
    /// `failure_window` passes without one, is answered `false` without
    /// asking the directory until then. Set it below the directory's
    /// lockout threshold. `0` sets no budget: new passwords always reach
    /// the directory. Default `0`.
    pub max_failures_per_user: usize,
    /// The same for each client address. Prosody asks from one address for
    /// all its users, so this is off by default: `0`.
    pub max_failures_per_address: usize,
    /// How long without a failure before the counts above start again.
    /// Default `15m`.
    #[serde(with = "humantime_serde")]
    pub failure_window: Duration,
    /// A password that the directory refused for a user is answered `false`
    /// without asking again, and does not count again, until it has not been
    /// tried for this long. `0s` turns it off. Default `5m`.
    #[serde(with = "humantime_serde")]
    pub remember_failed_for: Duration,
    /// A password that just succeeded is answered `true` for this long
    /// without a bind, so a password changed or an account locked in the
    /// directory is noticed only after it. Default `0s` (off).
    #[serde(with = "humantime_serde")]
    pub remember_success_for: Duration,
    /// Most users and addresses tracked by each of the above. Default `100000`.
    pub max_entries: usize,
}

impl Default for Logins {
    fn default() -> Self {
        Logins {
            max_failures_per_user: 0,
            max_failures_per_address: 0,
            failure_window: Duration::from_secs(15 * 60),
            remember_failed_for: Duration::from_secs(5 * 60),
            remember_success_for: Duration::ZERO,
            max_entries: 100_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A tracing filter: `info`, `debug`, `auth_http_ldap=debug,warn`. Default `info`.
    pub level: String,
    /// Default `auto`.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// The journal's own fields when systemd sends standard error to the
    /// journal, plain lines otherwise.
    Auto,
    Plain,
    Json,
    Journald,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: Addresses(vec![defaults::listen()]),
            admin_listen: None,
            credentials: None,
            credentials_file: None,
            api_credentials: None,
            request_timeout: defaults::request_timeout(),
            max_body_bytes: defaults::max_body_bytes(),
            header_timeout: defaults::header_timeout(),
            max_connections: 4096,
            max_incomplete_connections: 1024,
            max_incomplete_per_address: 256,
            workers: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls: None,
        }
    }
}

impl Default for Ldap {
    fn default() -> Self {
        Ldap {
            directory: DirectoryKind::Openldap,
            url: Servers::one(defaults::ldap_url()),
            starttls: false,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            tls_insecure_skip_verify: false,
            allow_plaintext: false,
            tls: TlsMaterial::default(),
            bind_dn: None,
            bind_password: None,
            bind_password_file: None,
            service_account: None,
            connect_timeout: defaults::connect_timeout(),
            timeout: defaults::ldap_timeout(),
            pool_size: 16,
            bind_pool_size: 64,
            max_connection_age: Duration::from_secs(600),
            max_connection_idle: Duration::from_secs(60),
            skip_failed_server_for: Duration::from_secs(30),
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
            normalize_passwords: true,
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
        Log { level: "info".into(), format: LogFormat::Auto }
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
    pub fn header_timeout() -> Duration {
        Duration::from_secs(2)
    }
    pub fn max_body_bytes() -> usize {
        8192
    }
    pub fn ldap_url() -> LdapUrl {
        LdapUrl("ldap://127.0.0.1:389".into())
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
        FilterTemplate::inet_org_person_by_uid()
    }
    pub fn password_attribute() -> String {
        "userPassword".into()
    }
    pub fn object_classes() -> Vec<String> {
        ["top", "person", "organizationalPerson", "inetOrgPerson"].map(String::from).into()
    }
    pub fn attributes() -> BTreeMap<String, ValueTemplate> {
        ["uid", "cn", "sn"].into_iter().map(|name| (name.to_owned(), ValueTemplate::user())).collect()
    }
}
