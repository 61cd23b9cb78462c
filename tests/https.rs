//! TLS on the API listener: a client that trusts the CA gets its answers,
//! one that does not (or that speaks plain HTTP) gets nothing, and a bad
//! certificate or key is a configuration error that names its key.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use support::pki::Pki;
use support::{Bridge, Reply, Slapd};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn https(pki: &Pki) -> String {
    format!(
        "[http]\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
        pki.path("server.pem").display(),
        pki.path("server-key.pem").display()
    )
}

/// A client that trusts only the CA in `ca`.
fn client(ca: &Path) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn send_tls(bridge: &Bridge, ca: &Path, request: &str) -> std::io::Result<Reply> {
    let exchange = async {
        let tcp = TcpStream::connect(bridge.addr).await?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let mut stream = client(ca).connect(name, tcp).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok(support::parse(&raw))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.expect("no answer within 10 s")
}

#[tokio::test]
async fn a_client_that_trusts_the_ca_is_answered_over_tls() {
    let pki = Pki::new();
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &https(&pki)).await;
    let request = "GET /check_password?user=romeo&pass=iheartjuliet HTTP/1.1\r\nHost: x\r\n\r\n";
    let reply = send_tls(&bridge, &pki.path("ca.pem"), request).await.expect("TLS exchange");
    assert_eq!((reply.status, reply.text()), (200, "true"));
    let wrong = "GET /check_password?user=romeo&pass=wrong HTTP/1.1\r\nHost: x\r\n\r\n";
    let reply = send_tls(&bridge, &pki.path("ca.pem"), wrong).await.expect("TLS exchange");
    assert_eq!((reply.status, reply.text()), (200, "false"));
}

#[tokio::test]
async fn a_client_that_does_not_trust_it_and_plain_http_get_nothing() {
    let pki = Pki::new();
    let slapd = Slapd::start();
    let bridge = Bridge::for_directory(&slapd, &https(&pki)).await;
    let request = "GET /check_password?user=romeo&pass=iheartjuliet HTTP/1.1\r\nHost: x\r\n\r\n";
    let refused = send_tls(&bridge, &pki.path("other-ca.pem"), request).await;
    let error = refused.expect_err("a certificate from an unknown CA must be refused").to_string();
    assert!(error.contains("certificate"), "{error}");
    // Plain HTTP to a TLS port: the connection closes without an HTTP answer.
    let mut stream = TcpStream::connect(bridge.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ =
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await.expect("closed");
    assert!(!String::from_utf8_lossy(&raw).contains("true"), "{raw:?}");
}

#[test]
fn a_bad_certificate_or_key_names_its_key() {
    let pki = Pki::new();
    let base = "[users]\nbase_dn = \"dc=example\"\n[http]\n";
    let error = |http: String| {
        auth_http_ldap::config::load_str(&format!("{base}{http}")).expect_err("refused").to_string()
    };
    let cert = pki.path("server.pem");
    let e = error(format!("tls_cert_file = \"{}\"", cert.display()));
    assert!(e.contains("http.tls_key_file") && e.contains("required"), "{e}");
    let e = error(format!(
        "tls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
        cert.display(),
        pki.path("client-key.pem").display()
    ));
    assert!(e.contains("http.tls_key_file") && e.contains("does not go with"), "{e}");
    let e = error(format!("tls_cert_file = \"/nonexistent.pem\"\ntls_key_file = \"{}\"", cert.display()));
    assert!(e.contains("http.tls_cert_file") && e.contains("/nonexistent.pem"), "{e}");
}

#[test]
fn listening_beyond_loopback_without_tls_is_warned_about() {
    let base = "[users]\nbase_dn = \"dc=example\"\n[http]\n";
    let settings = auth_http_ldap::config::load_str(&format!("{base}listen = \"0.0.0.0:5281\"")).unwrap();
    assert!(settings.warnings().iter().any(|w| w.contains("0.0.0.0:5281") && w.contains("clear")));
    let settings = auth_http_ldap::config::load_str(&format!("{base}listen = \"[::1]:5281\"")).unwrap();
    assert!(settings.warnings().is_empty());
}
