//! Listening sockets for the workers ([`crate::workers`]): each worker
//! accepts on sockets of its own, so that a connection is accepted, served
//! and closed by one thread.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::Handle;

use super::Listening;

/// Connections waiting to be accepted, as tokio's own `TcpListener::bind`.
const BACKLOG: u32 = 1024;

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
pub fn shared(listener: std::net::TcpListener, workers: &[Handle]) -> io::Result<Vec<Listening>> {
    listener.set_nonblocking(true)?;
    workers.iter().map(|runtime| on(listener.try_clone()?, runtime)).collect()
}

/// `listener`, accepted on by `runtime`.
pub fn on(listener: std::net::TcpListener, runtime: &Handle) -> io::Result<Listening> {
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
