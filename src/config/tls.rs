//! TLS as configured, to the directory and on the API listener: the
//! certificates read from their files, and the rule that passwords do not
//! cross the network in clear.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use figment::Figment;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::error::{Problem, problem};
use super::{Http, Ldap};
use crate::certificates::Described;

/// The certificates and key the configuration names, parsed.
#[derive(Clone, Default)]
pub struct TlsMaterial {
    /// From `ldap.ca_file`; `None` means the system's roots.
    pub ca_certs: Option<Arc<Vec<CertificateDer<'static>>>>,
    /// From `ldap.client_cert_file` and `ldap.client_key_file`.
    pub client_identity: Option<Arc<Identity>>,
}

/// A certificate chain and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_certs", &self.ca_certs.as_ref().map(|certs| certs.len()))
            .field("client_identity", &self.client_identity.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// Reads the TLS files and checks the TLS keys against each other and
/// against the servers' URLs.
pub(super) fn resolve_tls(figment: &Figment, ldap: &mut Ldap, problems: &mut Vec<Problem>) {
    let encrypted_somewhere = ldap.starttls || ldap.url.iter().any(|url| url.scheme() == "ldaps");
    if ldap.starttls && ldap.url.iter().any(|url| url.scheme() != "ldap") {
        problems.push(problem(
            figment,
            "ldap.starttls",
            "applies to ldap:// URLs only (ldaps:// is already TLS, ldapi:// is a local socket)",
        ));
    }
    if !encrypted_somewhere {
        let tls_keys = [
            ("ldap.ca_file", ldap.ca_file.is_some()),
            ("ldap.client_cert_file", ldap.client_cert_file.is_some()),
            ("ldap.client_key_file", ldap.client_key_file.is_some()),
            ("ldap.tls_insecure_skip_verify", ldap.tls_insecure_skip_verify),
        ];
        for (key, _) in tls_keys.iter().filter(|(_, set)| *set) {
            problems.push(problem(figment, key, "has no effect without ldaps:// or ldap.starttls = true"));
        }
    }
    if ldap.tls_insecure_skip_verify && ldap.ca_file.is_some() {
        problems.push(problem(
            figment,
            "ldap.ca_file",
            "has no effect with ldap.tls_insecure_skip_verify, which accepts any certificate: drop one of them",
        ));
    }
    if !ldap.allow_plaintext {
        let remote = clear_text_to_other_machines(ldap);
        if !remote.is_empty() {
            let message = format!(
                "{} would carry passwords in clear text to another machine: use ldaps://, or set \
                 ldap.starttls = true, or (on a network you trust) ldap.allow_plaintext = true",
                remote.join(", ")
            );
            problems.push(problem(figment, "ldap.url", &message));
        }
    }

    if let Some(path) = &ldap.ca_file {
        match read_certificates(path).and_then(|certs| readable(path, certs)) {
            Ok(certs) => ldap.tls.ca_certs = Some(Arc::new(certs)),
            Err(e) => problems.push(problem(figment, "ldap.ca_file", &e)),
        }
    }
    let client_files =
        [("ldap.client_cert_file", &ldap.client_cert_file), ("ldap.client_key_file", &ldap.client_key_file)];
    if let Some(identity) = read_identity(figment, client_files, problems) {
        ldap.tls.client_identity = Some(Arc::new(identity));
    }
}

/// Reads the API listener's certificate and key, and builds its TLS
/// configuration.
pub(super) fn resolve_http_tls(figment: &Figment, http: &mut Http, problems: &mut Vec<Problem>) {
    let files = [("http.tls_cert_file", &http.tls_cert_file), ("http.tls_key_file", &http.tls_key_file)];
    let Some(Identity { chain, key }) = read_identity(figment, files, problems) else { return };
    match crate::http::tls::server_config(chain, key) {
        Ok(config) => http.tls = Some(config),
        Err(e) => {
            let message = format!("does not go with http.tls_cert_file: {e}");
            problems.push(problem(figment, "http.tls_key_file", &message))
        }
    }
}

/// A certificate chain and its key from a pair of keys naming their files:
/// both or neither must be set. `None` when neither is, or on a problem.
fn read_identity(
    figment: &Figment,
    [(cert_key, cert), (key_key, key)]: [(&str, &Option<std::path::PathBuf>); 2],
    problems: &mut Vec<Problem>,
) -> Option<Identity> {
    match (cert, key) {
        (Some(cert), Some(key)) => match (read_certificates(cert), read_key(key)) {
            (Ok(chain), Ok(key)) => return Some(Identity { chain, key }),
            (Err(e), _) => problems.push(problem(figment, cert_key, &e)),
            (_, Err(e)) => problems.push(problem(figment, key_key, &e)),
        },
        (Some(_), None) => problems.push(problem(figment, key_key, &format!("required with {cert_key}"))),
        (None, Some(_)) => problems.push(problem(figment, cert_key, &format!("required with {key_key}"))),
        (None, None) => {}
    }
    None
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect();
    match certs {
        Ok(certs) if certs.is_empty() => Err(format!("{} holds no PEM certificate", path.display())),
        Ok(certs) => Ok(certs),
        Err(e) => Err(format!("{} is not valid PEM: {e}", path.display())),
    }
}

/// `certs`, if each is a certificate that can be read: a PEM block that
/// holds something else would otherwise only fail at the first connection.
fn readable(
    path: &Path,
    certs: Vec<CertificateDer<'static>>,
) -> Result<Vec<CertificateDer<'static>>, String> {
    match certs.iter().position(|cert| Described::from_der(cert).is_none()) {
        Some(index) => {
            Err(format!("certificate {} of {} cannot be read as X.509", index + 1, path.display()))
        }
        None => Ok(certs),
    }
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("no private key read from {}: {e}", path.display()))
}

/// The servers a password would reach in clear text on another machine:
/// `ldap://` to a host that is not this one, without StartTLS.
fn clear_text_to_other_machines(ldap: &Ldap) -> Vec<&str> {
    if ldap.starttls {
        return Vec::new();
    }
    ldap.url.iter().filter(|url| url.scheme() == "ldap" && !url.is_local()).map(|url| url.as_str()).collect()
}

/// What `ldap.ca_file` holds, a line for each certificate, and a warning
/// for each that has expired or expires within 30 days; `None` without the key.
pub(super) fn ca_file_summary(ldap: &Ldap, now: i64) -> Option<(Vec<String>, Vec<String>)> {
    let (path, certs) = (ldap.ca_file.as_ref()?, ldap.tls.ca_certs.as_ref()?);
    let count = match certs.len() {
        1 => "1 certificate".to_owned(),
        n => format!("{n} certificates"),
    };
    let mut lines = vec![format!("ldap.ca_file ({}) holds {count}:", path.display())];
    let mut warnings = Vec::new();
    for described in certs.iter().filter_map(|cert| Described::from_der(cert)) {
        let days = described.days_left(now);
        let left = match days {
            ..0 => format!("expired {} days ago", -days),
            0 => "expires today".to_owned(),
            1 => "expires in 1 day".to_owned(),
            days => format!("expires in {days} days"),
        };
        lines.push(format!("  {described} ({left})"));
        if days < 30 {
            warnings
                .push(format!("ldap.ca_file: the certificate with subject \"{}\" {left}", described.subject));
        }
    }
    Some((lines, warnings))
}

/// What an operator should hear about at every start: settings that are
/// allowed but weaken security.
pub(super) fn warnings(http: &Http, ldap: &Ldap) -> Vec<String> {
    let mut warnings = Vec::new();
    if http.tls.is_none() {
        let exposed: Vec<String> = http
            .listen
            .0
            .iter()
            .filter(|address| !address.ip().is_loopback())
            .map(|a| a.to_string())
            .collect();
        if !exposed.is_empty() {
            warnings.push(format!(
                "http.listen includes {} without TLS: passwords from Prosody cross the network in clear \
                 text; set http.tls_cert_file and http.tls_key_file",
                exposed.join(", ")
            ));
        }
    }
    if ldap.tls_insecure_skip_verify {
        warnings.push(
            "ldap.tls_insecure_skip_verify is on: the directory's certificate is not checked, so anyone \
             on the network path can read every password"
                .to_owned(),
        );
    }
    if ldap.allow_plaintext {
        let remote = clear_text_to_other_machines(ldap);
        if !remote.is_empty() {
            warnings.push(format!(
                "ldap.allow_plaintext is on: passwords go in clear text to {}",
                remote.join(", ")
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    fn config(ldap: &str) -> String {
        format!("[users]\nbase_dn = \"ou=people\"\n[ldap]\n{ldap}\n")
    }

    fn error(ldap: &str) -> String {
        load_str(&config(ldap)).err().map(|e| e.to_string()).unwrap_or_else(|| panic!("accepted: {ldap}"))
    }

    #[test]
    fn passwords_do_not_cross_the_network_in_clear_by_default() {
        let e = error("url = \"ldap://dc1.example.com\"");
        assert!(e.contains("ldap.url") && e.contains("clear text") && e.contains("allow_plaintext"), "{e}");
        let e = error("url = [\"ldaps://dc1.example.com\", \"ldap://10.1.1.1\"]");
        assert!(e.contains("ldap://10.1.1.1") && !e.contains("ldaps://dc1"), "{e}");
        for fine in [
            "url = \"ldap://127.0.0.1:389\"",
            "url = \"ldapi://%2Frun%2Fslapd%2Fldapi\"",
            "url = \"ldaps://dc1.example.com\"",
            "url = \"ldap://dc1.example.com\"\nstarttls = true",
        ] {
            let settings = load_str(&config(fine)).unwrap_or_else(|e| panic!("{fine}: {e}"));
            assert!(settings.warnings().is_empty(), "{fine}");
        }
        let settings = load_str(&config("url = \"ldap://dc1.example.com\"\nallow_plaintext = true")).unwrap();
        assert!(settings.warnings().iter().any(|w| w.contains("clear text to ldap://dc1.example.com")));
    }

    #[test]
    fn skipping_verification_is_a_warning_at_every_start() {
        let settings = load_str(&config("url = \"ldaps://dc1\"\ntls_insecure_skip_verify = true")).unwrap();
        assert!(settings.warnings().iter().any(|w| w.contains("tls_insecure_skip_verify")));
    }

    #[test]
    fn tls_keys_that_could_have_no_effect_are_refused() {
        let e = error("url = \"ldaps://dc1\"\nstarttls = true");
        assert!(e.contains("ldap.starttls"), "{e}");
        let e = error("url = \"ldap://127.0.0.1\"\nca_file = \"/etc/ssl/certs/ca-certificates.crt\"");
        assert!(e.contains("ldap.ca_file") && e.contains("no effect"), "{e}");
        let e = error("url = \"ldap://127.0.0.1\"\ntls_insecure_skip_verify = true");
        assert!(e.contains("ldap.tls_insecure_skip_verify"), "{e}");
        let e = error(
            "url = \"ldaps://dc1\"\ntls_insecure_skip_verify = true\nca_file = \"/etc/ssl/certs/ca-certificates.crt\"",
        );
        assert!(e.contains("ldap.ca_file") && e.contains("any certificate"), "{e}");
    }

    #[test]
    fn certificate_files_are_read_when_the_configuration_is() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let e = error(&format!("url = \"ldaps://dc1\"\nca_file = \"{}\"", not_pem.display()));
        assert!(e.contains("ldap.ca_file") && e.contains("no PEM certificate"), "{e}");
        let e = error("url = \"ldaps://dc1\"\nca_file = \"/nonexistent/ca.pem\"");
        assert!(e.contains("ldap.ca_file") && e.contains("/nonexistent/ca.pem"), "{e}");
        let e = error("url = \"ldaps://dc1\"\nclient_cert_file = \"/x.pem\"");
        assert!(e.contains("ldap.client_key_file") && e.contains("required"), "{e}");
    }
}
