//! The byte stream under a connection: TCP, TLS over TCP (`ldaps://`, or
//! after StartTLS), or a Unix socket (`ldapi://`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub(crate) enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Unix(UnixStream),
}

/// Where a URL points, and whether TLS starts at once.
pub(crate) enum Endpoint {
    Tcp { host: url::Host<String>, port: u16, tls: bool },
    Unix(String),
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> io::Result<Endpoint> {
        let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {why}"));
        let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        let host = || parsed.host().map(|host| host.to_owned()).ok_or_else(|| invalid("no host"));
        match parsed.scheme() {
            "ldap" => Ok(Endpoint::Tcp { host: host()?, port: parsed.port().unwrap_or(389), tls: false }),
            "ldaps" => Ok(Endpoint::Tcp { host: host()?, port: parsed.port().unwrap_or(636), tls: true }),
            "ldapi" => {
                let path = parsed.host_str().unwrap_or_default();
                Ok(Endpoint::Unix(
                    percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned(),
                ))
            }
            _ => Err(invalid("not an ldap, ldaps or ldapi URL")),
        }
    }

    /// The name the server's certificate must carry.
    pub(crate) fn server_name(&self) -> io::Result<ServerName<'static>> {
        let Endpoint::Tcp { host, .. } = self else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "TLS over a Unix socket"));
        };
        Ok(match host {
            url::Host::Domain(name) => ServerName::try_from(name.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?,
            url::Host::Ipv4(ip) => ServerName::IpAddress((*ip).into()),
            url::Host::Ipv6(ip) => ServerName::IpAddress((*ip).into()),
        })
    }

    pub(crate) async fn connect(&self) -> io::Result<Stream> {
        match self {
            Endpoint::Tcp { host, port, .. } => {
                let stream = match host {
                    url::Host::Domain(name) => TcpStream::connect((name.as_str(), *port)).await?,
                    url::Host::Ipv4(ip) => TcpStream::connect((*ip, *port)).await?,
                    url::Host::Ipv6(ip) => TcpStream::connect((*ip, *port)).await?,
                };
                // Every message goes out in one write and waits for its
                // answer: holding a write back for an ACK only adds latency.
                stream.set_nodelay(true)?;
                Ok(Stream::Tcp(stream))
            }
            Endpoint::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
        }
    }
}

impl Stream {
    /// The same connection, with TLS from here on.
    pub(crate) async fn start_tls(
        self,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<Stream> {
        match self {
            Stream::Tcp(tcp) => {
                Ok(Stream::Tls(Box::new(TlsConnector::from(config).connect(name, tcp).await?)))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TLS is only started on a plain TCP connection",
            )),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, data),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, data),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
