//! A connection of our own for the login path's LDAP operations: a simple
//! bind, and a search that returns DNs. It carries one operation at a
//! time, and that operation runs on the caller's task: the request is
//! written, and the answer read, by the task that asked.
//!
//! ldap3's connections multiplex: a driver task owns the socket, and each
//! operation goes to it through a channel and comes back through another,
//! two hand-offs between tasks (often between threads) per operation. On
//! a connection that only ever carries one operation at a time that buys
//! nothing, and it costs CPU time on every login (see the README's
//! Performance section).
//!
//! - `ber`: the BER encoding, as far as these messages need it.
//! - `filter`: search filters.
//! - `message`: the requests and responses.
//! - `stream`: TCP, TLS, StartTLS and Unix sockets.

pub(super) mod ber;
mod filter;
mod message;
mod stream;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use ldap3::LdapResult;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

pub(crate) use filter::Filter;
pub(crate) use message::SearchScope;
use message::{Body, Response};
use stream::{Endpoint, Stream};

/// No answer on the login path comes near this: a bind response, or a
/// search's few DNs. A server that sends more is not believed.
const LARGEST_MESSAGE: usize = 256 * 1024;

pub(crate) struct Connection {
    stream: Stream,
    /// Bytes read but not yet taken as a message.
    received: Vec<u8>,
    last_id: i32,
}

#[derive(Debug)]
pub(crate) enum WireError {
    Io(io::Error),
    /// The server closed the connection, or said it would.
    Closed,
    /// The server sent something that is not the expected LDAP.
    Protocol(&'static str),
    /// StartTLS was refused; the connection never carries anything in clear.
    StartTlsRefused(LdapResult),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Io(e) => write!(f, "{e}"),
            WireError::Closed => f.write_str("the server closed the connection"),
            WireError::Protocol(why) => write!(f, "protocol error: {why}"),
            WireError::StartTlsRefused(result) => write!(f, "StartTLS refused: {result}"),
        }
    }
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

impl Connection {
    /// Connects to `url`; with TLS for `ldaps://`, and with StartTLS first
    /// when `starttls` is set for an `ldap://` URL.
    pub(crate) async fn open(
        url: &str,
        tls: Option<&Arc<ClientConfig>>,
        starttls: bool,
    ) -> Result<Connection, WireError> {
        let endpoint = Endpoint::parse(url)?;
        let mut connection =
            Connection { stream: endpoint.connect().await?, received: Vec::new(), last_id: 0 };
        let tls_now = matches!(endpoint, Endpoint::Tcp { tls: true, .. });
        let tls_after_starttls = starttls && matches!(endpoint, Endpoint::Tcp { tls: false, .. });
        if !(tls_now || tls_after_starttls) {
            return Ok(connection);
        }
        let config = tls.ok_or(WireError::Protocol("TLS wanted but not configured"))?.clone();
        if tls_after_starttls {
            let id = connection.next_id();
            connection.send(&message::starttls_request(id)).await?;
            let result = connection.result(id).await?;
            if result.rc != 0 {
                return Err(WireError::StartTlsRefused(result));
            }
        }
        let stream = connection.stream.start_tls(config, endpoint.server_name()?).await?;
        Ok(Connection { stream, ..connection })
    }

    /// A simple bind, with `controls` (by type, without values).
    pub(crate) async fn bind(
        &mut self,
        dn: &str,
        password: &str,
        controls: &[&str],
    ) -> Result<LdapResult, WireError> {
        let id = self.next_id();
        self.send(&message::bind_request(id, dn, password, controls)).await?;
        self.result(id).await
    }

    /// The DNs of the entries that `filter` matches, and the search's result.
    pub(crate) async fn search_dns(
        &mut self,
        base: &str,
        scope: SearchScope,
        filter: &Filter,
        size_limit: i32,
    ) -> Result<(Vec<String>, LdapResult), WireError> {
        let id = self.next_id();
        self.send(&message::search_request(id, base, scope, filter, size_limit)).await?;
        let mut dns = Vec::new();
        loop {
            match self.receive(id).await? {
                Body::Entry(dn) if size_limit == 0 || dns.len() < size_limit as usize => dns.push(dn),
                Body::Entry(_) => return Err(WireError::Protocol("more entries than the size limit")),
                Body::Reference => {}
                Body::Done(result) => return Ok((dns, result)),
                Body::Other => return Err(WireError::Protocol("unexpected response to a search")),
            }
        }
    }

    /// Whether the server has closed the connection (or sent a notice that
    /// it will) while it sat idle. Looks without waiting.
    pub(crate) fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        let mut context = Context::from_waker(Waker::noop());
        // Nothing is due on an idle connection: any byte, or the end of the
        // stream, or an error, means it is not fit for the next operation.
        !matches!(std::pin::Pin::new(&mut self.stream).poll_read(&mut context, &mut buf), Poll::Pending)
    }

    fn next_id(&mut self) -> i32 {
        self.last_id = if self.last_id == i32::MAX { 1 } else { self.last_id + 1 };
        self.last_id
    }

    async fn send(&mut self, message: &[u8]) -> Result<(), WireError> {
        self.stream.write_all(message).await?;
        // TLS holds records back until flushed.
        self.stream.flush().await?;
        Ok(())
    }

    /// The result of operation `id`, which must come next.
    async fn result(&mut self, id: i32) -> Result<LdapResult, WireError> {
        match self.receive(id).await? {
            Body::Done(result) => Ok(result),
            _ => Err(WireError::Protocol("expected a result")),
        }
    }

    /// The next message, which must belong to operation `id`: one operation
    /// at a time, so anything else is a protocol error (or the server's
    /// notice of disconnection, message 0).
    async fn receive(&mut self, id: i32) -> Result<Body, WireError> {
        let Response { id: received, body } = self.next_message().await?;
        match received {
            _ if received == id => Ok(body),
            0 => Err(WireError::Closed),
            _ => Err(WireError::Protocol("an answer to another request")),
        }
    }

    async fn next_message(&mut self) -> Result<Response, WireError> {
        loop {
            if let Some((_, _, end)) = ber::header(&self.received).map_err(WireError::Protocol)? {
                if end > LARGEST_MESSAGE {
                    return Err(WireError::Protocol("a message larger than any answer expected"));
                }
                if self.received.len() >= end {
                    let response =
                        message::parse_response(&self.received[..end]).map_err(WireError::Protocol)?;
                    self.received.drain(..end);
                    return Ok(response);
                }
            }
            self.received.reserve(4096);
            if self.stream.read_buf(&mut self.received).await? == 0 {
                return Err(WireError::Closed);
            }
        }
    }
}
