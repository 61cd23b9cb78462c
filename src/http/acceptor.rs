//! Accepting connections and serving each: never waiting to accept, a
//! header deadline, and no buffer for a connection until it sends.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use super::Handlers;
use super::admission::{Admission, Admitted, Arrival};
use super::handler::{Handler, Role};
use super::response::Body;
use crate::metrics::Metrics;

/// How long a connection whose request has not reached the handler may go
/// on once shutdown begins. Prosody writes a request in one go, so a header
/// block still incomplete by then belongs to a client that stalled or went
/// away, and hyper would wait for it until its deadline: an idle service
/// would take that long to stop.
const UNREAD_GRACE: Duration = Duration::from_millis(250);

/// The most a connection may buffer, and the largest request line and
/// headers accepted (431 past it). Prosody's are a few KB at most (a 1023-byte user name
/// and a long password, percent-encoded), and hyper's own limit of about
/// 400 KB would let each slow client hold that much memory.
const MAX_CONNECTION_BUFFER: usize = 64 * 1024;

/// Accepts the connections of one listener and serves each that its
/// [`Admission`] admits, in a task of its own with the handlers in use at
/// that moment. It never waits to accept: a connection left in the
/// kernel's queue is one that nobody reads, however complete its request.
pub(super) struct Acceptor {
    pub role: Role,
    pub admission: Arc<Admission>,
    pub current: Arc<RwLock<Arc<Handlers>>>,
    pub graceful: Arc<GracefulShutdown>,
    /// True once shutdown has begun.
    pub stopping: watch::Receiver<bool>,
    pub metrics: Arc<Metrics>,
}

impl Acceptor {
    pub async fn run(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                // The address accept gives saves asking the kernel again.
                Ok((stream, peer)) => {
                    // Refused: dropping the stream closes it.
                    if let Ok(admitted) = self.admission.admit(peer.ip()) {
                        self.start(stream, peer.ip(), admitted);
                    }
                }
                Err(error) => {
                    // Out of file descriptors, usually: back off rather than spin.
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn start(&self, stream: TcpStream, client: IpAddr, mut admitted: Admitted) {
        let handlers = self.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        let (handler, tls) = match self.role {
            Role::Admin => (handlers.admin.clone(), None),
            Role::Api { .. } => (handlers.api.clone(), handlers.tls.clone()),
        };
        // The TLS handshake, the request line and the headers all arrive by
        // then. Prosody writes its request in one go: a connection still
        // short of its headers by then is holding its place.
        let allowed = handlers.header_timeout.min(handler.deadline());
        // A deadline past what the clock can hold is no deadline at all.
        let headers_by = Instant::now().checked_add(allowed).unwrap_or_else(far_future);
        // Set when hyper hands the request to the handler: from then on the
        // request is in flight, and shutdown lets it finish.
        let request_read = Arc::new(AtomicBool::new(false));
        let service = RequestService {
            handler,
            client,
            request_read: request_read.clone(),
            arrival: admitted.arrival(),
        };
        let connection = Connection {
            stream,
            tls,
            service,
            headers_by,
            watcher: self.graceful.watcher(),
            metrics: self.metrics.clone(),
        };
        let metrics = self.metrics.clone();
        let stopping = self.stopping.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = connection.serve() => {}
                // Closed to make room for a newer one (the Admission logs it).
                _ = &mut admitted.closed_early => {}
                () = unread_at_stop(stopping, &request_read) => {
                    metrics.rejected_connection();
                    info!(outcome = "rejected", "connection closed at shutdown before its request arrived");
                }
            }
        });
    }
}

/// What hyper calls with a connection's request.
struct RequestService {
    handler: Arc<Handler>,
    client: IpAddr,
    /// Set once the request reaches the handler.
    request_read: Arc<AtomicBool>,
    arrival: Arrival,
}

impl Service<Request<Incoming>> for RequestService {
    type Response = Response<Body>;
    type Error = Infallible;
    // Boxed: hyper keeps room for this future from the connection's start,
    // and the handler's is several KB.
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        self.request_read.store(true, Ordering::Relaxed);
        // A body still to come keeps the connection incomplete until the
        // handler has read it.
        if request.body().is_end_stream() {
            self.arrival.arrived();
        } else {
            request.extensions_mut().insert(self.arrival.clone());
        }
        let (handler, client) = (self.handler.clone(), self.client);
        Box::pin(async move { Ok(handler.handle(request, client).await) })
    }
}

/// One accepted connection, to serve.
struct Connection {
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    service: RequestService,
    headers_by: Instant,
    watcher: Watcher,
    metrics: Arc<Metrics>,
}

impl Connection {
    /// Waits for the connection's first byte, then serves it. Until that
    /// byte, an idle connection costs its task and its socket: hyper's
    /// buffer and the TLS state, in a box of their own, come after.
    async fn serve(self) {
        let mut first = [0u8; 1];
        match tokio::time::timeout_at(self.headers_by, self.stream.peek(&mut first)).await {
            Ok(Ok(1..)) => Box::pin(self.serve_request()).await,
            // Closed without a byte, as a port check does: nothing to serve.
            Ok(Ok(0) | Err(_)) => {}
            // Counted, and logged at debug only: clients holding connections
            // open make thousands of these, and the metrics show them.
            Err(_) => {
                self.metrics.rejected_connection();
                debug!(outcome = "rejected", "connection sent nothing within http.header_timeout");
            }
        }
    }

    async fn serve_request(self) {
        let Connection { stream, tls, service, headers_by, watcher, metrics } = self;
        // Prosody opens a connection per request and never reuses it, so the
        // server closes it after the answer. Without the timer, hyper's
        // header-read timeout is silently off.
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .keep_alive(false)
            .max_header_size(MAX_CONNECTION_BUFFER)
            .max_buf_size(MAX_CONNECTION_BUFFER);
        let served = match tls {
            None => {
                http.header_read_timeout(remaining(headers_by));
                watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await
            }
            Some(acceptor) => match tokio::time::timeout_at(headers_by, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    http.header_read_timeout(remaining(headers_by));
                    watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await
                }
                Ok(Err(error)) => {
                    metrics.rejected_connection();
                    info!(%error, outcome = "rejected", "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    metrics.rejected_connection();
                    debug!(outcome = "rejected", "TLS handshake not finished within http.header_timeout");
                    return;
                }
            },
        };
        if let Err(error) = served {
            metrics.rejected_connection();
            // hyper answered or dropped it itself (a header block too
            // large or malformed, or too slow to arrive), so the handler
            // never saw a request: this is its one log line. hyper's
            // messages name the fault, never the bytes.
            info!(%error, outcome = "rejected", "connection");
        }
    }
}

/// The time left until `deadline`, at least 1 ms: hyper takes a zero as
/// a deadline already past, before it has read what has arrived.
fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
}

/// About thirty years from now.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// Completes [`UNREAD_GRACE`] after shutdown begins if no request has
/// reached the handler on this connection by then (`request_read`), and
/// never otherwise.
async fn unread_at_stop(mut stopping: watch::Receiver<bool>, request_read: &AtomicBool) {
    // An error means the server has gone, and with it any wait for this
    // connection.
    if stopping.wait_for(|&stop| stop).await.is_ok() {
        tokio::time::sleep(UNREAD_GRACE).await;
        if !request_read.load(Ordering::Relaxed) {
            return;
        }
    }
    std::future::pending().await
}
