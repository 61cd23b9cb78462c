//! `auth-http-ldap logins show|clear USER`: asks the running service, on
//! its admin listener (`http.admin_listen`), what its login guard holds
//! for a user, or clears it, and says so in words. Knows the routes of
//! `http::admin`, and nothing of the guard itself: the service's memory is
//! the only one there is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use humantime_serde::re::humantime;
use hyper::client::conn::http1;
use hyper::header::HOST;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::net::TcpStream;

use crate::config::Http;
use crate::logins::UserState;

/// The `logins` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum LoginsCommand {
    /// Show what the running service's login guard holds for USER: failed
    /// logins counted, whether new passwords are refused and until when,
    /// and how many wrong passwords it answers without the directory.
    Show {
        /// The user name as Prosody sends it: the localpart of the JID.
        user: String,
        /// Only in this XMPP domain; without it, in every domain.
        #[arg(long, value_name = "DOMAIN")]
        server: Option<String>,
    },
    /// Clear what the running service's login guard holds for USER, so that
    /// their next login goes to the directory (after the account was
    /// unlocked there, say).
    Clear {
        /// The user name as Prosody sends it: the localpart of the JID.
        user: String,
        /// Only in this XMPP domain; without it, in every domain.
        #[arg(long, value_name = "DOMAIN")]
        server: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    #[error(
        "http.admin_listen is not set: the running service shows and clears the login guard's state only there; set it (e.g. admin_listen = \"127.0.0.1:5282\") and restart the service"
    )]
    NotConfigured,
    #[error(
        "http.admin_listen is {0} in the configuration: the port the service was given cannot be known; set a fixed port"
    )]
    NoPort(SocketAddr),
    #[error(
        "could not connect to the admin listener at {address} (http.admin_listen): {cause}; is the service running?"
    )]
    Unreachable { address: SocketAddr, cause: String },
    #[error("no answer from the admin listener at {address} within {TIMEOUT:?}")]
    Timeout { address: SocketAddr },
    #[error("the admin listener at {address} refused the request ({status}): {why}")]
    Refused { address: SocketAddr, status: StatusCode, why: String },
    #[error("the admin listener at {address} gave an answer this command cannot read: {why}")]
    Unreadable { address: SocketAddr, why: String },
    #[error("cannot start the client: {0}")]
    Runtime(std::io::Error),
}

impl AdminClientError {
    /// As sysexits: 78 for the configuration, 69 for a service that cannot
    /// be reached, 1 for a request it refused.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            AdminClientError::NotConfigured | AdminClientError::NoPort(_) => ExitCode::from(78),
            AdminClientError::Unreachable { .. } | AdminClientError::Timeout { .. } => ExitCode::from(69),
            AdminClientError::Refused { .. }
            | AdminClientError::Unreadable { .. }
            | AdminClientError::Runtime(_) => ExitCode::FAILURE,
        }
    }
}

/// The whole exchange, connection included, is bounded by this.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Every byte but the unreserved ones (RFC 3986) is encoded, `/` included.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Runs `command` against the service that `http` configures, printing
/// the outcome: the answer on standard output, a failure on standard error.
pub fn run(http: &Http, command: &LoginsCommand) -> ExitCode {
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AdminClientError::Runtime)
        .and_then(|runtime| runtime.block_on(ask(http, command)));
    match outcome {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("auth-http-ldap: {error}");
            error.exit_code()
        }
    }
}

/// What the service answered to `command`, in words.
pub async fn ask(http: &Http, command: &LoginsCommand) -> Result<String, AdminClientError> {
    let address = admin_address(http)?;
    let (method, user, server) = match command {
        LoginsCommand::Show { user, server } => (Method::GET, user, server.as_deref()),
        LoginsCommand::Clear { user, server } => (Method::DELETE, user, server.as_deref()),
    };
    let states = request(address, method.clone(), &path(server, user)).await?;
    Ok(describe(&states, user, server, method == Method::DELETE))
}

/// Where to reach the admin listener: an unspecified address (all
/// interfaces) is reached on loopback.
pub fn admin_address(http: &Http) -> Result<SocketAddr, AdminClientError> {
    let configured = http.admin_listen.ok_or(AdminClientError::NotConfigured)?;
    if configured.port() == 0 {
        return Err(AdminClientError::NoPort(configured));
    }
    let ip = match configured.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(SocketAddr::new(ip, configured.port()))
}

/// The route of `http::admin` for `user`, in `server` or in every domain.
pub fn path(server: Option<&str>, user: &str) -> String {
    let user = utf8_percent_encode(user, SEGMENT);
    match server {
        Some(server) => format!("/logins/{}/{user}", utf8_percent_encode(server, SEGMENT)),
        None => format!("/logins/{user}"),
    }
}

/// One request on a connection of its own: hyper's connection-level
/// client, as there is nothing to pool and no name to resolve.
async fn request(
    address: SocketAddr,
    method: Method,
    path: &str,
) -> Result<Vec<UserState>, AdminClientError> {
    let unreachable = |cause: String| AdminClientError::Unreachable { address, cause };
    let unreadable = |why: String| AdminClientError::Unreadable { address, why };
    let exchange = async {
        let stream = TcpStream::connect(address).await.map_err(|e| unreachable(e.to_string()))?;
        let (mut sender, connection) =
            http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(e.to_string()))?;
        // Drives the connection; it ends when the service closes it after its answer.
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, address.to_string())
            .body(Empty::<Bytes>::new())
            .map_err(|e| unreadable(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| unreachable(e.to_string()))?.to_bytes();
        if !status.is_success() {
            let why = String::from_utf8_lossy(&body).trim().to_owned();
            return Err(AdminClientError::Refused { address, status, why });
        }
        serde_json::from_slice(&body).map_err(|e| unreadable(e.to_string()))
    };
    tokio::time::timeout(TIMEOUT, exchange).await.unwrap_or(Err(AdminClientError::Timeout { address }))
}

/// The states in words, one paragraph per domain.
pub fn describe(states: &[UserState], user: &str, server: Option<&str>, cleared: bool) -> String {
    let whom = match server {
        Some(server) => format!("{user} in {server}"),
        None => user.to_owned(),
    };
    let held: Vec<&UserState> = states.iter().filter(|state| !state.is_clean()).collect();
    if held.is_empty() {
        let what = if cleared { "nothing to clear" } else { "nothing held" };
        return format!("{whom}: {what}; the next login goes to the directory.\n");
    }
    let mut text = String::new();
    for state in held {
        let heading = if cleared { "cleared" } else { "held" };
        text.push_str(&format!("{} in {}: {heading}\n", state.user, state.server));
        text.push_str(&format!("  failed logins counted: {}", state.failures));
        match state.budget {
            0 => text.push_str(" (no budget set: new passwords still reach the directory)"),
            budget => text.push_str(&format!(" of a budget of {budget}")),
        }
        if let Some(last) = state.last_failure {
            text.push_str(&format!(", the last at {}", time(last)));
        }
        text.push('\n');
        if state.throttled {
            let until = state.throttled_until.map_or_else(|| "further notice".to_owned(), time);
            let now = if cleared { "was" } else { "is" };
            text.push_str(&format!(
                "  every new password {now} answered false without the directory until {until}\n"
            ));
        }
        text.push_str(&format!(
            "  wrong passwords answered false without the directory while retried: {}\n",
            state.wrong_passwords_remembered
        ));
        if state.right_password_remembered {
            text.push_str("  a right password is answered true without a bind\n");
        }
    }
    if cleared {
        text.push_str("The next login goes to the directory.\n");
    }
    text
}

fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(admin_listen: &str) -> Http {
        Http { admin_listen: Some(admin_listen.parse().unwrap()), ..Http::default() }
    }

    #[test]
    fn paths_encode_every_reserved_byte() {
        assert_eq!(path(None, "romeo"), "/logins/romeo");
        assert_eq!(path(Some("example.com"), "a/b c%é"), "/logins/example.com/a%2Fb%20c%25%C3%A9");
    }

    #[test]
    fn the_admin_address_is_reached_on_loopback_when_it_listens_everywhere() {
        assert_eq!(admin_address(&http("0.0.0.0:5282")).unwrap(), "127.0.0.1:5282".parse().unwrap());
        assert_eq!(admin_address(&http("[::]:5282")).unwrap(), "[::1]:5282".parse().unwrap());
        assert_eq!(admin_address(&http("192.0.2.1:5282")).unwrap(), "192.0.2.1:5282".parse().unwrap());
        assert!(matches!(admin_address(&http("127.0.0.1:0")), Err(AdminClientError::NoPort(_))));
        assert!(matches!(admin_address(&Http::default()), Err(AdminClientError::NotConfigured)));
    }

    #[test]
    fn states_are_told_in_words() {
        let state = UserState {
            server: "example.com".into(),
            user: "romeo".into(),
            failures: 3,
            last_failure: Some(SystemTime::UNIX_EPOCH),
            budget: 3,
            throttled: true,
            throttled_until: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(900)),
            wrong_passwords_remembered: 2,
            right_password_remembered: false,
        };
        let text = describe(&[state], "romeo", None, false);
        assert!(
            text.contains("failed logins counted: 3 of a budget of 3, the last at 1970-01-01T00:00:00Z"),
            "{text}"
        );
        assert!(text.contains("without the directory until 1970-01-01T00:15:00Z"), "{text}");
        assert!(text.contains("while retried: 2"), "{text}");
        assert_eq!(
            describe(&[], "romeo", Some("example.com"), true),
            "romeo in example.com: nothing to clear; the next login goes to the directory.\n"
        );
    }
}
