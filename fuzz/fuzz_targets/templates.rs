//! Filters and DNs from any user name and server: the filter always parses,
//! each value unescapes to itself (escaped exactly once), and a DN keeps
//! the shape of its template, whatever the value holds.

#![no_main]

use auth_http_ldap::template::{DnTemplate, FilterTemplate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, String)| {
    let (user, server) = input;
    let filter = FilterTemplate::try_from("(&(uid={user})(o={server}))".to_owned()).unwrap();
    let filter = filter.render(&user, &server);
    assert!(ldap3::parse_filter(&filter).is_ok(), "not a filter: {filter:?}");
    let inner = filter.strip_prefix("(&(uid=").and_then(|f| f.strip_suffix("))")).unwrap();
    let (escaped_user, escaped_server) = inner.split_once(")(o=").expect("two assertions");
    for (escaped, original) in [(escaped_user, &user), (escaped_server, &server)] {
        assert!(!escaped.contains(['(', ')', '*', '\0']), "unescaped in {escaped:?}");
        let unescaped = ldap3::ldap_unescape(escaped).expect("unescapes");
        assert_eq!(unescaped.as_ref(), original.as_str());
    }

    let dn = DnTemplate::try_from("uid={user},ou=people,dc=example,dc=com".to_owned()).unwrap();
    let dn = dn.render(&user, &server);
    let value = dn.strip_suffix(",ou=people,dc=example,dc=com").and_then(|d| d.strip_prefix("uid="));
    let value = value.unwrap_or_else(|| panic!("the DN lost its shape: {dn:?}"));
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => assert!(chars.next().is_some(), "a dangling escape in {value:?}"),
            ',' | '+' | '=' | ';' | '"' | '<' | '>' | '\0' => panic!("{c:?} unescaped in {value:?}"),
            _ => {}
        }
    }
});
