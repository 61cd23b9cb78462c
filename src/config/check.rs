//! The rules that types alone cannot state: secrets read from their files,
//! keys that need each other, timeouts that could never take effect, and a
//! log filter that means what it says.

use std::path::PathBuf;

use figment::Figment;

use super::error::{Problem, origin, problem};
use super::{
    ApiCredentials, DirectoryKind, HostSettings, Hosts, Http, Ldap, Logins, PasswordChange, RegisterPassword,
    Secret, ServiceAccount,
};

/// Reads each secret from its `*_file` key when given, and resolves the API
/// credentials and the service account from whichever key holds them.
pub(super) fn resolve_secrets(
    figment: &Figment,
    http: &mut Http,
    ldap: &mut Ldap,
    problems: &mut Vec<Problem>,
) {
    let credentials =
        read_secret(figment, "http.credentials", &http.credentials, &http.credentials_file, problems);
    if let Some((key, credentials)) = credentials {
        match ApiCredentials::parse(&credentials) {
            Some(parsed) => http.api_credentials = Some(parsed),
            None => problems.push(problem(
                figment,
                &key,
                "must be \"user:password\", the value of Prosody's http_auth_credentials",
            )),
        }
    }

    let password =
        read_secret(figment, "ldap.bind_password", &ldap.bind_password, &ldap.bind_password_file, problems);
    match (&ldap.bind_dn, password) {
        (Some(dn), _) if dn.is_empty() => {
            problems.push(problem(
                figment,
                "ldap.bind_dn",
                "must not be empty; leave it out for anonymous search",
            ));
        }
        (Some(dn), Some((_, password))) => {
            ldap.service_account = Some(ServiceAccount { dn: dn.clone(), password });
        }
        // A DN without a password is an unauthenticated bind (RFC 4513 5.1.2),
        // which some servers accept as anonymous: refuse the mistake here.
        (Some(_), None) => problems.push(problem(
            figment,
            "ldap.bind_password",
            "required when ldap.bind_dn is set (or set ldap.bind_password_file)",
        )),
        (None, Some((key, _))) => {
            let from = origin(figment, &key).map(|o| format!(", from {o}")).unwrap_or_default();
            problems.push(problem(
                figment,
                "ldap.bind_dn",
                &format!(
                    "required, as a bind password is set ({key}{from}); or remove that for anonymous search"
                ),
            ));
        }
        (None, None) => {}
    }
}

/// A secret and the key it came from, read from its file when that key is
/// set. Both keys, an empty value or an unreadable file are problems.
fn read_secret(
    figment: &Figment,
    key: &str,
    inline: &Option<Secret>,
    file: &Option<PathBuf>,
    problems: &mut Vec<Problem>,
) -> Option<(String, Secret)> {
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
        (Some(secret), None) => Some((key.to_owned(), secret.clone())),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => {
                // Files written by `echo` end in a newline that is not part of the secret.
                let value = text.strip_suffix('\n').unwrap_or(&text);
                let value = value.strip_suffix('\r').unwrap_or(value);
                if value.is_empty() {
                    problems.push(problem(figment, &file_key, &format!("{} is empty", path.display())));
                    None
                } else {
                    Some((file_key, Secret::new(value)))
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
    if http.max_connections == 0 {
        problems.push(problem(figment, "http.max_connections", "must be at least 1"));
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
