//! A throwaway 389 Directory Server for one test, run by
//! `tests/fixtures/ds389.sh` in a temp dir (its own prefix, ports,
//! certificate), and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::CertShape;
use super::slapd::free_port;

pub const SERVICE_DN: &str = "cn=fixture-svc,dc=example,dc=com";
pub const SERVICE_PASSWORD: &str = "fixture-svc-password";
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";

pub struct Ds389 {
    dir: PathBuf,
    _parent: tempfile::TempDir,
    ldap_port: u16,
    ldaps_port: u16,
    ca_file: PathBuf,
}

impl Ds389 {
    /// Creates and starts an instance holding romeo (iheartjuliet) and
    /// locked (lockedpassword, nsAccountLock) under `PEOPLE`, its
    /// certificate signed by a test CA.
    pub fn start() -> Ds389 {
        Ds389::start_with(CertShape::CaSigned)
    }

    /// As [`Ds389::start`], with a certificate of the given shape.
    pub fn start_with(shape: CertShape) -> Ds389 {
        let parent = tempfile::Builder::new().prefix("ds-").tempdir().expect("temp dir");
        let dir = parent.path().join("fx");
        for attempt in 0.. {
            let (ldap_port, ldaps_port) = (free_port(), free_port());
            let output = Command::new(script())
                .arg("start")
                .arg(&dir)
                .args([ldap_port.to_string(), ldaps_port.to_string()])
                .env("WATCH_PID", std::process::id().to_string())
                .env("CERT_SHAPE", shape.name())
                .output()
                .expect("run tests/fixtures/ds389.sh");
            if output.status.success() {
                let env = std::fs::read_to_string(dir.join("fixture.env")).unwrap_or_default();
                let ca_file = env
                    .lines()
                    .find_map(|line| line.strip_prefix("DS_CA="))
                    .map(PathBuf::from)
                    .expect("DS_CA in fixture.env");
                return Ds389 { dir, _parent: parent, ldap_port, ldaps_port, ca_file };
            }
            let log = String::from_utf8_lossy(&output.stderr).into_owned();
            stop(&dir);
            assert!(attempt < 3 && log.contains("port"), "389-DS did not start:\n{log}");
        }
        unreachable!()
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    /// What clients are to trust: the test CA, or the self-signed
    /// certificate itself.
    pub fn ca_file(&self) -> PathBuf {
        self.ca_file.clone()
    }

    /// The configuration for this instance: the 389ds preset over StartTLS,
    /// with the fixture's service account and `ca_file`.
    pub fn config(&self, extra: &str) -> String {
        self.config_at(&self.ldap_url(), extra)
    }

    /// As [`Ds389::config`], at `url`: StartTLS on `ldap://`, TLS from the
    /// first byte on `ldaps://`.
    pub fn config_at(&self, url: &str, extra: &str) -> String {
        let starttls = if url.starts_with("ldap://") { "starttls = true\n" } else { "" };
        format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n\
             [ldap]\ndirectory = \"389ds\"\nurl = \"{url}\"\n{starttls}ca_file = \"{}\"\n\
             bind_dn = \"{SERVICE_DN}\"\nbind_password = \"{SERVICE_PASSWORD}\"\n\
             [users]\nbase_dn = \"{PEOPLE}\"\n{extra}",
            self.ca_file().display()
        )
    }
}

impl Drop for Ds389 {
    fn drop(&mut self) {
        stop(&self.dir);
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ds389.sh")
}

fn stop(dir: &Path) {
    let _ = Command::new(script()).arg("stop").arg(dir).env("DS_FIXTURE_FAST_STOP", "1").output();
}
