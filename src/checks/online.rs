//! `check-config --online`: the configuration held against the live
//! directory. Each server is reached on a connection of its own (TLS and
//! the service account's bind included), then each host's settings are
//! tried: the search base, the filter, the required group, and where
//! register would add entries. The service runs the same checks once at
//! start, and logs each failure as a warning.

use std::fmt;
use std::sync::Arc;

use crate::config::{HostSettings, Settings};
use crate::directory::{Directory, DirectoryError, Lookup, ServerProbe};
use crate::metrics::Metrics;

/// Certificates that expire sooner than this are warned about.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// One check and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub status: Status,
    /// What was checked and what was found.
    pub said: String,
    /// The key to change, for a check that did not pass.
    pub key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Passed,
    Warning,
    Failed,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            Status::Passed => "ok     ",
            Status::Warning => "warning",
            Status::Failed => "FAILED ",
        };
        write!(f, "{status}  {}", self.said)?;
        match &self.key {
            Some(key) if self.status != Status::Passed => write!(f, " [change {key}]"),
            _ => Ok(()),
        }
    }
}

/// Every check, in order, for `settings`, `now` being the Unix time to
/// count certificates' days from.
pub async fn run(settings: &Settings, now: i64) -> Vec<Check> {
    let directory = Directory::new(&settings.ldap, Arc::new(Metrics::new()), 1);
    let mut checks = Vec::new();
    let mut answered = false;
    for probe in directory.probe_servers().await {
        answered |= probe.outcome.is_ok();
        checks.extend(server_checks(settings, probe, now));
    }
    if !answered {
        checks
            .push(failed("no directory server answered, so [users] could not be checked".into(), "ldap.url"));
        return checks;
    }
    let hosts: Vec<_> = settings.hosts.iter().collect();
    for (name, host) in hosts {
        checks.extend(host_checks(&directory, name, host).await);
    }
    checks
}

fn server_checks(settings: &Settings, probe: ServerProbe, now: i64) -> Vec<Check> {
    let url = probe.url;
    let probed = match probe.outcome {
        Ok(probed) => probed,
        Err(DirectoryError::Refused { operation, rc, text }) => {
            let error = DirectoryError::Refused { operation, rc, text };
            return vec![failed(format!("{url}: {error}"), "ldap.bind_dn and its password")];
        }
        Err(error) => {
            let key = if error.to_string().contains("ldap.ca_file") { "ldap.ca_file" } else { "ldap.url" };
            return vec![failed(format!("{url}: {error}"), key)];
        }
    };
    let mut checks =
        vec![passed(format!("{url}: connected in {:.1} ms", probed.connected_in.as_secs_f64() * 1000.0))];
    if let Some(certificate) = probed.certificate {
        let days = certificate.days_left(now);
        let said = format!("{url}: TLS certificate trusted: {certificate}; {days} days left");
        checks.push(if days < EXPIRY_WARNING_DAYS {
            Check { status: Status::Warning, said, key: Some("the directory's certificate, soon".into()) }
        } else {
            passed(said)
        });
    }
    checks.push(match &settings.ldap.service_account {
        Some(account) => passed(format!("{url}: bound as the service account, {}", account.dn)),
        None => passed(format!("{url}: no service account (ldap.bind_dn): searches are anonymous")),
    });
    checks
}

async fn host_checks(directory: &Directory, name: Option<&str>, host: &HostSettings) -> Vec<Check> {
    let key = |key: &str| match name {
        Some(name) => format!("hosts.\"{name}\".{key}"),
        None => key.to_owned(),
    };
    let users = &host.users;
    let mut checks = Vec::new();
    let base = &users.base_dn;
    let base_ok = match directory.exists(base).await {
        Ok(true) => {
            checks.push(passed(format!(
                "{}: {base} exists and the service account can read it",
                key("users.base_dn")
            )));
            true
        }
        Ok(false) => {
            let said = format!(
                "{}: {base} does not exist, or the service account cannot read it",
                key("users.base_dn")
            );
            checks.push(failed(said, &key("users.base_dn")));
            false
        }
        Err(error) => {
            checks.push(failed(
                format!("{}: reading {base}: {error}", key("users.base_dn")),
                &key("users.base_dn"),
            ));
            false
        }
    };
    match (&users.bind_dn_template, base_ok) {
        (Some(_), _) => checks.push(passed(format!(
            "{}: logins bind to their DN directly, with no search",
            key("users.bind_dn_template")
        ))),
        (None, false) => {}
        (None, true) => {
            let filter = users.filter.render_any_user(name);
            let checked = match directory.find(base, users.scope, &filter).await {
                Ok(Lookup::Found(dn)) => {
                    passed(format!("{}: {filter} finds 1 entry, {dn}", key("users.filter")))
                }
                Ok(Lookup::Ambiguous) => passed(format!("{}: {filter} finds entries", key("users.filter"))),
                Ok(Lookup::NotFound) => failed(
                    format!(
                        "{}: {filter} finds no entry under {base}, so no one could log in",
                        key("users.filter")
                    ),
                    &key("users.filter"),
                ),
                Err(error) => {
                    failed(format!("{}: {filter}: {error}", key("users.filter")), &key("users.filter"))
                }
            };
            checks.push(checked);
        }
    }
    if let Some(group) = &users.require_group {
        checks.push(
            readable(
                directory,
                group,
                &key("users.require_group"),
                "is a group the service account can read",
            )
            .await,
        );
    }
    if let (true, Some(template)) = (host.operations.register, &host.register.dn) {
        let dn = template.render("new-user", name.unwrap_or("example.com"));
        match parent(&dn) {
            Some(parent) => checks.push(
                readable(
                    directory,
                    parent,
                    &key("register.dn"),
                    "exists, where register adds entries, and the service account can read it",
                )
                .await,
            ),
            None => checks.push(failed(
                format!("{}: {dn} has no parent entry", key("register.dn")),
                &key("register.dn"),
            )),
        }
    }
    checks
}

/// Whether `dn` exists and can be read, as a check of `key`.
async fn readable(directory: &Directory, dn: &str, key: &str, what: &str) -> Check {
    match directory.exists(dn).await {
        Ok(true) => passed(format!("{key}: {dn} {what}")),
        Ok(false) => {
            failed(format!("{key}: {dn} does not exist, or the service account cannot read it"), key)
        }
        Err(error) => failed(format!("{key}: reading {dn}: {error}"), key),
    }
}

/// The DN of the entry above `dn`: what follows its first unescaped comma.
fn parent(dn: &str) -> Option<&str> {
    let mut escaped = false;
    for (at, c) in dn.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => return Some(dn[at + 1..].trim_start()).filter(|rest| !rest.is_empty()),
            _ => escaped = false,
        }
    }
    None
}

fn passed(said: String) -> Check {
    Check { status: Status::Passed, said, key: None }
}

fn failed(said: String, key: &str) -> Check {
    Check { status: Status::Failed, said, key: Some(key.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::parent;

    #[test]
    fn the_parent_follows_the_first_unescaped_comma() {
        assert_eq!(parent("uid=x,ou=people,dc=example"), Some("ou=people,dc=example"));
        assert_eq!(parent("cn=Smith\\, John,ou=people"), Some("ou=people"));
        assert_eq!(parent("cn=a\\\\,ou=b"), Some("ou=b"));
        assert_eq!(parent("dc=com"), None);
    }
}
