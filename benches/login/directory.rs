//! A throwaway slapd on a TCP port of loopback, holding the sample entries
//! of tests/fixtures/seed.ldif and `users` more people, each with a salted
//! SHA-1 password hash as a real directory stores it. It logs nothing, as a
//! production server would not log every operation, and stops when dropped.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest;

use crate::workload::{password, uid};

pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
pub const SERVICE_DN: &str = "cn=auth-http-ldap,ou=services,dc=example,dc=com";
pub const SERVICE_PASSWORD: &str = "service-secret";

const SLAPD_CONF: &str = include_str!("../../tests/fixtures/slapd.conf");
const SEED_LDIF: &str = include_str!("../../tests/fixtures/seed.ldif");

pub struct Directory {
    dir: tempfile::TempDir,
    slapd: Child,
    port: u16,
}

impl Directory {
    pub fn start(users: u64) -> Directory {
        let dir = tempfile::Builder::new().prefix("bench-slapd-").tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("db")).expect("db dir");
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, SLAPD_CONF.replace("@DIR@", &dir.path().display().to_string())).expect("conf");
        let ldif = dir.path().join("people.ldif");
        std::fs::write(&ldif, people(users)).expect("ldif");
        let slapadd = Command::new("/usr/sbin/slapadd")
            .args(["-q", "-f"])
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .output()
            .expect("run /usr/sbin/slapadd (scripts/install-deps installs it)");
        assert!(slapadd.status.success(), "slapadd: {}", String::from_utf8_lossy(&slapadd.stderr));
        let port = free_port();
        let slapd = Command::new("/usr/sbin/slapd")
            .args(["-d", "0", "-f"])
            .arg(&conf)
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{port}/"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start slapd");
        let directory = Directory { dir, slapd, port };
        directory.wait_until_listening();
        directory
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.slapd.id()
    }

    /// A file beside the directory's own, removed with it.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "slapd did not listen on port {} within 20 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = self.slapd.kill();
        let _ = self.slapd.wait();
    }
}

/// The seed entries and `users` people, as LDIF.
fn people(users: u64) -> String {
    let mut ldif = String::from(SEED_LDIF);
    for user in 0..users {
        let uid = uid(user);
        let hash = ssha(&password(user), &user.to_be_bytes());
        write!(
            ldif,
            "\ndn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\nuserPassword: {hash}\n"
        )
        .expect("write to a String");
    }
    ldif
}

/// `{SSHA}`: base64 of SHA-1(password + salt) followed by the salt.
fn ssha(password: &str, salt: &[u8]) -> String {
    let mut context = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    context.update(password.as_bytes());
    context.update(salt);
    let mut value = context.finish().as_ref().to_vec();
    value.extend_from_slice(salt);
    format!("{{SSHA}}{}", STANDARD.encode(value))
}

/// A port below the ephemeral range (where the benchmark's own outgoing
/// connections could take it) that is free now.
fn free_port() -> u16 {
    let start = 20000 + (std::process::id() % 10000) as u16;
    (start..32000)
        .chain(20000..start)
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("a free port below 32000")
}
