//! Property tests: no user name or server, whatever its characters, escapes
//! the filter or DN it is placed in, and each is escaped exactly once.

use auth_http_ldap::template::{DnTemplate, FilterTemplate};
use proptest::prelude::*;

/// Any text, weighted towards the characters that matter to filters and DNs.
fn hostile() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '(', ')', '*', '\\', '\0', ',', '+', '=', '"', ';', '<', '>', '#', ' ', 'é',
    ]);
    let any = any::<char>();
    prop::collection::vec(prop_oneof![special, any], 0..40).prop_map(|chars| chars.into_iter().collect())
}

/// Splits a DN at its unescaped commas.
fn rdns(dn: &str) -> Vec<String> {
    let (mut parts, mut current, mut chars) = (Vec::new(), String::new(), dn.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                current.extend(chars.next());
            }
            ',' => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
}

/// Whether `text` holds `c` outside a backslash escape.
fn has_bare(text: &str, c: char) -> bool {
    let mut chars = text.chars();
    while let Some(next) = chars.next() {
        if next == '\\' {
            chars.next();
        } else if next == c {
            return true;
        }
    }
    false
}

proptest! {
    #[test]
    fn a_value_stays_inside_its_filter_assertion(user in hostile(), server in hostile()) {
        let template = FilterTemplate::try_from("(&(uid={user})(o={server}))".to_owned()).unwrap();
        let filter = template.render(&user, &server);
        prop_assert!(ldap3::parse_filter(&filter).is_ok(), "not a filter: {filter:?}");
        let inner = filter.strip_prefix("(&(uid=").and_then(|f| f.strip_suffix("))")).unwrap();
        let (escaped_user, escaped_server) = inner.split_once(")(o=").unwrap();
        for (escaped, original) in [(escaped_user, &user), (escaped_server, &server)] {
            for c in ['(', ')', '*', '\0'] {
                prop_assert!(!escaped.contains(c), "{c:?} unescaped in {escaped:?}");
            }
            // Exactly once: unescaping gives back the value itself.
            let unescaped = ldap3::ldap_unescape(escaped).map(|value| value.into_owned()).ok();
            prop_assert_eq!(unescaped.as_deref(), Some(original.as_str()));
        }
    }

    #[test]
    fn a_value_stays_inside_its_rdn(user in hostile()) {
        let template = DnTemplate::try_from("uid={user},ou=people,dc=example,dc=com".to_owned()).unwrap();
        let dn = template.render(&user, "");
        let parts = rdns(&dn);
        prop_assert_eq!(parts.len(), 4, "{:?} split into {:?}", dn, parts);
        prop_assert_eq!(&parts[1..], &["ou=people", "dc=example", "dc=com"]);
        let value = parts[0].strip_prefix("uid=").unwrap();
        for c in ['=', '+', ';', '"', '<', '>', '\0'] {
            prop_assert!(!has_bare(value, c), "{c:?} unescaped in {value:?}");
        }
        prop_assert!(!value.starts_with(' ') && !value.starts_with('#') && !value.ends_with(' '), "{value:?}");
    }
}
