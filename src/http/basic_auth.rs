//! The API credentials Prosody sends (`http_auth_credentials`) as HTTP Basic auth.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{AUTHORIZATION, HeaderMap};
use subtle::ConstantTimeEq;

use crate::config::ApiCredentials;

/// Whether the `Authorization` header carries `expected`. Both parts are
/// compared in constant time, and both always, so the time taken does not
/// tell which part was wrong.
pub fn accepts(expected: &ApiCredentials, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    // Split at the first colon: the password may contain more.
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    let user_ok = user.ct_eq(expected.user.as_bytes());
    let password_ok = password.ct_eq(expected.password.expose().as_bytes());
    (user_ok & password_ok).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use hyper::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn basic(credentials: &str) -> HeaderMap {
        headers(&format!("Basic {}", STANDARD.encode(credentials)))
    }

    #[test]
    fn password_may_contain_colons() {
        let api = ApiCredentials::parse(&Secret::new("prosody:s3cr:et pass")).unwrap();
        assert!(accepts(&api, &basic("prosody:s3cr:et pass")));
        assert!(!accepts(&api, &basic("prosody:s3cr")));
        assert!(!accepts(&api, &basic("prosody:s3cr:et pass2")));
        assert!(!accepts(&api, &basic("prosody2:s3cr:et pass")));
    }

    #[test]
    fn scheme_is_case_insensitive_and_others_refused() {
        let api = ApiCredentials::parse(&Secret::new("a:b")).unwrap();
        assert!(accepts(&api, &headers(&format!("basic {}", STANDARD.encode("a:b")))));
        assert!(!accepts(&api, &headers("Bearer a:b")));
        assert!(!accepts(&api, &headers("Basic !!!")));
        assert!(!accepts(&api, &HeaderMap::new()));
    }
}
