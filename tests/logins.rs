//! Failed logins stay away from the directory: a password it just refused is
//! not sent again, a user (or client address) with too many failures is
//! answered `false` without a bind, and directory errors count for nothing.
//! slapd's own log counts the binds that reached it.

mod support;

use std::time::{Duration, Instant};

use support::{Bridge, Slapd};

/// The test configuration turns the login guard off; `settings` turns parts on.
fn logins(settings: &str) -> String {
    format!("[logins]\n{settings}")
}

#[tokio::test]
async fn a_stale_password_reaches_the_directory_once() {
    let (_guard, logs) = support::capture_logs();
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &logins("remember_failed_for = \"5m\"")).await;
    for _ in 0..5 {
        bridge.check_password("romeo", "old-password").await.assert_answer(false);
    }
    assert_eq!(slapd.binds_as("romeo"), 1);
    assert_eq!(logs.about("romeo").iter().filter(|l| l.contains("refused a moment ago")).count(), 4);
    // Another password, the right one, still goes to the directory.
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    assert_eq!(slapd.binds_as("romeo"), 2);
    // And the same wrong password for another user is that user's first.
    bridge.check_password("juliet", "old-password").await.assert_answer(false);
    assert_eq!(slapd.binds_as("juliet"), 1);
}

#[tokio::test]
async fn a_user_with_too_many_failures_is_throttled_without_a_bind() {
    let (_guard, logs) = support::capture_logs();
    let slapd = Slapd::start();
    let settings = "max_failures_per_user = 3\nfailure_window = \"1500ms\"";
    let bridge = Bridge::for_directory(&slapd, &logins(settings)).await;
    for guess in ["guess-1", "guess-2", "guess-3"] {
        bridge.check_password("romeo", guess).await.assert_answer(false);
    }
    assert_eq!(slapd.binds_as("romeo"), 3);
    let started = Instant::now();
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(false);
    assert!(started.elapsed() < Duration::from_millis(200), "took {:?}", started.elapsed());
    assert_eq!(slapd.binds_as("romeo"), 3, "a throttled login must not reach the directory");
    let throttled = logs.about("romeo").into_iter().filter(|l| l.contains("throttled")).collect::<Vec<_>>();
    assert_eq!(throttled.len(), 1, "{throttled:?}");
    assert!(throttled[0].contains("for this user"), "{}", throttled[0]);
    // Other users are not held back.
    bridge.check_password("juliet", "iheartromeo").await.assert_answer(true);
    // Once the oldest failure leaves the window, the right password works.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn guesses_sent_at_once_are_counted_one_by_one() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &logins("max_failures_per_user = 3")).await;
    // Each login on a connection of its own, all sent at once.
    let at_once = async |user: &str, passwords: Vec<String>| {
        let mut logins = tokio::task::JoinSet::new();
        for password in passwords {
            let request = format!(
                "GET /check_password?user={user}&pass={password}&server=example.com HTTP/1.1\r\nHost: x\r\n\r\n"
            );
            let address = bridge.addr;
            logins.spawn(async move { support::send(address, request.as_bytes()).await });
        }
        logins.join_all().await
    };
    // Several devices of one user at the same moment: none is refused.
    for reply in at_once("juliet", vec!["iheartromeo".into(); 10]).await {
        reply.assert_answer(true);
    }
    // Ten guesses at the same moment: only as many reach the directory as
    // would one after another.
    for reply in at_once("romeo", (0..10).map(|i| format!("guess-{i}")).collect()).await {
        reply.assert_answer(false);
    }
    assert_eq!(slapd.binds_as("romeo"), 3, "guesses past max_failures_per_user reached the directory");
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(false);
}

#[tokio::test]
async fn a_success_starts_the_count_again() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &logins("max_failures_per_user = 2")).await;
    bridge.check_password("romeo", "guess-1").await.assert_answer(false);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("romeo", "guess-2").await.assert_answer(false);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn a_client_address_with_too_many_failures_is_throttled() {
    let (_guard, logs) = support::capture_logs();
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &logins("max_failures_per_address = 2")).await;
    bridge.check_password("romeo", "guess").await.assert_answer(false);
    bridge.check_password("nobody", "guess").await.assert_answer(false);
    bridge.check_password("juliet", "iheartromeo").await.assert_answer(false);
    assert_eq!(slapd.binds_as("juliet"), 0);
    assert!(logs.about("juliet").iter().any(|l| l.contains("for this client address")));
}

#[tokio::test]
async fn directory_errors_count_for_nothing() {
    let mut slapd = Slapd::start();
    let settings = "max_failures_per_user = 1\nremember_failed_for = \"5m\"";
    let bridge = Bridge::for_directory(&slapd, &logins(settings)).await;
    slapd.stop();
    for _ in 0..3 {
        assert_eq!(bridge.check_password("romeo", "iheartjuliet").await.status, 503);
    }
    slapd.resume_service();
    // Neither throttled nor remembered as refused.
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn a_password_change_forgets_what_was_remembered() {
    let slapd = Slapd::start();
    let settings = "max_failures_per_user = 2\nremember_failed_for = \"5m\"";
    let bridge = Bridge::for_directory(&slapd, &logins(settings)).await;
    // Tried before it was set: refused, and remembered as refused.
    bridge.check_password("romeo", "new-secret").await.assert_answer(false);
    bridge.check_password("romeo", "other-guess").await.assert_answer(false);
    let changed = bridge.post("/set_password", "user=romeo&pass=new-secret&server=example.com").await;
    assert_eq!(changed.status, 204);
    bridge.check_password("romeo", "new-secret").await.assert_answer(true);
}

#[tokio::test]
async fn remembered_successes_are_off_by_default_and_skip_the_bind_when_on() {
    let slapd = Slapd::start();
    // The test configuration leaves remember_success_for at its default.
    let defaults = Bridge::for_directory(&slapd, "").await;
    for _ in 0..2 {
        defaults.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    }
    assert_eq!(slapd.binds_as("romeo"), 2, "off by default");

    let bridge = Bridge::for_directory(&slapd, &logins("remember_success_for = \"1m\"")).await;
    for _ in 0..3 {
        bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    }
    assert_eq!(slapd.binds_as("romeo"), 3, "only the first login binds");
    // A wrong password is not mistaken for the remembered one.
    bridge.check_password("romeo", "iheartjulie").await.assert_answer(false);
    // A change of password forgets the old one.
    let changed = bridge.post("/set_password", "user=romeo&pass=new-secret&server=example.com").await;
    assert_eq!(changed.status, 204);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(false);
}
