//! check_password and user_exists against a real slapd, over real HTTP.

mod support;

use support::{Bridge, Slapd, encode};

#[tokio::test]
async fn right_and_wrong_passwords() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("romeo", "iheartjulie").await.assert_answer(false);
    bridge.check_password("romeo", "iheartromeo").await.assert_answer(false);
    bridge.check_password("nobody", "iheartjuliet").await.assert_answer(false);
}

#[tokio::test]
async fn prosodys_encoding_of_every_special_character() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    // Exactly the bytes protocol.md observed for `p@ss wörd&=+%`.
    let observed = "p%40ss+w%c3%b6rd%26%3d%2b%25";
    assert_eq!(encode("p@ss wörd&=+%"), observed);
    bridge
        .get(&format!("/auth/check_password?pass={observed}&server=example.com&user=alice"))
        .await
        .assert_answer(true);
    // Upper-case hex, and parameters in another order.
    let upper = "p%40ss+w%C3%B6rd%26%3D%2B%25";
    bridge
        .get(&format!("/auth/check_password?user=alice&server=example.com&pass={upper}"))
        .await
        .assert_answer(true);
    // `+` is a space, not a plus: the password with a literal plus is wrong.
    bridge
        .get("/auth/check_password?user=alice&server=example.com&pass=p%40ss%2bw%c3%b6rd%26%3d%2b%25")
        .await
        .assert_answer(false);
    // The same parameters as a POST form body, with the deployed module's Content-Type typo.
    bridge
        .post("/auth/check_password", &format!("server=example.com&user=alice&pass={observed}"))
        .await
        .assert_answer(true);
}

#[tokio::test]
async fn empty_and_nul_passwords_never_reach_the_directory() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.check_password("romeo", "").await.assert_answer(false);
    bridge
        .get("/x/check_password?user=romeo&server=example.com&pass=iheartjuliet%00")
        .await
        .assert_answer(false);
    bridge
        .get("/x/check_password?user=romeo%00&server=example.com&pass=iheartjuliet")
        .await
        .assert_answer(false);
    // Proof that nothing was sent: with the directory frozen, anything that
    // reached it would wait out the timeout and answer 503.
    slapd.freeze();
    bridge.check_password("romeo", "").await.assert_answer(false);
    bridge.get("/x/check_password?user=romeo&server=example.com&pass=a%00b").await.assert_answer(false);
    slapd.thaw();
}

#[tokio::test]
async fn hostile_user_names_match_nothing() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    for user in ["*", "*)(uid=*", "romeo)(|(uid=*", "a,ou=admins", "\\", "rome*", "(uid=romeo)"] {
        bridge.check_password(user, "iheartjuliet").await.assert_answer(false);
        bridge.check_password(user, "admin-pass").await.assert_answer(false);
        bridge.user_exists(user).await.assert_answer(false);
    }
    // A megabyte-long name is refused without a crash; the server still answers others.
    let huge = "a".repeat(1 << 20);
    let reply = bridge.get(&format!("/x/check_password?user={huge}&pass=x&server=example.com")).await;
    assert!((400..500).contains(&reply.status), "{}", reply.status);
    let long = "a".repeat(2000);
    bridge.check_password(&long, "x").await.assert_answer(false);
    bridge.user_exists(&long).await.assert_answer(false);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn names_with_filter_metacharacters_are_escaped_exactly_once() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.check_password(r"a(b)*c\d", "special-pass").await.assert_answer(true);
    bridge.user_exists(r"a(b)*c\d").await.assert_answer(true);
    bridge.check_password("lee,jr", "comma-pass").await.assert_answer(true);
}

#[tokio::test]
async fn a_dn_template_escapes_the_user_name() {
    let slapd = Slapd::start();
    let template = format!(
        r#"[users]
bind_dn_template = "uid={{user}},{}""#,
        support::slapd::PEOPLE
    );
    let bridge = Bridge::for_directory(&slapd, &template).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("romeo", "wrong").await.assert_answer(false);
    // Unescaped, this would be uid=a,ou=admins,ou=people,... whose password is admin-pass.
    bridge.check_password("a,ou=admins", "admin-pass").await.assert_answer(false);
    bridge.user_exists("a,ou=admins").await.assert_answer(false);
    bridge.check_password("lee,jr", "comma-pass").await.assert_answer(true);
    bridge.check_password(r"a(b)*c\d", "special-pass").await.assert_answer(true);
    bridge.user_exists("lee,jr").await.assert_answer(true);
    bridge.user_exists("nobody").await.assert_answer(false);
    bridge.check_password("nobody", "x").await.assert_answer(false);
}

#[tokio::test]
async fn two_matching_entries_fail_the_login() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.check_password("twin", "twin-pass").await.assert_answer(false);
    // The name is taken, so Prosody must not register it again.
    bridge.user_exists("twin").await.assert_answer(true);
    // A one-level search sees only one of them, which then works.
    let bridge = Bridge::for_directory(&slapd, "[users]\nscope = \"one\"").await;
    bridge.check_password("twin", "twin-pass").await.assert_answer(true);
}

#[tokio::test]
async fn user_exists() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.user_exists("juliet").await.assert_answer(true);
    bridge.user_exists("nobody").await.assert_answer(false);
    bridge.user_exists("").await.assert_answer(false);
    // POST is accepted for the queries too.
    bridge.post("/user_exists", "user=romeo&server=example.com").await.assert_answer(true);
}

#[tokio::test]
async fn anonymous_search_when_no_service_account_is_configured() {
    let slapd = Slapd::start();
    let mut toml: toml::Table = support::config(&slapd, "").parse().unwrap();
    let ldap = toml["ldap"].as_table_mut().unwrap();
    ldap.remove("bind_dn");
    ldap.remove("bind_password");
    let bridge = Bridge::start(&toml::to_string(&toml).unwrap()).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("romeo", "nope").await.assert_answer(false);
    bridge.user_exists("juliet").await.assert_answer(true);
}

#[tokio::test]
async fn the_server_placeholder_selects_by_domain() {
    let slapd = Slapd::start();
    // juliet's cn is "juliet"; the filter requires it to equal the server parameter.
    let bridge = Bridge::for_directory(&slapd, "[users]\nfilter = \"(&(uid={user})(cn={server}))\"").await;
    bridge.get("/check_password?user=juliet&pass=iheartromeo&server=juliet").await.assert_answer(true);
    bridge.get("/check_password?user=juliet&pass=iheartromeo&server=example.com").await.assert_answer(false);
    // The server value is escaped too.
    bridge.get("/check_password?user=juliet&pass=iheartromeo&server=*").await.assert_answer(false);
}
