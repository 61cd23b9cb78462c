//! Accounts that the directory's password policy refuses: each login answers
//! `false` with the reason in the log, and directory trouble is not one of them.

mod support;

use support::{Bridge, Slapd, encode};

#[tokio::test]
async fn locked_expired_and_must_change_accounts_cannot_log_in() {
    let (_guard, logs) = support::capture_logs();
    let slapd = Slapd::start_with_ppolicy();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    // Each with its right password.
    bridge.check_password("locked", "locked-pass").await.assert_answer(false);
    bridge.check_password("expired", "expired-pass").await.assert_answer(false);
    // The directory lets this one bind, only to change its password: not a login.
    bridge.check_password("mustchange", "mustchange-pass").await.assert_answer(false);
    // They still exist, so messages to them are kept.
    bridge.user_exists("locked").await.assert_answer(true);
    // And the log says why each login failed.
    for (user, reason) in [
        ("locked", "account locked (password policy)"),
        ("expired", "password expired (password policy)"),
        ("mustchange", "password must be changed after a reset (password policy)"),
    ] {
        let lines = logs.about(user);
        assert!(lines.iter().any(|line| line.contains(reason)), "{user}: {lines:?}");
    }
}

#[tokio::test]
async fn a_password_the_policy_refuses_is_422_and_the_old_one_still_works() {
    let slapd = Slapd::start_with_ppolicy();
    let bridge = Bridge::for_directory(&slapd, "").await;
    let (_guard, logs) = support::capture_logs();
    let reply = bridge.post("/set_password", "user=romeo&pass=short&server=example.com").await;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(logs.about("romeo").iter().any(|line| line.contains("constraintViolation")), "{}", logs.text());
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("romeo", "short").await.assert_answer(false);
    // A registration whose password is refused leaves no account behind.
    let reply = bridge.post("/register", "user=mercutio&pass=short&server=example.com").await;
    assert_eq!(reply.status, 422, "{reply:?}");
    bridge.user_exists("mercutio").await.assert_answer(false);
}

#[tokio::test]
async fn new_passwords_are_saslprep_normalised_as_prosody_does_at_login() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    // "cafe" + U+0301 COMBINING ACUTE, as a client may send it to register;
    // Prosody sends the composed "café" at login.
    let decomposed = "cafe\u{301}-secret";
    let composed = "caf\u{e9}-secret";
    let body = format!("user=mercutio&pass={}&server=example.com", encode(decomposed));
    assert_eq!(bridge.post("/register", &body).await.status, 201);
    bridge.check_password("mercutio", composed).await.assert_answer(true);
    let body = format!("user=juliet&pass={}&server=example.com", encode("\u{a0}nbsp-pass"));
    assert_eq!(bridge.post("/set_password", &body).await.status, 204);
    bridge.check_password("juliet", " nbsp-pass").await.assert_answer(true);
    // A password SASLprep forbids (a control character) is refused, not stored.
    let body = format!("user=juliet&pass={}&server=example.com", encode("bell\u{7}"));
    assert_eq!(bridge.post("/set_password", &body).await.status, 400);
    bridge.check_password("juliet", " nbsp-pass").await.assert_answer(true);
}

#[tokio::test]
async fn normalisation_can_be_switched_off() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[operations]\nnormalize_passwords = false").await;
    let body = format!("user=mercutio&pass={}&server=example.com", encode("cafe\u{301}-secret"));
    assert_eq!(bridge.post("/register", &body).await.status, 201);
    bridge.check_password("mercutio", "caf\u{e9}-secret").await.assert_answer(false);
    bridge.check_password("mercutio", "cafe\u{301}-secret").await.assert_answer(true);
}

#[tokio::test]
async fn only_members_of_the_required_group_log_in() {
    let (_guard, logs) = support::capture_logs();
    let slapd = Slapd::start();
    let bridge =
        Bridge::for_directory(&slapd, "[users]\nrequire_group = \"cn=xmpp,ou=groups,dc=example,dc=com\"")
            .await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    // A member whose DN has characters a filter must escape.
    bridge.check_password("lee,jr", "comma-pass").await.assert_answer(true);
    bridge.check_password("juliet", "iheartromeo").await.assert_answer(false);
    assert!(logs.about("juliet").iter().any(|line| line.contains("not a member")), "{}", logs.text());
    // groupOfUniqueNames works the same.
    let bridge =
        Bridge::for_directory(&slapd, "[users]\nrequire_group = \"cn=chat,ou=groups,dc=example,dc=com\"")
            .await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("lee,jr", "comma-pass").await.assert_answer(false);
    // A group that does not exist is a configuration error: 500, not false.
    let bridge =
        Bridge::for_directory(&slapd, "[users]\nrequire_group = \"cn=nope,ou=groups,dc=example,dc=com\"")
            .await;
    assert_eq!(bridge.check_password("romeo", "iheartjuliet").await.status, 500);
}

#[tokio::test]
async fn a_host_can_require_its_own_group() {
    let slapd = Slapd::start();
    let hosts = "[hosts.\"example.com\"]\n[hosts.\"members.example.com\"]\nusers = { base_dn = \"ou=people,dc=example,dc=com\", require_group = \"cn=xmpp,ou=groups,dc=example,dc=com\" }";
    let bridge = Bridge::for_directory(&slapd, hosts).await;
    bridge.get("/check_password?user=juliet&pass=iheartromeo&server=example.com").await.assert_answer(true);
    bridge
        .get("/check_password?user=juliet&pass=iheartromeo&server=members.example.com")
        .await
        .assert_answer(false);
    bridge
        .get("/check_password?user=romeo&pass=iheartjuliet&server=members.example.com")
        .await
        .assert_answer(true);
}
