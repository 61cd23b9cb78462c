//! The directory servers: one URL or an ordered list of them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::one_or_many::OneOrMany;

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
        let url = url::Url::parse(&value).map_err(|e| format!("{value:?} is not a URL: {e}"))?;
        let expected = "must be ldap://host:port, ldaps://host:port or ldapi://%2Fpath%2Fto%2Fsocket";
        if !matches!(url.scheme(), "ldap" | "ldaps" | "ldapi") || url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{value:?} {expected}"));
        }
        Ok(LdapUrl(value))
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OneOrMany<LdapUrl>", into = "OneOrMany<LdapUrl>")]
pub struct Servers(Vec<LdapUrl>);

impl TryFrom<OneOrMany<LdapUrl>> for Servers {
    type Error = String;
    fn try_from(value: OneOrMany<LdapUrl>) -> Result<Self, String> {
        value.into_non_empty("server").map(Servers)
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

    #[derive(Deserialize)]
    struct Wrapper {
        url: Servers,
    }

    fn serde_json_like(value: &str) -> Servers {
        toml::from_str::<Wrapper>(&format!("url = {value}")).unwrap().url
    }
}
