//! Distinguished names as RFC 4514 writes them, checked when the
//! configuration is read: a malformed DN in a key is named there, instead
//! of failing every request later with invalidDNSyntax.
//!
//! The check is as lenient as the directories are about spaces beside
//! `,`, `+` and `=` (OpenLDAP and Active Directory both ignore them), and
//! strict about everything else. It only reads; it never rewrites a DN.

/// What is wrong with a DN, phrased to follow the DN itself:
/// "`ou=people,,dc=example` has an empty part between two commas".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum DnError {
    #[error("is empty")]
    Empty,
    #[error("contains a NUL character")]
    Nul,
    #[error("starts with a comma")]
    LeadingComma,
    #[error("ends with a comma")]
    TrailingComma,
    #[error("has an empty part between two commas")]
    EmptyBetweenCommas,
    #[error("has an empty part beside a `+` in `{0}`; a `+` inside a value is written `\\+`")]
    EmptyBesidePlus(String),
    #[error(
        "has a part without `=` (`{0}`); each part is attribute=value, such as ou=people, \
         and a comma inside a value is written `\\,` as in CN=Smith\\, John"
    )]
    NoEquals(String),
    #[error("has `{0}` after a `+` but no `=`; a `+` inside a value is written `\\+`")]
    NoEqualsAfterPlus(String),
    #[error(
        "has `{0}` where an attribute name belongs; a name is letters, digits and hyphens \
         starting with a letter (such as ou or sAMAccountName), or an OID such as 2.5.4.3"
    )]
    BadAttribute(String),
    #[error("has a part with no value (`{0}`)")]
    NoValue(String),
    #[error(
        "has an invalid escape `{0}`; a backslash stands before one of \\ , + \" ; < > = # \
         or a space, or before two hex digits such as \\2c"
    )]
    BadEscape(String),
    #[error("ends with a lone backslash")]
    TrailingBackslash,
    #[error("has an unescaped `{0}` in `{1}`; inside a value it is written `\\{0}`")]
    Unescaped(char, String),
    #[error("has `{0}`, which is not a hex value: `#` starts pairs of hex digits, such as #04024869")]
    BadHex(String),
    #[error("has escapes in `{0}` that do not spell UTF-8 text")]
    NotUtf8(String),
}

/// Whether `dn` is a well-formed, non-empty distinguished name.
pub(super) fn check_dn(dn: &str) -> Result<(), DnError> {
    if dn.trim().is_empty() {
        return Err(DnError::Empty);
    }
    if dn.contains('\0') {
        return Err(DnError::Nul);
    }
    let rdns = split_unescaped(dn, ',');
    let last = rdns.len() - 1;
    for (index, rdn) in rdns.iter().enumerate() {
        if rdn.trim().is_empty() {
            return Err(match index {
                0 => DnError::LeadingComma,
                i if i == last => DnError::TrailingComma,
                _ => DnError::EmptyBetweenCommas,
            });
        }
        check_rdn(rdn)?;
    }
    Ok(())
}

/// One RDN: one or more attribute=value pairs joined by `+`.
fn check_rdn(rdn: &str) -> Result<(), DnError> {
    let pairs = split_unescaped(rdn, '+');
    for (index, pair) in pairs.iter().enumerate() {
        let pair = trim_unescaped_spaces(pair);
        if pair.is_empty() {
            return Err(DnError::EmptyBesidePlus(rdn.trim().to_owned()));
        }
        let Some((attribute, value)) = pair.split_once('=') else {
            return Err(if index == 0 {
                DnError::NoEquals(pair.to_owned())
            } else {
                DnError::NoEqualsAfterPlus(pair.to_owned())
            });
        };
        let attribute = attribute.trim();
        if !is_attribute_type(attribute) {
            return Err(DnError::BadAttribute(attribute.to_owned()));
        }
        let value = trim_unescaped_spaces(value);
        if value.is_empty() {
            return Err(DnError::NoValue(pair.to_owned()));
        }
        match value.strip_prefix('#') {
            Some(hex) => check_hex_value(value, hex)?,
            None => check_string_value(value, pair)?,
        }
    }
    Ok(())
}

/// `descr` (a letter, then letters, digits and hyphens) or `numericoid`.
fn is_attribute_type(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(first) if first.is_ascii_digit() => {
            let numbers: Vec<&str> = name.split('.').collect();
            numbers.len() >= 2
                && numbers.iter().all(|n| {
                    !n.is_empty()
                        && n.bytes().all(|b| b.is_ascii_digit())
                        && (n.len() == 1 || !n.starts_with('0'))
                })
        }
        _ => false,
    }
}

/// `#` and one or more pairs of hex digits: the value's BER encoding.
fn check_hex_value(value: &str, hex: &str) -> Result<(), DnError> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DnError::BadHex(value.to_owned()));
    }
    Ok(())
}

/// A string value: characters, and escapes that each stand for a special
/// character or for one byte of UTF-8.
fn check_string_value(value: &str, pair: &str) -> Result<(), DnError> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                None => return Err(DnError::TrailingBackslash),
                Some(special @ ('\\' | '"' | '+' | ',' | ';' | '<' | '>' | '=' | '#' | ' ')) => {
                    bytes.push(special as u8);
                }
                Some(high) if high.is_ascii_hexdigit() => {
                    let low = chars.next();
                    match high.to_digit(16).zip(low.and_then(|low| low.to_digit(16))) {
                        // Two hex digits make at most 255.
                        Some((high, low)) => bytes.push((high * 16 + low) as u8),
                        None => {
                            let low = low.map(String::from).unwrap_or_default();
                            return Err(DnError::BadEscape(format!("\\{high}{low}")));
                        }
                    }
                }
                Some(other) => return Err(DnError::BadEscape(format!("\\{other}"))),
            },
            '"' | ';' | '<' | '>' => return Err(DnError::Unescaped(c, pair.to_owned())),
            _ => {
                let mut buffer = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    String::from_utf8(bytes).map(drop).map_err(|_| DnError::NotUtf8(pair.to_owned()))
}

/// `text` cut at each `separator` not escaped by a backslash.
fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            _ if c == separator => {
                parts.push(&text[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `value` without the spaces around it, keeping a trailing space that a
/// backslash escapes (`cn=a\ ` ends in a space).
fn trim_unescaped_spaces(value: &str) -> &str {
    let mut value = value.trim_start_matches(' ');
    while let Some(shorter) = value.strip_suffix(' ') {
        let backslashes = shorter.bytes().rev().take_while(|&b| b == b'\\').count();
        if backslashes % 2 == 1 {
            break;
        }
        value = shorter;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_dns_pass() {
        for dn in [
            "dc=example",
            "ou=people,dc=example,dc=com",
            "uid=romeo,ou=people,dc=example,dc=com",
            "CN=Romeo Montague,CN=Users,DC=example,DC=com",
            r"CN=Smith\, John,OU=People,DC=corp",
            r"CN=Smith\2C John,OU=People,DC=corp",
            r"cn=a\+b\;c\<d\>e\=f\#g\\h\22,dc=x",
            "cn=Sam+sn=Jones,dc=example",
            "cn=Sam + sn=Jones,dc=example",
            "ou=people, dc=example, dc=com",
            "ou = people , dc = example",
            "2.5.4.3=romeo,dc=example",
            "cn=#04024869,dc=example",
            r"cn=Lu\C4\8Di\C4\87,dc=example",
            "cn=Luči\u{107},dc=example",
            r"cn=trailing\ ,dc=x",
            r"cn=\ leading,dc=x",
            "cn=a=b,dc=x",
            "cn=xmpp-users,ou=groups,dc=example,dc=com",
            "uid={user},ou=people,dc=example,dc=com",
            "CN={user},CN=Users,DC=example,DC=com",
            "msDS-cloudExtensionAttribute1=x,dc=x",
        ] {
            assert_eq!(check_dn(dn), Ok(()), "{dn}");
        }
    }

    #[test]
    fn malformed_dns_say_what_is_wrong() {
        let cases: &[(&str, DnError)] = &[
            ("", DnError::Empty),
            ("   ", DnError::Empty),
            ("cn=a\0,dc=x", DnError::Nul),
            ("ou=people,,dc=example", DnError::EmptyBetweenCommas),
            ("ou=people, ,dc=example", DnError::EmptyBetweenCommas),
            (",ou=people", DnError::LeadingComma),
            ("ou=people,", DnError::TrailingComma),
            ("people,dc=example", DnError::NoEquals("people".into())),
            ("CN=Smith, John,OU=People,DC=corp", DnError::NoEquals("John".into())),
            ("cn=a+b,dc=x", DnError::NoEqualsAfterPlus("b".into())),
            ("cn=a+,dc=x", DnError::EmptyBesidePlus("cn=a+".into())),
            ("=romeo,dc=x", DnError::BadAttribute(String::new())),
            ("o u=people", DnError::BadAttribute("o u".into())),
            ("1cn=x", DnError::BadAttribute("1cn".into())),
            ("2.5.04.3=x", DnError::BadAttribute("2.5.04.3".into())),
            ("2.=x", DnError::BadAttribute("2.".into())),
            ("cn_x=a", DnError::BadAttribute("cn_x".into())),
            ("cn=,dc=x", DnError::NoValue("cn=".into())),
            ("cn=  ,dc=x", DnError::NoValue("cn=".into())),
            (r"cn=a\q", DnError::BadEscape(r"\q".into())),
            (r"cn=a\2", DnError::BadEscape(r"\2".into())),
            (r"cn=a\2g", DnError::BadEscape(r"\2g".into())),
            (r"cn=a\", DnError::TrailingBackslash),
            ("cn=a;b", DnError::Unescaped(';', "cn=a;b".into())),
            ("cn=\"quoted\",dc=x", DnError::Unescaped('"', "cn=\"quoted\"".into())),
            ("cn=<a>", DnError::Unescaped('<', "cn=<a>".into())),
            ("cn=#,dc=x", DnError::BadHex("#".into())),
            ("cn=#4,dc=x", DnError::BadHex("#4".into())),
            ("cn=#zz", DnError::BadHex("#zz".into())),
            (r"cn=\ff,dc=x", DnError::NotUtf8(r"cn=\ff".into())),
        ];
        for (dn, expected) in cases {
            assert_eq!(check_dn(dn).as_ref(), Err(expected), "{dn}");
        }
    }

    #[test]
    fn the_words_follow_the_dn() {
        let e = check_dn("ou=people,,dc=example").unwrap_err();
        assert_eq!(
            format!("`ou=people,,dc=example` {e}"),
            "`ou=people,,dc=example` has an empty part between two commas"
        );
        let e = check_dn("CN=Smith, John,DC=corp").unwrap_err().to_string();
        assert!(e.contains(r"CN=Smith\, John"), "{e}");
    }

    #[test]
    fn only_an_odd_run_of_backslashes_escapes_a_separator() {
        assert_eq!(split_unescaped(r"a\,b,c", ','), [r"a\,b", "c"]);
        assert_eq!(split_unescaped(r"a\\,b", ','), [r"a\\", "b"]);
        assert_eq!(trim_unescaped_spaces(r" a\  "), r"a\ ");
        assert_eq!(trim_unescaped_spaces(r"a\\ "), r"a\\");
    }
}
