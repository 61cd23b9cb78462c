//! Serving on several workers, as the binary does on a machine with
//! several cores: each worker with its own listening socket and its own
//! connections to the directory, and one configuration for all of them.

mod support;

use std::time::Duration;

use support::{Bridge, Slapd, config};

const WORKERS: usize = 2;

/// Enough requests that each worker gets some: the kernel spreads new
/// connections over the sockets by a hash, so all of them landing on one
/// worker has a chance of one in 2^29.
const REQUESTS: usize = 30;

#[tokio::test]
async fn each_worker_has_its_own_connections_and_together_they_keep_the_pool_sizes() {
    let slapd = Slapd::start();
    // Shares of 4 each: the smallest a pool is divided into.
    let toml = config(&slapd, "[ldap]\npool_size = 8\nbind_pool_size = 8");
    let bridge = Bridge::on_workers(&toml, WORKERS).await;
    let before = slapd.connections_settled().await;
    // One after another: one search and one bind connection per worker.
    for _ in 0..REQUESTS {
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    }
    assert_eq!(
        slapd.connections_settled().await - before,
        2 * WORKERS,
        "one search and one bind connection per worker"
    );
    // All at once: each worker's share of the pools (4 of 8 each) is all it opens.
    let mut logins = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let address = bridge.addr;
        let (password, valid) = if i % 3 == 0 { ("wrong", false) } else { ("iheartjuliet", true) };
        let request = format!(
            "GET /check_password?user=romeo&pass={password}&server=example.com HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        logins.spawn(async move { (support::send(address, request.as_bytes()).await, valid) });
    }
    while let Some(login) = logins.join_next().await {
        let (reply, valid) = login.expect("a login task");
        reply.assert_answer(valid);
    }
    let opened = slapd.connections_settled().await - before;
    assert!(opened <= 8 + 8, "{opened} connections, beyond pool_size and bind_pool_size");
    bridge.stop().await;
}

#[tokio::test]
async fn a_reload_reaches_every_worker_and_a_stop_closes_every_socket() {
    let slapd = Slapd::start();
    let bridge = Bridge::on_workers(&config(&slapd, ""), WORKERS).await;
    for _ in 0..REQUESTS {
        bridge.user_exists("romeo").await.assert_answer(true);
    }
    let credentials = config(&slapd, "[http]\ncredentials = \"prosody:new-secret\"");
    let settings = auth_http_ldap::config::load_str(&credentials).expect("config");
    bridge.reload.as_ref().expect("served by workers").send(settings).await.expect("reload");
    // The reload is taken between requests: wait for the first sign of it.
    let mut waited = Duration::ZERO;
    while bridge.user_exists("romeo").await.status != 401 {
        assert!(waited < Duration::from_secs(5), "the reload was not taken");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    for _ in 0..REQUESTS {
        assert_eq!(bridge.user_exists("romeo").await.status, 401, "a worker kept the old configuration");
    }
    let address = bridge.addr;
    let workers = bridge.stop_leaving_workers().await;
    for _ in 0..REQUESTS {
        assert!(tokio::net::TcpStream::connect(address).await.is_err(), "a worker still accepts");
    }
    drop(workers);
}

#[tokio::test]
async fn a_budget_of_one_incomplete_connection_still_serves_each_socket() {
    let slapd = Slapd::start();
    let bridge = Bridge::on_workers(&config(&slapd, "[http]\nmax_incomplete_connections = 1"), WORKERS).await;
    for _ in 0..REQUESTS {
        let answer = tokio::time::timeout(Duration::from_secs(3), bridge.user_exists("romeo")).await;
        answer.expect("a connection was left unserved").assert_answer(true);
    }
    bridge.stop().await;
}
