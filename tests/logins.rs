//! Failed logins stay away from the directory: a password it just refused is
//! not sent again, a user who has used the budget the administrator set (or
//! a client address with too many failures) is answered `false` without a
//! bind, and directory errors count for nothing. Without a budget, a right
//! password after wrong ones logs in. The administrator sees and clears a
//! user's state on the admin listener, and a reload keeps it. slapd's own
//! log counts the binds that reached it.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use auth_http_ldap::config::Settings;
use auth_http_ldap::logins::UserState;
use auth_http_ldap::{Listening, Sockets};
use support::{Bridge, Reply, Slapd, encode};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// The test configuration turns the login guard off; `settings` turns parts on.
fn logins(settings: &str) -> String {
    format!("[logins]\n{settings}")
}

/// The test configuration with `[logins]` left to its defaults.
fn with_default_logins(slapd: &Slapd) -> String {
    let mut config: toml::Table = support::config(slapd, "").parse().expect("test config");
    config.remove("logins");
    toml::to_string(&config).expect("config TOML")
}

/// The service with an admin listener beside its API listener, taking reloads.
struct Served {
    api: SocketAddr,
    admin: SocketAddr,
    reload: mpsc::Sender<Settings>,
    /// Stops the service when dropped.
    _stop: oneshot::Sender<()>,
}

impl Served {
    async fn start(slapd: &Slapd, overrides: &str) -> Served {
        let settings = settings(slapd, overrides);
        let api = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (api_address, admin_address) = (api.local_addr().unwrap(), admin.local_addr().unwrap());
        let sockets =
            Sockets { api: vec![Listening::here(api)], admin: Some(Listening::here(admin)), workers: 1 };
        let (stop, stopped) = oneshot::channel::<()>();
        let (reload, reloads) = mpsc::channel(1);
        let stopped = async {
            let _ = stopped.await;
        };
        tokio::spawn(auth_http_ldap::serve_with_reloads(settings, sockets, stopped, reloads));
        Served { api: api_address, admin: admin_address, reload, _stop: stop }
    }

    async fn check_password(&self, user: &str, password: &str) -> Reply {
        let request = format!(
            "GET /check_password?user={}&pass={}&server=example.com HTTP/1.1\r\nHost: x\r\n\r\n",
            encode(user),
            encode(password)
        );
        support::send(self.api, request.as_bytes()).await
    }

    /// `method` on `path` of the admin listener.
    async fn admin(&self, method: &str, path: &str) -> Reply {
        send(self.admin, method, path).await
    }

    /// What the admin listener shows for `path`.
    async fn state(&self, path: &str) -> Vec<UserState> {
        let reply = self.admin("GET", path).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        serde_json::from_slice(&reply.body).expect("the state as JSON")
    }
}

fn settings(slapd: &Slapd, overrides: &str) -> Settings {
    auth_http_ldap::config::load_str(&support::config(slapd, overrides)).expect("test config")
}

async fn send(address: SocketAddr, method: &str, path: &str) -> Reply {
    support::send(address, format!("{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await
}

#[tokio::test]
async fn by_default_a_right_password_after_wrong_ones_logs_in() {
    let slapd = Slapd::start();
    let bridge = Bridge::start(&with_default_logins(&slapd)).await;
    for guess in ["guess-1", "guess-2", "guess-3", "guess-4", "guess-5"] {
        bridge.check_password("romeo", guess).await.assert_answer(false);
    }
    assert_eq!(slapd.binds_as("romeo"), 5);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    assert_eq!(slapd.binds_as("romeo"), 6, "the right password reached the directory");
    // A stale password retried still never does, by default too.
    for _ in 0..3 {
        bridge.check_password("juliet", "old-password").await.assert_answer(false);
    }
    assert_eq!(slapd.binds_as("juliet"), 1);
    bridge.check_password("juliet", "iheartromeo").await.assert_answer(true);
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
async fn with_a_budget_the_next_attempt_is_answered_without_the_directory() {
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
    // Once the window passes without a failure, the right password works.
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

#[tokio::test]
async fn the_admin_listener_shows_and_clears_a_users_state() {
    let slapd = Slapd::start();
    let served =
        Served::start(&slapd, &logins("max_failures_per_user = 2\nremember_failed_for = \"5m\"")).await;
    assert_eq!(served.state("/logins/romeo").await, vec![], "nothing held yet");
    for guess in ["guess-one", "guess-two"] {
        served.check_password("romeo", guess).await.assert_answer(false);
    }
    served.check_password("romeo", "iheartjuliet").await.assert_answer(false);
    assert_eq!(slapd.binds_as("romeo"), 2, "the budget is used up");

    let shown = served.admin("GET", "/logins/example.com/romeo").await;
    assert!(!shown.text().contains("guess"), "a password in {}", shown.text());
    let [state] = &served.state("/logins/example.com/romeo").await[..] else { panic!("one domain") };
    assert_eq!((state.server.as_str(), state.user.as_str()), ("example.com", "romeo"));
    assert_eq!((state.failures, state.budget, state.throttled), (2, 2, true));
    assert_eq!(state.wrong_passwords_remembered, 2);
    let (last, until) = (state.last_failure.expect("last failure"), state.throttled_until.expect("until"));
    assert_eq!(until.duration_since(last).unwrap(), Duration::from_secs(15 * 60));
    // Without the domain: every domain where anything is held.
    assert_eq!(served.state("/logins/romeo").await, vec![state.clone()]);
    assert_eq!(served.state("/logins/juliet").await, vec![]);

    let cleared = served.admin("DELETE", "/logins/example.com/romeo").await;
    assert_eq!(cleared.status, 200, "{cleared:?}");
    let cleared: Vec<UserState> = serde_json::from_slice(&cleared.body).unwrap();
    assert_eq!(cleared, vec![state.clone()], "the answer is what was cleared");
    assert_eq!(served.state("/logins/romeo").await, vec![]);
    served.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    assert_eq!(slapd.binds_as("romeo"), 3);
    // Cleared, the stale password reaches the directory once more.
    served.check_password("romeo", "guess-one").await.assert_answer(false);
    assert_eq!(slapd.binds_as("romeo"), 4);
}

#[tokio::test]
async fn the_admin_routes_refuse_bad_input_clearly() {
    let slapd = Slapd::start();
    let served = Served::start(&slapd, "").await;
    // Each segment is percent-decoded on its own: a `/` in a name stays in it.
    let [state] = &served.state("/logins/example.com/a%2Fb%20c").await[..] else { panic!("one domain") };
    assert_eq!((state.server.as_str(), state.user.as_str()), ("example.com", "a/b c"));
    assert_eq!(served.state("/logins/rom%65o").await, vec![]);
    for (path, why) in [
        ("/logins/example.com/%ff", "the path is not percent-encoded UTF-8"),
        ("/logins/", "the user name is empty, too long or contains NUL"),
        ("/logins/example.com/", "the user name is empty, too long or contains NUL"),
        ("/logins/example.com/rom%00eo", "the user name is empty, too long or contains NUL"),
        ("/logins//romeo", "the server is empty; /logins/<user> covers every domain"),
    ] {
        let reply = served.admin("GET", path).await;
        assert_eq!((reply.status, reply.text()), (400, format!("{why}\n").as_str()), "{path}");
    }
    let long = "r".repeat(1024);
    assert_eq!(served.admin("DELETE", &format!("/logins/{long}")).await.status, 400);
    for path in ["/logins", "/logins/a/b/c", "/loginsx/romeo"] {
        assert_eq!(served.admin("GET", path).await.status, 404, "{path}");
    }
    let post = served.admin("POST", "/logins/romeo").await;
    assert_eq!((post.status, post.header("allow")), (405, Some("GET, DELETE")));
}

#[tokio::test]
async fn the_api_listener_has_no_admin_routes() {
    let slapd = Slapd::start();
    let served = Served::start(&slapd, &logins("max_failures_per_user = 1")).await;
    served.check_password("romeo", "guess").await.assert_answer(false);
    // Prosody's API names its method by the last segment: these are none.
    for method in ["GET", "DELETE"] {
        assert_eq!(send(served.api, method, "/logins/example.com/romeo").await.status, 501);
        assert_eq!(send(served.api, method, "/logins/romeo").await.status, 501);
    }
    assert!(served.state("/logins/romeo").await[0].throttled, "nothing was cleared");
    // Nor where the API listener serves /health itself, with no admin listener.
    let bridge = Bridge::for_directory(&slapd, "").await;
    assert_eq!(bridge.raw("DELETE /logins/romeo HTTP/1.1\r\nHost: x\r\n\r\n").await.status, 501);
    assert_eq!(bridge.get("/logins/example.com/romeo").await.status, 501);
}

#[tokio::test]
async fn a_reload_keeps_what_the_guard_has_counted_under_the_new_settings() {
    let slapd = Slapd::start();
    let served = Served::start(&slapd, &logins("max_failures_per_user = 2")).await;
    for guess in ["guess-1", "guess-2"] {
        served.check_password("romeo", guess).await.assert_answer(false);
    }
    served.check_password("romeo", "iheartjuliet").await.assert_answer(false);

    // Another window: the count and the throttle go on, over the new window.
    let reload = async |overrides: &str, taken: &dyn Fn(&UserState) -> bool| {
        served.reload.send(settings(&slapd, &logins(overrides))).await.expect("reload");
        let mut waited = Duration::ZERO;
        while !taken(&served.state("/logins/example.com/romeo").await[0]) {
            assert!(waited < Duration::from_secs(5), "not taken, or what was counted was forgotten");
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
        }
    };
    let window = |state: &UserState| {
        let until = state.throttled_until.and_then(|until| until.duration_since(state.last_failure?).ok());
        until == Some(Duration::from_secs(16 * 60))
    };
    reload("max_failures_per_user = 2\nfailure_window = \"16m\"", &window).await;
    served.check_password("romeo", "iheartjuliet").await.assert_answer(false);
    assert_eq!(slapd.binds_as("romeo"), 2);

    // A larger budget applies to the failures counted before it: one more
    // guess reaches the directory, not three.
    reload("max_failures_per_user = 3", &|state| state.budget == 3).await;
    let [state] = &served.state("/logins/example.com/romeo").await[..] else { panic!("one domain") };
    assert_eq!((state.failures, state.throttled), (2, false));
    served.check_password("romeo", "guess-3").await.assert_answer(false);
    served.check_password("romeo", "iheartjuliet").await.assert_answer(false);
    assert_eq!(slapd.binds_as("romeo"), 3);
}
