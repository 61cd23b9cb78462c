//! OpenLDAP's own client, the yardstick for which server certificates the
//! service accepts: `ldapsearch -H URL` with `LDAPTLS_CACERT` set to the
//! service's `ldap.ca_file`. (Debian builds it with GnuTLS.)

use std::path::Path;
use std::process::Command;

use super::slapd::{SERVICE_DN, SERVICE_PASSWORD};

/// Binds to `url` as the service account, over StartTLS if `starttls`,
/// trusting only `ca_file`, and reads the root DSE; what ldapsearch
/// printed if that fails.
pub fn bind(url: &str, starttls: bool, ca_file: &Path) -> Result<(), String> {
    run(url, starttls, &[("LDAPTLS_CACERT", ca_file), ("LDAPTLS_REQCERT", Path::new("demand"))])
}

/// As [`bind`], accepting any certificate: when [`bind`] fails and this
/// succeeds, the server is up and speaks TLS, and the certificate alone
/// was refused.
pub fn bind_unverified(url: &str, starttls: bool) -> Result<(), String> {
    run(url, starttls, &[("LDAPTLS_REQCERT", Path::new("never"))])
}

fn run(url: &str, starttls: bool, tls: &[(&str, &Path)]) -> Result<(), String> {
    assert!(
        Path::new("/usr/bin/ldapsearch").exists(),
        "/usr/bin/ldapsearch not found: install it with\n  sudo apt-get install -y ldap-utils"
    );
    // An empty home and working directory, so that no ldaprc is read.
    // /etc/ldap/ldap.conf is read anyway, and the LDAPTLS_ variables
    // override it; LDAPNOINIT would skip it, but those variables with it.
    let empty = tempfile::Builder::new().prefix("ldapsearch-").tempdir().expect("temp dir");
    let mut command = Command::new("/usr/bin/ldapsearch");
    command
        .args(["-x", "-LLL", "-o", "nettimeout=5", "-H", url, "-D", SERVICE_DN, "-w", SERVICE_PASSWORD])
        .args(["-b", "", "-s", "base", "1.1"])
        .env_clear()
        .env("HOME", empty.path())
        .current_dir(empty.path())
        // A CA directory in ldap.conf would add to the CA file.
        .env("LDAPTLS_CACERTDIR", empty.path())
        .envs(tls.iter().copied());
    if starttls {
        // -ZZ: StartTLS, and give up if it fails rather than go on in clear.
        command.arg("-ZZ");
    }
    let output = command.output().expect("run ldapsearch");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
    }
}
