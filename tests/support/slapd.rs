//! A throwaway OpenLDAP server for one test: its own directory, its own
//! `ldapi` socket (no port to race for), the seed entries, and stopped when
//! dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// As in tests/fixtures/seed.ldif, which lists the sample users.
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
pub const SERVICE_DN: &str = "cn=auth-http-ldap,ou=services,dc=example,dc=com";
pub const SERVICE_PASSWORD: &str = "service-secret";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=com";
pub const ROOT_PASSWORD: &str = "root-secret";

pub struct Slapd {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Slapd {
    /// Starts a seeded server; fails loudly with the install hint when slapd is missing.
    pub fn start() -> Slapd {
        for tool in ["/usr/sbin/slapd", "/usr/sbin/slapadd"] {
            assert!(
                Path::new(tool).exists(),
                "{tool} not found: these tests need a real OpenLDAP. Install it with\n  \
                 sudo DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils"
            );
        }
        let dir = tempfile::Builder::new().prefix("slapd-").tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("db")).expect("db dir");
        std::fs::write(dir.path().join("slapd.conf"), slapd_conf(dir.path())).expect("slapd.conf");
        std::fs::write(dir.path().join("seed.ldif"), SEED_LDIF).expect("seed.ldif");
        let slapadd = Command::new("/usr/sbin/slapadd")
            .args(["-q", "-f"])
            .arg(dir.path().join("slapd.conf"))
            .arg("-l")
            .arg(dir.path().join("seed.ldif"))
            .output()
            .expect("run slapadd");
        assert!(slapadd.status.success(), "slapadd failed: {}", String::from_utf8_lossy(&slapadd.stderr));
        let mut slapd = Slapd { dir, child: None };
        slapd.resume_service();
        slapd
    }

    /// `ldapi://` with the socket path percent-encoded.
    pub fn url(&self) -> String {
        let path = self.socket().display().to_string();
        format!("ldapi://{}", path.replace('%', "%25").replace('/', "%2F"))
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("ldapi")
    }

    /// Stops the server; its data stays for [`Slapd::resume_service`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same data and socket, and waits until it answers.
    pub fn resume_service(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("slapd.log")).expect("slapd.log");
        let mut child = Command::new("/usr/sbin/slapd")
            // `stats` logs one ACCEPT line per connection, which tests count.
            .args(["-d", "stats", "-f"])
            .arg(self.dir.path().join("slapd.conf"))
            .arg("-h")
            .arg(self.url())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn slapd");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default();
                panic!("slapd exited ({status}) before answering:\n{log}");
            }
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "slapd did not answer within 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        self.child = Some(child);
    }

    /// How many connections the server has accepted since it was (re)started.
    pub fn connections_accepted(&self) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default();
        log.lines().filter(|line| line.contains(" ACCEPT from ")).count()
    }

    /// Freezes the server: connections are accepted by the kernel but never answered.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("slapd is running");
        let status = Command::new("kill").arg(signal).arg(child.id().to_string()).status().expect("kill");
        assert!(status.success());
    }

    /// Reads the named attributes of `dn` as the root DN, bypassing the
    /// bridge, to check what it wrote. `None` when there is no such entry.
    pub async fn read(&self, dn: &str, attributes: &[&str]) -> Option<Vec<(String, Vec<Vec<u8>>)>> {
        let (conn, mut ldap) = ldap3::LdapConnAsync::new(&self.url()).await.expect("connect as root");
        ldap3::drive!(conn);
        ldap.simple_bind(ROOT_DN, ROOT_PASSWORD).await.unwrap().success().expect("root bind");
        let result =
            ldap.search(dn, ldap3::Scope::Base, "(objectClass=*)", attributes.to_vec()).await.unwrap();
        let entry = result.0.into_iter().next()?;
        let entry = ldap3::SearchEntry::construct(entry);
        let mut values: Vec<(String, Vec<Vec<u8>>)> = entry
            .attrs
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(String::into_bytes).collect()))
            .collect();
        values.extend(entry.bin_attrs);
        Some(values)
    }

    /// The single value of an attribute of `dn`.
    pub async fn attribute(&self, dn: &str, attribute: &str) -> Option<Vec<u8>> {
        let values = self.read(dn, &[attribute]).await?;
        values
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
            .and_then(|(_, v)| v.into_iter().next())
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A frozen server ignores SIGTERM until thawed.
            let _ = Command::new("kill").arg("-CONT").arg(child.id().to_string()).status();
        }
        self.stop();
    }
}

/// The configuration and the sample entries, shared with the demo command.
const SLAPD_CONF: &str = include_str!("../fixtures/slapd.conf");
const SEED_LDIF: &str = include_str!("../fixtures/seed.ldif");

fn slapd_conf(dir: &Path) -> String {
    SLAPD_CONF.replace("@DIR@", &dir.display().to_string())
}
