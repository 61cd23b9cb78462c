//! The administrator's routes, served on the admin listener only (never on
//! the API's): the login guard's state of a user, seen with `GET` and
//! cleared with `DELETE`.
//!
//! - `/logins/<user>`: in every domain where anything is held;
//! - `/logins/<server>/<user>`: in that domain.
//!
//! Each segment is percent-encoded, so a user name may hold `/`. The
//! answer is a JSON array of [`UserState`](crate::logins::UserState)s:
//! counts and times, never a password or its digest. `DELETE` rather than
//! `POST`: a browser on the management network cannot send it to another
//! origin without a preflight, which this listener never grants.

use hyper::Method;
use percent_encoding::percent_decode_str;
use tracing::info;

use super::response::{self, Body};
use crate::service::{Service, truncated};

const PREFIX: &str = "/logins";

/// Whether `path` is one of these routes, or a mistyped one.
pub fn is_logins_path(path: &str) -> bool {
    path == PREFIX || path.strip_prefix(PREFIX).is_some_and(|rest| rest.starts_with('/'))
}

/// The answer to `method` on `path`, one that [`is_logins_path`] accepts;
/// logged, as an administrator's action, at the default level.
pub fn logins(service: &Service, method: &Method, path: &str) -> hyper::Response<Body> {
    let mut named = (None, None);
    let response = answer(service, method, path, &mut named);
    let (server, user) = named;
    info!(
        method = %method,
        user = user.as_deref().map(truncated),
        server = server.as_deref().map(truncated),
        status = response.status().as_u16(),
        "login guard state"
    );
    response
}

/// The answer, with the server and user it named once they are read.
fn answer(
    service: &Service,
    method: &Method,
    path: &str,
    named: &mut (Option<String>, Option<String>),
) -> hyper::Response<Body> {
    let segments: Vec<&str> = path.strip_prefix(PREFIX).unwrap_or_default().split('/').skip(1).collect();
    let (server, user) = match segments[..] {
        [user] => (None, user),
        [server, user] => (Some(server), user),
        _ => return response::not_found(),
    };
    let (server, user) = match (server.map(decode).transpose(), decode(user)) {
        (Ok(server), Ok(user)) => (server, user),
        (Err(why), _) | (_, Err(why)) => return response::bad_request(why),
    };
    *named = (server.clone(), Some(user.clone()));
    if server.as_deref() == Some("") {
        return response::bad_request("the server is empty; /logins/<user> covers every domain");
    }
    let states = match *method {
        Method::GET => service.login_state(server.as_deref(), &user),
        Method::DELETE => service.clear_login_state(server.as_deref(), &user),
        _ => return response::method_not_allowed("GET, DELETE"),
    };
    match states.map(|states| serde_json::to_string(&states)) {
        Ok(Ok(json)) => response::json(json),
        Ok(Err(_)) => response::internal_error(),
        Err(why) => response::bad_request(why),
    }
}

fn decode(segment: &str) -> Result<String, &'static str> {
    percent_decode_str(segment)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| "the path is not percent-encoded UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_logins_paths_are_taken() {
        for path in ["/logins", "/logins/", "/logins/romeo", "/logins/example.com/romeo", "/logins/a/b/c"] {
            assert!(is_logins_path(path), "{path}");
        }
        for path in ["/login", "/loginsx/romeo", "/health", "/x/logins/romeo"] {
            assert!(!is_logins_path(path), "{path}");
        }
    }

    #[test]
    fn segments_are_percent_decoded() {
        assert_eq!(decode("a%2Fb%20c+d").as_deref(), Ok("a/b c+d"));
        assert_eq!(decode("%C3%A9").as_deref(), Ok("é"));
        assert!(decode("%ff").is_err());
    }
}
