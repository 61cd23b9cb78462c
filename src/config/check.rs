//! The rules that types alone cannot state: secrets read from their files,
//! DNs well formed, keys that need each other, timeouts that could never
//! take effect, and a log filter that means what it says.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::value::{Dict, Value};

use super::credentials::{API_CREDENTIALS, Credential, Credentials, LDAP_PASSWORD};
use super::dn::{DnError, check_dn};
use super::error::{Problem, origin, problem};
use super::{
    ApiCredentials, DirectoryKind, HostSettings, Hosts, Http, Ldap, Logins, PasswordChange, RegisterPassword,
    Secret, ServiceAccount,
};
use crate::template::DnTemplate;

/// Reads each secret from its `*_file` key when given, or from its systemd
/// credential when neither key is, and resolves the API credentials and the
/// service account from whichever holds them.
pub(super) fn resolve_secrets(
    figment: &Figment,
    http: &mut Http,
    ldap: &mut Ldap,
    stored: &Credentials,
    problems: &mut Vec<Problem>,
) {
    let credentials =
        read_secret(figment, "http.credentials", &http.credentials, &http.credentials_file, problems)
            .or_credential(stored, API_CREDENTIALS, figment, problems);
    if let SecretRead::Read { key, secret } = credentials {
        match ApiCredentials::parse(&secret) {
            Some(parsed) => http.api_credentials = Some(parsed),
            None => problems.push(problem(
                figment,
                &key,
                "must be \"user:password\", the value of Prosody's http_auth_credentials",
            )),
        }
    }

    let password =
        read_secret(figment, "ldap.bind_password", &ldap.bind_password, &ldap.bind_password_file, problems)
            .or_credential(stored, LDAP_PASSWORD, figment, problems);
    if let Some(dn) = ldap.bind_dn.as_deref().filter(|dn| !dn.is_empty())
        && let Err(e) = check_dn(dn)
    {
        let example = "cn=auth-http-ldap,ou=services,dc=example,dc=com";
        problems.push(problem(figment, "ldap.bind_dn", &dn_message(dn, &e, example)));
    }
    match (&ldap.bind_dn, password) {
        (Some(dn), _) if dn.is_empty() => {
            problems.push(problem(
                figment,
                "ldap.bind_dn",
                "must not be empty; leave it out for anonymous search",
            ));
        }
        (Some(dn), SecretRead::Read { secret, .. }) => {
            ldap.service_account = Some(ServiceAccount { dn: dn.clone(), password: secret });
        }
        // The password's own key has said what is wrong with it.
        (Some(_), SecretRead::Unusable { .. }) => {}
        // A DN without a password is an unauthenticated bind (RFC 4513 5.1.2),
        // which some servers accept as anonymous: refuse the mistake here.
        (Some(_), SecretRead::NotSet) => problems.push(problem(
            figment,
            "ldap.bind_password",
            &format!(
                "required when ldap.bind_dn is set (or set ldap.bind_password_file, or store the \
                 systemd credential {LDAP_PASSWORD}: see the README's install steps)"
            ),
        )),
        (None, SecretRead::Read { key, .. } | SecretRead::Unusable { key }) => {
            let from = origin(figment, &key).map(|o| format!(", from {o}")).unwrap_or_default();
            problems.push(problem(
                figment,
                "ldap.bind_dn",
                &format!(
                    "required, as a bind password is set ({key}{from}); or remove that for anonymous search"
                ),
            ));
        }
        (None, SecretRead::NotSet) => {}
    }
}

/// A secret as its two keys give it.
enum SecretRead {
    /// Neither key is set.
    NotSet,
    /// A key is set, and a problem with it has been recorded.
    Unusable { key: String },
    /// The secret, and the key it came from.
    Read { key: String, secret: Secret },
}

/// A secret, read from its file when that key is set. Both keys, an empty
/// value or an unreadable file are problems, recorded here once.
fn read_secret(
    figment: &Figment,
    key: &str,
    inline: &Option<Secret>,
    file: &Option<PathBuf>,
    problems: &mut Vec<Problem>,
) -> SecretRead {
    let file_key = format!("{key}_file");
    let mut unusable = |key: &str, message: &str| {
        problems.push(problem(figment, key, message));
        SecretRead::Unusable { key: key.to_owned() }
    };
    match (inline, file) {
        (Some(_), Some(_)) => unusable(key, &format!("set either {key} or {file_key}, not both")),
        (Some(secret), None) if secret.expose().is_empty() => unusable(key, "must not be empty"),
        (Some(secret), None) => SecretRead::Read { key: key.to_owned(), secret: secret.clone() },
        (None, Some(path)) => read_secret_file(figment, file_key, path, problems),
        (None, None) => SecretRead::NotSet,
    }
}

fn read_secret_file(figment: &Figment, key: String, path: &Path, problems: &mut Vec<Problem>) -> SecretRead {
    match std::fs::read_to_string(path) {
        Ok(text) => secret_text(figment, key, &text, &path.display().to_string(), problems),
        Err(e) => {
            problems.push(problem(figment, &key, &format!("cannot read {}: {e}", path.display())));
            SecretRead::Unusable { key }
        }
    }
}

/// `text` as a secret, `source` naming where it came from.
fn secret_text(
    figment: &Figment,
    key: String,
    text: &str,
    source: &str,
    problems: &mut Vec<Problem>,
) -> SecretRead {
    // Files written by `echo` end in a newline that is not part of the secret.
    let value = text.strip_suffix('\n').unwrap_or(text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        problems.push(problem(figment, &key, &format!("{source} is empty")));
        SecretRead::Unusable { key }
    } else {
        SecretRead::Read { key, secret: Secret::new(value) }
    }
}

impl SecretRead {
    /// When neither key is set, the systemd credential `name`, if it exists.
    /// A problem with it is recorded under the key it stands in for.
    fn or_credential(
        self,
        stored: &Credentials,
        name: &str,
        figment: &Figment,
        problems: &mut Vec<Problem>,
    ) -> SecretRead {
        if !matches!(self, SecretRead::NotSet) {
            return self;
        }
        let key = format!("the systemd credential {name}");
        match stored.find(name) {
            None => SecretRead::NotSet,
            Some(Credential::File(path)) => read_secret_file(figment, key, &path, problems),
            Some(Credential::Value(secret)) => secret_text(figment, key, secret.expose(), name, problems),
            Some(Credential::Unusable(why)) => {
                problems.push(problem(figment, &key, &why));
                SecretRead::Unusable { key }
            }
        }
    }
}

/// The DNs in a host's `users` and `register` tables, each checked where
/// it is written (the file's top-level tables, or one `[hosts]` table), so
/// that a malformed DN is named once, under its own key.
pub(super) fn check_dns(
    figment: &Figment,
    key: impl Fn(&str) -> String,
    users: &Dict,
    register: &Dict,
    problems: &mut Vec<Problem>,
) {
    let people = "ou=people,dc=example,dc=com";
    let template = "uid={user},ou=people,dc=example,dc=com";
    let keys = [
        ("users.base_dn", users.get("base_dn"), people, false),
        (
            "users.require_group",
            users.get("require_group"),
            "cn=xmpp-users,ou=groups,dc=example,dc=com",
            false,
        ),
        ("users.bind_dn_template", users.get("bind_dn_template"), template, true),
        ("register.dn", register.get("dn"), template, true),
    ];
    for (name, value, example, is_template) in keys {
        // A value that is not text is refused, in its own words, when it is read.
        let Some(text) = value.and_then(Value::as_str) else { continue };
        let dn = if is_template {
            // A template's own mistakes (a missing {user}) are named when it
            // is read. A user name is escaped before it is put in, so every
            // name makes the same DN syntax; the placeholders themselves
            // stand in, as plain text, so that a message quotes the template
            // as it is written.
            match DnTemplate::try_from(text.to_owned()) {
                Ok(template) => template.render("{user}", "{server}"),
                Err(_) => continue,
            }
        } else {
            text.to_owned()
        };
        if let Err(e) = check_dn(&dn) {
            problems.push(problem(figment, &key(name), &dn_message(&dn, &e, example)));
        }
    }
}

/// "`ou=people,,dc=example` has an empty part between two commas; expected
/// a DN such as ou=people,dc=example,dc=com".
fn dn_message(dn: &str, error: &DnError, example: &str) -> String {
    match error {
        DnError::Empty => format!("is empty; expected a DN such as {example}"),
        error => format!("`{dn}` {error}; expected a DN such as {example}"),
    }
}

/// Settings of `[logins]` that would silently turn a guard off.
pub(super) fn check_logins(figment: &Figment, logins: &Logins, problems: &mut Vec<Problem>) {
    // Failures are counted even without a budget, for the administrator to see.
    if logins.failure_window.is_zero() {
        let message = "must be longer than zero: it is how long failed logins are counted, e.g. \"15m\"";
        problems.push(problem(figment, "logins.failure_window", message));
    }
    if logins.max_entries == 0 {
        problems.push(problem(figment, "logins.max_entries", "must be at least 1"));
    }
}

pub(super) fn check_limits(figment: &Figment, http: &Http, ldap: &Ldap, problems: &mut Vec<Problem>) {
    if http.request_timeout.is_zero() {
        problems.push(problem(figment, "http.request_timeout", "must be longer than zero"));
    }
    if http.max_body_bytes == 0 {
        problems.push(problem(figment, "http.max_body_bytes", "must be more than zero"));
    }
    if http.header_timeout.is_zero() {
        problems.push(problem(figment, "http.header_timeout", "must be longer than zero"));
    }
    for (key, value) in [
        ("http.max_connections", http.max_connections),
        ("http.max_incomplete_connections", http.max_incomplete_connections),
    ] {
        if value == 0 {
            problems.push(problem(figment, key, "must be at least 1"));
        }
    }
    if http.workers == Some(0) {
        problems.push(problem(figment, "http.workers", "must be at least 1"));
    }
    if ldap.pool_size == 0 {
        problems.push(problem(figment, "ldap.pool_size", "must be at least 1"));
    }
    if ldap.bind_pool_size == 0 {
        problems.push(problem(figment, "ldap.bind_pool_size", "must be at least 1"));
    }
    for (key, duration) in [
        ("ldap.max_connection_age", ldap.max_connection_age),
        ("ldap.max_connection_idle", ldap.max_connection_idle),
        ("ldap.skip_failed_server_for", ldap.skip_failed_server_for),
    ] {
        if duration.is_zero() {
            problems.push(problem(figment, key, "must be longer than zero"));
        }
    }
    for (key, timeout) in [("ldap.connect_timeout", ldap.connect_timeout), ("ldap.timeout", ldap.timeout)] {
        if timeout.is_zero() {
            problems.push(problem(figment, key, "must be longer than zero"));
        } else if timeout > http.request_timeout {
            let message = format!(
                "{} is longer than http.request_timeout ({}), which ends the request first, so it could never take effect",
                humantime_serde::re::humantime::format_duration(timeout),
                humantime_serde::re::humantime::format_duration(http.request_timeout)
            );
            problems.push(problem(figment, key, &message));
        }
    }
}

/// One host's cross-key rules; `key` names a key under that host.
pub(super) fn check_host(
    figment: &Figment,
    host: &HostSettings,
    key: impl Fn(&str) -> String,
    problems: &mut Vec<Problem>,
) {
    if host.operations.register && host.register.dn.is_none() {
        let from = origin(figment, &key("operations.register"))
            .map(|o| format!(" (set in {o})"))
            .unwrap_or_default();
        problems.push(problem(
            figment,
            &key("register.dn"),
            &format!("required, as operations.register is true{from}"),
        ));
    }
    if host.operations.register && host.register.object_classes.is_empty() {
        problems.push(problem(
            figment,
            &key("register.object_classes"),
            "must name at least one object class",
        ));
    }
    if host.operations.password_attribute.is_empty() {
        problems.push(problem(figment, &key("operations.password_attribute"), "must not be empty"));
    }
}

/// Password writes that a directory refuses, or should refuse, in clear
/// text: Active Directory takes `unicodePwd` only over TLS (and Samba takes
/// it in clear, so the rule is kept here), and 389-DS answers
/// confidentialityRequired. Better said when the file is read than as a 500.
pub(super) fn check_password_transport(
    figment: &Figment,
    ldap: &Ldap,
    hosts: &Hosts,
    problems: &mut Vec<Problem>,
) {
    let encrypted = ldap.starttls || ldap.url.iter().all(|url| url.scheme() == "ldaps");
    if encrypted {
        return;
    }
    for (name, host) in hosts.iter() {
        let operations = &host.operations;
        let key = |key: &str| match name {
            Some(name) => format!("hosts.{name}.{key}"),
            None => key.to_owned(),
        };
        let writes_attribute = (operations.set_password
            && operations.password_change == PasswordChange::Modify)
            || (operations.register && host.register.password == RegisterPassword::Attribute);
        if writes_attribute && operations.password_attribute.eq_ignore_ascii_case("unicodePwd") {
            let message = "unicodePwd is written only over TLS: use ldaps:// or ldap.starttls = true";
            problems.push(problem(figment, &key("operations.password_attribute"), message));
        } else if ldap.directory == DirectoryKind::Ds389 && (operations.set_password || operations.register) {
            let message = "389-DS takes passwords only over TLS: use ldaps:// or ldap.starttls = true";
            let which =
                if operations.set_password { "operations.set_password" } else { "operations.register" };
            problems.push(problem(figment, &key(which), message));
        }
    }
}

/// A tracing filter where a bare word must be a level: tracing reads any
/// other bare word as a target, so a typo such as "verbose" would silently
/// switch every log line off.
pub(super) fn check_log_level(figment: &Figment, level: &str, problems: &mut Vec<Problem>) {
    for directive in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !directive.contains('=') && directive.parse::<tracing::level_filters::LevelFilter>().is_err() {
            let message = format!(
                "{directive:?} is not a level (trace, debug, info, warn, error, off); \
                 a module needs one, as in auth_http_ldap=debug"
            );
            problems.push(problem(figment, "log.level", &message));
            return;
        }
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(level) {
        problems.push(problem(figment, "log.level", &format!("not a valid log filter: {e}")));
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    const MINIMAL: &str = "[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n";

    fn error(toml: &str) -> String {
        match load_str(toml) {
            Ok(_) => panic!("accepted:\n{toml}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn an_unreadable_password_file_is_one_error() {
        let e = error(&format!(
            "{MINIMAL}[ldap]\nbind_dn = \"cn=svc\"\nbind_password_file = \"/nonexistent/pw\"\n"
        ));
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.starts_with("ldap.bind_password_file") && e.contains("cannot read /nonexistent/pw"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("pw");
        std::fs::write(&empty, "\n").unwrap();
        let e = error(&format!(
            "{MINIMAL}[ldap]\nbind_dn = \"cn=svc\"\nbind_password_file = \"{}\"\n",
            empty.display()
        ));
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains("is empty"), "{e}");
    }

    #[test]
    fn a_password_without_a_bind_dn_is_named_even_when_its_file_is_unreadable() {
        let e = error(&format!("{MINIMAL}[ldap]\nbind_password_file = \"/nonexistent/pw\"\n"));
        assert!(e.contains("ldap.bind_password_file") && e.contains("cannot read"), "{e}");
        assert!(e.contains("ldap.bind_dn") && e.contains("required"), "{e}");
    }

    #[test]
    fn malformed_dns_are_named_by_key_when_the_file_is_read() {
        let e = error("[users]\nbase_dn = \"ou=people,,dc=example\"\n");
        assert_eq!(
            e,
            "users.base_dn (from TOML source string): `ou=people,,dc=example` has an empty part between two \
             commas; expected a DN such as ou=people,dc=example,dc=com"
        );
        let e =
            error(&format!("{MINIMAL}[ldap]\nbind_dn = \"CN=Smith, John,DC=corp\"\nbind_password = \"x\"\n"));
        assert!(e.starts_with("ldap.bind_dn") && e.contains(r"written `\,`"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        let e = error(&format!("{MINIMAL}require_group = \"cn=xmpp;users\"\n"));
        assert!(e.starts_with("users.require_group") && e.contains("unescaped `;`"), "{e}");
        let e = error(&format!("{MINIMAL}require_group = \"\"\n"));
        assert!(e.starts_with("users.require_group") && e.contains("is empty; expected a DN such as"), "{e}");
        let e = error("[users]\nbase_dn = \"\"\n");
        assert!(e.starts_with("users.base_dn") && e.contains("is empty"), "{e}");
    }

    #[test]
    fn dn_templates_are_checked_as_written() {
        let e = error(&format!("{MINIMAL}bind_dn_template = \"uid={{user}},,dc=example\"\n"));
        assert!(
            e.starts_with("users.bind_dn_template")
                && e.contains("`uid={user},,dc=example` has an empty part"),
            "{e}"
        );
        let e = error(&format!("{MINIMAL}bind_dn_template = \"{{user}},dc=example\"\n"));
        assert!(e.contains("a part without `=` (`{user}`)"), "{e}");
        let e = error(&format!(
            "{MINIMAL}[operations]\nregister = true\n[register]\ndn = \"uid={{user}},ou=p\\\\q\"\n"
        ));
        assert!(e.starts_with("register.dn") && e.contains(r"invalid escape `\q`"), "{e}");
        // A template without {user} is named once, for that.
        let e = error(&format!("{MINIMAL}bind_dn_template = \"ou=,dc=x\"\n"));
        assert!(e.contains("{user}") && e.lines().count() == 1, "{e}");
        let fine = format!(
            "{MINIMAL}bind_dn_template = \"CN={{user}},CN=Users,DC=example,DC=com\"\n\
             [register]\ndn = \"uid={{user}}+ou={{server}},ou=people,dc=example,dc=com\"\n"
        );
        load_str(&fine).unwrap();
    }

    #[test]
    fn a_dn_in_a_host_table_is_named_once_where_it_is_written() {
        let toml = "[users]\nbase_dn = \"ou=people,,dc=example\"\n[hosts.\"a.com\"]\n[hosts.\"b.com\"]\n";
        let e = error(toml);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.starts_with("users.base_dn"), "{e}");
        let toml = format!(
            "{MINIMAL}[hosts.\"a.com\"]\nusers = {{ require_group = \"cn=g,,dc=x\" }}\n[hosts.\"b.com\"]\n"
        );
        let e = error(&toml);
        assert!(e.starts_with("hosts.a.com.users.require_group") && e.lines().count() == 1, "{e}");
        let toml = format!("{MINIMAL}[hosts.\"a.com\"]\nregister = {{ dn = \"uid={{user}},\" }}\n");
        let e = error(&toml);
        assert!(e.starts_with("hosts.a.com.register.dn") && e.contains("ends with a comma"), "{e}");
    }
}
