//! `test-login`: one login made exactly as `check_password` would make it
//! for a host, through the service's own code, with every step printed and
//! the answer Prosody would get last.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt;

use super::printed::Printed;
use crate::config::{HostSettings, Hosts, Settings};
use crate::http::response;
use crate::metrics::Metrics;
use crate::protocol::{Call, Method, Outcome};
use crate::service::Service;

/// How a trial login ended, as the command's exit status tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Prosody would get `true`.
    True,
    /// Prosody would get `false`.
    False,
    /// The directory could not answer: Prosody would get 503 or 500.
    NoAnswer,
}

impl Answer {
    pub fn exit_code(self) -> u8 {
        match self {
            Answer::True => 0,
            Answer::False => 1,
            Answer::NoAnswer => 2,
        }
    }
}

/// Why no trial could be made.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    #[error("this configuration has [hosts] tables: give the XMPP domain with --server (one of: {0})")]
    ServerRequired(String),
    #[error("{0:?} is not one of this configuration's [hosts] tables (they are: {1})")]
    UnknownServer(String, String),
}

/// Logs `user` of `server` in with `password`, printing each step to
/// standard output. Runs on the caller's runtime.
pub async fn test_login(
    settings: Settings,
    user: &str,
    server: Option<&str>,
    password: String,
) -> Result<Answer, Unusable> {
    let server = chosen_server(&settings, server)?;
    if let Some(host) = settings.host(&server) {
        describe(&settings, host, &server);
    }
    let printing = tracing_subscriber::registry().with(Printed::new());
    let _printing = tracing::subscriber::set_default(printing);
    // A service of its own, with one worker: its pools and its login guard
    // start empty, so every step is taken and shown.
    let service = Service::new(settings, Arc::new(Metrics::new()), None, 1);
    let call = Call {
        method: Method::CheckPassword,
        user: user.to_owned(),
        password: Some(password),
        server,
        client: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let outcome = service.call(&call).await;
    let reply = response::from_outcome(&outcome);
    let status = reply.status().as_u16();
    let (answer, said) = match &outcome {
        Outcome::Yes | Outcome::Stale(_) => (Answer::True, "true: the password is right".to_owned()),
        Outcome::No(reason) => (Answer::False, format!("false: {reason}")),
        Outcome::Unavailable(cause) => (Answer::NoAnswer, format!("the directory did not answer: {cause}")),
        Outcome::Failed(cause) => {
            (Answer::NoAnswer, format!("the directory answered with an error: {cause}"))
        }
        other => (Answer::NoAnswer, format!("{} (not a login's answer)", other.label())),
    };
    println!("Prosody would get {status} {said}");
    Ok(answer)
}

/// The XMPP domain to log in to: the one given, which the configuration
/// must serve, or none when every domain has the same settings.
fn chosen_server(settings: &Settings, server: Option<&str>) -> Result<String, Unusable> {
    let names = || match &settings.hosts {
        Hosts::Named { hosts } => hosts.keys().cloned().collect::<Vec<_>>().join(", "),
        Hosts::Any(_) => String::new(),
    };
    match (&settings.hosts, server) {
        (Hosts::Any(_), server) => Ok(server.unwrap_or_default().to_owned()),
        (Hosts::Named { .. }, None) => Err(Unusable::ServerRequired(names())),
        (Hosts::Named { hosts }, Some(server)) if hosts.contains_key(server) => Ok(server.to_owned()),
        (Hosts::Named { .. }, Some(server)) => Err(Unusable::UnknownServer(server.to_owned(), names())),
    }
}

/// The settings the login will use, before it starts.
fn describe(settings: &Settings, host: &HostSettings, server: &str) {
    match &settings.hosts {
        Hosts::Any(_) => println!("settings: the same for every XMPP domain (no [hosts] tables)"),
        Hosts::Named { .. } => println!("settings: the [hosts.\"{server}\"] table"),
    }
    let servers: Vec<&str> = settings.ldap.url.iter().map(|url| url.as_str()).collect();
    println!("directory: {} (ldap.directory = {})", servers.join(", "), settings.ldap.directory.name());
    let users = &host.users;
    match &users.bind_dn_template {
        Some(template) => println!("users: bind directly to {}", String::from(template.clone())),
        None => println!(
            "users: search under {:?}, scope {}, filter {}",
            users.base_dn,
            format!("{:?}", users.scope).to_lowercase(),
            String::from(users.filter.clone())
        ),
    }
    if let Some(group) = &users.require_group {
        println!("users: must be members of {group}");
    }
}
