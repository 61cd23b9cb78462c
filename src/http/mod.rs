//! The HTTP server Prosody talks to: one connection per request, a deadline
//! on each, and a graceful drain on shutdown. Knows nothing of LDAP: each
//! request becomes a [`Call`](crate::protocol::Call) for the [`Service`].

mod acceptor;
mod admin;
pub mod admission;
mod basic_auth;
mod handler;
pub mod params;
pub mod response;
pub mod sockets;
pub mod tls;

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::service::Service;
use acceptor::Acceptor;
use admission::{Admission, Limits};
use handler::{Handler, Role};

/// How long requests in flight may take to finish once shutdown begins,
/// beyond their own deadline.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// Connections open at once on the admin listener: enough for any number
/// of probes and scrapes, and a bound on what they can hold.
const ADMIN_CONNECTIONS: Limits = Limits { open: 64, incomplete: 64, incomplete_per_address: 0 };

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
    let api_limits = Limits {
        open: settings.http.max_connections,
        incomplete: settings.http.max_incomplete_connections,
        incomplete_per_address: settings.http.max_incomplete_per_address,
    };
    let handlers =
        |settings, previous: Option<&Service>| handlers_for(settings, has_admin, &metrics, previous, workers);
    let current = Arc::new(RwLock::new(handlers(settings, None)));
    let graceful = Arc::new(GracefulShutdown::new());
    let api = Role::Api { health: !has_admin };
    // The API listeners share one set of bounds on open connections, which
    // bounds the memory that slow or idle clients can hold; the admin
    // listener has its own, so probes still get through while the API is
    // flooded.
    let api_admission = Admission::new(api_limits, Some(metrics.clone()));
    let (stop, stopping) = watch::channel(false);
    let admin_admission = Admission::new(ADMIN_CONNECTIONS, None);
    // Each listener has a task that accepts and starts each connection's
    // task itself: a hop through another task per connection costs a
    // wake-up, often on another thread, and Prosody opens one per request.
    let acceptors: Vec<_> = listeners
        .into_iter()
        .map(|listening| (listening, api, api_admission.clone()))
        .chain(admin.map(|admin| (admin, Role::Admin, admin_admission)))
        .map(|(Listening { listener, runtime }, role, admission)| {
            let acceptor = Acceptor {
                role,
                admission,
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

/// The handlers of one configuration, sharing one service.
#[derive(Clone)]
struct Handlers {
    service: Arc<Service>,
    api: Arc<Handler>,
    admin: Arc<Handler>,
    /// For the API listeners, when `http.tls_cert_file` is set.
    tls: Option<TlsAcceptor>,
    /// `http.header_timeout`.
    header_timeout: Duration,
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
        header_timeout: http.header_timeout,
    })
}
