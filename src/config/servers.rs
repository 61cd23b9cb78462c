//! The directory servers: one URL or an ordered list of them.

use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize};

use super::one_or_many::{self, Listed, OneOrMany};

/// An `ldap://`, `ldaps://` or `ldapi://` URL with a host (for `ldapi`, the
/// percent-encoded socket path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LdapUrl(pub(super) String);

impl LdapUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `ldap`, `ldaps` or `ldapi`.
    pub fn scheme(&self) -> &str {
        self.0.split_once("://").map_or("", |(scheme, _)| scheme)
    }

    /// Whether traffic to this server stays on this machine: a Unix socket,
    /// or a loopback address.
    pub fn is_local(&self) -> bool {
        let Ok(url) = url::Url::parse(&self.0) else { return false };
        // `ldap` is not a scheme the url crate knows, so it reports an IPv4
        // address as an opaque name: read the address from the text.
        match url.host() {
            _ if url.scheme() == "ldapi" => true,
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(name)) => {
                name.eq_ignore_ascii_case("localhost")
                    || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            None => false,
        }
    }
}

impl TryFrom<String> for LdapUrl {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        check_ldap_url(&value)?;
        Ok(LdapUrl(value))
    }
}

const EXAMPLE: &str = "ldaps://dc1.corp.example:636";

/// Why `value` is not a URL the directory client can open, in words that
/// quote it and show the expected form.
fn check_ldap_url(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("is empty; expected an ldap://, ldaps:// or ldapi:// URL, e.g. {EXAMPLE}"));
    }
    let not_ldap = || {
        // A bare host name is the likeliest mistake: show it as a URL.
        let example = if value.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b)) {
            format!("ldaps://{value}")
        } else {
            EXAMPLE.to_owned()
        };
        format!("`{value}` is not an LDAP URL; expected ldap://, ldaps:// or ldapi://, e.g. {example}")
    };
    let url = match url::Url::parse(value) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => return Err(not_ldap()),
        Err(url::ParseError::InvalidPort) => return Err(bad_port(value)),
        Err(url::ParseError::EmptyHost) => return Err(no_server(value)),
        Err(e) => return Err(format!("`{value}` is not a URL ({e}); expected e.g. {EXAMPLE}")),
    };
    if !matches!(url.scheme(), "ldap" | "ldaps" | "ldapi") {
        return Err(not_ldap());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(if url.scheme() == "ldapi" {
            let path = url.path();
            let encoded =
                if path.len() > 1 { path.replace('/', "%2F") } else { "%2Frun%2Fslapd%2Fldapi".to_owned() };
            format!(
                "`{value}` names no socket; the socket's path follows ldapi:// with each / written %2F, \
                 e.g. ldapi://{encoded}"
            )
        } else {
            no_server(value)
        });
    }
    Ok(())
}

fn no_server(value: &str) -> String {
    format!("`{value}` names no server; expected a host name or address after ://, e.g. {EXAMPLE}")
}

/// The words for a port the url crate refused: out of range, or not a number.
fn bad_port(value: &str) -> String {
    let authority = value.split_once("://").map_or(value, |(_, rest)| rest);
    let authority = authority.split(['/', '?', '#']).next().unwrap_or(authority);
    let port = authority.rsplit_once(':').map_or("", |(_, port)| port);
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        format!("port {port} in `{value}` is out of range; a port is 1 to 65535, e.g. {EXAMPLE}")
    } else {
        format!("`{port}` in `{value}` is not a port number; expected e.g. {EXAMPLE}")
    }
}

impl Listed for LdapUrl {
    const EXPECTED: &'static str = "an LDAP URL such as ldaps://dc1.corp.example:636";

    fn parse(text: &str) -> Result<Vec<Self>, String> {
        LdapUrl::try_from(text.to_owned()).map(|url| vec![url])
    }
}

impl From<LdapUrl> for String {
    fn from(url: LdapUrl) -> String {
        url.0
    }
}

impl std::fmt::Display for LdapUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The servers to use, in order of preference: `url = "ldap://a"` or
/// `url = ["ldaps://dc1", "ldaps://dc2"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "OneOrMany<LdapUrl>")]
pub struct Servers(Vec<LdapUrl>);

impl<'de> Deserialize<'de> for Servers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        one_or_many::deserialize(deserializer).map(Servers)
    }
}

impl From<Servers> for OneOrMany<LdapUrl> {
    fn from(servers: Servers) -> Self {
        servers.0.into()
    }
}

impl Servers {
    pub fn one(url: LdapUrl) -> Self {
        Servers(vec![url])
    }

    pub fn iter(&self) -> impl Iterator<Item = &LdapUrl> {
        self.0.iter()
    }
}

impl std::fmt::Display for Servers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self.0.iter().map(LdapUrl::as_str).collect();
        f.write_str(&urls.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> LdapUrl {
        LdapUrl::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn local_means_a_socket_or_loopback() {
        for local in [
            "ldapi://%2Frun%2Fldapi",
            "ldap://127.0.0.1:389",
            "ldap://127.9.9.9",
            "ldap://[::1]:389",
            "ldap://localhost",
        ] {
            assert!(url(local).is_local(), "{local}");
        }
        for remote in
            ["ldap://10.0.0.1", "ldap://dc1.example.com", "ldap://[2001:db8::1]", "ldap://localhost.evil.com"]
        {
            assert!(!url(remote).is_local(), "{remote}");
        }
    }

    #[test]
    fn one_url_or_a_list() {
        let one: Servers = serde_json_like("\"ldap://a\"");
        assert_eq!(one.iter().count(), 1);
        let many: Servers = serde_json_like("[\"ldap://a\", \"ldaps://b\"]");
        assert_eq!(many.iter().map(LdapUrl::scheme).collect::<Vec<_>>(), ["ldap", "ldaps"]);
        assert!(toml::from_str::<Wrapper>("url = []").is_err());
    }

    #[test]
    fn each_mistake_quotes_the_url_and_shows_the_form() {
        for (bad, words) in [
            (
                "",
                "is empty; expected an ldap://, ldaps:// or ldapi:// URL, e.g. ldaps://dc1.corp.example:636",
            ),
            (
                "htp://host",
                "`htp://host` is not an LDAP URL; expected ldap://, ldaps:// or ldapi://, e.g. ldaps://dc1.corp.example:636",
            ),
            (
                "dc1.example.com",
                "`dc1.example.com` is not an LDAP URL; expected ldap://, ldaps:// or ldapi://, e.g. ldaps://dc1.example.com",
            ),
            ("ldap://host:99999", "port 99999 in `ldap://host:99999` is out of range; a port is 1 to 65535"),
            ("ldaps://host:ldaps/", "`ldaps` in `ldaps://host:ldaps/` is not a port number"),
            ("ldap://", "`ldap://` names no server"),
            ("ldap:/x", "`ldap:/x` names no server"),
            (
                "ldapi:///run/slapd/ldapi",
                "names no socket; the socket's path follows ldapi:// with each / written %2F, e.g. ldapi://%2Frun%2Fslapd%2Fldapi",
            ),
            ("ldap://exa mple", "`ldap://exa mple` is not a URL"),
        ] {
            let e = LdapUrl::try_from(bad.to_owned()).unwrap_err();
            assert!(e.contains(words), "{bad}: {e}");
        }
    }

    #[test]
    fn a_wrong_url_in_a_list_is_named() {
        let e = toml::from_str::<Wrapper>("url = [\"ldaps://a\", \"htp://b\"]").err().unwrap().to_string();
        assert!(e.contains("`htp://b` is not an LDAP URL"), "{e}");
        let e = toml::from_str::<Wrapper>("url = []").err().unwrap().to_string();
        assert!(e.contains("empty list; expected an LDAP URL such as ldaps://"), "{e}");
        let e = toml::from_str::<Wrapper>("url = 389").err().unwrap().to_string();
        assert!(e.contains("an LDAP URL such as ldaps://dc1.corp.example:636, or a list of them"), "{e}");
    }

    #[derive(Deserialize)]
    struct Wrapper {
        url: Servers,
    }

    fn serde_json_like(value: &str) -> Servers {
        toml::from_str::<Wrapper>(&format!("url = {value}")).unwrap().url
    }
}
