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
    // Nothing listens there: each connection to it is refused at once.
    let dead = format!("ldap://127.0.0.1:{}", support::slapd::free_port());
    let bridge = Bridge::for_directory(&live, &servers(&[dead, live.url()], "")).await;
    let started = Instant::now();
    for _ in 0..5 {
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
        bridge.user_exists("juliet").await.assert_answer(true);
    }
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_frozen_first_server_costs_one_timeout_not_one_per_request() {
    let frozen = Slapd::start();
    let live = Slapd::start();
    let config = servers(
        &[frozen.url(), live.url()],
        "timeout = \"500ms\"\nconnect_timeout = \"500ms\"\npool_size = 4",
    );
    let bridge = Bridge::for_directory(&live, &config).await;
    // Every pooled connection is open, to the first server, before it freezes.
    for _ in 0..8 {
        bridge.user_exists("romeo").await.assert_answer(true);
    }
    frozen.freeze();
    let started = Instant::now();
    let mut unavailable = 0;
    for _ in 0..10 {
        let reply = bridge.user_exists("romeo").await;
        match reply.status {
            200 => reply.assert_answer(true),
            503 => unavailable += 1,
            other => panic!("{other}: {reply:?}"),
        }
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    }
    // The request that met the frozen server first waited out its timeout;
    // every other went to the live server, whichever pooled connection it got.
    assert!(unavailable <= 1, "{unavailable} requests waited on the frozen server");
    assert!(started.elapsed() < Duration::from_millis(2000), "took {:?}", started.elapsed());
    frozen.thaw();
}

#[tokio::test]
async fn a_server_that_dies_between_requests_is_replaced_at_once() {
    let mut first = Slapd::start();
    let second = Slapd::start();
    let bridge = Bridge::for_directory(&first, &servers(&[first.url(), second.url()], "pool_size = 2")).await;
    for _ in 0..4 {
        bridge.user_exists("romeo").await.assert_answer(true);
    }
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    first.stop();
    // The pooled connections died with the first server: each request finds the second.
    for _ in 0..4 {
        bridge.user_exists("romeo").await.assert_answer(true);
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    }
}

#[tokio::test]
async fn searches_and_logins_return_to_the_first_server_once_it_is_back() {
    let mut first = Slapd::start();
    let second = Slapd::start();
    let config = servers(&[first.url(), second.url()], "pool_size = 2\nskip_failed_server_for = \"300ms\"");
    let bridge = Bridge::for_directory(&first, &config).await;
    first.stop();
    for _ in 0..4 {
        bridge.user_exists("romeo").await.assert_answer(true);
    }
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    first.resume_service();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = first.connections_accepted();
    // Searches only: they leave the second server's connection for a new one to the first.
    for _ in 0..4 {
        bridge.user_exists("romeo").await.assert_answer(true);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_searches = first.connections_accepted();
    assert!(after_searches > before, "searches stayed on the second server ({before} -> {after_searches})");
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(first.connections_accepted() > after_searches, "the login did not go to the first server");
}

#[tokio::test]
async fn a_frozen_server_must_answer_before_it_counts_as_back() {
    let frozen = Slapd::start();
    let live = Slapd::start();
    let config = servers(
        &[frozen.url(), live.url()],
        "timeout = \"300ms\"\nconnect_timeout = \"300ms\"\nskip_failed_server_for = \"200ms\"",
    );
    // A DN template: logins are user binds alone, with no search before them
    // whose service connection could find out first.
    let config = format!("{config}\n[users]\nbind_dn_template = \"uid={{user}},{}\"", support::slapd::PEOPLE);
    let bridge = Bridge::for_directory(&live, &config).await;
    frozen.freeze();
    let _ = bridge.check_password("romeo", "iheartjuliet").await;
    // Each time the first server's time out ends, a login tries it again. A
    // frozen server still accepts TCP connections; only an LDAP answer may
    // bring it back, so every login fails over and succeeds.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    }
    frozen.thaw();
}
