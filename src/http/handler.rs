//! One request: credentials, route, method, parameters, the call, the answer,
//! and the one log line that records it. The log line carries the method,
//! user, server, outcome and duration, and never the password, the query
//! string or the body.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, Response};
use tracing::{debug, info, warn};

use super::admin;
use super::basic_auth;
use super::params::Params;
use super::response::{self, Body};
use crate::config::{ApiCredentials, Http};
use crate::protocol::{Call, Method, Outcome};
use crate::service::{Service, truncated};

/// Which listener a handler serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Prosody's API; with `health` also `/health`, `/ready` and
    /// `/metrics`, when no admin listener is configured.
    Api { health: bool },
    /// `http.admin_listen`: `/health`, `/ready`, `/metrics` and the
    /// administrator's `/logins/...` ([`admin`]) only, without credentials.
    Admin,
}

pub struct Handler {
    service: Arc<Service>,
    role: Role,
    credentials: Option<ApiCredentials>,
    deadline: Duration,
    max_body_bytes: usize,
}

/// The outcome recorded while a body is read, so a deadline that falls then
/// is blamed on the client.
const READING_BODY: &str = "reading-body";

/// What the log line says about a request, filled in as the request is read,
/// so that a request cut off by its deadline is still recorded.
#[derive(Default)]
struct Record {
    /// The method, or the unsupported path segment that named none.
    method: Option<Cow<'static, str>>,
    /// The method for the metrics: only names of the protocol's methods,
    /// never a path segment a client made up; `None` before the path is read.
    method_label: Option<&'static str>,
    user: Option<String>,
    server: Option<String>,
    outcome: &'static str,
    detail: Option<String>,
}

impl Handler {
    pub fn new(service: Arc<Service>, http: &Http, role: Role) -> Self {
        Handler {
            service,
            role,
            credentials: http.api_credentials.clone(),
            deadline: http.request_timeout,
            max_body_bytes: http.max_body_bytes,
        }
    }

    /// Every request is answered within this.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Answers `request`, which came from `client` (for per-address throttling).
    pub async fn handle(&self, request: Request<Incoming>, client: IpAddr) -> Response<Body> {
        if let Some(response) = self.health(&request).await {
            return response;
        }
        let started = Instant::now();
        let mut record = Record::default();
        let response =
            match tokio::time::timeout(self.deadline, self.respond(request, client, &mut record)).await {
                Ok(response) => response,
                // Still reading the body: the client was too slow, not the directory.
                Err(_) if record.outcome == READING_BODY => {
                    record.outcome = "slow-client";
                    response::request_timeout()
                }
                Err(_) => {
                    record.outcome = "deadline";
                    response::unavailable()
                }
            };
        let status = response.status().as_u16();
        log(&record, status, started.elapsed());
        self.service.count_request(record.method_label.unwrap_or("none"), record.outcome, status);
        response
    }

    /// `/health` (the process answers), `/ready` (the directory answers)
    /// and `/metrics`, where this listener serves them; on the admin
    /// listener, a 404 for anything else. Probes and scrapes come every few
    /// seconds: they log at debug only.
    async fn health(&self, request: &Request<Incoming>) -> Option<Response<Body>> {
        let path = request.uri().path();
        let probe = matches!(path, "/health" | "/ready" | "/metrics");
        let response = match self.role {
            Role::Admin if admin::is_logins_path(path) => {
                return Some(admin::logins(&self.service, request.method(), path));
            }
            Role::Admin if !probe => response::not_found(),
            Role::Admin => self.probe(path).await,
            // Credentials are checked here only for a probe; every other
            // request has them checked once, in `respond`.
            Role::Api { health: true }
                if probe
                    && self
                        .credentials
                        .as_ref()
                        .is_none_or(|c| basic_auth::accepts(c, request.headers())) =>
            {
                self.probe(path).await
            }
            Role::Api { .. } => return None,
        };
        debug!(path, status = response.status().as_u16(), "health probe");
        Some(response)
    }

    /// The answer to `/health`, `/ready` or `/metrics`.
    async fn probe(&self, path: &str) -> Response<Body> {
        match path {
            "/health" => return response::health("ok\n"),
            "/metrics" => return response::metrics(self.service.metrics()),
            _ => {}
        }
        match tokio::time::timeout(self.deadline, self.service.ready()).await {
            Ok(Ok(())) => response::health("ready\n"),
            Ok(Err(cause)) => {
                debug!(%cause, "not ready");
                response::unavailable()
            }
            Err(_) => response::unavailable(),
        }
    }

    async fn respond(
        &self,
        request: Request<Incoming>,
        client: IpAddr,
        record: &mut Record,
    ) -> Response<Body> {
        if let Some(credentials) = &self.credentials
            && !basic_auth::accepts(credentials, request.headers())
        {
            record.outcome = "unauthorized";
            return response::unauthorized();
        }
        // Prosody appends `/<method>` to whatever URL it was given, so only
        // the last segment names the method; any prefix is the operator's.
        let segment = request.uri().path().rsplit('/').next().unwrap_or_default();
        let Some(method) = Method::from_name(segment) else {
            record.method = Some(Cow::Owned(truncated(segment).to_owned()));
            record.method_label = Some("unsupported");
            record.outcome = "unsupported";
            return response::not_implemented("unsupported method\n");
        };
        record.method = Some(Cow::Borrowed(method.name()));
        record.method_label = Some(method.name());
        let is_post = request.method() == hyper::Method::POST;
        let allowed = is_post || (method.is_query() && request.method() == hyper::Method::GET);
        if !allowed {
            record.outcome = "method-not-allowed";
            return response::method_not_allowed(if method.is_query() { "GET, POST" } else { "POST" });
        }

        let mut params = Params::default();
        let mut parsed = params.add(request.uri().query().unwrap_or_default().as_bytes());
        if is_post && parsed.is_ok() {
            // The deployed module sends `application/x/www-form-urlencoded`
            // (sic): the body is read as a form whatever its Content-Type.
            record.outcome = READING_BODY;
            match self.read_body(request).await {
                Ok(body) => parsed = params.add(&body),
                Err((outcome, response)) => {
                    record.outcome = outcome;
                    return response;
                }
            }
        }
        record.user = params.user.as_deref().map(|u| truncated(u).to_owned());
        record.server = params.server.as_deref().map(|s| truncated(s).to_owned());
        if let Err(error) = parsed {
            return record.bad_request(error.to_string());
        }
        let (Some(user), password) = (params.user, params.pass) else {
            return record.bad_request("missing parameter: user".into());
        };
        if method.needs_password() && password.is_none() {
            return record.bad_request("missing parameter: pass".into());
        }

        let server = params.server.unwrap_or_default();
        let call = Call { method, user, password, server, client };
        let outcome = self.service.call(&call).await;
        record.outcome = outcome.label();
        record.detail = match &outcome {
            Outcome::No(reason) => Some(reason.to_string()),
            Outcome::Unavailable(cause)
            | Outcome::Failed(cause)
            | Outcome::PasswordRefused(cause)
            | Outcome::Stale(cause) => Some(cause.clone()),
            Outcome::BadInput(why) => Some((*why).to_owned()),
            _ => None,
        };
        response::from_outcome(&outcome)
    }

    /// The body, refused with 413 past the limit: by its declared length
    /// before reading anything, and by counting while reading otherwise.
    /// A refusal comes with the outcome for the log line.
    async fn read_body(
        &self,
        request: Request<Incoming>,
    ) -> Result<bytes::Bytes, (&'static str, Response<Body>)> {
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_body_bytes as u64) {
            return Err(("too-large", response::payload_too_large()));
        }
        match Limited::new(request.into_body(), self.max_body_bytes).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                Err(("too-large", response::payload_too_large()))
            }
            Err(_) => Err(("bad-body", response::bad_request("the request body could not be read"))),
        }
    }
}

impl Record {
    fn bad_request(&mut self, why: String) -> Response<Body> {
        let response = response::bad_request(&why);
        self.outcome = "bad-request";
        self.detail = Some(why);
        response
    }
}

fn log(record: &Record, status: u16, elapsed: Duration) {
    // Values from the client are written with `?`, which quotes them and
    // escapes control characters, so none can forge a log line. Absent
    // fields (`None`) are left out of the line.
    let method = record.method.as_deref().map(tracing::field::debug);
    let user = record.user.as_deref().map(tracing::field::debug);
    let server = record.server.as_deref().map(tracing::field::debug);
    let detail = record.detail.as_deref();
    let outcome = record.outcome;
    // 500 and 503 need an operator; everything else is the client's business.
    if status == 500 || status == 503 {
        warn!(method, user, server, status, outcome, detail, duration = ?elapsed, "request");
    } else {
        info!(method, user, server, status, outcome, detail, duration = ?elapsed, "request");
    }
}
