//! A throwaway 389 Directory Server for one test, run by
//! `tests/fixtures/ds389.sh` in a temp dir (its own prefix, ports, CA),
//! and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::slapd::free_port;

pub const SERVICE_DN: &str = "cn=fixture-svc,dc=example,dc=com";
pub const SERVICE_PASSWORD: &str = "fixture-svc-password";
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";

pub struct Ds389 {
    dir: PathBuf,
    _parent: tempfile::TempDir,
    ldap_port: u16,
}

impl Ds389 {
    /// Creates and starts an instance holding romeo (iheartjuliet) and
    /// locked (lockedpassword, nsAccountLock) under `PEOPLE`.
    pub fn start() -> Ds389 {
        let parent = tempfile::Builder::new().prefix("ds-").tempdir().expect("temp dir");
        let dir = parent.path().join("fx");
        for attempt in 0.. {
            let (ldap_port, ldaps_port) = (free_port(), free_port());
            let output = Command::new(script())
                .arg("start")
                .arg(&dir)
                .args([ldap_port.to_string(), ldaps_port.to_string()])
                .env("WATCH_PID", std::process::id().to_string())
                .output()
                .expect("run tests/fixtures/ds389.sh");
            if output.status.success() {
                return Ds389 { dir, _parent: parent, ldap_port };
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

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("tls/ca.pem")
    }

    /// The configuration for this instance: the 389ds preset over StartTLS,
    /// with the fixture's service account and CA.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n\
             [ldap]\ndirectory = \"389ds\"\nurl = \"{}\"\nstarttls = true\nca_file = \"{}\"\n\
             bind_dn = \"{SERVICE_DN}\"\nbind_password = \"{SERVICE_PASSWORD}\"\n\
             [users]\nbase_dn = \"{PEOPLE}\"\n{extra}",
            self.ldap_url(),
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
