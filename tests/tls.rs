//! TLS to the directory: LDAPS and StartTLS against a slapd with a private
//! CA, a wrong CA refused, no fall-back to plain text, client certificates.

mod support;

use support::pki::Pki;
use support::slapd::Tls;
use support::{Bridge, Slapd};

fn tls(pki: &Pki) -> Option<Tls<'_>> {
    Some(Tls { pki, require_client_certificate: false })
}

fn ldap_section(url: &str, extra: &str) -> String {
    format!("[ldap]\nurl = \"{url}\"\n{extra}")
}

#[tokio::test]
async fn ldaps_with_the_right_ca() {
    let pki = Pki::new();
    let slapd = Slapd::start_tcp(tls(&pki));
    let ca = format!("ca_file = \"{}\"", pki.path("ca.pem").display());
    let bridge = Bridge::for_directory(&slapd, &ldap_section(&slapd.ldaps_url(), &ca)).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.check_password("romeo", "wrong").await.assert_answer(false);
    bridge.user_exists("juliet").await.assert_answer(true);
}

#[tokio::test]
async fn starttls_with_the_right_ca() {
    let pki = Pki::new();
    let slapd = Slapd::start_tcp(tls(&pki));
    let extra = format!("starttls = true\nca_file = \"{}\"", pki.path("ca.pem").display());
    let bridge = Bridge::for_directory(&slapd, &ldap_section(&slapd.ldap_url(), &extra)).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
    bridge.user_exists("juliet").await.assert_answer(true);
    assert_eq!(
        bridge.post("/set_password", "user=juliet&pass=over+tls&server=example.com").await.status,
        204
    );
    bridge.check_password("juliet", "over tls").await.assert_answer(true);
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let pki = Pki::new();
    let slapd = Slapd::start_tcp(tls(&pki));
    let wrong = format!("ca_file = \"{}\"", pki.path("other-ca.pem").display());
    let bridge = Bridge::for_directory(&slapd, &ldap_section(&slapd.ldaps_url(), &wrong)).await;
    assert_eq!(bridge.check_password("romeo", "iheartjuliet").await.status, 503);
    let starttls = format!("starttls = true\n{wrong}");
    let bridge = Bridge::for_directory(&slapd, &ldap_section(&slapd.ldap_url(), &starttls)).await;
    assert_eq!(bridge.user_exists("romeo").await.status, 503);
}

#[tokio::test]
async fn the_system_cas_do_not_trust_a_private_one() {
    let pki = Pki::new();
    let slapd = Slapd::start_tcp(tls(&pki));
    let bridge = Bridge::for_directory(&slapd, &ldap_section(&slapd.ldaps_url(), "")).await;
    assert_eq!(bridge.check_password("romeo", "iheartjuliet").await.status, 503);
}

#[tokio::test]
async fn skipping_verification_connects_when_asked_to() {
    let pki = Pki::new();
    let slapd = Slapd::start_tcp(tls(&pki));
    let bridge =
        Bridge::for_directory(&slapd, &ldap_section(&slapd.ldaps_url(), "tls_insecure_skip_verify = true"))
            .await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn a_failed_starttls_never_falls_back_to_plain_text() {
    // A server with no TLS at all: StartTLS is refused, and so is the request.
    let slapd = Slapd::start_tcp(None);
    let bridge = Bridge::for_directory(&slapd, &ldap_section(&slapd.ldap_url(), "starttls = true")).await;
    assert_eq!(bridge.check_password("romeo", "iheartjuliet").await.status, 503);
    assert_eq!(bridge.user_exists("romeo").await.status, 503);
    // The same server in plain text on loopback works: the refusal was the StartTLS.
    let bridge = Bridge::for_directory(&slapd, &ldap_section(&slapd.ldap_url(), "")).await;
    bridge.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

#[tokio::test]
async fn a_client_certificate_when_the_server_demands_one() {
    let pki = Pki::new();
    let slapd = Slapd::start_tcp(Some(Tls { pki: &pki, require_client_certificate: true }));
    let ca = format!("ca_file = \"{}\"", pki.path("ca.pem").display());
    let without = Bridge::for_directory(&slapd, &ldap_section(&slapd.ldaps_url(), &ca)).await;
    assert_eq!(without.check_password("romeo", "iheartjuliet").await.status, 503);
    let identity = format!(
        "{ca}\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
        pki.path("client.pem").display(),
        pki.path("client-key.pem").display()
    );
    let with = Bridge::for_directory(&slapd, &ldap_section(&slapd.ldaps_url(), &identity)).await;
    with.check_password("romeo", "iheartjuliet").await.assert_answer(true);
}

/// With a DN template a login is a bind and nothing else, so these go
/// through the bind connections alone: they must verify like the rest.
#[tokio::test]
async fn user_binds_verify_the_certificate_and_never_fall_back() {
    let pki = Pki::new();
    let slapd = Slapd::start_tcp(tls(&pki));
    let template = format!("\n[users]\nbind_dn_template = \"uid={{user}},{}\"", support::slapd::PEOPLE);
    let login = async |ldap: String| {
        let bridge = Bridge::for_directory(&slapd, &format!("{ldap}{template}")).await;
        bridge.check_password("romeo", "iheartjuliet").await
    };
    let right = format!("ca_file = \"{}\"", pki.path("ca.pem").display());
    let wrong = format!("ca_file = \"{}\"", pki.path("other-ca.pem").display());
    login(ldap_section(&slapd.ldaps_url(), &right)).await.assert_answer(true);
    login(ldap_section(&slapd.ldap_url(), &format!("starttls = true\n{right}"))).await.assert_answer(true);
    assert_eq!(login(ldap_section(&slapd.ldaps_url(), &wrong)).await.status, 503);
    assert_eq!(
        login(ldap_section(&slapd.ldap_url(), &format!("starttls = true\n{wrong}"))).await.status,
        503
    );

    let plain = Slapd::start_tcp(None);
    let bridge = Bridge::for_directory(
        &plain,
        &format!("{}{template}", ldap_section(&plain.ldap_url(), "starttls = true")),
    )
    .await;
    assert_eq!(bridge.check_password("romeo", "iheartjuliet").await.status, 503);
}
