//! The counters behind `GET /metrics`, in the Prometheus (OpenMetrics) text
//! format. One set lives for the whole process, across reloads, so that a
//! reload does not reset them.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry, Unit};

/// The media type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    outcome: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
    /// `ok` when the directory answered (whatever the result code), `error`
    /// when it did not: a timeout or a lost connection.
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AnswerLabels {
    answer: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

type Latencies = Family<OperationLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    rejected_connections: Counter,
    ldap_operations: Latencies,
    ldap_server_up: Family<ServerLabels, Gauge>,
    idle_search_connections: Gauge,
    user_binds_in_flight: Gauge,
    idle_bind_connections: Gauge,
    user_exists_cache: Family<AnswerLabels, Counter>,
    logins_answered_early: Family<AnswerLabels, Counter>,
    open_connections: Gauge,
    incomplete_connections: Gauge,
    connections_closed_early: Counter,
    refused_connections: Family<ReasonLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("auth_http_ldap");
        let requests =
            registered(&mut registry, "requests", "Requests answered, by method, outcome and HTTP status");
        let rejected_connections = registered(
            &mut registry,
            "rejected_connections",
            "Connections closed before a request was read: too slow, too large, or not HTTP",
        );
        // From 100 µs to about 6.5 s, doubling.
        let ldap_operations: Latencies =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0001, 2.0, 17)));
        registry.register_with_unit(
            "ldap_operation_duration",
            "LDAP operations by kind; searches and user binds include waiting for, or opening, their connection",
            Unit::Seconds,
            ldap_operations.clone(),
        );
        let ldap_server_up = registered(
            &mut registry,
            "ldap_server_up",
            "1 for a directory server in use, 0 for one passed over after a failure",
        );
        let idle_search_connections = registered(
            &mut registry,
            "ldap_search_connections_idle",
            "Open connections for the service account's searches and writes, waiting for the next one",
        );
        let user_binds_in_flight = registered(
            &mut registry,
            "ldap_user_binds_in_flight",
            "User binds under way, each on a connection of its own",
        );
        let idle_bind_connections = registered(
            &mut registry,
            "ldap_bind_connections_idle",
            "Open connections for user binds, waiting for the next one",
        );
        let user_exists_cache = registered(
            &mut registry,
            "user_exists_cache",
            "user_exists answers by source: hit (fresh from the cache), miss (asked the directory), stale (from the cache during an outage)",
        );
        let logins_answered_early = registered(
            &mut registry,
            "logins_answered_early",
            "Logins answered without the directory: throttled-user, throttled-address, recently-refused, recently-accepted",
        );
        let open_connections = registered(
            &mut registry,
            "http_connections_open",
            "API connections open, serving a request or waiting for one",
        );
        let incomplete_connections = registered(
            &mut registry,
            "http_connections_incomplete",
            "API connections open whose request has not all arrived",
        );
        let connections_closed_early = registered(
            &mut registry,
            "http_connections_closed_early",
            "Incomplete API connections closed to make room for new ones (http.max_incomplete_connections or http.max_connections reached): a sign of clients that hold connections without sending",
        );
        let refused_connections = registered(
            &mut registry,
            "http_connections_refused",
            "API connections closed as soon as accepted, by reason: max-connections (all open ones serving requests), max-incomplete-per-address",
        );
        Metrics {
            registry,
            open_connections,
            incomplete_connections,
            connections_closed_early,
            refused_connections,
            requests,
            rejected_connections,
            ldap_operations,
            ldap_server_up,
            idle_search_connections,
            user_binds_in_flight,
            idle_bind_connections,
            user_exists_cache,
            logins_answered_early,
        }
    }

    pub fn request(&self, method: &'static str, outcome: &'static str, status: u16) {
        self.requests.get_or_create(&RequestLabels { method, outcome, status }).inc();
    }

    pub fn rejected_connection(&self) {
        self.rejected_connections.inc();
    }

    pub fn ldap_operation(&self, operation: &'static str, answered: bool, took: Duration) {
        let result = if answered { "ok" } else { "error" };
        self.ldap_operations
            .get_or_create(&OperationLabels { operation, result })
            .observe(took.as_secs_f64());
    }

    /// API connections open, and how many of those are incomplete.
    pub fn connections(&self, open: usize, incomplete: usize) {
        self.open_connections.set(open as i64);
        self.incomplete_connections.set(incomplete as i64);
    }

    pub fn closed_early_connections(&self, count: u64) {
        self.connections_closed_early.inc_by(count);
    }

    pub fn refused_connection(&self, reason: &'static str) {
        self.refused_connections.get_or_create(&ReasonLabels { reason }).inc();
    }

    pub fn user_exists_cache(&self, answer: &'static str) {
        self.user_exists_cache.get_or_create(&AnswerLabels { answer }).inc();
    }

    pub fn login_answered_early(&self, answer: &'static str) {
        self.logins_answered_early.get_or_create(&AnswerLabels { answer }).inc();
    }

    /// Counts a user bind as under way until the returned guard is dropped.
    pub fn user_bind_started(&self) -> InFlight<'_> {
        self.user_binds_in_flight.inc();
        InFlight(&self.user_binds_in_flight)
    }

    /// Sets the gauges read from the directory's state at scrape time.
    pub fn set_directory_state(&self, state: &DirectoryState) {
        // Servers a reload removed must not linger.
        self.ldap_server_up.clear();
        for (server, up) in &state.servers {
            self.ldap_server_up.get_or_create(&ServerLabels { server: server.clone() }).set(i64::from(*up));
        }
        self.idle_search_connections.set(state.idle_search_connections as i64);
        self.idle_bind_connections.set(state.idle_bind_connections as i64);
    }

    /// Everything, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// A new metric, registered as `name` with its `help`.
fn registered<M: Metric + Clone + Default>(registry: &mut Registry, name: &str, help: &str) -> M {
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

/// The directory's connections as they are at a scrape.
pub struct DirectoryState {
    /// Each server's URL, and whether it is in use (not passed over).
    pub servers: Vec<(String, bool)>,
    pub idle_search_connections: usize,
    pub idle_bind_connections: usize,
}

/// Decrements a gauge when dropped, however the work it counts ends.
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_family_with_its_labels() {
        let metrics = Metrics::new();
        metrics.request("check_password", "true", 200);
        metrics.request("check_password", "true", 200);
        metrics.ldap_operation("search", true, Duration::from_micros(300));
        metrics.user_exists_cache("stale");
        metrics.set_directory_state(&DirectoryState {
            servers: vec![("ldap://a:389".into(), true), ("ldap://b:389".into(), false)],
            idle_search_connections: 3,
            idle_bind_connections: 2,
        });
        let text = metrics.render();
        for line in [
            r#"auth_http_ldap_requests_total{method="check_password",outcome="true",status="200"} 2"#,
            r#"auth_http_ldap_ldap_operation_duration_seconds_bucket{le="0.0004",operation="search",result="ok"} 1"#,
            r#"auth_http_ldap_ldap_operation_duration_seconds_count{operation="search",result="ok"} 1"#,
            r#"auth_http_ldap_user_exists_cache_total{answer="stale"} 1"#,
            r#"auth_http_ldap_ldap_server_up{server="ldap://b:389"} 0"#,
            "auth_http_ldap_ldap_search_connections_idle 3",
            "auth_http_ldap_ldap_bind_connections_idle 2",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
        }
    }

    #[test]
    fn a_bind_in_flight_is_counted_until_it_ends() {
        let metrics = Metrics::new();
        let bind = metrics.user_bind_started();
        assert!(metrics.render().contains("auth_http_ldap_ldap_user_binds_in_flight 1\n"));
        drop(bind);
        assert!(metrics.render().contains("auth_http_ldap_ldap_user_binds_in_flight 0\n"));
    }
}
