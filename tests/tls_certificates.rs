//! Which server certificates the service trusts, over LDAPS and StartTLS,
//! for the shapes administrators give their directory. The rule is
//! OpenLDAP's client: what `ldapsearch -H URL` accepts with
//! `LDAPTLS_CACERT=<ldap.ca_file>`, the service accepts, and what it
//! refuses, the service refuses. Each check runs that ldapsearch too, which
//! proves the fixture is what the test says it is.

mod support;

use std::path::Path;

use support::certificates::{self, Certificates, LOOPBACK, SYSTEM_BUNDLE};
use support::{Bridge, Slapd, capture_logs, ldapsearch};

/// What a private CA's directory server is called, besides its address.
const DC: &str = "DNS:dc01.corp.example,IP:127.0.0.1";
const ROOT: &str = "/DC=example/DC=corp/CN=corp-ROOT-CA";
const ISSUING: &str = "/DC=example/DC=corp/CN=corp-ISSUING-CA";

/// The two ways to TLS with `slapd`: its URL, whether by StartTLS, and the
/// `[ldap]` section that says so and trusts `ca_file`.
fn ways(slapd: &Slapd, ca_file: &Path) -> [(String, bool, String); 2] {
    let ca = format!("ca_file = \"{}\"", ca_file.display());
    [
        (slapd.ldaps_url(), false, format!("[ldap]\nurl = \"{}\"\n{ca}", slapd.ldaps_url())),
        (slapd.ldap_url(), true, format!("[ldap]\nurl = \"{}\"\nstarttls = true\n{ca}", slapd.ldap_url())),
    ]
}

/// ldapsearch and the service both log in over LDAPS and over StartTLS.
async fn both_accept(slapd: &Slapd, ca_file: &Path) {
    for (url, starttls, section) in ways(slapd, ca_file) {
        let how = format!("{url} (starttls: {starttls}) trusting {}", ca_file.display());
        if let Err(refusal) = ldapsearch::bind(&url, starttls, ca_file) {
            panic!("the fixture is wrong: ldapsearch refuses {how}:\n{refusal}");
        }
        let (_capture, logs) = capture_logs();
        let bridge = Bridge::for_directory(slapd, &section).await;
        let right = bridge.check_password("romeo", "iheartjuliet").await;
        let wrong = bridge.check_password("romeo", "wrong").await;
        let answers = [(right.status, right.text()), (wrong.status, wrong.text())];
        assert_eq!(
            answers,
            [(200, "true"), (200, "false")],
            "ldapsearch accepts {how}, the service does not:\n{}",
            warnings(&logs.text())
        );
    }
}

/// ldapsearch and the service both refuse, over LDAPS and over StartTLS,
/// while ldapsearch told to verify nothing gets in: the certificate is what
/// they refuse. What the service logged, for its reason.
async fn both_refuse(slapd: &Slapd, ca_file: &Path) -> String {
    let mut logged = String::new();
    for (url, starttls, section) in ways(slapd, ca_file) {
        let how = format!("{url} (starttls: {starttls}) trusting {}", ca_file.display());
        assert!(
            ldapsearch::bind(&url, starttls, ca_file).is_err(),
            "the fixture is wrong: ldapsearch accepts {how}"
        );
        if let Err(refusal) = ldapsearch::bind_unverified(&url, starttls) {
            panic!("ldapsearch refuses {url} (starttls: {starttls}) even without verifying:\n{refusal}");
        }
        let (_capture, logs) = capture_logs();
        let bridge = Bridge::for_directory(slapd, &section).await;
        let reply = bridge.check_password("romeo", "iheartjuliet").await;
        assert_eq!(reply.status, 503, "ldapsearch refuses {how}, the service answers {reply:?}");
        let warned = warnings(&logs.text());
        assert!(
            warned.contains("the certificate of 127.0.0.1 was refused: "),
            "the refusal is not told in words:\n{warned}"
        );
        assert!(!warned.contains("OtherError"), "a library's Debug rendering reached the log:\n{warned}");
        logged.push_str(&warned);
    }
    logged
}

fn warnings(logs: &str) -> String {
    logs.lines()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The system's bundle with `cert` added at its end, as
/// update-ca-certificates leaves it.
fn in_system_bundle(certs: &Certificates, cert: &Path) -> std::path::PathBuf {
    assert!(
        Path::new(SYSTEM_BUNDLE).exists(),
        "{SYSTEM_BUNDLE} not found: install it with\n  sudo apt-get install -y ca-certificates"
    );
    certs.concatenate("system-bundle.pem", &[Path::new(SYSTEM_BUNDLE), cert])
}

/// `cert` between two unrelated CAs, as an administrator gathers the CAs of
/// several directories in one file.
fn among_others(certs: &Certificates, cert: &Path) -> std::path::PathBuf {
    let before = certs.root_ca("unrelated-before", "/O=Another Company/CN=Another Company Root CA");
    let after = certs.self_signed("unrelated-after", "ldap.other.example", "DNS:ldap.other.example");
    certs.concatenate("our-bundle.pem", &[&before, cert, &after])
}

#[tokio::test]
async fn a_self_signed_certificate_made_as_the_how_tos_make_it() {
    let certs = Certificates::new();
    let cert = certs.self_signed("slapd", "127.0.0.1", LOOPBACK);
    assert!(certificates::basic_constraints(&cert).contains("CA:TRUE"), "OpenSSL 3 marks it a CA");
    let slapd = Slapd::start_presenting(&cert, &certs.key("slapd"));
    both_accept(&slapd, &cert).await;
}

#[tokio::test]
async fn a_self_signed_certificate_made_as_the_how_tos_make_it_in_a_bundle() {
    let certs = Certificates::new();
    let cert = certs.self_signed("slapd", "127.0.0.1", LOOPBACK);
    assert!(certificates::basic_constraints(&cert).contains("CA:TRUE"), "OpenSSL 3 marks it a CA");
    let slapd = Slapd::start_presenting(&cert, &certs.key("slapd"));
    both_accept(&slapd, &in_system_bundle(&certs, &cert)).await;
    both_accept(&slapd, &among_others(&certs, &cert)).await;
}

/// Made again with the same command, the certificate has the same name and
/// a new key: trusting the old one must not trust it. A verifier that lets
/// a self-signed CA certificate stand for itself must still check that it
/// is the one trusted, not one with its name.
#[tokio::test]
async fn a_self_signed_certificate_made_again_is_not_the_one_trusted() {
    let certs = Certificates::new();
    let old = certs.self_signed("old", "127.0.0.1", LOOPBACK);
    let new = certs.self_signed("new", "127.0.0.1", LOOPBACK);
    let slapd = Slapd::start_presenting(&new, &certs.key("new"));
    both_refuse(&slapd, &old).await;
    both_refuse(&slapd, &among_others(&certs, &old)).await;
}

#[tokio::test]
async fn a_self_signed_certificate_marked_as_no_ca() {
    let certs = Certificates::new();
    let cert = certs.self_signed_not_a_ca("slapd", "127.0.0.1", LOOPBACK);
    assert!(certificates::basic_constraints(&cert).contains("CA:FALSE"));
    let slapd = Slapd::start_presenting(&cert, &certs.key("slapd"));
    both_accept(&slapd, &cert).await;
    both_accept(&slapd, &in_system_bundle(&certs, &cert)).await;
    both_accept(&slapd, &among_others(&certs, &cert)).await;
    let old = certs.self_signed_not_a_ca("old", "127.0.0.1", LOOPBACK);
    both_refuse(&slapd, &old).await;
}

/// As AD CS and FreeIPA issue: the server's certificate straight from the root.
#[tokio::test]
async fn a_certificate_from_a_private_ca() {
    let certs = Certificates::new();
    let root = certs.root_ca("root", ROOT);
    let cert = certs.issued("dc01", "dc01.corp.example", DC, "root");
    let slapd = Slapd::start_presenting(&cert, &certs.key("dc01"));
    both_accept(&slapd, &root).await;
    both_accept(&slapd, &in_system_bundle(&certs, &root)).await;
    both_accept(&slapd, &among_others(&certs, &root)).await;
    let stranger = certs.root_ca("stranger", ROOT);
    let logged = both_refuse(&slapd, &stranger).await;
    assert!(logged.contains("not signed by any certificate in ldap.ca_file"), "{logged}");
    let logged = both_refuse(&slapd, Path::new(SYSTEM_BUNDLE)).await;
    assert!(logged.contains("not signed by any certificate in ldap.ca_file"), "{logged}");
}

/// A two-tier private CA: the server sends its certificate and the issuing
/// CA's, and the CA file holds the root alone.
#[tokio::test]
async fn a_certificate_from_a_private_ca_through_an_intermediate() {
    let certs = Certificates::new();
    let root = certs.root_ca("root", ROOT);
    let issuing = certs.intermediate_ca("issuing", ISSUING, "root");
    let leaf = certs.issued("dc01", "dc01.corp.example", DC, "issuing");
    let chain = certs.concatenate("dc01-chain.pem", &[&leaf, &issuing]);
    let slapd = Slapd::start_presenting(&chain, &certs.key("dc01"));
    both_accept(&slapd, &root).await;
    both_accept(&slapd, &in_system_bundle(&certs, &root)).await;
    both_accept(&slapd, &among_others(&certs, &root)).await;
    let stranger = certs.root_ca("stranger", ROOT);
    both_refuse(&slapd, &stranger).await;
}

#[tokio::test]
async fn an_expired_self_signed_certificate() {
    let certs = Certificates::new();
    let cert = certs.expired("slapd", "127.0.0.1", LOOPBACK, false);
    let slapd = Slapd::start_presenting(&cert, &certs.key("slapd"));
    let logged = both_refuse(&slapd, &cert).await;
    assert!(logged.contains("expired on 2024-01-"), "refused for another reason:\n{logged}");
}

/// The how-tos' certificate, thirty days on.
#[tokio::test]
async fn an_expired_certificate_made_as_the_how_tos_make_it() {
    let certs = Certificates::new();
    let cert = certs.expired("slapd", "127.0.0.1", LOOPBACK, true);
    assert!(certificates::basic_constraints(&cert).contains("CA:TRUE"), "OpenSSL 3 marks it a CA");
    let slapd = Slapd::start_presenting(&cert, &certs.key("slapd"));
    let logged = both_refuse(&slapd, &cert).await;
    assert!(logged.contains("expired on 2024-01-"), "refused for another reason:\n{logged}");
}

/// The configuration names the server by its address, which the certificate
/// does not: it belongs to another name.
#[tokio::test]
async fn a_certificate_for_another_host() {
    let certs = Certificates::new();
    let cert = certs.self_signed_not_a_ca("slapd", "ldap.corp.example", "DNS:ldap.corp.example");
    let slapd = Slapd::start_presenting(&cert, &certs.key("slapd"));
    let logged = both_refuse(&slapd, &cert).await;
    assert!(
        logged.contains("names ldap.corp.example, not 127.0.0.1"),
        "refused for another reason:\n{logged}"
    );
    assert!(logged.contains("ldap.url"), "the key to change is not named:\n{logged}");
}

/// As [`a_certificate_for_another_host`], in the shape the how-tos make:
/// the name must be checked however a self-signed CA certificate is let in.
#[tokio::test]
async fn a_certificate_for_another_host_made_as_the_how_tos_make_it() {
    let certs = Certificates::new();
    let cert = certs.self_signed("slapd", "ldap.corp.example", "DNS:ldap.corp.example");
    assert!(certificates::basic_constraints(&cert).contains("CA:TRUE"), "OpenSSL 3 marks it a CA");
    let slapd = Slapd::start_presenting(&cert, &certs.key("slapd"));
    let logged = both_refuse(&slapd, &cert).await;
    assert!(
        logged.contains("names ldap.corp.example, not 127.0.0.1"),
        "refused for another reason:\n{logged}"
    );
}
