//! A TCP proxy in front of a directory that can forget its connections as a
//! firewall or NAT does: silently, so that the bridge sees nothing until it
//! next sends on one, which is then closed unanswered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
    accepting: JoinHandle<()>,
}

#[derive(Default)]
struct Counts {
    accepted: AtomicU64,
    /// Connections numbered below this one are forgotten.
    first_remembered: AtomicU64,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let number = shared.accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(relay(client, upstream, number, shared.clone()));
            }
        });
        Proxy { addr, counts, accepting }
    }

    pub fn url(&self) -> String {
        format!("ldap://{}", self.addr)
    }

    /// Every connection open now is closed at its next request, unanswered.
    pub fn forget_open_connections(&self) {
        let accepted = self.counts.accepted.load(Ordering::SeqCst);
        self.counts.first_remembered.store(accepted, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, number: u64, counts: Arc<Counts>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = client.read(&mut from_client) => {
                let Ok(n @ 1..) = read else { return };
                if number < counts.first_remembered.load(Ordering::SeqCst) {
                    return;
                }
                if server.write_all(&from_client[..n]).await.is_err() {
                    return;
                }
            }
            read = server.read(&mut from_server) => {
                let Ok(n @ 1..) = read else { return };
                if client.write_all(&from_server[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
