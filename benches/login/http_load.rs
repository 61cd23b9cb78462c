//! An HTTP client that behaves as Prosody does: a new TCP connection for
//! every request, the request written in one piece, the answer read by its
//! Content-Length, then the connection dropped. Every answer is checked.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::measure::Worker;
use crate::workload::Workload;

/// What to ask, and of whom.
#[derive(Clone, Copy)]
pub enum Ask {
    /// `check_password`: `true` for a right password, `false` for a wrong one.
    CheckPassword,
    /// `user_exists`, always for a user who exists.
    UserExists,
    /// Any request, for a server that answers `true` to everything.
    Anything,
}

pub struct HttpWorker {
    address: SocketAddr,
    authorization: String,
    ask: Ask,
    workload: Arc<Workload>,
    buffer: Vec<u8>,
}

impl HttpWorker {
    /// `credentials` is `user:password`, as Prosody's `http_auth_credentials`.
    pub fn new(address: SocketAddr, credentials: &str, ask: Ask, workload: &Arc<Workload>) -> Self {
        let authorization = basic(credentials);
        HttpWorker {
            address,
            authorization,
            ask,
            workload: workload.clone(),
            buffer: Vec::with_capacity(1024),
        }
    }

    /// The request line's target, and the body the answer must have.
    fn target(&self) -> (String, &'static str) {
        match self.ask {
            Ask::CheckPassword => {
                let login = self.workload.next_login();
                let (uid, pass) = (login.uid, login.password);
                let target = format!("/check_password?pass={pass}&server=example.com&user={uid}");
                (target, if login.valid { "true" } else { "false" })
            }
            Ask::UserExists => {
                (format!("/user_exists?server=example.com&user={}", self.workload.next_user()), "true")
            }
            Ask::Anything => ("/".into(), "true"),
        }
    }
}

impl Worker for HttpWorker {
    async fn request(&mut self) -> Result<(), String> {
        let (target, expected) = self.target();
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Prosody XMPP Server\r\nAuthorization: Basic {}\r\n\r\n",
            self.address, self.authorization
        );
        let mut stream = TcpStream::connect(self.address).await.map_err(|e| format!("connect: {e}"))?;
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
        self.buffer.clear();
        let body = loop {
            if let Some(body) = complete_body(&self.buffer)? {
                break body;
            }
            let read = stream.read_buf(&mut self.buffer).await.map_err(|e| format!("read: {e}"))?;
            if read == 0 {
                return Err(format!("connection closed after {} bytes", self.buffer.len()));
            }
        };
        if body != expected.as_bytes() {
            return Err(format!(
                "{target}: answered {:?}, expected {expected}",
                String::from_utf8_lossy(body)
            ));
        }
        Ok(())
    }
}

/// `credentials` as the Basic scheme carries them.
fn basic(credentials: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(credentials)
}

/// The body of a complete `200` answer in `received`, `None` while more is
/// to come, and an error for any other status or a missing Content-Length.
fn complete_body(received: &[u8]) -> Result<Option<&[u8]>, String> {
    let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(None) };
    let head = std::str::from_utf8(&received[..end]).map_err(|_| "headers are not UTF-8")?;
    let status = head.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200 ") {
        return Err(format!("status line {status:?}"));
    }
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
        })
        .ok_or("no Content-Length")?;
    let body = &received[end + 4..];
    Ok((body.len() >= length).then(|| &body[..length]))
}

/// The body of a GET of `path`, for reading the bridge's metrics.
pub async fn get(address: SocketAddr, credentials: &str, path: &str) -> String {
    let authorization = basic(credentials);
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {authorization}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut received = Vec::new();
    stream.read_to_end(&mut received).await.expect("read");
    match complete_body(&received) {
        Ok(Some(body)) => String::from_utf8_lossy(body).into_owned(),
        other => panic!("GET {path}: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::complete_body;

    #[test]
    fn reads_a_body_by_its_length() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ntrue";
        assert_eq!(complete_body(answer), Ok(Some(&b"true"[..])));
        assert_eq!(complete_body(&answer[..answer.len() - 1]), Ok(None));
        assert_eq!(complete_body(b"HTTP/1.1 200 OK\r\n"), Ok(None));
        assert!(complete_body(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").is_err());
        assert!(complete_body(b"HTTP/1.1 200 OK\r\n\r\ntrue").is_err());
    }
}
