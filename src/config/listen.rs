//! `http.listen` and `http.admin_listen`: the addresses to listen on, read
//! from text so that each mistake gets its own words, with host names
//! resolved when the file is read.
//!
//! A host name stands for every address it resolves to: `localhost:5281`
//! listens on 127.0.0.1 and on ::1 where `localhost` names both, as a name
//! in a web server's `listen` does. `check-config` prints the addresses.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use serde::{Deserialize, Deserializer, Serialize, de};

use super::one_or_many::{self, Listed, OneOrMany};

/// One socket address or several: `listen = "127.0.0.1:5281"` or
/// `listen = ["127.0.0.1:5281", "[::1]:5281"]`, or a host name and port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "OneOrMany<SocketAddr>")]
pub struct Addresses(pub Vec<SocketAddr>);

impl<'de> Deserialize<'de> for Addresses {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        one_or_many::deserialize(deserializer).map(Addresses)
    }
}

impl From<Addresses> for OneOrMany<SocketAddr> {
    fn from(addresses: Addresses) -> Self {
        addresses.0.into()
    }
}

const EXAMPLE: &str = "127.0.0.1:5281";

impl Listed for SocketAddr {
    const EXPECTED: &'static str = "an address and port such as 127.0.0.1:5281 or [::1]:5281";

    fn parse(text: &str) -> Result<Vec<Self>, String> {
        listen_addresses(text)
    }
}

/// `http.admin_listen`: one address, from an address or a host name that
/// resolves to exactly one.
pub(super) fn one_address<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    deserializer.deserialize_any(OneAddress).map(Some)
}

struct OneAddress;

impl de::Visitor<'_> for OneAddress {
    type Value = SocketAddr;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("one address and port such as 127.0.0.1:5282")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<SocketAddr, E> {
        let addresses = listen_addresses(text).map_err(E::custom)?;
        only_one(text, addresses).map_err(E::custom)
    }
}

/// The one address `text` stands for, or a request to choose.
fn only_one(text: &str, addresses: Vec<SocketAddr>) -> Result<SocketAddr, String> {
    match addresses.as_slice() {
        [one] => Ok(*one),
        many => {
            let all: Vec<String> = many.iter().map(SocketAddr::to_string).collect();
            Err(format!(
                "`{text}` stands for {}, and this key takes one address; write the one you mean, e.g. {}",
                all.join(" and "),
                all.first().map_or("127.0.0.1:5282", String::as_str)
            ))
        }
    }
}

/// The addresses `text` stands for, or why it stands for none.
fn listen_addresses(text: &str) -> Result<Vec<SocketAddr>, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(vec![address]);
    }
    if text.trim().is_empty() {
        return Err(format!("is empty; expected an address and port such as {EXAMPLE}"));
    }
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => {
            return Err(format!("`{text}` has no port; expected an address and port such as {text}:5281"));
        }
        Ok(IpAddr::V6(_)) => {
            // `::1:5281` is an address, but more likely ::1 and a port.
            if let Some((address, port)) = text.rsplit_once(':')
                && port.len() >= 2
                && port.bytes().all(|b| b.is_ascii_digit())
                && address.parse::<std::net::Ipv6Addr>().is_ok()
            {
                return Err(format!(
                    "`{text}` is read as one IPv6 address with no port; an IPv6 address is written in \
                     brackets before its port, as in [{address}]:{port}"
                ));
            }
            return Err(format!(
                "`{text}` has no port; an IPv6 address is written in brackets before its port, as in [{text}]:5281"
            ));
        }
        Err(_) => {}
    }
    if let Some(rest) = text.strip_prefix('[') {
        return bracketed(text, rest);
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{text}` has no address; expected an address and port such as 127.0.0.1:{text} \
                 (or 0.0.0.0:{text} for every IPv4 address)"
            ));
        }
        return Err(format!("`{text}` has no port; expected an address and port such as {text}:5281"));
    };
    let port = parse_port(text, port)?;
    if host.is_empty() {
        return Err(format!(
            "`{text}` has no address; expected an address and port such as 127.0.0.1:{port} \
             (or 0.0.0.0:{port} for every IPv4 address)"
        ));
    }
    if host.contains(':') {
        return Err(format!(
            "`{text}`: an IPv6 address is written in brackets before its port, as in [{host}]:{port}"
        ));
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("`{host}` in `{text}` is not an IPv4 address; expected e.g. 127.0.0.1:{port}"));
    }
    resolve(text, host, port)
}

/// An IPv6 address in brackets and its port, `[::1]:5281`, that did not
/// parse: `rest` follows the `[`.
fn bracketed(text: &str, rest: &str) -> Result<Vec<SocketAddr>, String> {
    let Some((inner, after)) = rest.split_once(']') else {
        return Err(format!("`{text}` has a `[` without its `]`; expected e.g. [::1]:5281"));
    };
    let Some(port) = after.strip_prefix(':') else {
        let example = if inner.parse::<std::net::Ipv6Addr>().is_ok() { inner } else { "::1" };
        return Err(format!("`{text}` has no port; expected an address and port such as [{example}]:5281"));
    };
    let port = parse_port(text, port)?;
    Err(format!("`{inner}` in `{text}` is not an IPv6 address; expected e.g. [::1]:{port}"))
}

/// The port of `text`, all digits and at most 65535.
fn parse_port(text: &str, port: &str) -> Result<u16, String> {
    if port.is_empty() {
        return Err(format!("`{text}` has no port after the colon; expected e.g. {EXAMPLE}"));
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{port}` in `{text}` is not a port number; expected e.g. {EXAMPLE}"));
    }
    port.parse()
        .map_err(|_| format!("port {port} in `{text}` is out of range; a port is 0 to 65535, e.g. {EXAMPLE}"))
}

/// Every address `host` resolves to, in the resolver's order, once each.
fn resolve(text: &str, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let cannot = |why: String| {
        format!(
            "`{host}` in `{text}` cannot be resolved to an address ({why}); expected an IP address, \
             or a host name this machine resolves, e.g. {EXAMPLE}"
        )
    };
    let resolved = (host, port).to_socket_addrs().map_err(|e| cannot(e.to_string()))?;
    let mut addresses: Vec<SocketAddr> = Vec::new();
    for address in resolved {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        return Err(cannot("no addresses".to_owned()));
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        listen_addresses(text).unwrap_err()
    }

    #[test]
    fn addresses_are_read_as_written() {
        assert_eq!(listen_addresses("127.0.0.1:5281").unwrap(), [SocketAddr::from(([127, 0, 0, 1], 5281))]);
        assert_eq!(listen_addresses("[::1]:0").unwrap(), ["[::1]:0".parse::<SocketAddr>().unwrap()]);
    }

    #[test]
    fn localhost_stands_for_its_loopback_addresses() {
        let addresses = listen_addresses("localhost:5281").unwrap();
        assert!(!addresses.is_empty());
        assert!(addresses.iter().all(|a| a.ip().is_loopback() && a.port() == 5281), "{addresses:?}");
    }

    #[test]
    fn each_mistake_is_named() {
        for (text, words) in [
            ("127.0.0.1:99999", "port 99999 in `127.0.0.1:99999` is out of range; a port is 0 to 65535"),
            ("127.0.0.1:http", "`http` in `127.0.0.1:http` is not a port number"),
            ("127.0.0.1:", "has no port after the colon"),
            ("127.0.0.1", "`127.0.0.1` has no port; expected an address and port such as 127.0.0.1:5281"),
            ("::1", "written in brackets before its port, as in [::1]:5281"),
            ("fe80::1:x:5281", "written in brackets"),
            (
                "::1:5281",
                "`::1:5281` is read as one IPv6 address with no port; an IPv6 address is written in brackets before its port, as in [::1]:5281",
            ),
            ("5281", "`5281` has no address"),
            (":5281", "`:5281` has no address"),
            ("", "is empty"),
            ("[nope]:5281", "`nope` in `[nope]:5281` is not an IPv6 address"),
            ("[::1]", "`[::1]` has no port; expected an address and port such as [::1]:5281"),
            ("[::1]:99999", "port 99999 in `[::1]:99999` is out of range"),
            ("[::1", "has a `[` without its `]`"),
            ("999.1.1.1:5281", "`999.1.1.1` in `999.1.1.1:5281` is not an IPv4 address"),
            ("nowhere.invalid:5281", "`nowhere.invalid` in `nowhere.invalid:5281` cannot be resolved"),
            ("nowhere", "`nowhere` has no port"),
        ] {
            let e = error(text);
            assert!(e.contains(words), "{text}: {e}");
        }
    }

    #[derive(Debug, Deserialize)]
    struct Admin {
        #[serde(deserialize_with = "one_address")]
        admin_listen: Option<SocketAddr>,
    }

    #[test]
    fn the_admin_address_is_one_address() {
        let admin: Admin = toml::from_str("admin_listen = \"127.0.0.1:5282\"").unwrap();
        assert_eq!(admin.admin_listen, Some(SocketAddr::from(([127, 0, 0, 1], 5282))));
        let e = toml::from_str::<Admin>("admin_listen = \"127.0.0.1:70000\"").unwrap_err().to_string();
        assert!(e.contains("port 70000"), "{e}");
        let e = toml::from_str::<Admin>("admin_listen = 5282").unwrap_err().to_string();
        assert!(e.contains("expected one address and port such as 127.0.0.1:5282"), "{e}");
        let both = vec!["127.0.0.1:5282".parse().unwrap(), "[::1]:5282".parse().unwrap()];
        let e = only_one("localhost:5282", both).unwrap_err();
        assert_eq!(
            e,
            "`localhost:5282` stands for 127.0.0.1:5282 and [::1]:5282, and this key takes one address; \
             write the one you mean, e.g. 127.0.0.1:5282"
        );
    }
}

#[cfg(test)]
mod load_tests {
    use crate::config::load_str;

    const MINIMAL: &str = "[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n";

    #[test]
    fn listen_mistakes_are_named_by_key() {
        let e =
            load_str(&format!("{MINIMAL}[http]\nlisten = \"127.0.0.1:99999\"\n")).unwrap_err().to_string();
        assert!(
            e.starts_with("http.listen") && e.contains("port 99999 in `127.0.0.1:99999` is out of range"),
            "{e}"
        );
        let e = load_str(&format!("{MINIMAL}[http]\nlisten = [\"127.0.0.1:5281\", \"[::1]\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("http.listen (") && e.contains("`[::1]` has no port"), "{e}");
    }

    #[test]
    fn a_host_name_listens_on_what_it_resolves_to() {
        let settings =
            load_str(&format!("{MINIMAL}[http]\nlisten = [\"localhost:5281\", \"127.0.0.1:5282\"]\n"))
                .unwrap();
        let listen = &settings.http.listen.0;
        assert!(listen.contains(&"127.0.0.1:5281".parse().unwrap()), "{listen:?}");
        assert!(listen.iter().all(|a| a.ip().is_loopback()), "{listen:?}");
    }
}
