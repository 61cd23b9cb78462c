//! The shapes of certificate the directory fixtures serve, and OpenLDAP's
//! client as the yardstick: a certificate it accepts with
//! `TLS_REQCERT demand` is one the service must accept too.

use std::path::Path;
use std::process::Command;

/// How a fixture's server certificate is made (`CERT_SHAPE` of the
/// fixture scripts).
#[derive(Clone, Copy, Debug)]
pub enum CertShape {
    /// A test CA signs a CA:FALSE server certificate; clients trust the CA.
    CaSigned,
    /// One certificate from `openssl req -x509`, as the how-tos make it:
    /// OpenSSL 3 marks it CA:TRUE. Clients are given that very certificate
    /// as their CA file, as most administrators do.
    SelfSigned,
}

impl CertShape {
    pub fn name(self) -> &'static str {
        match self {
            CertShape::CaSigned => "ca-signed",
            CertShape::SelfSigned => "self-signed",
        }
    }
}

/// Asserts that `cert` is self-issued and marked CA:TRUE, so that a test
/// meant for that shape cannot pass on another one.
#[track_caller]
pub fn assert_self_signed_ca(cert: &Path) {
    let output = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-issuer", "-ext", "basicConstraints", "-in"])
        .arg(cert)
        .output()
        .expect("run openssl (Debian package openssl)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "openssl x509 {}: {}",
        cert.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let subject = field("subject=");
    assert!(!subject.is_empty(), "no subject:\n{text}");
    assert_eq!(subject, field("issuer="), "not self-issued:\n{text}");
    assert!(text.contains("CA:TRUE"), "not CA:TRUE:\n{text}");
}

/// Reads the rootDSE at `url` with OpenLDAP's ldapsearch (StartTLS first on
/// `ldap://`), trusting `ca_file` alone and demanding a certificate that
/// verifies; the error is ldapsearch's output.
///
/// The settings come from `LDAPTLS_*` variables, which override ldap.conf;
/// HOME and the working directory are an empty temp dir, so that no ldaprc
/// adds to them. (`LDAPNOINIT` would also make libldap ignore the variables,
/// and so trust nothing at all.)
pub fn openldap_trusts(url: &str, ca_file: &Path) -> Result<(), String> {
    let empty = tempfile::Builder::new().prefix("ldaprc-").tempdir().expect("temp dir");
    let mut command = Command::new("timeout");
    command.args(["20", "ldapsearch", "-x", "-o", "nettimeout=5", "-H", url]);
    if url.starts_with("ldap://") {
        command.arg("-ZZ");
    }
    let output = command
        .args(["-s", "base", "-b", "", "-LLL", "1.1"])
        .env("LDAPTLS_CACERT", ca_file)
        .env("LDAPTLS_REQCERT", "demand")
        .env_remove("LDAPCONF")
        .env_remove("LDAPRC")
        .env("HOME", empty.path())
        .current_dir(empty.path())
        .output()
        .expect("run ldapsearch (Debian package ldap-utils)");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ldapsearch -H {url} with LDAPTLS_CACERT={}: {}{}",
            ca_file.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
