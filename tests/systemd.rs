//! The binary under systemd's protocols, without systemd: a notify socket
//! of the test's own, and socket activation by systemd-socket-activate.

mod support;

use support::{Killed, RunningBinary};

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_auth-http-ldap");

fn config(dir: &tempfile::TempDir, listen: &str) -> String {
    let path = dir.path().join("config.toml");
    let text = format!("[http]\nlisten = \"{listen}\"\n[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn tells_systemd_it_is_ready_and_then_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let config = config(&dir, "127.0.0.1:0");
    // SIGTERM the moment READY arrives, as systemd may: several times, since
    // a signal that came before its handler would end the process at once.
    for _ in 0..10 {
        let mut child = Command::new(BINARY)
            .args(["--config", &config])
            .env("NOTIFY_SOCKET", &socket_path)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut message = [0u8; 256];
        let n = socket.recv(&mut message).expect("no READY within 10 s");
        assert_eq!(&message[..n], b"READY=1\n");
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
        let n = socket.recv(&mut message).expect("no STOPPING within 10 s");
        assert_eq!(&message[..n], b"STOPPING=1\n");
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
}

#[tokio::test]
async fn serves_on_the_socket_systemd_passes() {
    let log = activated_on("127.0.0.1").await;
    assert!(!log.contains("the socket systemd passed"), "{log}");
}

#[tokio::test]
async fn a_passed_socket_beyond_loopback_without_tls_is_warned_about() {
    let log = activated_on("0.0.0.0").await;
    let warning = log
        .lines()
        .find(|line| line.contains("the socket systemd passed"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(warning.contains(" WARN ") && warning.contains("0.0.0.0:"), "{warning}");
}

/// Starts the service under systemd-socket-activate on a socket bound to
/// `ip`, checks that it answers there and stops cleanly, and returns its log.
async fn activated_on(ip: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let port = support::slapd::free_port();
    // An address the service could not bind itself: only the passed socket works.
    let path = config(&dir, "192.0.2.1:5281");
    let log_path = dir.path().join("service.log");
    let child = Command::new("systemd-socket-activate")
        .args(["-l", &format!("{ip}:{port}"), BINARY, "--config", &path])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("systemd-socket-activate (Debian package systemd)");
    let mut child = Killed(child);
    // systemd-socket-activate listens first, and starts the service when the
    // first connection arrives, as systemd does.
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut reply = None;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            reply = Some(support::send(addr, b"GET /users HTTP/1.1\r\nHost: x\r\n\r\n").await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reply.expect("nothing listens on the activation socket").status, 501);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("from=\"systemd socket\"") && log.contains(&format!("{ip}:{port}")), "{log}");
    Command::new("kill").arg("-TERM").arg(child.0.id().to_string()).status().unwrap();
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
    log
}

#[tokio::test]
async fn sighup_reloads_and_a_bad_configuration_keeps_the_old_one() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("api-credentials");
    std::fs::write(&secret, "prosody:first\n").unwrap();
    let path = dir.path().join("config.toml");
    let good = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\ncredentials_file = \"{}\"\n[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n",
        secret.display()
    );
    std::fs::write(&path, &good).unwrap();
    let service = RunningBinary::start(&path, &[]);
    let log = || service.log();
    let wait_for = |needle: &str, count: usize| {
        for _ in 0..100 {
            if log().matches(needle).count() >= count {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no {needle:?} in the log:\n{}", log());
    };
    wait_for("serving", 1);
    let text = log();
    let start = text.find("listen=").unwrap() + "listen=".len();
    let addr: std::net::SocketAddr = text[start..].split_whitespace().next().unwrap().parse().unwrap();
    let status = |credentials: &'static str| async move {
        let header = base64::engine::general_purpose::STANDARD.encode(credentials);
        let request = format!("GET /users HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {header}\r\n\r\n");
        support::send(addr, request.as_bytes()).await.status
    };
    let hangup = || Command::new("kill").arg("-HUP").arg(service.pid().to_string()).status().unwrap();
    assert_eq!(status("prosody:first").await, 501);

    // A new secret in the file: read again on SIGHUP.
    std::fs::write(&secret, "prosody:second\n").unwrap();
    hangup();
    wait_for("configuration reloaded", 1);
    assert_eq!(status("prosody:second").await, 501);
    assert_eq!(status("prosody:first").await, 401);

    // An unusable configuration: refused by name, and the one in use stays.
    std::fs::write(&path, good.replace("[users]", "[users]\nfitler = \"x\"")).unwrap();
    hangup();
    wait_for("not usable", 1);
    assert!(log().contains("users.fitler"), "{}", log());
    assert_eq!(status("prosody:second").await, 501);
}

#[tokio::test]
async fn listens_on_every_address_in_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = "[http]\nlisten = [\"127.0.0.1:0\", \"127.0.0.2:0\"]\n[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n";
    std::fs::write(&path, text).unwrap();
    let service = RunningBinary::start(&path, &[]);
    let mut addresses = Vec::new();
    for _ in 0..100 {
        let log = service.log();
        addresses = log
            .lines()
            .filter(|line| line.contains(" serving "))
            .filter_map(|line| line.split("listen=").nth(1)?.split_whitespace().next()?.parse().ok())
            .collect::<Vec<std::net::SocketAddr>>();
        if addresses.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(addresses.len(), 2, "{addresses:?}");
    assert_ne!(addresses[0].ip(), addresses[1].ip());
    for address in addresses {
        assert_eq!(support::send(address, b"GET /users HTTP/1.1\r\nHost: x\r\n\r\n").await.status, 501);
    }
}

#[tokio::test]
async fn serves_on_as_many_threads_as_http_workers_says() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text =
        "[http]\nlisten = \"127.0.0.1:0\"\nworkers = 3\n[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n";
    std::fs::write(&path, text).unwrap();
    let service = RunningBinary::start(&path, &[]);
    let address = service.api_address().await;
    assert!(service.log().contains(" workers=3 "), "{}", service.log());
    let tasks = std::fs::read_dir(format!("/proc/{}/task", service.pid())).expect("the service's threads");
    let names: Vec<String> = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("worker-"))
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for _ in 0..20 {
        assert_eq!(support::send(address, b"GET /users HTTP/1.1\r\nHost: x\r\n\r\n").await.status, 501);
    }
}

/// Runs the binary with `format`, asks it one question, and returns its log.
async fn log_with_format(format: &str, envs: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n[log]\nformat = \"{format}\"\n[users]\nbase_dn = \"ou=people,dc=example,dc=com\"\n"
    );
    std::fs::write(&path, text).unwrap();
    let service = RunningBinary::start(&path, envs);
    let read = || service.log();
    let mut address = None;
    for _ in 0..100 {
        let log = read();
        let found = log.find("127.0.0.1:").map(|i| &log[i..]).and_then(|rest| {
            let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))?;
            rest[..end].parse::<std::net::SocketAddr>().ok()
        });
        if found.is_some() {
            address = found;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let address = address.unwrap_or_else(|| panic!("no address in the log:\n{}", read()));
    assert_eq!(support::send(address, b"GET /users HTTP/1.1\r\nHost: x\r\n\r\n").await.status, 501);
    tokio::time::sleep(Duration::from_millis(100)).await;
    read()
}

#[tokio::test]
async fn logs_json_when_configured() {
    let log = log_with_format("json", &[]).await;
    let request = log.lines().find(|line| line.contains("\"request\"")).unwrap_or_else(|| panic!("{log}"));
    assert!(request.starts_with('{') && request.ends_with('}'), "{request}");
    assert!(
        request.contains("\"status\":501") && request.contains("\"outcome\":\"unsupported\""),
        "{request}"
    );
}

#[tokio::test]
async fn falls_back_to_plain_lines_when_the_journal_is_unreachable() {
    // systemd's variable, as a unit whose standard error goes to the journal
    // has it; with no journal here, the service still logs and serves.
    let log = log_with_format("auto", &[("JOURNAL_STREAM", "8:12345")]).await;
    assert!(log.contains(" request ") && log.contains("status=501"), "{log}");
}
