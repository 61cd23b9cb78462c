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
use super::admission::Arrival;
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
            let arrival = request.extensions().get::<Arrival>().cloned();
            match self.read_body(request).await {
                Ok(body) => {
                    // The whole request is here: the connection is now served to the end.
                    if let Some(arrival) = arrival {
                        arrival.arrived();
                    }
                    parsed = params.add(&body);
                }
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
    // Each value from the client is recorded as a string, never with `?`:
    // JSON and the journal then carry it as it is (`"user":"romeo"`,
    // `USER=romeo`), not wrapped in a second pair of quotes. None can forge
    // a line: the plain format quotes every string field and escapes its
    // control characters, the JSON format escapes it as a JSON string, and
    // the journal takes it length-prefixed. Absent fields (`None`) are left
    // out of the line.
    let method = record.method.as_deref();
    let user = record.user.as_deref();
    let server = record.server.as_deref();
    let detail = record.detail.as_deref();
    let outcome = record.outcome;
    let duration_ms = milliseconds(elapsed);
    // 500 and 503 need an operator; everything else is the client's business.
    if status == 500 || status == 503 {
        warn!(method, user, server, status, outcome, detail, duration_ms, "request");
    } else {
        info!(method, user, server, status, outcome, detail, duration_ms, "request");
    }
}

/// `elapsed` in milliseconds, to the microsecond: a number every log
/// pipeline can compare and sum (`1.59`, not `1.59ms` or `1.59µs`).
fn milliseconds(elapsed: Duration) -> f64 {
    elapsed.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod log_line_tests {
    //! The request line as each format writes it. The journal's socket is
    //! not there to test against, so its values are checked where they are
    //! decided: the kind of value each field is recorded as.

    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::{Layer, Registry};

    use super::*;
    use crate::logging;

    /// A user name that would forge a second line if written as it is.
    const HOSTILE: &str = "eve\" status=200 outcome=\"true\"\nINFO request user=\"romeo\u{1b}[2J\"";

    fn record(user: &str) -> Record {
        Record {
            method: Some(Cow::Borrowed("check_password")),
            method_label: Some("check_password"),
            user: Some(user.to_owned()),
            server: Some("example.com".to_owned()),
            outcome: "false",
            detail: Some("invalid credentials".to_owned()),
        }
    }

    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Written {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// What `log` writes for `record` in the service's plain or JSON format.
    fn written(record: &Record, status: u16, json: bool) -> String {
        let written = Written::default();
        let sink = written.clone();
        let writer = move || sink.clone();
        let elapsed = Duration::from_micros(1_590);
        if json {
            let subscriber = Registry::default().with(logging::json_lines(writer));
            tracing::subscriber::with_default(subscriber, || log(record, status, elapsed));
        } else {
            let subscriber = Registry::default().with(logging::plain_lines(writer, false));
            tracing::subscriber::with_default(subscriber, || log(record, status, elapsed));
        }
        written.text()
    }

    #[test]
    fn json_fields_are_plain_values() {
        let text = written(&record("romeo"), 200, true);
        assert_eq!(text.lines().count(), 1, "{text}");
        let fields: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(fields["message"], "request");
        assert_eq!(fields["method"], "check_password");
        assert_eq!(fields["user"], "romeo");
        assert_eq!(fields["server"], "example.com");
        assert_eq!(fields["outcome"], "false");
        assert_eq!(fields["detail"], "invalid credentials");
        assert_eq!(fields["status"], 200);
        assert_eq!(fields["duration_ms"], 1.59);
    }

    #[test]
    fn a_hostile_user_name_is_one_json_string() {
        let text = written(&record(HOSTILE), 500, true);
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(line["user"], HOSTILE);
        assert_eq!(line["status"], 500);
        assert_eq!(line["level"], "WARN");
    }

    #[test]
    fn plain_lines_quote_and_escape_what_the_client_sent() {
        let text = written(&record("romeo"), 200, false);
        assert!(
            text.contains(
                r#"request method="check_password" user="romeo" server="example.com" status=200 outcome="false" detail="invalid credentials" duration_ms=1.59"#
            ),
            "{text}"
        );
        let text = written(&record(HOSTILE), 200, false);
        assert_eq!(text.lines().count(), 1, "a user name forged a line:\n{text}");
        assert!(!text.contains('\u{1b}'), "an escape sequence reached the terminal: {text:?}");
        assert!(text.contains(&format!("user={HOSTILE:?}")), "{text}");
    }

    /// How a field reached the subscriber. tracing-journald writes a string
    /// field's bytes as they are (length-prefixed, so a newline cannot start
    /// a field) and a number as its digits; a `Debug` field would be written
    /// as `Debug` prints it, quotes and all.
    #[derive(Debug, PartialEq)]
    enum Recorded {
        Str(String),
        U64(u64),
        F64(f64),
        Debug(String),
    }

    #[derive(Clone, Default)]
    struct Fields(Arc<Mutex<Vec<(&'static str, Recorded)>>>);

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.lock().unwrap().push((field.name(), Recorded::Str(value.to_owned())));
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.0.lock().unwrap().push((field.name(), Recorded::U64(value)));
        }
        fn record_f64(&mut self, field: &Field, value: f64) {
            self.0.lock().unwrap().push((field.name(), Recorded::F64(value)));
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.lock().unwrap().push((field.name(), Recorded::Debug(format!("{value:?}"))));
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Fields {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            event.record(&mut self.clone());
        }
    }

    #[test]
    fn journal_fields_are_recorded_as_strings_and_numbers() {
        let fields = Fields::default();
        let subscriber = Registry::default().with(fields.clone());
        tracing::subscriber::with_default(subscriber, || {
            log(&record(HOSTILE), 200, Duration::from_micros(2_000))
        });
        let recorded = std::mem::take(&mut *fields.0.lock().unwrap());
        let expected = [
            ("message", Recorded::Debug("request".into())),
            ("method", Recorded::Str("check_password".into())),
            ("user", Recorded::Str(HOSTILE.into())),
            ("server", Recorded::Str("example.com".into())),
            ("status", Recorded::U64(200)),
            ("outcome", Recorded::Str("false".into())),
            ("detail", Recorded::Str("invalid credentials".into())),
            ("duration_ms", Recorded::F64(2.0)),
        ];
        assert_eq!(recorded, expected);
    }
}
