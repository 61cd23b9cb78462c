//! What systemd gives the service and expects back: a listening socket when
//! socket activation is used, and the READY and STOPPING notifications of a
//! `Type=notify` unit. Outside systemd both are silently absent.

use std::io;

use tracing::debug;

/// The listening sockets systemd passed (LISTEN_FDS); none outside it.
pub fn inherited_listeners() -> io::Result<Vec<std::net::TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    let mut listeners = Vec::new();
    for index in 0..fds.len() {
        if let Some(listener) = fds.take_tcp_listener(index)? {
            listeners.push(listener);
        }
    }
    Ok(listeners)
}

/// Tells systemd the service is ready: the configuration is valid and the
/// listener is bound.
pub fn notify_ready() {
    notify(sd_notify::NotifyState::Ready);
}

/// Tells systemd the service is stopping, so it waits for the drain.
pub fn notify_stopping() {
    notify(sd_notify::NotifyState::Stopping);
}

fn notify(state: sd_notify::NotifyState) {
    if let Err(error) = sd_notify::notify(&[state]) {
        debug!(%error, "could not notify systemd");
    }
}
