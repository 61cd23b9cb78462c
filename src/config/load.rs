//! Reading the configuration: defaults, then the TOML file, then
//! `AUTH_HTTP_LDAP_<SECTION>__<KEY>` environment variables, with each
//! host's tables laid over the top-level ones. The checks live in `check`.

use std::collections::BTreeMap;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Value};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::check::{
    check_dns, check_host, check_limits, check_log_level, check_logins, check_password_transport,
    resolve_secrets,
};
use super::credentials::Credentials;
use super::error::{ConfigError, Problem, from_figment, is_missing, problem};
use super::presets::preset_figment;
use super::tls::{resolve_http_tls, resolve_tls};
use super::{Cache, HostSettings, Hosts, Http, Ldap, Log, Logins, Operations, Register, Settings, Users};

/// Where the service looks for its configuration when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/auth-http-ldap/config.toml";

pub(super) const ENV_PREFIX: &str = "AUTH_HTTP_LDAP_";

/// Reads the file at `path` (which must exist), the environment, and the
/// systemd credentials for secrets neither sets.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let figment = Figment::new().merge(Toml::file_exact(path)).merge(Env::prefixed(ENV_PREFIX).split("__"));
    build(&figment, &Credentials::from_environment())
}

/// Reads a configuration from a TOML string alone, without the environment.
pub fn load_str(toml: &str) -> Result<Settings, ConfigError> {
    build(&Figment::from(Toml::string(toml)), &Credentials::none())
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
    cache: Cache,
    #[serde(default)]
    logins: Logins,
    #[serde(default)]
    log: Log,
    #[serde(default)]
    users: Dict,
    #[serde(default)]
    operations: Dict,
    #[serde(default)]
    register: Dict,
    #[serde(default)]
    hosts: BTreeMap<String, HostSections>,
}

/// The host-specific sections, of the file or of one `[hosts]` table.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HostSections {
    #[serde(default)]
    users: Dict,
    #[serde(default)]
    operations: Dict,
    #[serde(default)]
    register: Dict,
}

fn build(figment: &Figment, credentials: &Credentials) -> Result<Settings, ConfigError> {
    let file: FileConfig = figment.extract().map_err(|e| ConfigError(from_figment(figment, e, &[])))?;
    let mut problems = Vec::new();
    // The preset's tables lie under the file's, key by key.
    let preset: HostSections = preset_figment(file.ldap.directory)
        .extract()
        .map_err(|e| ConfigError(from_figment(figment, e, &["ldap.directory preset"])))?;
    let top = HostSections {
        users: layered(&preset.users, &file.users),
        operations: layered(&preset.operations, &file.operations),
        register: layered(&preset.register, &file.register),
    };

    let hosts = if file.hosts.is_empty() {
        host_settings(figment, &top, &HostSections::default(), &[], &mut problems)
            .map(|settings| Hosts::Any(Box::new(settings)))
    } else {
        // A wrong key in a top-level table would otherwise be reported once
        // per host, under host paths that do not exist in the file.
        check_alone::<Users>(figment, "users", &top.users, &mut problems);
        check_alone::<Operations>(figment, "operations", &top.operations, &mut problems);
        check_alone::<Register>(figment, "register", &top.register, &mut problems);
        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }
        let mut named = BTreeMap::new();
        for (name, overrides) in &file.hosts {
            if name.is_empty() {
                problems.push(problem(figment, "hosts", "a host name must not be empty"));
            }
            let prefix = ["hosts", name.as_str()];
            if let Some(settings) = host_settings(figment, &top, overrides, &prefix, &mut problems) {
                named.insert(name.clone(), settings);
            }
        }
        Some(Hosts::Named { hosts: named })
    };

    // After the hosts' settings, whose early return is for the top-level
    // tables' own problems alone.
    check_dns(figment, str::to_owned, &file.users, &file.register, &mut problems);
    for (name, host) in &file.hosts {
        let key = |key: &str| format!("hosts.{name}.{key}");
        check_dns(figment, key, &host.users, &host.register, &mut problems);
    }

    let (mut http, mut ldap) = (file.http, file.ldap);
    resolve_secrets(figment, &mut http, &mut ldap, credentials, &mut problems);
    resolve_tls(figment, &mut ldap, &mut problems);
    resolve_http_tls(figment, &mut http, &mut problems);
    check_limits(figment, &http, &ldap, &mut problems);
    check_logins(figment, &file.logins, &mut problems);
    check_log_level(figment, &file.log.level, &mut problems);
    if let Some(hosts) = &hosts {
        check_password_transport(figment, &ldap, hosts, &mut problems);
    }

    match hosts {
        Some(hosts) if problems.is_empty() => {
            Ok(Settings { http, ldap, cache: file.cache, logins: file.logins, log: file.log, hosts })
        }
        _ => Err(ConfigError(problems)),
    }
}

/// One host's settings: the top-level sections with the host's keys laid over them.
fn host_settings(
    figment: &Figment,
    top: &HostSections,
    host: &HostSections,
    prefix: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<HostSettings> {
    let users = section::<Users>(figment, "users", &top.users, &host.users, prefix, problems);
    let operations =
        section::<Operations>(figment, "operations", &top.operations, &host.operations, prefix, problems);
    let register = section::<Register>(figment, "register", &top.register, &host.register, prefix, problems);
    let settings = HostSettings { users: users?, operations: operations?, register: register? };
    check_host(figment, &settings, |name| [prefix, &[name]].concat().join("."), problems);
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
    let path: Vec<&str> = prefix.iter().copied().chain([name]).collect();
    match Value::from(layered(base, over)).deserialize::<T>() {
        Ok(value) => Some(value),
        Err(e) => {
            problems.extend(from_figment(figment, e, &path));
            None
        }
    }
}

/// `over`'s keys laid over `base`'s, each key replaced whole.
fn layered(base: &Dict, over: &Dict) -> Dict {
    let mut merged = base.clone();
    merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// Checks a top-level section by itself, except for keys it may leave to
/// every host (such as `users.base_dn`).
fn check_alone<T: DeserializeOwned>(
    figment: &Figment,
    name: &str,
    section: &Dict,
    problems: &mut Vec<Problem>,
) {
    if let Err(e) = Value::from(section.clone()).deserialize::<T>() {
        problems.extend(from_figment(figment, e.into_iter().filter(|e| !is_missing(e)), &[name]));
    }
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
        assert_eq!(settings.http.listen.0, ["127.0.0.1:5281".parse::<std::net::SocketAddr>().unwrap()]);
        assert_eq!(settings.http.request_timeout, std::time::Duration::from_secs(5));
        assert_eq!(settings.http.max_body_bytes, 8192);
        assert_eq!((settings.ldap.pool_size, settings.ldap.bind_pool_size), (16, 64));
        assert_eq!(settings.ldap.url.to_string(), "ldap://127.0.0.1:389");
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
        let e = error(&format!("{MINIMAL}[ldap]\nbind_pool_size = 0\n"));
        assert!(e.contains("ldap.bind_pool_size") && e.contains("at least 1"), "{e}");
    }

    #[test]
    fn a_log_level_typo_is_not_a_silent_target() {
        let e = error(&format!("{MINIMAL}[log]\nlevel = \"verbose\"\n"));
        assert!(e.contains("log.level") && e.contains("\"verbose\" is not a level"), "{e}");
        for good in ["debug", "WARN", "auth_http_ldap=debug,warn", "off"] {
            assert!(load_str(&format!("{MINIMAL}[log]\nlevel = \"{good}\"\n")).is_ok(), "{good}");
        }
    }

    #[test]
    fn ldap_timeouts_longer_than_the_request_deadline_are_refused() {
        let e = error(&format!("{MINIMAL}[ldap]\ntimeout = \"1h\"\n"));
        assert!(e.contains("ldap.timeout") && e.contains("could never take effect"), "{e}");
        let e = error(&format!("{MINIMAL}[http]\nrequest_timeout = \"2s\"\n"));
        assert!(e.contains("ldap.connect_timeout") && e.contains("ldap.timeout"), "{e}");
    }

    #[test]
    fn ldap_urls_are_checked() {
        for bad in ["http://x", "ldap://", "ldap://host:99999", "ldap:/x", "dc1.example.com"] {
            let e = error(&format!("{MINIMAL}[ldap]\nurl = \"{bad}\"\n"));
            assert!(e.contains("ldap.url"), "{bad}: {e}");
        }
        for good in ["ldaps://dc1.example.com:636", "ldapi://%2Frun%2Fslapd%2Fldapi", "ldap://[::1]:389"] {
            assert!(load_str(&format!("{MINIMAL}[ldap]\nurl = \"{good}\"\n")).is_ok(), "{good}");
        }
    }

    #[test]
    fn api_credentials_are_parsed_once_and_kept() {
        let settings = load_str(&format!("{MINIMAL}[http]\ncredentials = \"prosody:a:b\"\n")).unwrap();
        let api = settings.http.api_credentials.unwrap();
        assert_eq!((api.user.as_str(), api.password.expose()), ("prosody", "a:b"));
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
        let account = settings.ldap.service_account.unwrap();
        assert_eq!((account.dn.as_str(), account.password.expose()), ("cn=svc", " s3cret "));
        // The value is in force, and not shown as if it were set inline too.
        assert!(settings.ldap.bind_password.is_none());
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
    fn a_wrong_top_level_key_is_named_once_where_it_is() {
        let toml = format!("{MINIMAL}fitler = \"x\"\n[hosts.\"a.com\"]\n[hosts.\"b.com\"]\n");
        let e = error(&toml);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.starts_with("users.fitler"), "{e}");
    }

    #[test]
    fn every_host_needs_a_base_dn_from_somewhere() {
        let toml = "[hosts.\"a.com\"]\nusers = { base_dn = \"ou=a\" }\n[hosts.\"b.com\"]\n";
        let e = error(toml);
        assert!(e.contains("hosts.b.com.users.base_dn") && !e.contains("a.com"), "{e}");
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
        let full = "[http]\ncredentials = \"a:b\"\n[ldap]\nbind_dn = \"cn=x\"\nbind_password = \"y\"\n\
                    [users]\nbase_dn = \"ou=x\"\nbind_dn_template = \"uid={user}\"\n[register]\ndn = \"uid={user}\"\n";
        let table: toml::Table = toml::to_string(&load_str(full).unwrap()).unwrap().parse().unwrap();
        let mut keys = Vec::new();
        for (section, values) in &table {
            keys.push(format!("[{section}]"));
            // A key is documented by a line that sets it, perhaps commented
            // out: the word alone may stand in a comment about something else.
            keys.extend(values.as_table().into_iter().flat_map(|t| t.keys().map(|key| format!("{key} ="))));
        }
        keys.extend([
            "credentials_file =".into(),
            "bind_password_file =".into(),
            "admin_listen =".into(),
            "require_group =".into(),
            "client_cert_file =".into(),
            "ca_file =".into(),
            "[hosts.".into(),
        ]);
        for key in keys {
            assert!(example.contains(&key), "config/auth-http-ldap.toml does not document {key}");
        }
    }
}
