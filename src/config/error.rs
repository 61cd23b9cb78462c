//! What is wrong with a configuration, named by key and by where the value
//! came from: the file, or the environment variable.

use std::fmt;

use figment::Figment;
use figment::error::Kind;

use super::load::ENV_PREFIX;

/// A configuration that cannot be used; each problem names the key at fault.
#[derive(Debug)]
pub struct ConfigError(pub(super) Vec<Problem>);

#[derive(Debug)]
pub(super) struct Problem {
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

/// A problem with `key`, and where its value came from if it was set.
pub(super) fn problem(figment: &Figment, key: &str, message: &str) -> Problem {
    Problem { key: key.to_owned(), origin: origin(figment, key), message: message.to_owned() }
}

/// Where the value of `key` came from, if it was set at all.
pub(super) fn origin(figment: &Figment, key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('.').collect();
    // Host names contain dots, which figment reads as nesting: a key under
    // [hosts] is found by the deepest prefix figment knows, which can only
    // be a file, as host tables cannot come from the environment.
    (1..=parts.len()).rev().find_map(|n| {
        let metadata = figment.find_metadata(&parts[..n].join("."))?;
        let exact = n == parts.len();
        match &metadata.source {
            Some(figment::Source::File(path)) => Some(path.display().to_string()),
            _ if exact && metadata.name.contains("environment") => {
                Some(format!("environment variable {ENV_PREFIX}{}", key.to_uppercase().replace('.', "__")))
            }
            _ if exact => Some(metadata.name.to_string()),
            _ => None,
        }
    })
}

/// figment's words, except where they quote themselves into knots.
fn message(kind: &Kind) -> String {
    match kind {
        Kind::UnknownField(_, expected) => format!("unknown key; the keys here are: {}", expected.join(", ")),
        Kind::MissingField(_) => "required, and not set".to_owned(),
        other => other.to_string(),
    }
}

/// Problems from figment's errors, with `prefix` before their paths.
pub(super) fn from_figment(
    figment: &Figment,
    errors: impl IntoIterator<Item = figment::Error>,
    prefix: &[&str],
) -> Vec<Problem> {
    errors
        .into_iter()
        .map(|e| {
            let mut key: Vec<String> =
                prefix.iter().map(|s| s.to_string()).chain(e.path.iter().cloned()).collect();
            // A list's item is counted from 0 and reads like a key
            // (`ldap.url.1`); the message quotes the item instead.
            while key.len() > 1 && key.last().is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit())) {
                key.pop();
            }
            // figment reports a missing field at its parent's path.
            if let Kind::MissingField(field) = &e.kind {
                key.push(field.to_string());
            }
            let key = if key.is_empty() { "configuration".to_owned() } else { key.join(".") };
            let origin = match &e.metadata {
                Some(metadata) => match &metadata.source {
                    Some(figment::Source::File(path)) => Some(path.display().to_string()),
                    _ => origin(figment, &key).or_else(|| Some(metadata.name.to_string())),
                },
                None => origin(figment, &key),
            };
            Problem { key, origin, message: message(&e.kind) }
        })
        .collect()
}

/// Whether a figment error only says a key is missing.
pub(super) fn is_missing(error: &figment::Error) -> bool {
    matches!(error.kind, Kind::MissingField(_))
}
