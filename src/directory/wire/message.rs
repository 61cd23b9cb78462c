//! The LDAP messages of the login path (RFC 4511): simple bind, search for
//! DNs, StartTLS, and the responses to them, read defensively: a server
//! that sends something malformed gets an error, never a panic.

use ldap3::LdapResult;
use ldap3::controls::{Control, RawControl};

use super::ber::{self, ENUMERATED, INTEGER, OCTET_STRING, SEQUENCE};
use super::filter::Filter;

/// Protocol operation tags ([APPLICATION n], constructed unless noted).
const BIND_REQUEST: u8 = 0x60;
const BIND_RESPONSE: u8 = 0x61;
const SEARCH_REQUEST: u8 = 0x63;
const SEARCH_RESULT_ENTRY: u8 = 0x64;
const SEARCH_RESULT_DONE: u8 = 0x65;
const SEARCH_RESULT_REFERENCE: u8 = 0x73;
const EXTENDED_REQUEST: u8 = 0x77;
const EXTENDED_RESPONSE: u8 = 0x78;
/// `simple [0] OCTET STRING` in a bind request (primitive).
const SIMPLE_AUTHENTICATION: u8 = 0x80;
/// `requestName [0] LDAPOID` in an extended request (primitive).
const EXTENDED_REQUEST_NAME: u8 = 0x80;
/// `controls [0] Controls` after the operation.
const CONTROLS: u8 = 0xa0;

const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// How far below the base a search looks (RFC 4511, 4.5.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchScope {
    Base = 0,
    One = 1,
    Sub = 2,
}

/// A simple bind as `dn`, with the given controls (type, no value).
pub(crate) fn bind_request(id: i32, dn: &str, password: &str, controls: &[&str]) -> Vec<u8> {
    message(id, controls, |out| {
        ber::write(out, BIND_REQUEST, |out| {
            ber::write_integer(out, INTEGER, 3);
            ber::write_bytes(out, OCTET_STRING, dn.as_bytes());
            ber::write_bytes(out, SIMPLE_AUTHENTICATION, password.as_bytes());
        })
    })
}

/// A search that asks for no attributes ("1.1"): only the entries' DNs.
pub(crate) fn search_request(
    id: i32,
    base: &str,
    scope: SearchScope,
    filter: &Filter,
    size_limit: i32,
) -> Vec<u8> {
    message(id, &[], |out| {
        ber::write(out, SEARCH_REQUEST, |out| {
            ber::write_bytes(out, OCTET_STRING, base.as_bytes());
            ber::write_integer(out, ENUMERATED, scope as i64);
            ber::write_integer(out, ENUMERATED, 0); // derefAliases: never
            ber::write_integer(out, INTEGER, i64::from(size_limit));
            ber::write_integer(out, INTEGER, 0); // timeLimit: the client's deadline rules
            ber::write_boolean(out, ber::BOOLEAN, false); // typesOnly
            out.extend_from_slice(filter.ber());
            ber::write(out, SEQUENCE, |out| ber::write_bytes(out, OCTET_STRING, b"1.1"));
        })
    })
}

/// The StartTLS extended request (RFC 4511, 4.14).
pub(crate) fn starttls_request(id: i32) -> Vec<u8> {
    message(id, &[], |out| {
        ber::write(out, EXTENDED_REQUEST, |out| ber::write_bytes(out, EXTENDED_REQUEST_NAME, STARTTLS_OID))
    })
}

fn message(id: i32, controls: &[&str], operation: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    ber::write(&mut out, SEQUENCE, |out| {
        ber::write_integer(out, INTEGER, i64::from(id));
        operation(out);
        if !controls.is_empty() {
            ber::write(out, CONTROLS, |out| {
                for control in controls {
                    ber::write(out, SEQUENCE, |out| ber::write_bytes(out, OCTET_STRING, control.as_bytes()));
                }
            });
        }
    });
    out
}

/// One message from the server.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) id: i32,
    pub(crate) body: Body,
}

#[derive(Debug)]
pub(crate) enum Body {
    /// A bind, search or extended operation ended, with this result.
    Done(LdapResult),
    /// A search found the entry with this DN.
    Entry(String),
    /// A search continues elsewhere; nothing the login path follows.
    Reference,
    /// Anything else: no operation of this module expects it.
    Other,
}

/// Reads one whole LDAPMessage, which must be all of `message`.
pub(crate) fn parse_response(message: &[u8]) -> Result<Response, &'static str> {
    const MALFORMED: &str = "malformed LDAP message";
    let (SEQUENCE, content, []) = ber::element(message).ok_or(MALFORMED)? else {
        return Err(MALFORMED);
    };
    let (INTEGER, id, rest) = ber::element(content).ok_or(MALFORMED)? else { return Err(MALFORMED) };
    let id = ber::integer(id).and_then(|id| i32::try_from(id).ok()).ok_or(MALFORMED)?;
    let (tag, operation, rest) = ber::element(rest).ok_or(MALFORMED)?;
    let controls = match ber::element(rest) {
        Some((CONTROLS, controls, _)) => parse_controls(controls).ok_or(MALFORMED)?,
        _ => Vec::new(),
    };
    let body = match tag {
        BIND_RESPONSE | SEARCH_RESULT_DONE | EXTENDED_RESPONSE => {
            let mut result = parse_result(operation).ok_or(MALFORMED)?;
            result.ctrls = controls;
            Body::Done(result)
        }
        SEARCH_RESULT_ENTRY => {
            let (OCTET_STRING, dn, _) = ber::element(operation).ok_or(MALFORMED)? else {
                return Err(MALFORMED);
            };
            Body::Entry(String::from_utf8(dn.to_vec()).map_err(|_| "a DN that is not UTF-8")?)
        }
        SEARCH_RESULT_REFERENCE => Body::Reference,
        _ => Body::Other,
    };
    Ok(Response { id, body })
}

/// `LDAPResult ::= SEQUENCE { resultCode ENUMERATED, matchedDN, diagnosticMessage, referral [3] OPTIONAL }`
/// and whatever follows in the operation (SASL credentials, extended response
/// name and value), which the login path has no use for.
fn parse_result(content: &[u8]) -> Option<LdapResult> {
    let (ENUMERATED, code, rest) = ber::element(content)? else { return None };
    let rc = u32::try_from(ber::integer(code)?).ok()?;
    let (OCTET_STRING, matched, rest) = ber::element(rest)? else { return None };
    let (OCTET_STRING, text, _) = ber::element(rest)? else { return None };
    Some(LdapResult {
        rc,
        matched: String::from_utf8_lossy(matched).into_owned(),
        text: String::from_utf8_lossy(text).into_owned(),
        refs: Vec::new(),
        ctrls: Vec::new(),
    })
}

/// `Control ::= SEQUENCE { controlType LDAPOID, criticality BOOLEAN DEFAULT FALSE, controlValue OCTET STRING OPTIONAL }`
fn parse_controls(mut rest: &[u8]) -> Option<Vec<Control>> {
    let mut controls = Vec::new();
    while !rest.is_empty() {
        let (SEQUENCE, control, after) = ber::element(rest)? else { return None };
        let (OCTET_STRING, oid, mut fields) = ber::element(control)? else { return None };
        let mut crit = false;
        let mut val = None;
        while let Some((tag, content, after)) = ber::element(fields) {
            match tag {
                ber::BOOLEAN => crit = content.iter().any(|&b| b != 0),
                OCTET_STRING => val = Some(content.to_vec()),
                _ => return None,
            }
            fields = after;
        }
        let ctype = String::from_utf8(oid.to_vec()).ok()?;
        controls.push(Control(None, RawControl { ctype, crit, val }));
        rest = after;
    }
    Some(controls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bind_request_is_byte_for_byte_what_rfc_4511_says() {
        let request = bind_request(1, "cn=a", "pw", &["1.2"]);
        let expected = [
            0x30, 0x1b, // LDAPMessage
            0x02, 0x01, 0x01, // messageID 1
            0x60, 0x0d, 0x02, 0x01, 0x03, // BindRequest, version 3
            0x04, 0x04, b'c', b'n', b'=', b'a', // name
            0x80, 0x02, b'p', b'w', // simple
            0xa0, 0x07, 0x30, 0x05, 0x04, 0x03, b'1', b'.', b'2', // controls
        ];
        assert_eq!(request, expected);
    }

    #[test]
    fn a_search_request_carries_the_filter_and_asks_for_no_attributes() {
        let filter = Filter::parse("(uid=a\\2a)").unwrap();
        let request = search_request(7, "dc=x", SearchScope::Sub, &filter, 2);
        let (_, content, _) = ber::element(&request).unwrap();
        let (_, _, rest) = ber::element(content).unwrap();
        let (tag, search, _) = ber::element(rest).unwrap();
        assert_eq!(tag, SEARCH_REQUEST);
        // equalityMatch [3] { "uid", "a*" }: the escape is decoded, once.
        let filter = [0xa3, 0x09, 0x04, 0x03, b'u', b'i', b'd', 0x04, 0x02, b'a', b'*'];
        assert!(search.windows(filter.len()).any(|w| w == filter), "{search:02x?}");
        assert!(search.ends_with(&[0x30, 0x05, 0x04, 0x03, b'1', b'.', b'1']));
        assert!(Filter::parse("(uid=a").is_none());
    }

    #[test]
    fn a_bind_response_with_a_policy_control_is_read() {
        let mut message = Vec::new();
        ber::write(&mut message, SEQUENCE, |out| {
            ber::write_integer(out, INTEGER, 3);
            ber::write(out, BIND_RESPONSE, |out| {
                ber::write_integer(out, ENUMERATED, 49);
                ber::write_bytes(out, OCTET_STRING, b"");
                ber::write_bytes(out, OCTET_STRING, b"data 775");
            });
            ber::write(out, CONTROLS, |out| {
                ber::write(out, SEQUENCE, |out| {
                    ber::write_bytes(out, OCTET_STRING, b"1.3.6.1.4.1.42.2.27.8.5.1");
                    ber::write_bytes(out, OCTET_STRING, &[0x30, 0x03, 0x81, 0x01, 0x01]);
                });
            });
        });
        let response = parse_response(&message).unwrap();
        assert_eq!(response.id, 3);
        let Body::Done(result) = response.body else { panic!("{:?}", response.body) };
        assert_eq!((result.rc, result.text.as_str()), (49, "data 775"));
        let Control(_, control) = &result.ctrls[0];
        assert_eq!(control.ctype, "1.3.6.1.4.1.42.2.27.8.5.1");
        assert_eq!(control.val.as_deref(), Some(&[0x30, 0x03, 0x81, 0x01, 0x01][..]));
    }

    #[test]
    fn malformed_responses_are_errors() {
        for message in [
            &[][..],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x02, 0x01, 0x01],
            &[0x30, 0x05, 0x02, 0x01, 0x01, 0x61, 0x00],
            &[0x30, 0x07, 0x02, 0x01, 0x01, 0x61, 0x02, 0x04, 0x00],
            &[0x30, 0x05, 0x02, 0x01, 0x01, 0x64, 0x00],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x61, 0x00, 0x00],
        ] {
            assert!(parse_response(message).is_err(), "{message:02x?}");
        }
    }
}
