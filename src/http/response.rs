//! Every HTTP answer the service gives, built in one place, so that each
//! outcome maps to exactly one status and body. Bodies never carry a cause
//! from the directory: those go to the log.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};

use crate::protocol::Outcome;

pub type Body = Full<Bytes>;

/// The answer for an outcome of the service.
pub fn from_outcome(outcome: &Outcome) -> Response<Body> {
    match outcome {
        // Prosody accepts only these exact bodies: no newline, no quotes.
        Outcome::Yes | Outcome::Stale(_) => text(StatusCode::OK, "true"),
        Outcome::No(_) => text(StatusCode::OK, "false"),
        Outcome::Created => text(StatusCode::CREATED, "created\n"),
        Outcome::Done => empty(StatusCode::NO_CONTENT),
        Outcome::NoSuchUser => text(StatusCode::NOT_FOUND, "no such user\n"),
        Outcome::AlreadyExists => text(StatusCode::CONFLICT, "the user already exists\n"),
        Outcome::Ambiguous => text(StatusCode::CONFLICT, "several directory entries match this user name\n"),
        Outcome::PasswordRefused(_) => {
            text(StatusCode::UNPROCESSABLE_ENTITY, "the directory's password policy refused this password\n")
        }
        Outcome::NotEnabled => not_implemented("this operation is not enabled for this host\n"),
        Outcome::UnknownServer => text(StatusCode::FORBIDDEN, "this server is not configured\n"),
        Outcome::BadInput(why) => bad_request(why),
        Outcome::Unavailable(_) => unavailable(),
        Outcome::Failed(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "directory error\n"),
    }
}

/// `/health` and `/ready` when all is well.
pub fn health(body: &'static str) -> Response<Body> {
    text(StatusCode::OK, body)
}

/// `/metrics`.
pub fn metrics(text: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE));
    response
}

/// An answer of the admin listener's own routes.
pub fn json(body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A fault of the service itself, not of the directory.
pub fn internal_error() -> Response<Body> {
    text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
}

pub fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found\n")
}

pub fn unauthorized() -> Response<Body> {
    let mut response = text(StatusCode::UNAUTHORIZED, "authorization required\n");
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"auth-http-ldap\""));
    response
}

pub fn not_implemented(why: &'static str) -> Response<Body> {
    text(StatusCode::NOT_IMPLEMENTED, why)
}

pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    response
}

pub fn bad_request(why: &str) -> Response<Body> {
    text(StatusCode::BAD_REQUEST, &format!("{why}\n"))
}

pub fn payload_too_large() -> Response<Body> {
    text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
}

/// The client did not send its body within the request's deadline.
pub fn request_timeout() -> Response<Body> {
    text(StatusCode::REQUEST_TIMEOUT, "request body not received in time\n")
}

/// The directory did not answer in time, or the request's deadline passed.
pub fn unavailable() -> Response<Body> {
    text(StatusCode::SERVICE_UNAVAILABLE, "directory unavailable\n")
}

/// hyper sets `Content-Length` from a `Full` body, which Prosody requires.
fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
