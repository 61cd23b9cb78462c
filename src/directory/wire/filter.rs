//! Search filters (RFC 4515), read and written as BER in one pass. The
//! filter that finds a user is read on every login, and ldap3's parser,
//! which builds a tree to encode afterwards, cost more than the rest of
//! the search request. This one accepts exactly the filters ldap3's parser
//! accepts and writes the same bytes for them (its tests check both on
//! generated filters), so that a filter checked with ldap3 when the
//! configuration is loaded means the same here.

use super::ber;

/// Filter choices (RFC 4511, 4.5.1), context-specific tags.
const AND: u8 = 0xa0;
const OR: u8 = 0xa1;
const NOT: u8 = 0xa2;
const EQUALITY: u8 = 0xa3;
const SUBSTRINGS: u8 = 0xa4;
const GREATER_OR_EQUAL: u8 = 0xa5;
const LESS_OR_EQUAL: u8 = 0xa6;
const PRESENT: u8 = 0x87;
const APPROXIMATE: u8 = 0xa8;
const EXTENSIBLE: u8 = 0xa9;
/// Parts of a substring assertion.
const INITIAL: u8 = 0x80;
const ANY: u8 = 0x81;
const FINAL: u8 = 0x82;
/// Parts of an extensible match.
const MATCHING_RULE: u8 = 0x81;
const MATCH_TYPE: u8 = 0x82;
const MATCH_VALUE: u8 = 0x83;
const DN_ATTRIBUTES: u8 = 0x84;

/// A search filter, parsed and encoded before any connection is taken for
/// it, so that a filter that does not parse never costs one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter(Vec<u8>);

impl Filter {
    /// `text` in RFC 4515 form (or a bare item, as ldap3 allows); `None`
    /// if it does not parse.
    pub(crate) fn parse(text: &str) -> Option<Filter> {
        let mut out = Vec::with_capacity(text.len() + 16);
        let input = text.as_bytes();
        let rest = if input.starts_with(b"(") { filter(input, &mut out)? } else { item(input, &mut out)? };
        rest.is_empty().then_some(Filter(out))
    }

    /// `(objectClass=*)`, which every entry matches: for reading one entry,
    /// or the root DSE, by its DN.
    pub(crate) fn everything() -> Filter {
        let mut out = Vec::with_capacity(13);
        ber::write_bytes(&mut out, PRESENT, b"objectClass");
        Filter(out)
    }

    pub(crate) fn ber(&self) -> &[u8] {
        &self.0
    }
}

/// `"(" filtercomp ")"`; returns what follows.
fn filter<'a>(input: &'a [u8], out: &mut Vec<u8>) -> Option<&'a [u8]> {
    let input = input.strip_prefix(b"(")?;
    let rest = match input.first()? {
        b'&' => list(AND, &input[1..], out)?,
        b'|' => list(OR, &input[1..], out)?,
        b'!' => {
            let mut rest = None;
            ber::write(out, NOT, |out| rest = filter(&input[1..], out));
            rest?
        }
        _ => item(input, out)?,
    };
    rest.strip_prefix(b")")
}

/// Any number of filters, none included, as ldap3 allows ("(&)" is
/// RFC 4526's absolute true).
fn list<'a>(tag: u8, mut input: &'a [u8], out: &mut Vec<u8>) -> Option<&'a [u8]> {
    let mut failed = false;
    ber::write(out, tag, |out| {
        while input.starts_with(b"(") {
            match filter(input, out) {
                Some(rest) => input = rest,
                None => {
                    failed = true;
                    return;
                }
            }
        }
    });
    (!failed).then_some(input)
}

/// An equality, substring, presence, ordering, approximate or extensible item.
fn item<'a>(input: &'a [u8], out: &mut Vec<u8>) -> Option<&'a [u8]> {
    let Some((attribute, rest)) = attribute_description(input) else {
        // Only an extensible match may leave the attribute out.
        return extensible(None, input, out);
    };
    if let Some(value) = rest.strip_prefix(b"=") {
        return equality_or_substrings(attribute, value, out);
    }
    let ordering = [(b">=", GREATER_OR_EQUAL), (b"<=", LESS_OR_EQUAL), (b"~=", APPROXIMATE)];
    for (operator, tag) in ordering {
        if let Some(value) = rest.strip_prefix(operator) {
            let (value, rest) = unescaped(value)?;
            ber::write(out, tag, |out| {
                ber::write_bytes(out, ber::OCTET_STRING, attribute);
                ber::write_bytes(out, ber::OCTET_STRING, &value);
            });
            return Some(rest);
        }
    }
    extensible(Some(attribute), rest, out)
}

/// The value of `attribute=`: a plain value, `*` alone (presence), or
/// pieces between stars (substrings), of which only the last may be empty.
fn equality_or_substrings<'a>(attribute: &[u8], input: &'a [u8], out: &mut Vec<u8>) -> Option<&'a [u8]> {
    let (initial, mut rest) = unescaped(input)?;
    let mut pieces = Vec::new();
    while let Some(after_star) = rest.strip_prefix(b"*") {
        if pieces.last().is_some_and(Vec::is_empty) {
            return None;
        }
        let (piece, after) = unescaped(after_star)?;
        pieces.push(piece);
        rest = after;
    }
    match pieces.as_slice() {
        [] => ber::write(out, EQUALITY, |out| {
            ber::write_bytes(out, ber::OCTET_STRING, attribute);
            ber::write_bytes(out, ber::OCTET_STRING, &initial);
        }),
        [only] if initial.is_empty() && only.is_empty() => ber::write_bytes(out, PRESENT, attribute),
        _ => ber::write(out, SUBSTRINGS, |out| {
            ber::write_bytes(out, ber::OCTET_STRING, attribute);
            ber::write(out, ber::SEQUENCE, |out| {
                if !initial.is_empty() {
                    ber::write_bytes(out, INITIAL, &initial);
                }
                let last = pieces.len() - 1;
                for (at, piece) in pieces.iter().enumerate().filter(|(_, piece)| !piece.is_empty()) {
                    ber::write_bytes(out, if at == last { FINAL } else { ANY }, piece);
                }
            });
        }),
    }
    Some(rest)
}

/// `[attribute][":dn"][":" rule] ":=" value`, with a rule required when
/// the attribute is left out. `input` follows the attribute.
fn extensible<'a>(attribute: Option<&[u8]>, input: &'a [u8], out: &mut Vec<u8>) -> Option<&'a [u8]> {
    let (dn, rest) = match input.strip_prefix(b":dn") {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let (rule, rest) = match rest.strip_prefix(b":").and_then(attribute_type) {
        Some((rule, rest)) => (Some(rule), rest),
        None if attribute.is_some() => (None, rest),
        None => return None,
    };
    let (value, rest) = unescaped(rest.strip_prefix(b":=")?)?;
    ber::write(out, EXTENSIBLE, |out| {
        if let Some(rule) = rule {
            ber::write_bytes(out, MATCHING_RULE, rule);
        }
        if let Some(attribute) = attribute {
            ber::write_bytes(out, MATCH_TYPE, attribute);
        }
        ber::write_bytes(out, MATCH_VALUE, &value);
        if dn {
            ber::write_boolean(out, DN_ATTRIBUTES, true);
        }
    });
    Some(rest)
}

/// An attribute type and its options (`cn;lang-en`); returns it and what follows.
fn attribute_description(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, mut rest) = attribute_type(input)?;
    while let Some(option) = rest.strip_prefix(b";") {
        let length = option.iter().take_while(|&&c| is_alphanumeric_or_hyphen(c)).count();
        if length == 0 {
            break;
        }
        rest = &option[length..];
    }
    Some(input.split_at(input.len() - rest.len()))
}

/// A numeric OID (no leading zeros) or a name.
fn attribute_type(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let length = match input.first()? {
        b'0'..=b'9' => {
            let mut length = number(input)?;
            while input[length..].starts_with(b".") {
                match number(&input[length + 1..]) {
                    Some(more) => length += 1 + more,
                    None => break,
                }
            }
            length
        }
        c if c.is_ascii_alphabetic() => {
            1 + input[1..].iter().take_while(|&&c| is_alphanumeric_or_hyphen(c)).count()
        }
        _ => return None,
    };
    Some(input.split_at(length))
}

/// The length of the number `input` starts with: digits, without a leading zero.
fn number(input: &[u8]) -> Option<usize> {
    let length = input.iter().take_while(|c| c.is_ascii_digit()).count();
    match length {
        0 => None,
        1 => Some(1),
        _ if input[0] == b'0' => None,
        _ => Some(length),
    }
}

fn is_alphanumeric_or_hyphen(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// A value up to the next `(`, `)`, `*` or NUL, with `\XX` escapes
/// decoded; `None` for an escape that is not two hex digits.
fn unescaped(input: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let length = input.iter().take_while(|&&c| !matches!(c, 0 | b'(' | b')' | b'*')).count();
    let (raw, rest) = input.split_at(length);
    let mut value = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&c) = bytes.next() {
        if c == b'\\' {
            let high = hex_digit(*bytes.next()?)?;
            let low = hex_digit(*bytes.next()?)?;
            value.push(high << 4 | low);
        } else {
            value.push(c);
        }
    }
    Some((value, rest))
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|digit| digit as u8)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What ldap3 makes of `text`: its BER, or `None` where it refuses it.
    fn ldap3(text: &str) -> Option<Vec<u8>> {
        use ldap3::asn1::ASNTag;
        let tag = ldap3::parse_filter(text).ok()?;
        let mut out = bytes::BytesMut::new();
        ldap3::asn1::write::encode_into(&mut out, tag.into_structure()).ok()?;
        Some(out.to_vec())
    }

    fn agrees(text: &str) {
        assert_eq!(Filter::parse(text).map(|f| f.0), ldap3(text), "{text:?}");
    }

    #[test]
    fn agrees_with_ldap3_on_every_kind_of_filter() {
        for text in [
            "(uid=romeo)",
            "uid=romeo",
            "(&(objectClass=inetOrgPerson)(uid=a\\2a\\28\\29\\5c\\00))",
            "(|(member=cn=a,dc=b)(uniqueMember=cn=a,dc=b))",
            "(!(cn=x))",
            "(&)",
            "(|)",
            "(cn=*)",
            "(cn=)",
            "(cn=a*)",
            "(cn=*a)",
            "(cn=a*b*c)",
            "(cn=*b*)",
            "(cn=**)",
            "(cn=a**b)",
            "(cn>=a)",
            "(cn<=a)",
            "(cn~=a)",
            "(cn>=a*)",
            "(member:1.2.840.113556.1.4.1941:=cn=x)",
            "(cn:dn:=x)",
            "(cn:dn:caseExactMatch:=x)",
            "(:dn:2.4.6:=x)",
            "(:2.4.6:=x)",
            "(:dn:=x)",
            "(cn:dnX:=x)",
            "(:=x)",
            "(1.2.3=x)",
            "(01.2=x)",
            "(1.02=x)",
            "(1.=x)",
            "(cn;lang-en=x)",
            "(cn;=x)",
            "(2cn=x)",
            "(-cn=x)",
            "(cn=\\4)",
            "(cn=\\zz)",
            "(cn=\\4a\\4B)",
            "(cn=日本)",
            "(cn=a",
            "cn=a)",
            "((cn=a))",
            "(&(cn=a)x)",
            "(&(cn=a)(cn=b",
            "(!cn=a)",
            "(!(cn=a)(cn=b))",
            "",
            "()",
            "(cn=a)(cn=b)",
        ] {
            agrees(text);
        }
    }

    #[test]
    fn everything_is_the_presence_of_object_class() {
        assert_eq!(Some(Filter::everything().0), ldap3("(objectClass=*)"));
    }

    /// Filters built from the grammar's pieces, valid or not.
    fn filters() -> impl Strategy<Value = String> {
        let attribute = prop::sample::select(vec!["cn", "uid", "1.2.3", "cn;x-a", "0", "01", "c-n", ""]);
        let operator =
            prop::sample::select(vec!["=", ">=", "<=", "~=", ":=", ":dn:=", ":1.2:=", ":dn:rule:=", ":"]);
        let value = "[a-c*()\\\\0-9=:;!&|\\x00é]{0,6}";
        let item = (attribute, operator, value).prop_map(|(a, o, v)| format!("({a}{o}{v})"));
        item.prop_recursive(3, 16, 4, |inner| {
            let operator = prop::sample::select(vec!["&", "|", "!", ""]);
            (operator, prop::collection::vec(inner, 0..4))
                .prop_map(|(o, list)| format!("({o}{})", list.concat()))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_ldap3_on_generated_filters(text in filters()) {
            prop_assert_eq!(Filter::parse(&text).map(|f| f.0), ldap3(&text), "{:?}", text);
        }

        #[test]
        fn agrees_with_ldap3_on_any_text(text in "[(&|!)=*<>~:;a-c0-2\\\\]{0,12}") {
            prop_assert_eq!(Filter::parse(&text).map(|f| f.0), ldap3(&text), "{:?}", text);
        }
    }
}
