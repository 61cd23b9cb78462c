//! `/metrics` counts requests, LDAP operations, cache answers and logins
//! answered early, and shows each directory server's health and the pool's
//! connections, in the OpenMetrics text format.

mod support;

use support::{Bridge, Slapd};

/// The value of the sample named exactly `sample` (name and labels).
fn value(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(bridge: &Bridge) -> String {
    let reply = bridge.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    reply.text().to_owned()
}

#[tokio::test]
async fn requests_operations_and_caches_are_counted() {
    let slapd = Slapd::start();
    let settings = "[cache]\nuser_exists_ttl = \"5m\"\n[logins]\nremember_failed_for = \"5m\"";
    let bridge = Bridge::for_directory(&slapd, settings).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("romeo", "wrong").await.assert_answer(false);
    bridge.check_password("romeo", "wrong").await.assert_answer(false);
    bridge.user_exists("juliet").await.assert_answer(true);
    bridge.user_exists("juliet").await.assert_answer(true);
    assert_eq!(bridge.get("/made-up-method").await.status, 501);

    let text = scrape(&bridge).await;
    let expect = |sample: &str, expected: f64| {
        assert_eq!(value(&text, sample), Some(expected), "{sample} in\n{text}");
    };
    let requests = "auth_http_ldap_requests_total";
    expect(&format!(r#"{requests}{{method="check_password",outcome="true",status="200"}}"#), 1.0);
    expect(&format!(r#"{requests}{{method="check_password",outcome="false",status="200"}}"#), 2.0);
    expect(&format!(r#"{requests}{{method="user_exists",outcome="true",status="200"}}"#), 2.0);
    expect(&format!(r#"{requests}{{method="unsupported",outcome="unsupported",status="501"}}"#), 1.0);
    assert!(!text.contains("made-up"), "a client's path must not become a label");
    let operations = "auth_http_ldap_ldap_operation_duration_seconds_count";
    expect(&format!(r#"{operations}{{operation="user bind",result="ok"}}"#), 2.0);
    expect(&format!(r#"{operations}{{operation="search",result="ok"}}"#), 3.0);
    expect(r#"auth_http_ldap_user_exists_cache_total{answer="miss"}"#, 1.0);
    expect(r#"auth_http_ldap_user_exists_cache_total{answer="hit"}"#, 1.0);
    expect(r#"auth_http_ldap_logins_answered_early_total{answer="recently-refused"}"#, 1.0);
    expect(&format!(r#"auth_http_ldap_ldap_server_up{{server="{}"}}"#, slapd.url()), 1.0);
    // Three searches and two binds, one after another: one connection for
    // each, waiting for the next.
    expect("auth_http_ldap_ldap_search_connections_idle", 1.0);
    expect("auth_http_ldap_ldap_bind_connections_idle", 1.0);
    expect("auth_http_ldap_ldap_user_binds_in_flight", 0.0);
    // A write takes the service account's connection and gives it back.
    assert_eq!(bridge.post("/set_password", "user=juliet&pass=new&server=example.com").await.status, 204);
    let text = scrape(&bridge).await;
    assert_eq!(value(&text, "auth_http_ldap_ldap_search_connections_idle"), Some(1.0), "{text}");
    let writes =
        r#"auth_http_ldap_ldap_operation_duration_seconds_count{operation="password modify",result="ok"}"#;
    assert_eq!(value(&text, writes), Some(1.0), "{text}");
}

#[tokio::test]
async fn a_failed_server_shows_as_down() {
    let mut slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.user_exists("romeo").await.assert_answer(true);
    slapd.stop();
    assert_eq!(bridge.user_exists("romeo").await.status, 503);
    let text = scrape(&bridge).await;
    let up = format!(r#"auth_http_ldap_ldap_server_up{{server="{}"}}"#, slapd.url());
    assert_eq!(value(&text, &up), Some(0.0), "{text}");
    // The connection that met the stopped server is closed, not kept.
    assert_eq!(value(&text, "auth_http_ldap_ldap_search_connections_idle"), Some(0.0), "{text}");
    let unavailable =
        r#"auth_http_ldap_requests_total{method="user_exists",outcome="unavailable",status="503"}"#;
    assert_eq!(value(&text, unavailable), Some(1.0), "{text}");
}
