//! How the service uses connections to the directory, counted by slapd itself.

mod support;

use std::time::Duration;

use support::{Bridge, Slapd};

/// Sends `requests` (with the answer each expects) all at once, and checks every answer.
async fn concurrently(bridge: &Bridge, requests: Vec<(String, bool)>) {
    let mut sent = tokio::task::JoinSet::new();
    for (request, expected) in requests {
        let address = bridge.addr;
        sent.spawn(async move { (support::send(address, request.as_bytes()).await, expected) });
    }
    while let Some(reply) = sent.join_next().await {
        let (reply, expected) = reply.expect("a request task");
        reply.assert_answer(expected);
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
}

#[tokio::test]
async fn searches_reuse_at_most_pool_size_connections() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[ldap]\npool_size = 2").await;
    let before = slapd.connections_settled().await;
    for _ in 0..10 {
        bridge.user_exists("romeo").await.assert_answer(true);
        bridge.user_exists("nobody").await.assert_answer(false);
    }
    assert_eq!(
        slapd.connections_settled().await - before,
        1,
        "searches one after another should reuse one connection"
    );
    let requests = (0..20)
        .map(|i| {
            let (user, exists) = if i % 2 == 0 { ("romeo", true) } else { ("nobody", false) };
            (get(&format!("/user_exists?user={user}&server=example.com")), exists)
        })
        .collect();
    concurrently(&bridge, requests).await;
    let opened = slapd.connections_settled().await - before;
    assert!((1..=2).contains(&opened), "{opened} connections for searches, at most 2 allowed");
}

#[tokio::test]
async fn writes_go_on_the_service_accounts_connections() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.user_exists("romeo").await.assert_answer(true);
    let before = slapd.connections_settled().await;
    for password in ["one", "two", "iheartjuliet"] {
        let body = format!("user=romeo&pass={password}&server=example.com");
        assert_eq!(bridge.post("/set_password", &body).await.status, 204);
    }
    // Three searches for romeo's DN and three writes, one after another,
    // all on the service account's one connection, never a user's.
    assert_eq!(slapd.connections_settled().await - before, 0);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn old_search_connections_are_replaced() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[ldap]\npool_size = 1\nmax_connection_age = \"1s\"").await;
    bridge.user_exists("romeo").await.assert_answer(true);
    let before = slapd.connections_settled().await;
    bridge.user_exists("romeo").await.assert_answer(true);
    assert_eq!(slapd.connections_settled().await, before, "a young connection is reused");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    bridge.user_exists("romeo").await.assert_answer(true);
    assert_eq!(slapd.connections_settled().await - before, 1, "an old connection is replaced");
}

#[tokio::test]
async fn user_binds_reuse_a_connection_of_their_own() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[ldap]\npool_size = 1").await;
    bridge.user_exists("romeo").await.assert_answer(true);
    let before = slapd.connections_settled().await;
    for _ in 0..3 {
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
        bridge.check_password("juliet", "wrong").await.assert_answer(false);
    }
    // Six binds, one after another, on one connection beside the service's.
    assert_eq!(slapd.connections_settled().await - before, 1);
    // And the service connection still searches as the service account, not
    // as the last user who logged in: the service may read what users may not.
    bridge.user_exists("juliet").await.assert_answer(true);
}

#[tokio::test]
async fn concurrent_logins_share_at_most_bind_pool_size_connections() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[ldap]\npool_size = 1\nbind_pool_size = 2").await;
    bridge.user_exists("romeo").await.assert_answer(true);
    let before = slapd.connections_settled().await;
    let logins = (0..20)
        .map(|i| {
            let (user, password, valid) =
                if i % 3 == 0 { ("juliet", "wrong", false) } else { ("romeo", "iheartjuliet", true) };
            (get(&format!("/check_password?user={user}&pass={password}&server=example.com")), valid)
        })
        .collect();
    concurrently(&bridge, logins).await;
    let opened = slapd.connections_settled().await - before;
    assert!((1..=2).contains(&opened), "{opened} connections for binds, at most 2 allowed");
}

#[tokio::test]
async fn an_idle_bind_connection_is_replaced() {
    let slapd = Slapd::start();
    // Binds only, with no search on the service account's connections.
    let config = format!(
        "[ldap]\nmax_connection_idle = \"1s\"\n[users]\nbind_dn_template = \"uid={{user}},{}\"",
        support::slapd::PEOPLE
    );
    let bridge = Bridge::for_directory(&slapd, &config).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    let before = slapd.connections_settled().await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    assert_eq!(slapd.connections_settled().await, before, "a connection used a moment ago is reused");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    assert_eq!(slapd.connections_settled().await - before, 1, "one unused for longer is replaced");
}

#[tokio::test]
async fn a_dn_template_binds_without_searching() {
    let slapd = Slapd::start();
    // With a service account that cannot bind, only a direct bind can work.
    let template = format!(
        "[ldap]\nbind_password = \"wrong\"\n[users]\nbind_dn_template = \"uid={{user}},{}\"",
        support::slapd::PEOPLE
    );
    let bridge = Bridge::for_directory(&slapd, &template).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("romeo", "wrong").await.assert_answer(false);
    bridge.check_password("nobody", "iheartjuliet").await.assert_answer(false);
    // user_exists still needs the (broken) service account to read the entry.
    assert_eq!(bridge.user_exists("romeo").await.status, 500);
}
