//! The 389ds preset against a real 389 Directory Server. Behind the
//! `external-directories` feature: `scripts/test` installs 389-DS and runs
//! these; `cargo test` alone does not.
#![cfg(feature = "external-directories")]

mod support;

use support::ds389::Ds389;
use support::pki::Pki;
use support::server_cert::{assert_self_signed_ca, openldap_trusts};
use support::{Bridge, CertShape, encode};

#[tokio::test]
async fn logs_in_over_starttls_and_refuses_a_locked_account() {
    let ds = Ds389::start();
    let (_guard, logs) = support::capture_logs();
    let bridge = Bridge::start(&ds.config("")).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("romeo", "wrong").await.assert_answer(false);
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.user_exists("nobody").await.assert_answer(false);
    // nsAccountLock: TRUE, with the right password.
    bridge.check_password("locked", "lockedpassword").await.assert_answer(false);
    assert!(
        logs.about("locked").iter().any(|line| line.contains("account locked (password policy)")),
        "{}",
        logs.text()
    );
}

/// Most directories present a certificate made with `openssl req -x509`
/// (CA:TRUE), and their administrators give that certificate itself as
/// `ldap.ca_file`. OpenLDAP's client accepts it so, with verification on,
/// over StartTLS and LDAPS alike; the service must too.
#[tokio::test]
async fn logs_in_trusting_the_self_signed_certificate_itself() {
    let ds = Ds389::start_with(CertShape::SelfSigned);
    assert_self_signed_ca(&ds.ca_file());
    let (_guard, logs) = support::capture_logs();
    let unrelated = Pki::new();
    for url in [ds.ldap_url(), ds.ldaps_url()] {
        openldap_trusts(&url, &ds.ca_file()).unwrap_or_else(|e| panic!("{e}"));
        // ldapsearch checks the certificate: an unrelated one is refused.
        assert!(openldap_trusts(&url, &unrelated.path("other-ca.pem")).is_err(), "{url}");

        let bridge = Bridge::start(&ds.config_at(&url, "")).await;
        let reply = bridge.check_password("romeo", "iheartjuliet").await;
        assert_eq!(reply.status, 200, "{url}: {}: {:?}", reply.text().trim(), logs.about("romeo"));
        reply.assert_answer(true);
        bridge.check_password("romeo", "wrong").await.assert_answer(false);
        bridge.user_exists("romeo").await.assert_answer(true);
        bridge.user_exists("nobody").await.assert_answer(false);
    }
}

#[tokio::test]
async fn changes_a_password_and_registers_over_starttls() {
    let ds = Ds389::start();
    let writes = "[operations]\nset_password = true\nregister = true\n\
                  [register]\ndn = \"uid={user},ou=people,dc=example,dc=com\"\n";
    let bridge = Bridge::start(&ds.config(writes)).await;
    let body = format!("user=romeo&pass={}&server=example.com", encode("n3w p@ss"));
    assert_eq!(bridge.post("/set_password", &body).await.status, 204);
    bridge.check_password("romeo", "n3w p@ss").await.assert_answer(true);
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(false);

    let body = format!("user=mercutio&pass={}&server=example.com", encode("queen mab"));
    assert_eq!(bridge.post("/register", &body).await.status, 201);
    bridge.check_password("mercutio", "queen mab").await.assert_answer(true);
}
