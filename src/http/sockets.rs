//! The listening sockets the workers ([`crate::workers`]) accept on. With
//! `http.listen`, each worker has a socket of its own for each address, so
//! that a connection is accepted, served and closed by one thread; the
//! sockets systemd passes are shared; the admin listener is the first
//! worker's.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::Handle;
use tracing::{error, info, warn};

use super::{Listening, Sockets};
use crate::config::Settings;
use crate::systemd;

/// Where the API's sockets came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Systemd,
    Listen,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Systemd => "systemd socket",
            Origin::Listen => "http.listen",
        }
    }
}

/// Connections waiting to be accepted, as tokio's own `TcpListener::bind`.
const BACKLOG: u32 = 1024;

/// The sockets to serve on, for the workers whose runtimes are `runtimes`:
/// those systemd passed (socket activation), which win over `http.listen`,
/// or else `http.listen`'s; and `http.admin_listen`'s. Each bound address
/// is logged; `None` once the reason it cannot serve is.
pub fn open(settings: &Settings, runtimes: &[Handle]) -> Option<Sockets> {
    let (api, from) = api(settings, runtimes)?;
    let admin = match settings.http.admin_listen {
        Some(address) => match bind(address, &runtimes[..1]) {
            Ok(mut admin) => {
                let admin = admin.remove(0);
                let listen = admin.listener.local_addr().unwrap_or(address);
                info!(%listen, "serving /health, /ready and /metrics");
                Some(admin)
            }
            Err(e) => {
                error!(error = %e, %address, "cannot listen (http.admin_listen)");
                return None;
            }
        },
        None => None,
    };
    // The bound addresses, which differ from http.listen where a port is 0.
    for group in &api {
        if let Some(Ok(listen)) = group.first().map(|listening| listening.listener.local_addr()) {
            info!(%listen, from = from.as_str(), workers = group.len(), https = settings.http.tls.is_some(), directory = %settings.ldap.url, version = env!("CARGO_PKG_VERSION"), "serving");
            // http.listen's addresses are warned about with the configuration.
            if from == Origin::Systemd && settings.http.tls.is_none() && !listen.ip().is_loopback() {
                warn!(%listen, "the socket systemd passed is beyond loopback and serves without TLS: passwords from Prosody cross the network in clear text; set http.tls_cert_file and http.tls_key_file");
            }
        }
    }
    Some(Sockets { api: api.into_iter().flatten().collect(), admin, workers: runtimes.len() })
}

/// The API's sockets, one group per address, and where they came from.
fn api(settings: &Settings, runtimes: &[Handle]) -> Option<(Vec<Vec<Listening>>, Origin)> {
    let unusable = |e: io::Error| error!(error = %e, "cannot use the sockets systemd passed");
    let inherited = systemd::inherited_listeners().map_err(unusable).ok()?;
    if !inherited.is_empty() {
        let shared = inherited.into_iter().map(|listener| shared(listener, runtimes));
        return Some((shared.collect::<io::Result<_>>().map_err(unusable).ok()?, Origin::Systemd));
    }
    let groups = settings.http.listen.0.iter().map(|&address| {
        bind(address, runtimes).map_err(|e| error!(error = %e, %address, "cannot listen (http.listen)"))
    });
    Some((groups.collect::<Result<_, _>>().ok()?, Origin::Listen))
}

/// One socket listening on `address` for each of `workers`. With more than
/// one worker they form one `SO_REUSEPORT` group, and the kernel spreads
/// new connections over them.
///
/// A group would also take in a socket of another process of the same
/// user bound to the same address, and share the connections with it, so
/// the address is first bound alone: if anything listens there already,
/// this fails as a plain bind would. A port of 0 is chosen then, once for
/// the whole group.
pub fn bind(address: SocketAddr, workers: &[Handle]) -> io::Result<Vec<Listening>> {
    let address = bound(address, false)?.local_addr()?;
    let group = workers.len() > 1;
    workers
        .iter()
        .map(|runtime| {
            let socket = bound(address, group)?;
            let _registered_with = runtime.enter();
            Ok(Listening { listener: socket.listen(BACKLOG)?, runtime: runtime.clone() })
        })
        .collect()
}

/// A socket bound to `address`. `SO_REUSEADDR`, as tokio's own bind sets
/// it, lets a restart bind while the last run's connections linger in
/// TIME_WAIT; on Linux it never lets two sockets listen on one address.
fn bound(address: SocketAddr, reuse_port: bool) -> io::Result<TcpSocket> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(reuse_port)?;
    socket.bind(address)?;
    Ok(socket)
}

/// `listener` (as systemd passes it) accepted on by each of `workers`,
/// through a duplicate of its descriptor each: the kernel has one queue
/// for them, and wakes each worker for each connection, one of which takes it.
fn shared(listener: std::net::TcpListener, workers: &[Handle]) -> io::Result<Vec<Listening>> {
    workers.iter().map(|runtime| on(listener.try_clone()?, runtime)).collect()
}

/// `listener`, accepted on by `runtime`.
fn on(listener: std::net::TcpListener, runtime: &Handle) -> io::Result<Listening> {
    listener.set_nonblocking(true)?;
    let _registered_with = runtime.enter();
    Ok(Listening { listener: TcpListener::from_std(listener)?, runtime: runtime.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::Workers;

    #[test]
    fn a_group_shares_one_port_and_refuses_an_address_in_use() {
        let workers = Workers::start(2).expect("workers");
        let group = bind("127.0.0.1:0".parse().unwrap(), workers.handles()).expect("bound");
        let ports: Vec<u16> = group.iter().map(|l| l.listener.local_addr().unwrap().port()).collect();
        assert_eq!(ports.len(), 2);
        assert_eq!(ports[0], ports[1], "one group on one port");
        // Another group, as a second instance would make, is refused.
        let taken = SocketAddr::from(([127, 0, 0, 1], ports[0]));
        let error = bind(taken, workers.handles()).err().expect("refused");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        drop(group);
    }
}
