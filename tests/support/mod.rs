//! Shared by the integration tests: a real slapd, the real server on
//! `127.0.0.1:0`, and a client that writes requests byte for byte as
//! Prosody does, so the tests see exactly what goes over the wire.
#![allow(dead_code)]

pub mod certificates;
pub mod ds389;
pub mod hostile_ldap;
pub mod ldapsearch;
pub mod pki;
pub mod proxy;
pub mod samba;
pub mod server_cert;
pub mod slapd;

use std::net::SocketAddr;
use std::time::Duration;

use auth_http_ldap::Sockets;
use auth_http_ldap::http::sockets;
use auth_http_ldap::workers::Workers;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use server_cert::CertShape;
pub use slapd::Slapd;
use slapd::{PEOPLE, SERVICE_DN, SERVICE_PASSWORD};

/// The configuration the tests start from: the service account, searching
/// the people subtree, writes enabled, and neither the user_exists cache
/// nor the login guard, so that every question reaches the directory
/// (tests/user_exists_cache.rs and tests/logins.rs turn them on);
/// `overrides` is TOML laid over it table by table.
pub fn config(slapd: &Slapd, overrides: &str) -> String {
    let base = format!(
        r#"
[http]
listen = "127.0.0.1:0"
request_timeout = "3s"
[ldap]
url = "{url}"
bind_dn = "{SERVICE_DN}"
bind_password = "{SERVICE_PASSWORD}"
connect_timeout = "1s"
timeout = "1s"
[users]
base_dn = "{PEOPLE}"
[operations]
register = true
set_password = true
remove_user = true
[register]
dn = "uid={{user}},{PEOPLE}"
[cache]
user_exists_ttl = "0s"
user_exists_negative_ttl = "0s"
stale_if_error = "0s"
[logins]
max_failures_per_user = 0
remember_failed_for = "0s"
"#,
        url = slapd.url()
    );
    let mut table: toml::Table = base.parse().expect("base config");
    let overrides: toml::Table = overrides.parse().expect("override TOML");
    merge(&mut table, overrides);
    toml::to_string(&table).expect("config TOML")
}

fn merge(base: &mut toml::Table, overrides: toml::Table) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over)) => merge(inner, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The service, serving on a free loopback port until dropped.
pub struct Bridge {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// Takes configurations to reload, when served by workers.
    pub reload: Option<mpsc::Sender<auth_http_ldap::config::Settings>>,
    /// Dropped last: the workers stop once the service has.
    workers: Option<Workers>,
}

impl Bridge {
    pub async fn start(toml: &str) -> Bridge {
        let settings = auth_http_ldap::config::load_str(toml)
            .unwrap_or_else(|e| panic!("test config refused: {e}\n{toml}"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(auth_http_ldap::serve(settings, listener, async {
            let _ = stopped.await;
        }));
        Bridge { addr, stop: Some(stop), task: Some(task), reload: None, workers: None }
    }

    /// As [`Bridge::start`], served as the binary serves: by `count`
    /// workers, each accepting on a socket of its own.
    pub async fn on_workers(toml: &str, count: usize) -> Bridge {
        let settings = auth_http_ldap::config::load_str(toml)
            .unwrap_or_else(|e| panic!("test config refused: {e}\n{toml}"));
        let workers = Workers::start(count).expect("workers");
        let api = sockets::bind("127.0.0.1:0".parse().unwrap(), workers.handles()).expect("bind");
        let addr = api[0].listener.local_addr().expect("addr");
        let sockets = Sockets { api, admin: None, workers: count };
        let (stop, stopped) = oneshot::channel::<()>();
        let (reload, reloads) = mpsc::channel(1);
        let stopped = async {
            let _ = stopped.await;
        };
        let task = tokio::spawn(auth_http_ldap::serve_with_reloads(settings, sockets, stopped, reloads));
        Bridge { addr, stop: Some(stop), task: Some(task), reload: Some(reload), workers: Some(workers) }
    }

    /// Serves `slapd` with the test configuration and `overrides`.
    pub async fn for_directory(slapd: &Slapd, overrides: &str) -> Bridge {
        Bridge::start(&config(slapd, overrides)).await
    }

    /// A GET as Prosody sends it: no Accept, no Connection, no Content-Length.
    pub async fn get(&self, path_and_query: &str) -> Reply {
        self.raw(&format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Prosody XMPP Server\r\n\r\n",
            self.addr
        ))
        .await
    }

    /// A POST as the deployed module sends it, Content-Type typo included.
    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.raw(&format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Prosody XMPP Server\r\n\
             Content-Type: application/x/www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        ))
        .await
    }

    /// `check_password` for `user`, with Prosody's encoding.
    pub async fn check_password(&self, user: &str, password: &str) -> Reply {
        self.get(&format!(
            "/example.com/check_password?user={}&pass={}&server=example.com",
            encode(user),
            encode(password)
        ))
        .await
    }

    pub async fn user_exists(&self, user: &str) -> Reply {
        self.get(&format!("/example.com/user_exists?server=example.com&user={}", encode(user))).await
    }

    pub async fn raw(&self, request: &str) -> Reply {
        send(self.addr, request.as_bytes()).await
    }

    /// Stops the service and checks that it ended by itself, in time and
    /// without a panic; the workers it was served by, if any, still run, so
    /// that what the stop closed shows apart from what stopping them would.
    pub async fn stop_leaving_workers(mut self) -> Option<Workers> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running");
        let ended = tokio::time::timeout(Duration::from_secs(5), task).await;
        ended.expect("the service did not stop within 5 s").expect("the service panicked");
        self.workers.take()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
        // Joins their threads: blocking, but they have nothing left to do.
        drop(self.workers.take());
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Prosody's encoding: every byte outside `[A-Za-z0-9._~-]` as lower-case
/// `%xx`, and space as `+`.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'~' | b'-' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02x}")),
        }
    }
    out
}

/// A response, read to the end of the connection.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    /// Asserts the exact answer Prosody reads as `true` or `false`.
    #[track_caller]
    pub fn assert_answer(&self, expected: bool) {
        assert_eq!(self.status, 200, "status of {self:?}");
        assert_eq!(self.text(), if expected { "true" } else { "false" }, "body of {self:?}");
        assert_eq!(self.header("content-length"), Some(if expected { "4" } else { "5" }));
    }
}

pub async fn send(addr: SocketAddr, request: &[u8]) -> Reply {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write request");
        let mut raw = Vec::new();
        // The server closes the connection after its answer.
        stream.read_to_end(&mut raw).await.expect("read response");
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(15), exchange).await.expect("no response within 15 s");
    parse(&raw)
}

pub fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    // Prosody rejects a status line without a reason phrase.
    assert!(
        status_line.splitn(3, ' ').nth(2).is_some_and(|r| !r.is_empty()),
        "no reason phrase: {status_line}"
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = raw[split + 4..].to_vec();
    let reply = Reply { status, headers, body };
    // Prosody reads a body only up to Content-Length: every answer but a 204 needs one.
    if reply.status != 204 {
        let length =
            reply.header("content-length").unwrap_or_else(|| panic!("no Content-Length in {reply:?}"));
        assert_eq!(
            length.parse::<usize>().ok(),
            Some(reply.body.len()),
            "Content-Length does not match the body"
        );
    }
    reply
}

/// The log lines of the service while the returned guard lives. The tests
/// run the service on their own thread, so the lines it writes there are its
/// own. One global subscriber serves every test: a thread-local one races
/// with tracing's global cache of which call sites are enabled, and loses lines.
pub fn capture_logs() -> (CaptureGuard, Logs) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_ansi(false)
            .with_writer(|| ThreadLogs)
            .try_init();
    });
    let logs = Logs::default();
    CAPTURE.with(|capture| *capture.borrow_mut() = Some(logs.clone()));
    (CaptureGuard, logs)
}

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// Stops capturing this thread's log lines when dropped.
pub struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|capture| *capture.borrow_mut() = None);
    }
}

/// Writes to the capture of the thread the line is written on, if any.
struct ThreadLogs;

impl std::io::Write for ThreadLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|capture| {
            if let Some(logs) = capture.borrow().as_ref() {
                logs.0.lock().unwrap().extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The request lines about `user`.
    pub fn about(&self, user: &str) -> Vec<String> {
        let needle = format!("user=\"{user}\"");
        self.text().lines().filter(|line| line.contains(&needle)).map(str::to_owned).collect()
    }
}

/// A process killed when dropped, so a failing test leaves nothing behind.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary, running with the configuration at `config`, its log in
/// a file beside it.
pub struct RunningBinary {
    process: Killed,
    log: std::path::PathBuf,
}

impl RunningBinary {
    pub fn start(config: &std::path::Path, envs: &[(&str, &str)]) -> RunningBinary {
        Self::start_binary(
            env!("CARGO_BIN_EXE_auth-http-ldap"),
            config,
            &config.with_file_name("service.log"),
            envs,
        )
    }

    /// As `start`, with the binary at `binary` (an installed one, say) and
    /// its log at `log`.
    pub fn start_binary(
        binary: &str,
        config: &std::path::Path,
        log: &std::path::Path,
        envs: &[(&str, &str)],
    ) -> RunningBinary {
        let log = log.to_owned();
        let child = std::process::Command::new(binary)
            .arg("--config")
            .arg(config)
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("service.log"))
            .spawn()
            .expect("start the binary");
        RunningBinary { process: Killed(child), log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// The address of the first API listener, once the service has logged it.
    pub async fn api_address(&self) -> SocketAddr {
        for _ in 0..200 {
            let log = self.log();
            let listening = log.lines().filter(|line| line.contains("from=")).find_map(|line| {
                let start = line.find("listen=")? + "listen=".len();
                line[start..].split_whitespace().next()?.parse().ok()
            });
            if let Some(address) = listening {
                return address;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the service did not report its address:\n{}", self.log());
    }

    /// A line of /proc/PID/status, in kB: `VmRSS` now, `VmHWM` at its peak.
    pub fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("process status");
        status
            .lines()
            .find_map(|line| {
                line.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix(" kB")?.parse().ok()
            })
            .unwrap_or_else(|| panic!("no {field} in\n{status}"))
    }
}

/// Runs `test-login` with `args` and `password` on standard input: the
/// exit code, and what it printed on standard output and standard error.
pub fn test_login(config: &str, args: &[&str], password: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_auth-http-ldap"))
        .args(["--config", path.to_str().unwrap(), "test-login"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the binary");
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!out.contains(password) || password.is_empty(), "the password was printed:\n{out}");
    (output.status.code().unwrap_or(-1), out, err)
}
