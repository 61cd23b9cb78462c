//! Stopping the real binary with SIGTERM: an idle service exits at once,
//! even with connections open that never finished a request, and a request
//! in flight is still answered.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use support::{Killed, Slapd};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than a stop may take: a connection that hyper waits for
/// would hold the stop this long, until its header-read timeout.
const REQUEST_TIMEOUT: &str = "30s";

/// The service, started with its log in `dir`, and its API address.
async fn start(slapd: &Slapd, dir: &Path) -> (Killed, SocketAddr, std::path::PathBuf) {
    let config = dir.join("config.toml");
    let overrides = format!("[http]\nrequest_timeout = \"{REQUEST_TIMEOUT}\"\nworkers = 1\n");
    std::fs::write(&config, support::config(slapd, &overrides)).unwrap();
    let log = dir.join("service.log");
    let child = Command::new(env!("CARGO_BIN_EXE_auth-http-ldap"))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start the binary");
    let service = Killed(child);
    for _ in 0..200 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let listening = text.lines().filter(|line| line.contains("from=")).find_map(|line| {
            let start = line.find("listen=")? + "listen=".len();
            line[start..].split_whitespace().next()?.parse().ok()
        });
        if let Some(address) = listening {
            return (service, address, log);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not report its address:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
}

/// Sends `bytes` on `stream` and returns once the service has read them
/// all: acknowledged by its kernel (nothing left in our send queue) and
/// taken from its socket (nothing left in its receive queue). Before that,
/// hyper would see a silent connection and close it at shutdown.
async fn send_and_see_read(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.unwrap();
    let ours = stream.local_addr().unwrap();
    let theirs = stream.peer_addr().unwrap();
    for _ in 0..500 {
        if queues(ours, theirs) == Some((0, 0)) && queues(theirs, ours).is_some_and(|(_, unread)| unread == 0)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the service did not read what was sent");
}

/// The send and receive queues, in bytes, of the TCP socket from `local` to
/// `remote`, from /proc/net/tcp.
fn queues(local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    let hex = |address: SocketAddr| match address {
        SocketAddr::V4(v4) => format!("{:08X}:{:04X}", u32::from_ne_bytes(v4.ip().octets()), v4.port()),
        SocketAddr::V6(_) => unreachable!("the tests listen on 127.0.0.1"),
    };
    let (local, remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (sent, received) = fields.get(4)?.split_once(':')?;
        Some((u64::from_str_radix(sent, 16).ok()?, u64::from_str_radix(received, 16).ok()?))
    })
}

fn terminate(service: &Killed) -> Instant {
    let status = Command::new("kill").arg("-TERM").arg(service.0.id().to_string()).status().unwrap();
    assert!(status.success());
    Instant::now()
}

/// The exit status once the process has ended, and how long after `since`.
async fn exited(service: &mut Killed, since: Instant) -> (ExitStatus, Duration) {
    while since.elapsed() < Duration::from_secs(60) {
        if let Some(status) = service.0.try_wait().unwrap() {
            return (status, since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the service did not exit within 60 s of SIGTERM");
}

/// Reads until the service closes the connection, and returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received))
        .await
        .expect("the service did not close the connection within 10 s")
        .expect("read");
    received
}

#[tokio::test]
async fn an_idle_service_exits_at_once() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut service, address, log) = start(&slapd, dir.path()).await;
    // A request answered before: the directory connections it opened stay open.
    let answered = support::send(
        address,
        b"GET /check_password?user=romeo&pass=iheartjuliet&server=example.com HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    answered.assert_answer(true);
    // A client that connected and said nothing, and one that stalled
    // halfway through its header block: neither has a request in flight.
    let mut silent = TcpStream::connect(address).await.unwrap();
    let mut stalled = TcpStream::connect(address).await.unwrap();
    send_and_see_read(&mut stalled, b"GET /check_password?user=romeo HTTP/1.1\r\nHo").await;

    let sent = terminate(&service);
    let (status, took) = exited(&mut service, sent).await;
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    // Until the fix, the stalled client held the stop for REQUEST_TIMEOUT.
    assert!(took < Duration::from_secs(5), "the stop took {took:?}:\n{log}");
    assert!(until_closed(&mut silent).await.is_empty());
    assert!(until_closed(&mut stalled).await.is_empty(), "the stalled client got an answer");
    assert!(log.contains("connection closed at shutdown before its request arrived"), "{log}");
}

#[tokio::test]
async fn a_request_in_flight_is_answered_during_shutdown() {
    let slapd = Slapd::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut service, address, log) = start(&slapd, dir.path()).await;
    // The request has reached the handler, which waits for the rest of its body.
    let body = "user=romeo&pass=iheartjuliet&server=example.com";
    let (first, rest) = body.split_at(12);
    let head =
        format!("POST /check_password HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{first}", body.len());
    let mut in_flight = TcpStream::connect(address).await.unwrap();
    send_and_see_read(&mut in_flight, head.as_bytes()).await;
    let mut stalled = TcpStream::connect(address).await.unwrap();
    send_and_see_read(&mut stalled, b"GET /check_password?user=romeo HTTP/1.1\r\nHo").await;

    let sent = terminate(&service);
    // Once the stalled client is let go, shutdown is well under way; the
    // request in flight still gets its answer.
    assert!(until_closed(&mut stalled).await.is_empty(), "the stalled client got an answer");
    in_flight.write_all(rest.as_bytes()).await.unwrap();
    support::parse(&until_closed(&mut in_flight).await).assert_answer(true);
    let (status, took) = exited(&mut service, sent).await;
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(took < Duration::from_secs(5), "the stop took {took:?}:\n{log}");
    assert!(log.contains("shutting down") && log.contains("outcome=\"true\""), "{log}");
}
