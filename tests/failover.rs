//! Several directory servers: a dead or frozen first server is passed over
//! without waiting out a timeout on every request, a server that dies
//! between requests is replaced at once, and service returns to the first
//! server once it is back.

mod support;

use std::time::{Duration, Instant};

use support::{Bridge, Slapd};

/// `ldap.url` listing `urls` in order.
fn servers(urls: &[String], extra: &str) -> String {
    let list: Vec<String> = urls.iter().map(|url| format!("\"{url}\"")).collect();
    format!("[ldap]\nurl = [{}]\n{extra}", list.join(", "))
}

#[tokio::test]
async fn a_dead_first_server_is_passed_over() {
    let live = Slapd::start();
    let dead = "ldapi://%2Fnonexistent%2Fldapi".to_owned();
    let bridge = Bridge::for_directory(&live, &servers(&[dead, live.url()], "")).await;
    for _ in 0..5 {
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
        bridge.user_exists("juliet").await.assert_answer(true);
    }
}

#[tokio::test]
async fn a_frozen_first_server_costs_one_timeout_not_one_per_request() {
    let frozen = Slapd::start();
    let live = Slapd::start();
    let config = servers(&[frozen.url(), live.url()], "timeout = \"500ms\"\nconnect_timeout = \"500ms\"");
    let bridge = Bridge::for_directory(&live, &config).await;
    frozen.freeze();
    // The first request may wait out the timeout before it is passed over.
    let first = bridge.user_exists("romeo").await;
    assert!(first.status == 200 || first.status == 503, "{first:?}");
    let started = Instant::now();
    for _ in 0..5 {
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
        bridge.user_exists("juliet").await.assert_answer(true);
    }
    // Ten requests, none waiting on the frozen server's 500 ms timeout.
    assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
    frozen.thaw();
}

#[tokio::test]
async fn a_server_that_dies_between_requests_is_replaced_at_once() {
    let mut first = Slapd::start();
    let second = Slapd::start();
    let bridge = Bridge::for_directory(&first, &servers(&[first.url(), second.url()], "pool_size = 1")).await;
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    first.stop();
    // The service connection died with the first server: the retry finds the second.
    for _ in 0..3 {
        bridge.user_exists("romeo").await.assert_answer(true);
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    }
}

#[tokio::test]
async fn service_returns_to_the_first_server_once_it_is_back() {
    let mut first = Slapd::start();
    let second = Slapd::start();
    let config = servers(&[first.url(), second.url()], "pool_size = 1\nskip_failed_server_for = \"300ms\"");
    let bridge = Bridge::for_directory(&first, &config).await;
    first.stop();
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    first.resume_service();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = first.connections_accepted();
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Each login binds on a new connection, which now goes to the first server.
    assert!(first.connections_accepted() > before, "the login did not go to the first server");
}
