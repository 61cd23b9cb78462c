//! A throwaway Samba Active Directory domain controller for one test, run
//! by `tests/fixtures/samba-ad.sh` in its own network namespace and reached
//! through relays on 127.0.0.1; removed when dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::CertShape;

pub struct SambaAd {
    dir: PathBuf,
    _parent: tempfile::TempDir,
    facts: HashMap<String, String>,
}

impl SambaAd {
    /// Provisions EXAMPLE.COM with romeo (CN=Romeo Montague) and the
    /// accounts `disabled`, `expired`, `mustchange` and `locked`; its
    /// certificate is signed by a test CA.
    pub fn start() -> SambaAd {
        SambaAd::start_with(CertShape::CaSigned)
    }

    /// As [`SambaAd::start`], with a certificate of the given shape.
    pub fn start_with(shape: CertShape) -> SambaAd {
        let parent = tempfile::Builder::new().prefix("samba-").tempdir().expect("temp dir");
        let dir = parent.path().join("ad");
        // Output goes to files, never to a pipe samba could inherit and hold open.
        let log = parent.path().join("start.log");
        for attempt in 0.. {
            let status = Command::new(script())
                .arg("start")
                .arg(&dir)
                .env("WATCH_PID", std::process::id().to_string())
                .env("CERT_SHAPE", shape.name())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("start.log"))
                .status()
                .expect("run tests/fixtures/samba-ad.sh");
            if status.success() {
                break;
            }
            stop(&dir);
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            // The relays' ports were free when picked, but can be taken before they bind.
            assert!(attempt < 3 && output.contains("taken?"), "Samba did not start:\n{output}");
        }
        let env = std::fs::read_to_string(dir.join("fixture.env")).unwrap_or_default();
        let facts = env
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches(|c| c == '"' || c == '\'').to_owned()))
            .collect();
        SambaAd { dir, _parent: parent, facts }
    }

    pub fn fact(&self, key: &str) -> &str {
        self.facts.get(key).unwrap_or_else(|| panic!("{key} not in fixture.env"))
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.fact("LDAPS_PORT"))
    }

    /// What clients are to trust: the test CA, or the self-signed
    /// certificate itself.
    pub fn ca_file(&self) -> PathBuf {
        PathBuf::from(self.fact("CA_PEM"))
    }

    /// The active-directory preset over LDAPS, as Administrator, trusting `ca_file`.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n\
             [ldap]\ndirectory = \"active-directory\"\nurl = \"{}\"\nca_file = \"{}\"\n\
             bind_dn = \"{}\"\nbind_password = \"{}\"\n\
             [users]\nbase_dn = \"CN=Users,{}\"\n{extra}",
            self.ldaps_url(),
            self.fact("CA_PEM"),
            self.fact("ADMIN_DN"),
            self.fact("ADMIN_PASS"),
            self.fact("BASE_DN"),
        )
    }
}

impl Drop for SambaAd {
    fn drop(&mut self) {
        stop(&self.dir);
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/samba-ad.sh")
}

fn stop(dir: &Path) {
    let _ = Command::new(script()).arg("stop").arg(dir).stdin(Stdio::null()).output();
}
