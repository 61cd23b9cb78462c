//! register, set_password and remove_user against a real slapd, over real HTTP.

mod support;

use support::slapd::PEOPLE;
use support::{Bridge, Slapd, encode};

fn form(user: &str, password: &str) -> String {
    format!("user={}&pass={}&server=example.com", encode(user), encode(password))
}

#[tokio::test]
async fn register_then_log_in() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    let reply = bridge.post("/example.com/register", &form("mercutio", "queen mab&=+%")).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    bridge.check_password("mercutio", "queen mab&=+%").await.assert_answer(true);
    bridge.user_exists("mercutio").await.assert_answer(true);
    // The entry has the configured object classes and attributes, and the
    // directory hashed the password set by the Password Modify operation.
    let dn = format!("uid=mercutio,{PEOPLE}");
    assert_eq!(slapd.attribute(&dn, "sn").await.as_deref(), Some(&b"mercutio"[..]));
    let stored = slapd.attribute(&dn, "userPassword").await.expect("a password");
    assert!(stored.starts_with(b"{SSHA}"), "stored {:?}", String::from_utf8_lossy(&stored));

    let again = bridge.post("/example.com/register", &form("mercutio", "other")).await;
    assert_eq!(again.status, 409);
    bridge.check_password("mercutio", "queen mab&=+%").await.assert_answer(true);
    // A name that exists under another DN is taken too.
    assert_eq!(bridge.post("/register", &form("twin", "x")).await.status, 409);
}

#[tokio::test]
async fn register_with_the_password_as_an_attribute() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[register]\npassword = \"attribute\"\nattributes = { uid = \"{user}\", cn = \"{user}\", sn = \"Account\", mail = \"{user}@{server}\" }").await;
    assert_eq!(bridge.post("/register", &form("tybalt", "princeofcats")).await.status, 201);
    bridge.check_password("tybalt", "princeofcats").await.assert_answer(true);
    let dn = format!("uid=tybalt,{PEOPLE}");
    assert_eq!(slapd.attribute(&dn, "mail").await.as_deref(), Some(&b"tybalt@example.com"[..]));
    assert_eq!(slapd.attribute(&dn, "sn").await.as_deref(), Some(&b"Account"[..]));
}

#[tokio::test]
async fn register_escapes_the_dn() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    assert_eq!(bridge.post("/register", &form("paris,ou=admins", "county")).await.status, 201);
    assert!(slapd.read(&format!(r"uid=paris\2cou\3dadmins,{PEOPLE}"), &["uid"]).await.is_some());
    bridge.check_password("paris,ou=admins", "county").await.assert_answer(true);
}

#[tokio::test]
async fn set_password() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    let reply = bridge.post("/auth/example.com/set_password", &form("juliet", "n3w p@ss+&é")).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    bridge.check_password("juliet", "n3w p@ss+&é").await.assert_answer(true);
    bridge.check_password("juliet", "iheartromeo").await.assert_answer(false);
    let stored = slapd.attribute(&format!("uid=juliet,{PEOPLE}"), "userPassword").await.unwrap();
    assert!(stored.starts_with(b"{SSHA}"));

    assert_eq!(bridge.post("/set_password", &form("nobody", "x")).await.status, 404);
    assert_eq!(bridge.post("/set_password", &form("juliet", "")).await.status, 400);
    bridge.check_password("juliet", "n3w p@ss+&é").await.assert_answer(true);
}

#[tokio::test]
async fn set_password_by_modify() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "[operations]\npassword_change = \"modify\"").await;
    assert_eq!(bridge.post("/set_password", &form("romeo", "changed")).await.status, 204);
    bridge.check_password("romeo", "changed").await.assert_answer(true);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(false);
}

#[tokio::test]
async fn remove_user() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    assert_eq!(bridge.post("/remove_user", "user=romeo&server=example.com").await.status, 204);
    bridge.user_exists("romeo").await.assert_answer(false);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(false);
    assert!(slapd.read(&format!("uid=romeo,{PEOPLE}"), &["uid"]).await.is_none());
    assert_eq!(bridge.post("/remove_user", "user=romeo&server=example.com").await.status, 404);
    // Neither of two matching entries is removed, nor has its password changed.
    assert_eq!(bridge.post("/remove_user", "user=twin&server=example.com").await.status, 409);
    assert_eq!(bridge.post("/set_password", &form("twin", "changed")).await.status, 409);
    assert!(slapd.read(&format!("uid=twin,ou=sub,{PEOPLE}"), &["uid"]).await.is_some());
    assert!(slapd.read(&format!("uid=twin,{PEOPLE}"), &["uid"]).await.is_some());
    // A hostile name removes nothing.
    assert_eq!(bridge.post("/remove_user", "user=*&server=example.com").await.status, 404);
    bridge.user_exists("juliet").await.assert_answer(true);
}

#[tokio::test]
async fn writes_are_off_by_default_and_touch_nothing() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(
        &slapd,
        "[operations]\nregister = false\nset_password = false\nremove_user = false",
    )
    .await;
    // With the directory frozen, any LDAP I/O would answer 503, not 501.
    slapd.freeze();
    assert_every_write_refused(&bridge).await;
    slapd.thaw();
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.user_exists("benvolio").await.assert_answer(false);
}

/// Each write answers 501: nothing registered, changed or removed.
async fn assert_every_write_refused(bridge: &Bridge) {
    assert_eq!(bridge.post("/register", &form("benvolio", "x")).await.status, 501);
    assert_eq!(bridge.post("/set_password", &form("romeo", "x")).await.status, 501);
    assert_eq!(bridge.post("/remove_user", "user=romeo&server=example.com").await.status, 501);
}

#[tokio::test]
async fn bad_input_to_a_write_is_400_and_never_reaches_the_directory() {
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, "").await;
    // With the directory frozen, anything that reached it would answer 503.
    slapd.freeze();
    for (method, body) in [
        ("register", "user=new&pass=&server=example.com"),
        ("register", "user=new%00x&pass=x&server=example.com"),
        ("register", "user=new&pass=a%00b&server=example.com"),
        ("register", "user=&pass=x&server=example.com"),
        ("register", "user=new&pass=x&server=example.com%00"),
        ("set_password", "user=romeo&pass=&server=example.com"),
        ("set_password", "user=romeo&pass=a%00b&server=example.com"),
        ("set_password", "user=romeo%00&pass=x&server=example.com"),
        ("remove_user", "user=romeo%00&server=example.com"),
        ("remove_user", "user=&server=example.com"),
    ] {
        let reply = bridge.post(&format!("/{method}"), body).await;
        assert_eq!(reply.status, 400, "{method} {body}: {reply:?}");
    }
    bridge.get("/user_exists?user=romeo%00&server=example.com").await.assert_answer(false);
    bridge.get("/user_exists?user=romeo&server=example.com%00").await.assert_answer(false);
    slapd.thaw();
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.user_exists("new").await.assert_answer(false);
}

#[tokio::test]
async fn the_shipped_defaults_leave_writes_off() {
    let slapd = Slapd::start();
    let mut toml: toml::Table = support::config(&slapd, "").parse().unwrap();
    toml.remove("operations");
    toml.remove("register");
    let bridge = Bridge::start(&toml::to_string(&toml).unwrap()).await;
    assert_every_write_refused(&bridge).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn hosts_select_settings_and_unknown_servers_are_refused() {
    let slapd = Slapd::start();
    let hosts = format!(
        r#"[hosts."example.com"]
[hosts."sub.example.com"]
users = {{ base_dn = "ou=sub,{PEOPLE}" }}
operations = {{ register = false }}
[hosts."new.example.com"]
register = {{ dn = "uid={{user}},ou=sub,{PEOPLE}", attributes = {{ uid = "{{user}}", cn = "{{user}}", sn = "New" }} }}
"#
    );
    let bridge = Bridge::for_directory(&slapd, &hosts).await;
    bridge.get("/check_password?user=romeo&pass=iheartjuliet&server=example.com").await.assert_answer(true);
    // Only the sub-tree is searched for this host: one twin, no romeo.
    bridge
        .get("/check_password?user=romeo&pass=iheartjuliet&server=sub.example.com")
        .await
        .assert_answer(false);
    bridge.get("/check_password?user=twin&pass=twin-pass&server=sub.example.com").await.assert_answer(true);
    assert_eq!(bridge.post("/register", "user=new&pass=x&server=sub.example.com").await.status, 501);
    // A host's register table: its own DN and attributes.
    assert_eq!(bridge.post("/register", "user=newcomer&pass=x&server=new.example.com").await.status, 201);
    let dn = format!("uid=newcomer,ou=sub,{PEOPLE}");
    assert_eq!(slapd.attribute(&dn, "sn").await.as_deref(), Some(&b"New"[..]));
    // An unknown domain touches nothing.
    slapd.freeze();
    assert_eq!(
        bridge.get("/check_password?user=romeo&pass=iheartjuliet&server=evil.example").await.status,
        403
    );
    assert_eq!(bridge.get("/user_exists?user=romeo").await.status, 403);
    assert_eq!(bridge.post("/remove_user", "user=romeo&server=evil.example").await.status, 403);
    slapd.thaw();
    bridge.user_exists("romeo").await.assert_answer(true);
}
