//! The active-directory preset against a real Samba AD domain controller.
//! Behind the `external-directories` feature: `scripts/test` installs Samba
//! and runs these; `cargo test` alone does not.
#![cfg(feature = "external-directories")]

mod support;

use support::pki::Pki;
use support::samba::SambaAd;
use support::server_cert::{assert_self_signed_ca, openldap_trusts};
use support::{Bridge, CertShape, encode};

#[tokio::test]
async fn logs_in_by_sam_account_name_and_names_every_refusal() {
    let ad = SambaAd::start();
    let (_guard, logs) = support::capture_logs();
    let romeo = ad.fact("ROMEO_PASS").to_owned();
    let test = ad.fact("TEST_PASS").to_owned();

    let bridge = Bridge::start(&ad.config("")).await;
    bridge.check_password("romeo", &romeo).await.assert_answer(true);
    bridge.check_password("romeo", "wrong").await.assert_answer(false);
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.user_exists("nobody").await.assert_answer(false);
    // The preset's filter leaves disabled accounts out altogether, but a
    // login is still told as a disabled account's, never an unknown user's.
    bridge.user_exists("disabled").await.assert_answer(false);
    bridge.check_password("disabled", &test).await.assert_answer(false);
    assert!(
        logs.about("disabled")
            .iter()
            .any(|line| line.contains("account disabled (userAccountControl ACCOUNTDISABLE)")),
        "{:?}",
        logs.about("disabled")
    );
    let (code, out, _) = support::test_login(&ad.config(""), &["disabled"], &test);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.ends_with("Prosody would get 200 false: account disabled (userAccountControl ACCOUNTDISABLE)\n"),
        "{out}"
    );
    let (code, out, _) = support::test_login(&ad.config(""), &["locked"], &test);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Active Directory: account locked out (AD 775)"), "{out}");
    for (user, reason) in [
        ("expired", "account expired (AD 701)"),
        ("mustchange", "password must be changed (AD 773)"),
        ("locked", "account locked out (AD 775)"),
    ] {
        bridge.check_password(user, &test).await.assert_answer(false);
        assert!(logs.about(user).iter().any(|line| line.contains(reason)), "{user}: {:?}", logs.about(user));
    }
    assert!(logs.about("romeo").iter().any(|line| line.contains("invalid credentials (AD 52e)")));

    // Without the preset's exclusion, a disabled account is found, and refused by AD itself.
    let plain = Bridge::start(&ad.config("filter = \"(sAMAccountName={user})\"")).await;
    plain.check_password("disabled", &test).await.assert_answer(false);
    assert!(
        logs.about("disabled").iter().any(|line| line.contains("account disabled (AD 533)")),
        "{}",
        logs.text()
    );
}

/// Most domain controllers present a certificate made with `openssl req
/// -x509` (CA:TRUE) rather than one from an enterprise CA, and their
/// administrators give that certificate itself as `ldap.ca_file`. OpenLDAP's
/// client accepts it so, with verification on; the service must too.
#[tokio::test]
async fn logs_in_over_ldaps_trusting_the_self_signed_certificate_itself() {
    let ad = SambaAd::start_with(CertShape::SelfSigned);
    assert_self_signed_ca(&ad.ca_file());
    let (_guard, logs) = support::capture_logs();
    let url = ad.ldaps_url();
    openldap_trusts(&url, &ad.ca_file()).unwrap_or_else(|e| panic!("{e}"));
    // ldapsearch checks the certificate: an unrelated one is refused.
    assert!(openldap_trusts(&url, &Pki::new().path("other-ca.pem")).is_err());

    let bridge = Bridge::start(&ad.config("")).await;
    let reply = bridge.check_password("romeo", ad.fact("ROMEO_PASS")).await;
    assert_eq!(reply.status, 200, "{}: {:?}", reply.text().trim(), logs.about("romeo"));
    reply.assert_answer(true);
    bridge.check_password("romeo", "wrong").await.assert_answer(false);
    bridge.user_exists("romeo").await.assert_answer(true);
    bridge.user_exists("nobody").await.assert_answer(false);
}

#[tokio::test]
async fn changes_a_password_and_registers_through_unicode_pwd() {
    let ad = SambaAd::start();
    let base = ad.fact("BASE_DN").to_owned();
    let writes = format!(
        "[operations]\nset_password = true\nregister = true\n[register]\ndn = \"CN={{user}},CN=Users,{base}\"\n"
    );
    let bridge = Bridge::start(&ad.config(&writes)).await;
    let body = format!("user=romeo&pass={}&server=example.com", encode("New.Pass2 wörd"));
    assert_eq!(bridge.post("/set_password", &body).await.status, 204);
    bridge.check_password("romeo", "New.Pass2 wörd").await.assert_answer(true);
    bridge.check_password("romeo", ad.fact("ROMEO_PASS")).await.assert_answer(false);

    let body = format!("user=mercutio&pass={}&server=example.com", encode("Queen.Mab1"));
    let reply = bridge.post("/register", &body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    bridge.check_password("mercutio", "Queen.Mab1").await.assert_answer(true);
    let again = bridge.post("/register", &body).await;
    assert_eq!(again.status, 409);
}

#[tokio::test]
async fn a_required_group_counts_nested_membership() {
    let ad = SambaAd::start();
    let (_guard, logs) = support::capture_logs();
    let group = format!("require_group = \"CN=xmpp-users,CN=Users,{}\"", ad.fact("BASE_DN"));
    let bridge = Bridge::start(&ad.config(&group)).await;
    // romeo is a member only through the nested group xmpp-inner.
    bridge.check_password("romeo", ad.fact("ROMEO_PASS")).await.assert_answer(true);
    bridge.check_password("juliet", ad.fact("TEST_PASS")).await.assert_answer(false);
    assert!(logs.about("juliet").iter().any(|line| line.contains("not a member")), "{}", logs.text());
}
