//! user_exists answers are kept for a while, forgotten on writes, and a user
//! known to exist is still answered `true` while the directory is down, so
//! that messages to offline users are stored rather than bounced.

mod support;

use std::time::{Duration, Instant};

use support::{Bridge, Slapd};

fn cache(ttl: &str, negative: &str, stale: &str) -> String {
    format!(
        "[cache]\nuser_exists_ttl = \"{ttl}\"\nuser_exists_negative_ttl = \"{negative}\"\nstale_if_error = \"{stale}\""
    )
}

#[tokio::test]
async fn fresh_answers_come_from_the_cache_without_the_directory() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &cache("5m", "30s", "0s")).await;
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.user_exists("nobody").await.assert_answer(false);
    // With the directory frozen, anything that reached it would be a 503.
    slapd.freeze();
    let started = Instant::now();
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.user_exists("nobody").await.assert_answer(false);
    assert!(started.elapsed() < Duration::from_millis(200), "took {:?}", started.elapsed());
    slapd.thaw();
}

#[tokio::test]
async fn a_negative_answer_is_kept_for_less_time() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &cache("5m", "300ms", "0s")).await;
    bridge.user_exists("benvolio").await.assert_answer(false);
    slapd.add_person("benvolio", "cousin").await;
    bridge.user_exists("benvolio").await.assert_answer(false);
    tokio::time::sleep(Duration::from_millis(400)).await;
    bridge.user_exists("benvolio").await.assert_answer(true);
}

#[tokio::test]
async fn writes_forget_the_cached_answer() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &cache("5m", "5m", "0s")).await;
    bridge.user_exists("mercutio").await.assert_answer(false);
    bridge.user_exists("romeo").await.assert_answer(true);
    assert_eq!(bridge.post("/register", "user=mercutio&pass=queen-mab&server=example.com").await.status, 201);
    assert_eq!(bridge.post("/remove_user", "user=romeo&server=example.com").await.status, 204);
    bridge.user_exists("mercutio").await.assert_answer(true);
    bridge.user_exists("romeo").await.assert_answer(false);
}

#[tokio::test]
async fn a_known_user_is_still_answered_while_the_directory_is_down() {
    let (_guard, logs) = support::capture_logs();
    let mut slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &cache("100ms", "100ms", "24h")).await;
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.user_exists("nobody").await.assert_answer(false);
    tokio::time::sleep(Duration::from_millis(150)).await;
    slapd.stop();
    // Past its time to live, but known to exist: still true, and logged as such.
    bridge.user_exists("romeo").await.assert_answer(true);
    assert!(logs.about("romeo").iter().any(|line| line.contains("true-stale")), "{}", logs.text());
    // Never seen, or known not to exist: the outage is not hidden.
    assert_eq!(bridge.user_exists("juliet").await.status, 503);
    assert_eq!(bridge.user_exists("nobody").await.status, 503);
    // Logins are never answered from any cache.
    assert_eq!(bridge.check_password("romeo", "iheartjuliet").await.status, 503);
}

#[tokio::test]
async fn a_frozen_directory_still_leaves_time_for_the_stale_answer() {
    let first = Slapd::start();
    let second = Slapd::start();
    // Two servers, each allowed the whole deadline: asking both would take
    // twice as long as the request may, and the stale answer must still come.
    let config = format!(
        "[http]\nrequest_timeout = \"1s\"\n\
         [ldap]\nurl = [\"{}\", \"{}\"]\ntimeout = \"1s\"\nconnect_timeout = \"1s\"\nmax_connection_idle = \"100ms\"\n{}",
        first.url(),
        second.url(),
        cache("100ms", "100ms", "24h")
    );
    let bridge = Bridge::for_directory(&first, &config).await;
    bridge.user_exists("romeo").await.assert_answer(true);
    tokio::time::sleep(Duration::from_millis(150)).await;
    first.freeze();
    second.freeze();
    let started = Instant::now();
    bridge.user_exists("romeo").await.assert_answer(true);
    assert!(started.elapsed() < Duration::from_millis(1000), "took {:?}", started.elapsed());
    first.thaw();
    second.thaw();
}

#[tokio::test]
async fn stale_answers_end_with_their_window() {
    let mut slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &cache("100ms", "100ms", "300ms")).await;
    bridge.user_exists("romeo").await.assert_answer(true);
    slapd.stop();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(bridge.user_exists("romeo").await.status, 503);
}

#[tokio::test]
async fn a_reload_during_an_outage_keeps_what_is_known() {
    let mut slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let config = support::config(&slapd, &cache("5m", "5m", "24h"));
    std::fs::write(&path, &config).unwrap();
    let service = support::RunningBinary::start(&path, &[]);
    let addr = service.api_address().await;
    let user_exists = || async move {
        let request = "GET /user_exists?user=romeo&server=example.com HTTP/1.1\r\nHost: x\r\n\r\n";
        support::send(addr, request.as_bytes()).await
    };
    user_exists().await.assert_answer(true);
    slapd.stop();
    // The operator changes something else (here, the timeout) and reloads.
    std::fs::write(&path, config.replace("timeout = \"1s\"", "timeout = \"900ms\"")).unwrap();
    let hangup = std::process::Command::new("kill").arg("-HUP").arg(service.pid().to_string()).status();
    assert!(hangup.unwrap().success());
    for _ in 0..100 {
        if service.log().contains("configuration reloaded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(service.log().contains("configuration reloaded"), "{}", service.log());
    // The fresh answer from before the reload still serves.
    user_exists().await.assert_answer(true);
}
