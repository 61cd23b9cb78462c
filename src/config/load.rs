//! Reading the configuration: defaults, then the TOML file, then
//! `AUTH_HTTP_LDAP_<SECTION>__<KEY>` environment variables; secrets from
//! `*_file` keys; per-host tables laid over the top-level ones; and the checks
//! that types alone cannot make. Every error names the key and where it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Value};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{HostSettings, Hosts, Http, Ldap, Log, Operations, Register, Secret, Settings, Users};

/// Where the service looks for its configuration when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/auth-http-ldap/config.toml";

const ENV_PREFIX: &str = "AUTH_HTTP_LDAP_";

/// A configuration that cannot be used; each error names the key at fault.
#[derive(Debug)]
pub struct ConfigError(Vec<Problem>);

#[derive(Debug)]
struct Problem {
    key: String,
    origin: Option<String>,
    message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match &problem.origin {
                Some(origin) => write!(f, "{} (from {}): {}", problem.key, origin, problem.message)?,
                None => write!(f, "{}: {}", problem.key, problem.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads the file at `path` (which must exist) and the environment.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let figment = Figment::new().merge(Toml::file_exact(path)).merge(Env::prefixed(ENV_PREFIX).split("__"));
    build(&figment)
}

/// Reads a configuration from a TOML string alone, without the environment.
pub fn load_str(toml: &str) -> Result<Settings, ConfigError> {
    build(&Figment::from(Toml::string(toml)))
}

/// The file's shape: host-specific sections stay raw until they are laid over
/// the top-level ones, so that a host may override a single key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    http: Http,
    #[serde(default)]
    ldap: Ldap,
    #[serde(default)]
    log: Log,
    #[serde(default)]
    users: Dict,
    #[serde(default)]
    operations: Dict,
    #[serde(default)]
    register: Dict,
    #[serde(default)]
    hosts: BTreeMap<String, HostOverride>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostOverride {
    #[serde(default)]
    users: Dict,
    #[serde(default)]
    operations: Dict,
    #[serde(default)]
    register: Dict,
}

fn build(figment: &Figment) -> Result<Settings, ConfigError> {
    let file: FileConfig = figment.extract().map_err(|e| from_figment(figment, e, &[]))?;
    let mut problems = Vec::new();

    let hosts = if file.hosts.is_empty() {
        let top = HostOverride { users: Dict::new(), operations: Dict::new(), register: Dict::new() };
        host_settings(figment, &file, &top, &[], &mut problems).map(|settings| Hosts::Any(Box::new(settings)))
    } else {
        let mut named = BTreeMap::new();
        for (name, overrides) in &file.hosts {
            let prefix = ["hosts", name.as_str()];
            if name.is_empty() {
                problems.push(problem(figment, "hosts", "a host name must not be empty"));
            }
            if let Some(settings) = host_settings(figment, &file, overrides, &prefix, &mut problems) {
                named.insert(name.clone(), settings);
            }
        }
        Some(Hosts::Named { hosts: named })
    };

    let mut http = file.http;
    let mut ldap = file.ldap;
    http.credentials =
        read_secret(figment, "http.credentials", http.credentials, &http.credentials_file, &mut problems);
    ldap.bind_password = read_secret(
        figment,
        "ldap.bind_password",
        ldap.bind_password,
        &ldap.bind_password_file,
        &mut problems,
    );
    check_http(figment, &http, &mut problems);
    check_ldap(figment, &ldap, &mut problems);
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&file.log.level) {
        problems.push(problem(figment, "log.level", &format!("not a valid log filter: {e}")));
    }

    match hosts {
        Some(hosts) if problems.is_empty() => Ok(Settings { http, ldap, log: file.log, hosts }),
        _ => Err(ConfigError(problems)),
    }
}

/// One host's settings: the top-level sections with the host's keys laid over them.
fn host_settings(
    figment: &Figment,
    file: &FileConfig,
    overrides: &HostOverride,
    prefix: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<HostSettings> {
    let users = section::<Users>(figment, "users", &file.users, &overrides.users, prefix, problems);
    let operations = section::<Operations>(
        figment,
        "operations",
        &file.operations,
        &overrides.operations,
        prefix,
        problems,
    );
    let register =
        section::<Register>(figment, "register", &file.register, &overrides.register, prefix, problems);
    let settings = HostSettings { users: users?, operations: operations?, register: register? };

    let key = |name: &str| [prefix, &[name]].concat().join(".");
    if settings.operations.register && settings.register.dn.is_none() {
        problems.push(problem(figment, &key("register.dn"), "required when operations.register is true"));
    }
    if settings.operations.register && settings.register.object_classes.is_empty() {
        problems.push(problem(
            figment,
            &key("register.object_classes"),
            "must name at least one object class",
        ));
    }
    if settings.operations.password_attribute.is_empty() {
        problems.push(problem(figment, &key("operations.password_attribute"), "must not be empty"));
    }
    Some(settings)
}

/// Lays `over` on `base` key by key (a host's table replaces a top-level key
/// whole, so `register.attributes` is replaced rather than merged) and reads the result.
fn section<T: DeserializeOwned>(
    figment: &Figment,
    name: &str,
    base: &Dict,
    over: &Dict,
    prefix: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let mut merged = base.clone();
    merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    let path: Vec<&str> = prefix.iter().copied().chain([name]).collect();
    match Value::from(merged).deserialize::<T>() {
        Ok(value) => Some(value),
        Err(e) => {
            problems.extend(from_figment(figment, e, &path).0);
            None
        }
    }
}

/// Fills a secret from its `*_file` key, refusing both or an empty one.
fn read_secret(
    figment: &Figment,
    key: &str,
    inline: Option<Secret>,
    file: &Option<PathBuf>,
    problems: &mut Vec<Problem>,
) -> Option<Secret> {
    let file_key = format!("{key}_file");
    match (inline, file) {
        (Some(_), Some(_)) => {
            problems.push(problem(figment, key, &format!("set either {key} or {file_key}, not both")));
            None
        }
        (Some(secret), None) if secret.expose().is_empty() => {
            problems.push(problem(figment, key, "must not be empty"));
            None
        }
        (Some(secret), None) => Some(secret),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => {
                // Files written by `echo` end in a newline that is not part of the secret.
                let value = text.strip_suffix('\n').unwrap_or(&text);
                let value = value.strip_suffix('\r').unwrap_or(value);
                if value.is_empty() {
                    problems.push(problem(figment, &file_key, &format!("{} is empty", path.display())));
                    None
                } else {
                    Some(Secret::new(value))
                }
            }
            Err(e) => {
                problems.push(problem(figment, &file_key, &format!("cannot read {}: {e}", path.display())));
                None
            }
        },
        (None, None) => None,
    }
}

fn check_http(figment: &Figment, http: &Http, problems: &mut Vec<Problem>) {
    if let Some(credentials) = &http.credentials {
        let key = if http.credentials_file.is_some() { "http.credentials_file" } else { "http.credentials" };
        match credentials.expose().split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {}
            _ => problems.push(problem(
                figment,
                key,
                "must be \"user:password\", as in Prosody's http_auth_credentials",
            )),
        }
    }
    if http.request_timeout.is_zero() {
        problems.push(problem(figment, "http.request_timeout", "must be longer than zero"));
    }
    if http.max_body_bytes == 0 {
        problems.push(problem(figment, "http.max_body_bytes", "must be more than zero"));
    }
}

fn check_ldap(figment: &Figment, ldap: &Ldap, problems: &mut Vec<Problem>) {
    let scheme_ok = ["ldap://", "ldaps://", "ldapi://"]
        .iter()
        .any(|scheme| ldap.url.len() > scheme.len() && ldap.url.starts_with(scheme));
    if !scheme_ok {
        problems.push(problem(
            figment,
            "ldap.url",
            "must be ldap://host:port, ldaps://host:port or ldapi://%2Fpath",
        ));
    }
    match (&ldap.bind_dn, &ldap.bind_password) {
        (Some(dn), _) if dn.is_empty() => {
            problems.push(problem(
                figment,
                "ldap.bind_dn",
                "must not be empty; leave it out for anonymous search",
            ));
        }
        // A DN without a password is an unauthenticated bind (RFC 4513 5.1.2),
        // which some servers accept as anonymous: refuse the mistake here.
        (Some(_), None) => problems.push(problem(
            figment,
            "ldap.bind_password",
            "required when ldap.bind_dn is set (or set ldap.bind_password_file)",
        )),
        (None, Some(_)) => {
            problems.push(problem(figment, "ldap.bind_dn", "required when a bind password is set"))
        }
        _ => {}
    }
    if ldap.connect_timeout.is_zero() {
        problems.push(problem(figment, "ldap.connect_timeout", "must be longer than zero"));
    }
    if ldap.timeout.is_zero() {
        problems.push(problem(figment, "ldap.timeout", "must be longer than zero"));
    }
}

fn problem(figment: &Figment, key: &str, message: &str) -> Problem {
    Problem { key: key.to_owned(), origin: origin(figment, key), message: message.to_owned() }
}

/// Where a key's value came from: the file, or the environment variable.
fn origin(figment: &Figment, key: &str) -> Option<String> {
    // Host names contain dots, so look up the deepest prefix figment can find.
    let parts: Vec<&str> = key.split('.').collect();
    (1..=parts.len()).rev().find_map(|n| {
        let metadata = figment.find_metadata(&parts[..n].join("."))?;
        Some(describe(metadata, &parts[..n]))
    })
}

fn describe(metadata: &figment::Metadata, keys: &[&str]) -> String {
    let profile = figment::Profile::Default;
    let interpolated = metadata.interpolate(&profile, keys);
    match &metadata.source {
        Some(figment::Source::File(path)) => format!("{}", path.display()),
        _ if metadata.name.contains("environment") => {
            format!("environment variable {ENV_PREFIX}{}", interpolated.to_uppercase().replace('.', "__"))
        }
        _ => metadata.name.to_string(),
    }
}

/// figment's words, except where they quote themselves into knots.
fn message(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::UnknownField(_, expected) => {
            format!("unknown key; the keys here are: {}", expected.join(", "))
        }
        Kind::MissingField(_) => "required, and not set".to_owned(),
        other => other.to_string(),
    }
}

fn from_figment(figment: &Figment, error: figment::Error, prefix: &[&str]) -> ConfigError {
    ConfigError(
        error
            .into_iter()
            .map(|e| {
                let mut key: Vec<String> =
                    prefix.iter().map(|s| s.to_string()).chain(e.path.iter().cloned()).collect();
                // figment reports a missing field at its parent's path.
                if let figment::error::Kind::MissingField(field) = &e.kind {
                    key.push(field.to_string());
                }
                let key = if key.is_empty() { "configuration".to_owned() } else { key.join(".") };
                let origin = match &e.metadata {
                    Some(metadata) => {
                        Some(describe(metadata, &e.path.iter().map(String::as_str).collect::<Vec<_>>()))
                    }
                    None => origin(figment, &key),
                };
                Problem { key, origin, message: message(&e.kind) }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scope;

    const MINIMAL: &str = "[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n";

    fn error(toml: &str) -> String {
        match load_str(toml) {
            Ok(_) => panic!("accepted:\n{toml}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let settings = load_str(MINIMAL).unwrap();
        assert_eq!(settings.http.listen.to_string(), "127.0.0.1:5281");
        assert_eq!(settings.http.request_timeout, std::time::Duration::from_secs(5));
        assert_eq!(settings.http.max_body_bytes, 8192);
        assert_eq!(settings.ldap.url, "ldap://127.0.0.1:389");
        let host = settings.host("anything.example").unwrap();
        assert_eq!(host.users.scope, Scope::Sub);
        assert!(!host.operations.register && !host.operations.set_password && !host.operations.remove_user);
        assert_eq!(host.users.filter.render("romeo", ""), "(&(objectClass=inetOrgPerson)(uid=romeo))");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = error(&format!("{MINIMAL}fitler = \"(uid={{user}})\"\n"));
        assert!(e.contains("users") && e.contains("fitler"), "{e}");
        let e = error(&format!("{MINIMAL}[http]\nlisten_on = \"x\"\n"));
        assert!(e.contains("listen_on"), "{e}");
        let e = error(&format!("{MINIMAL}[nonsense]\n"));
        assert!(e.contains("nonsense"), "{e}");
    }

    #[test]
    fn a_missing_base_dn_is_named() {
        assert!(error("").contains("users.base_dn"), "{}", error(""));
    }

    #[test]
    fn bad_values_are_named_with_their_key() {
        let e = error(&format!("{MINIMAL}[http]\nrequest_timeout = \"soon\"\n"));
        assert!(e.contains("http.request_timeout"), "{e}");
        let e = error(&format!("{MINIMAL}[http]\nlisten = \"nowhere\"\n"));
        assert!(e.contains("http.listen"), "{e}");
        let e = error(&format!("{MINIMAL}[ldap]\nurl = \"http://x\"\n"));
        assert!(e.contains("ldap.url"), "{e}");
        let e = error(&MINIMAL.replace("base_dn", "scope = \"deep\"\nbase_dn"));
        assert!(e.contains("users.scope"), "{e}");
        let e = error(&MINIMAL.replace("base_dn", "filter = \"(uid=romeo)\"\nbase_dn"));
        assert!(e.contains("users.filter") && e.contains("{user}"), "{e}");
        let e = error(&format!("{MINIMAL}[log]\nlevel = \"loud=[\"\n"));
        assert!(e.contains("log.level"), "{e}");
    }

    #[test]
    fn a_bind_dn_needs_a_password() {
        let e = error(&format!("{MINIMAL}[ldap]\nbind_dn = \"cn=svc\"\n"));
        assert!(e.contains("ldap.bind_password"), "{e}");
    }

    #[test]
    fn secrets_come_from_one_place_and_never_appear_in_errors() {
        let e = error(&format!(
            "{MINIMAL}[ldap]\nbind_dn = \"cn=svc\"\nbind_password = \"hunter2\"\nbind_password_file = \"/nonexistent\"\n"
        ));
        assert!(e.contains("ldap.bind_password") && !e.contains("hunter2"), "{e}");
        let e = error(&format!(
            "{MINIMAL}[ldap]\nbind_dn = \"cn=svc\"\nbind_password_file = \"/nonexistent/pw\"\n"
        ));
        assert!(e.contains("ldap.bind_password_file") && e.contains("/nonexistent/pw"), "{e}");
        let e = error(&format!("{MINIMAL}[ldap]\nbind_dn = \"cn=svc\"\nbind_password = 123456\n"));
        assert!(e.contains("ldap.bind_password") && !e.contains("123456"), "{e}");
        let e = error(&format!("{MINIMAL}[http]\ncredentials = \"no-colon\"\n"));
        assert!(e.contains("http.credentials") && !e.contains("no-colon"), "{e}");
    }

    #[test]
    fn secret_files_lose_their_final_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, " s3cret \n").unwrap();
        let toml =
            format!("{MINIMAL}[ldap]\nbind_dn = \"cn=svc\"\nbind_password_file = \"{}\"\n", path.display());
        let settings = load_str(&toml).unwrap();
        assert_eq!(settings.ldap.bind_password.unwrap().expose(), " s3cret ");
    }

    #[test]
    fn hosts_override_single_keys_and_refuse_other_domains() {
        let toml = format!(
            "{MINIMAL}[users]\n[hosts.\"example.com\"]\n[hosts.\"example.org\"]\nusers = {{ base_dn = \"ou=org,dc=example,dc=com\" }}\noperations = {{ set_password = true }}\n"
        )
        .replace("[users]\n[hosts", "[hosts");
        let settings = load_str(&toml).unwrap();
        let com = settings.host("example.com").unwrap();
        let org = settings.host("example.org").unwrap();
        assert_eq!(com.users.base_dn, "ou=people,dc=example,dc=com");
        assert_eq!(org.users.base_dn, "ou=org,dc=example,dc=com");
        assert_eq!(org.users.filter, com.users.filter);
        assert!(org.operations.set_password && !com.operations.set_password);
        assert!(settings.host("example.net").is_none());
    }

    #[test]
    fn host_errors_name_the_host() {
        let e = error(&format!("{MINIMAL}[hosts.\"example.com\"]\nusers = {{ fitler = \"x\" }}\n"));
        assert!(e.contains("hosts.example.com.users") && e.contains("fitler"), "{e}");
        let e = error(&format!("{MINIMAL}[hosts.\"example.com\"]\noperations = {{ register = true }}\n"));
        assert!(e.contains("hosts.example.com.register.dn"), "{e}");
    }

    #[test]
    fn registration_needs_a_dn() {
        let e = error(&format!("{MINIMAL}[operations]\nregister = true\n"));
        assert!(e.contains("register.dn"), "{e}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = load(Path::new("/nonexistent/config.toml")).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/config.toml"), "{e}");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The shipped example is a working configuration with the defaults it documents.
    #[test]
    fn the_documented_example_loads_with_its_stated_defaults() {
        let example = include_str!("../../config/auth-http-ldap.toml");
        let settings = load_str(example).unwrap();
        let documented = load_str("[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n").unwrap();
        assert_eq!(
            toml::to_string(&settings).unwrap(),
            toml::to_string(&documented).unwrap(),
            "config/auth-http-ldap.toml states a value that is not the default"
        );
    }

    /// Every key of the built-in configuration appears in the example, so none goes undocumented.
    #[test]
    fn the_example_mentions_every_key() {
        let example = include_str!("../../config/auth-http-ldap.toml");
        let full = "[http]\ncredentials = \"a:b\"\n[ldap]\nbind_dn = \"x\"\nbind_password = \"y\"\n\
                    [users]\nbase_dn = \"x\"\nbind_dn_template = \"uid={user}\"\n[register]\ndn = \"uid={user}\"\n";
        let table: toml::Table = toml::to_string(&load_str(full).unwrap()).unwrap().parse().unwrap();
        let mut keys = Vec::new();
        for (section, values) in &table {
            keys.push(format!("[{section}]"));
            keys.extend(values.as_table().into_iter().flat_map(|t| t.keys().cloned()));
        }
        keys.extend(["credentials_file".into(), "bind_password_file".into(), "[hosts.".into()]);
        for key in keys {
            assert!(example.contains(&key), "config/auth-http-ldap.toml does not document {key}");
        }
    }
}
