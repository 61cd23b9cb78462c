//! A throwaway OpenLDAP server for one test: its own directory, its own
//! `ldapi` socket (no port to race for), the seed entries, and stopped when
//! dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pki::Pki;

// As in tests/fixtures/seed.ldif, which lists the sample users.
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
pub const SERVICE_DN: &str = "cn=auth-http-ldap,ou=services,dc=example,dc=com";
pub const SERVICE_PASSWORD: &str = "service-secret";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=com";
pub const ROOT_PASSWORD: &str = "root-secret";

pub struct Slapd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The `ldap://` and `ldaps://` ports, when the server listens on TCP.
    tcp: Option<(u16, u16)>,
}

/// TLS for a fixture server: the server certificate from a [`Pki`], and
/// whether clients must present a certificate of their own.
pub struct Tls<'a> {
    pub pki: &'a Pki,
    pub require_client_certificate: bool,
}

/// The files slapd's TLS directives name.
struct TlsFiles {
    /// The CAs it verifies client certificates against, if any.
    ca: Option<PathBuf>,
    /// The certificate it presents, followed by any chain it sends with it.
    cert: PathBuf,
    key: PathBuf,
    require_client_certificate: bool,
}

impl From<Tls<'_>> for TlsFiles {
    fn from(tls: Tls<'_>) -> TlsFiles {
        TlsFiles {
            ca: Some(tls.pki.path("ca.pem")),
            cert: tls.pki.path("server.pem"),
            key: tls.pki.path("server-key.pem"),
            require_client_certificate: tls.require_client_certificate,
        }
    }
}

impl Slapd {
    /// Starts a seeded server on an `ldapi` socket; fails loudly with the
    /// install hint when slapd is missing.
    pub fn start() -> Slapd {
        Slapd::start_with(None, false)
    }

    /// Starts a seeded server with the ppolicy overlay and the accounts of
    /// `tests/fixtures/ppolicy.ldif`.
    pub fn start_with_ppolicy() -> Slapd {
        Slapd::start_with(None, true)
    }

    /// Starts a seeded server that also listens on `ldap://127.0.0.1` (for
    /// StartTLS) and `ldaps://127.0.0.1`, with `tls` if given.
    pub fn start_tcp(tls: Option<Tls<'_>>) -> Slapd {
        Slapd::start_with(Some(tls.map(TlsFiles::from)), false)
    }

    /// As [`Slapd::start_tcp`], presenting the certificate in `cert` (and
    /// the chain that follows it in the file, as slapd sends it) with `key`:
    /// for the shapes of certificate administrators give their directory.
    pub fn start_presenting(cert: &Path, key: &Path) -> Slapd {
        let files = TlsFiles {
            ca: None,
            cert: cert.to_owned(),
            key: key.to_owned(),
            require_client_certificate: false,
        };
        Slapd::start_with(Some(Some(files)), false)
    }

    fn start_with(tcp: Option<Option<TlsFiles>>, ppolicy: bool) -> Slapd {
        for tool in ["/usr/sbin/slapd", "/usr/sbin/slapadd"] {
            assert!(
                Path::new(tool).exists(),
                "{tool} not found: these tests need a real OpenLDAP. Install it with\n  \
                 sudo DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils"
            );
        }
        let dir = tempfile::Builder::new().prefix("slapd-").tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("db")).expect("db dir");
        let tls_directives = match &tcp {
            Some(Some(tls)) => tls_directives(tls),
            _ => String::new(),
        };
        let mut conf = tls_directives + &slapd_conf(dir.path());
        let mut seed = SEED_LDIF.to_owned();
        if ppolicy {
            conf = conf.replace("moduleload back_mdb\n", "moduleload back_mdb\nmoduleload ppolicy\n");
            conf.push_str(PPOLICY_CONF);
            seed.push('\n');
            seed.push_str(PPOLICY_LDIF);
        }
        std::fs::write(dir.path().join("slapd.conf"), conf).expect("slapd.conf");
        std::fs::write(dir.path().join("seed.ldif"), seed).expect("seed.ldif");
        let slapadd = Command::new("/usr/sbin/slapadd")
            .args(["-q", "-f"])
            .arg(dir.path().join("slapd.conf"))
            .arg("-l")
            .arg(dir.path().join("seed.ldif"))
            .output()
            .expect("run slapadd");
        assert!(slapadd.status.success(), "slapadd failed: {}", String::from_utf8_lossy(&slapadd.stderr));
        let mut slapd = Slapd { dir, child: None, tcp: None };
        if tcp.is_none() {
            slapd.resume_service();
            return slapd;
        }
        // A port found free can be taken before slapd binds it; try others.
        for attempt in 0.. {
            slapd.tcp = Some((free_port(), free_port()));
            match slapd.run() {
                Ok(()) => break,
                Err(e) if attempt < 5 => eprintln!("slapd did not start ({e}); trying other ports"),
                Err(e) => panic!("{e}"),
            }
        }
        slapd
    }

    /// `ldapi://` with the socket path percent-encoded.
    pub fn url(&self) -> String {
        let path = self.socket().display().to_string();
        format!("ldapi://{}", path.replace('%', "%25").replace('/', "%2F"))
    }

    /// `ldap://127.0.0.1:PORT`, for StartTLS or plain text.
    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.tcp.expect("a TCP server").0)
    }

    /// The address `ldap_url` names.
    pub fn ldap_addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.tcp.expect("a TCP server").0).into()
    }

    /// `ldaps://127.0.0.1:PORT`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tcp.expect("a TCP server").1)
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
        if let Err(e) = self.run() {
            panic!("{e}");
        }
    }

    fn run(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.path().join("slapd.log")).expect("slapd.log");
        let mut listen = self.url();
        if let Some((ldap, ldaps)) = self.tcp {
            listen.push_str(&format!(" ldap://127.0.0.1:{ldap}/ ldaps://127.0.0.1:{ldaps}/"));
        }
        let mut child = Command::new("/usr/sbin/slapd")
            // `stats` logs one ACCEPT line per connection, which tests count.
            .args(["-d", "stats", "-f"])
            .arg(self.dir.path().join("slapd.conf"))
            .arg("-h")
            .arg(listen)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn slapd");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default();
                return Err(format!("slapd exited ({status}) before answering:\n{log}"));
            }
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "slapd did not answer within 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        self.child = Some(child);
        Ok(())
    }

    /// How many connections the server has accepted since it was (re)started.
    pub fn connections_accepted(&self) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default();
        log.lines().filter(|line| line.contains(" ACCEPT from ")).count()
    }

    /// [`Slapd::connections_accepted`] once it has stopped changing: slapd
    /// logs an accept as it happens.
    pub async fn connections_settled(&self) -> usize {
        let mut last = self.connections_accepted();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.connections_accepted();
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// How many binds the server has received as `uid=<uid>` since it was (re)started.
    pub fn binds_as(&self, uid: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default();
        let bind = format!(" BIND dn=\"uid={uid},");
        // A successful bind is logged twice; the request line once, with its method.
        log.lines().filter(|line| line.contains(&bind) && line.contains(" method=")).count()
    }

    /// Freezes the server: connections are accepted by the kernel but never answered.
    /// Returns once every thread of slapd has stopped: `kill` returns
    /// before a running thread has, and could still answer one more request.
    pub fn freeze(&self) {
        self.signal("-STOP");
        let pid = self.child.as_ref().expect("slapd is running").id();
        let deadline = Instant::now() + Duration::from_secs(5);
        let all_stopped = || {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
            tasks.flatten().all(|task| {
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                // The state follows the parenthesised command name.
                stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('T'))
            })
        };
        while !all_stopped() {
            assert!(Instant::now() < deadline, "slapd did not stop within 5 s");
            std::thread::sleep(Duration::from_millis(1));
        }
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

    /// Adds a person under `PEOPLE` as the root DN, behind the service's back.
    pub async fn add_person(&self, uid: &str, password: &str) {
        let (conn, mut ldap) = ldap3::LdapConnAsync::new(&self.url()).await.expect("connect as root");
        ldap3::drive!(conn);
        ldap.simple_bind(ROOT_DN, ROOT_PASSWORD).await.unwrap().success().expect("root bind");
        let attributes = vec![
            ("objectClass", std::collections::HashSet::from(["inetOrgPerson"])),
            ("uid", std::collections::HashSet::from([uid])),
            ("cn", std::collections::HashSet::from([uid])),
            ("sn", std::collections::HashSet::from([uid])),
            ("userPassword", std::collections::HashSet::from([password])),
        ];
        ldap.add(&format!("uid={uid},{PEOPLE}"), attributes).await.unwrap().success().expect("add person");
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
const PPOLICY_LDIF: &str = include_str!("../fixtures/ppolicy.ldif");
/// `ppolicy_use_lockout` makes slapd say a locked account is locked, rather
/// than answer a bare invalidCredentials.
const PPOLICY_CONF: &str =
    "overlay ppolicy\nppolicy_default \"cn=default,ou=policies,dc=example,dc=com\"\nppolicy_use_lockout\n";

fn tls_directives(tls: &TlsFiles) -> String {
    let mut directives = String::new();
    if let Some(ca) = &tls.ca {
        directives.push_str(&format!("TLSCACertificateFile {}\n", ca.display()));
    }
    directives.push_str(&format!(
        "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
        tls.cert.display(),
        tls.key.display()
    ));
    if tls.require_client_certificate {
        directives.push_str("TLSVerifyClient demand\n");
    }
    directives
}

/// A port below the ephemeral range (where an outgoing connection could
/// take it first) that is free now.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    loop {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(Instant::now().elapsed().as_nanos());
        let port = 20000 + (hasher.finish() % 12000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn slapd_conf(dir: &Path) -> String {
    SLAPD_CONF.replace("@DIR@", &dir.display().to_string())
}
