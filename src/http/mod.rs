//! The HTTP server Prosody talks to: one connection per request, a deadline
//! on each, and a graceful drain on shutdown. Knows nothing of LDAP: each
//! request becomes a [`Call`](crate::protocol::Call) for the [`Service`].

mod admin;
mod basic_auth;
mod handler;
pub mod params;
pub mod response;
pub mod sockets;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::service::Service;
use handler::{Handler, Role};

/// How long requests in flight may take to finish once shutdown begins,
/// beyond their own deadline.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// How long a connection whose request has not reached the handler may go
/// on once shutdown begins. Prosody writes a request in one go, so a header
/// block still incomplete by then belongs to a client that stalled or went
/// away, and hyper would wait for it until `http.request_timeout`: an idle
/// service would take that long to stop.
const UNREAD_GRACE: Duration = Duration::from_millis(250);

/// The most a connection may buffer, and the largest request line and
/// headers accepted (431 past it). Prosody's are a few KB at most (a 1023-byte user name
/// and a long password, percent-encoded), and hyper's own limit of about
/// 400 KB would let each slow client hold that much memory.
const MAX_CONNECTION_BUFFER: usize = 64 * 1024;

/// Connections open at once on the admin listener: enough for any number
/// of probes and scrapes, and a bound on what they can hold.
const ADMIN_CONNECTIONS: usize = 64;

/// A listening socket, and the runtime that accepts and serves its
/// connections: the one it was registered with.
pub struct Listening {
    pub listener: TcpListener,
    pub runtime: Handle,
}

impl Listening {
    /// `listener`, served by the caller's runtime.
    pub fn here(listener: TcpListener) -> Self {
        Listening { listener, runtime: Handle::current() }
    }
}

/// What to serve on.
pub struct Sockets {
    /// The API's listening sockets (from `http.listen` or systemd).
    pub api: Vec<Listening>,
    /// `/health`, `/ready`, `/metrics` and `/logins/...`, from `http.admin_listen`.
    pub admin: Option<Listening>,
    /// How many workers ([`crate::workers`]) run the runtimes above.
    pub workers: usize,
}

/// Serves on `listener`, on the caller's runtime, until `shutdown`
/// completes, then lets requests in flight finish (within a bound) and returns.
pub async fn serve(settings: Settings, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let (_keep, reloads) = mpsc::channel(1);
    let sockets = Sockets { api: vec![Listening::here(listener)], admin: None, workers: 1 };
    serve_with_reloads(settings, sockets, shutdown, reloads).await;
}

/// As [`serve`], on every socket of `sockets`, each on its own runtime;
/// and each configuration received on `reloads` replaces the one in use for
/// every request that starts after it. Requests in flight finish with the
/// one they started with. The sockets cannot change this way: they stay bound.
pub async fn serve_with_reloads(
    settings: Settings,
    sockets: Sockets,
    shutdown: impl Future<Output = ()>,
    mut reloads: mpsc::Receiver<Settings>,
) {
    let Sockets { api: listeners, admin, workers } = sockets;
    let has_admin = admin.is_some();
    // One set of metrics for the life of the process, across reloads.
    let metrics = Arc::new(Metrics::new());
    // Fixed for the life of the listeners, like their addresses.
    let max_connections = settings.http.max_connections;
    let handlers =
        |settings, previous: Option<&Service>| handlers_for(settings, has_admin, &metrics, previous, workers);
    let current = Arc::new(RwLock::new(handlers(settings, None)));
    let graceful = Arc::new(GracefulShutdown::new());
    let api = Role::Api { health: !has_admin };
    // The API listeners share one bound on open connections, which bounds
    // the memory that slow or idle clients can hold; the admin listener has
    // its own, so probes still get through while the API is flooded.
    let api_slots = Arc::new(Semaphore::new(max_connections));
    let (stop, stopping) = watch::channel(false);
    let admin_slots = Arc::new(Semaphore::new(ADMIN_CONNECTIONS));
    // Each listener has a task that accepts and starts each connection's
    // task itself: a hop through another task per connection costs a
    // wake-up, often on another thread, and Prosody opens one per request.
    let acceptors: Vec<_> = listeners
        .into_iter()
        .map(|listening| (listening, api, api_slots.clone()))
        .chain(admin.map(|admin| (admin, Role::Admin, admin_slots)))
        .map(|(Listening { listener, runtime }, role, slots)| {
            let acceptor = Acceptor {
                role,
                slots,
                current: current.clone(),
                graceful: graceful.clone(),
                stopping: stopping.clone(),
                metrics: metrics.clone(),
            };
            runtime.spawn(acceptor.run(listener))
        })
        .collect();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            Some(settings) = reloads.recv() => {
                // Built before the lock is taken: a worker that accepts a
                // connection meanwhile waits for the lock, and with it
                // every request it serves.
                let in_use = current.read().unwrap_or_else(|e| e.into_inner()).clone();
                let replacement = handlers(settings, Some(&in_use.service));
                *current.write().unwrap_or_else(|e| e.into_inner()) = replacement;
                info!("configuration reloaded");
            }
            () = &mut shutdown => break,
        }
    }
    // Stop accepting: the tasks own the listeners, which close with them.
    for acceptor in acceptors {
        acceptor.abort();
        let _ = acceptor.await;
    }
    info!("shutting down");
    stop.send_replace(true);
    let graceful = Arc::into_inner(graceful).expect("the acceptors have ended");
    // Every request ends by its deadline, so waiting longer would not help.
    let drain = current.read().unwrap_or_else(|e| e.into_inner()).api.deadline() + DRAIN_GRACE;
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => warn!("requests still in flight after {drain:?}; stopping anyway"),
    }
}

/// Accepts the connections of one listener and serves each, once a slot
/// is free, in a task of its own with the handlers in use at that moment.
/// At the limit, each acceptor holds the one connection it accepted last
/// until a slot frees, and the others wait in the kernel's queue. (Waiting
/// for the slot before accepting would leave the sockets of a group
/// without a waiting acceptor unserved while the others sit idle on every
/// slot.)
struct Acceptor {
    role: Role,
    slots: Arc<Semaphore>,
    current: Arc<RwLock<Arc<Handlers>>>,
    graceful: Arc<GracefulShutdown>,
    /// True once shutdown has begun.
    stopping: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
}

impl Acceptor {
    async fn run(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                // The address accept gives saves asking the kernel again.
                Ok((stream, peer)) => {
                    let Ok(slot) = self.slots.clone().acquire_owned().await else { return };
                    self.start(stream, peer.ip(), slot);
                }
                Err(error) => {
                    // Out of file descriptors, usually: back off rather than spin.
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn start(&self, stream: TcpStream, client: IpAddr, slot: OwnedSemaphorePermit) {
        let handlers = self.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        let (handler, tls) = match self.role {
            Role::Admin => (handlers.admin.clone(), None),
            Role::Api { .. } => (handlers.api.clone(), handlers.tls.clone()),
        };
        let header_read_timeout = handler.deadline();
        // Set when hyper hands the request to the handler: from then on the
        // request is in flight, and shutdown lets it finish.
        let request_read = Arc::new(AtomicBool::new(false));
        let service = service_fn({
            let request_read = request_read.clone();
            move |request| {
                request_read.store(true, Ordering::Relaxed);
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler.handle(request, client).await) }
            }
        });
        // Prosody opens a connection per request and never reuses it, so the
        // server closes it after the answer. Without the timer, hyper's
        // header-read timeout is silently off.
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .keep_alive(false)
            .max_header_size(MAX_CONNECTION_BUFFER)
            .max_buf_size(MAX_CONNECTION_BUFFER);
        let watcher = self.graceful.watcher();
        let metrics = self.metrics.clone();
        let stopping = self.stopping.clone();
        tokio::spawn(async move {
            // Held until the connection ends.
            let _slot = slot;
            let rejected = metrics.clone();
            let connection = async move {
                let served = match tls {
                    None => watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await,
                    // The handshake has the header block's deadline: a client
                    // that stalls in it holds a connection no longer than one
                    // that stalls in its headers.
                    Some(acceptor) => {
                        match tokio::time::timeout(header_read_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => {
                                watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await
                            }
                            Ok(Err(error)) => {
                                metrics.rejected_connection();
                                info!(%error, outcome = "rejected", "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                metrics.rejected_connection();
                                info!(outcome = "rejected", "TLS handshake not finished in time");
                                return;
                            }
                        }
                    }
                };
                if let Err(error) = served {
                    metrics.rejected_connection();
                    // hyper answered or dropped it itself (a header block too
                    // large or malformed, or too slow to arrive), so the handler
                    // never saw a request: this is its one log line. hyper's
                    // messages name the fault, never the bytes.
                    info!(%error, outcome = "rejected", "connection");
                }
            };
            tokio::select! {
                () = connection => {}
                () = unread_at_stop(stopping, &request_read) => {
                    rejected.rejected_connection();
                    info!(outcome = "rejected", "connection closed at shutdown before its request arrived");
                }
            }
        });
    }
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

/// The handlers of one configuration, sharing one service.
#[derive(Clone)]
struct Handlers {
    service: Arc<Service>,
    api: Arc<Handler>,
    admin: Arc<Handler>,
    /// For the API listeners, when `http.tls_cert_file` is set.
    tls: Option<TlsAcceptor>,
}

/// The handlers of `settings`; `previous` is the service they replace on a reload.
fn handlers_for(
    settings: Settings,
    has_admin: bool,
    metrics: &Arc<Metrics>,
    previous: Option<&Service>,
    workers: usize,
) -> Arc<Handlers> {
    let http = settings.http.clone();
    let service = Arc::new(Service::new(settings, metrics.clone(), previous, workers));
    Arc::new(Handlers {
        service: service.clone(),
        api: Arc::new(Handler::new(service.clone(), &http, Role::Api { health: !has_admin })),
        admin: Arc::new(Handler::new(service, &http, Role::Admin)),
        tls: http.tls.map(TlsAcceptor::from),
    })
}
