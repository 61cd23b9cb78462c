//! A directory that is down, restarted or too slow: answers come within the
//! deadline, say 503, and the service recovers by itself.

mod support;

use std::time::{Duration, Instant};

use support::{Bridge, Slapd};

#[tokio::test]
async fn a_stopped_directory_is_503_and_a_restarted_one_works_again() {
    let mut slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);

    slapd.stop();
    let started = Instant::now();
    let reply = bridge.check_password("romeo", "iheartjuliet").await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(bridge.user_exists("romeo").await.status, 503);
    assert_eq!(bridge.post("/set_password", "user=romeo&pass=x&server=example.com").await.status, 503);
    // A refused connection is known at once: no timeout is waited out.
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());

    slapd.resume_service();
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.user_exists("juliet").await.assert_answer(true);
}

#[tokio::test]
async fn a_restart_between_requests_is_invisible() {
    let mut slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    // The service account's connection and the one kept for user binds die
    // with the server; the next request must reconnect instead of failing once.
    slapd.stop();
    slapd.resume_service();
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    assert_eq!(bridge.post("/set_password", "user=romeo&pass=new&server=example.com").await.status, 204);
}

#[tokio::test]
async fn a_search_on_a_connection_the_network_dropped_is_tried_again() {
    let slapd = Slapd::start_tcp(None);
    let proxy = support::proxy::Proxy::start(slapd.ldap_addr()).await;
    let bridge = Bridge::for_directory(&slapd, &format!("[ldap]\nurl = \"{}\"", proxy.url())).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    // A firewall forgets the connections, and the bridge is not told.
    proxy.forget_open_connections();
    // A search is tried again on a new connection: the answer is the directory's.
    bridge.user_exists("romeo").await.assert_answer(true);
    // A bind is not, as the directory may have counted it against the
    // account's lockout: that login is 503, and the next one finds a new connection.
    assert_eq!(bridge.check_password("romeo", "iheartjuliet").await.status, 503);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn a_frozen_directory_is_answered_within_the_ldap_timeout() {
    let slapd = Slapd::start();
    let bridge =
        Bridge::for_directory(&slapd, "[ldap]\ntimeout = \"500ms\"\n[http]\nrequest_timeout = \"5s\"").await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    slapd.freeze();
    for _ in 0..2 {
        let started = Instant::now();
        let reply = bridge.check_password("romeo", "iheartjuliet").await;
        assert_eq!(reply.status, 503, "{reply:?}");
        // Bounded by the 500 ms LDAP timeout (and the 500 ms connect
        // timeout when reconnecting), far below the 5 s request deadline.
        assert!(started.elapsed() < Duration::from_millis(2500), "took {:?}", started.elapsed());
    }
    slapd.thaw();
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn the_request_deadline_bounds_everything() {
    let slapd = Slapd::start();
    // A login is a search and a bind, each allowed the whole deadline: only
    // the request's own deadline keeps the pair within it.
    let overrides =
        "[ldap]\ntimeout = \"700ms\"\nconnect_timeout = \"700ms\"\n[http]\nrequest_timeout = \"700ms\"";
    let bridge = Bridge::for_directory(&slapd, overrides).await;
    slapd.freeze();
    let started = Instant::now();
    let reply = bridge.user_exists("romeo").await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(started.elapsed() < Duration::from_millis(2500), "took {:?}", started.elapsed());
    slapd.thaw();
    bridge.user_exists("romeo").await.assert_answer(true);
}
