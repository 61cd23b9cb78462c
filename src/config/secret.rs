//! Strings that must never be printed: passwords and API credentials, and
//! the two pairs they come in.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A secret value. `Debug`, `Display` and `Serialize` print a placeholder, so a
/// secret cannot reach a log line or the `check-config` output by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

const HIDDEN: &str = "<hidden>";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that has to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HIDDEN)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(HIDDEN)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// The credentials Prosody must send (`http_auth_credentials`), split at
/// the first colon: the password may contain more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCredentials {
    pub user: String,
    pub password: Secret,
}

impl ApiCredentials {
    /// From `user:password`; `None` unless both parts are present.
    pub fn parse(value: &Secret) -> Option<Self> {
        let (user, password) = value.expose().split_once(':')?;
        if user.is_empty() || password.is_empty() {
            return None;
        }
        Some(ApiCredentials { user: user.to_owned(), password: Secret::new(password) })
    }
}

/// The account the service searches and writes as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub dn: String,
    pub password: Secret,
}

struct SecretVisitor;

/// serde's own type errors quote the value they found; for a secret that would
/// print it, so every non-string answer is a fixed message instead.
const NOT_A_STRING: &str = "must be a string (an all-digit environment value is read as a \
                            number and loses leading zeros: use the matching *_file key)";

impl de::Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
        Err(E::custom(NOT_A_STRING))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_credentials_split_at_the_first_colon() {
        let api = ApiCredentials::parse(&Secret::new("prosody:s3cr:et")).unwrap();
        assert_eq!((api.user.as_str(), api.password.expose()), ("prosody", "s3cr:et"));
        assert!(ApiCredentials::parse(&Secret::new("no-colon")).is_none());
        assert!(ApiCredentials::parse(&Secret::new(":password")).is_none());
        assert!(ApiCredentials::parse(&Secret::new("user:")).is_none());
    }

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "<hidden>");
        assert_eq!(
            toml::to_string(&[("s", &secret)].into_iter().collect::<std::collections::BTreeMap<_, _>>())
                .unwrap()
                .trim(),
            "s = \"<hidden>\""
        );
    }
}
