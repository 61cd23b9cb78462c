//! Opening a connection to the first directory server that answers: the
//! servers in their configured order, a server that failed passed over for
//! a while (then tried again in its place, so service falls back to the
//! first), and TLS or StartTLS as configured.

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult};
use rustls::ClientConfig;
use tracing::{debug, info, warn};

use super::error::{DirectoryError, Meaning, meaning};
use super::tls;
use crate::config::{self, ServiceAccount};
use crate::step;

pub(crate) struct Connector {
    servers: Vec<Server>,
    /// `Err` when the settings' TLS files could not make one: every
    /// connection then fails with it. The binary checks before it starts.
    tls: Result<Option<Arc<ClientConfig>>, String>,
    starttls: bool,
    connect_timeout: Duration,
    /// Applied to every operation: ldap3 waits forever otherwise.
    pub(crate) timeout: Duration,
    skip_failed_for: Duration,
}

struct Server {
    url: String,
    /// When the server last failed; `None` while it answers.
    failed_at: Mutex<Option<Instant>>,
}

/// A new connection, and which server it is to.
pub(crate) struct Opened {
    pub(crate) connection: Ldap,
    pub(crate) server: usize,
}

impl Connector {
    pub(crate) fn new(settings: &config::Ldap) -> Self {
        Connector {
            servers: settings
                .url
                .iter()
                .map(|url| Server { url: url.to_string(), failed_at: Mutex::new(None) })
                .collect(),
            tls: tls::client_config(settings).map_err(|e| format!("{}: {e}", e.key())),
            starttls: settings.starttls,
            connect_timeout: settings.connect_timeout,
            timeout: settings.timeout,
            skip_failed_for: settings.skip_failed_server_for,
        }
    }

    /// Connects to the first server that answers, bound as `account` when
    /// given (anonymous otherwise). A server that cannot be reached, or does
    /// not answer the bind in time, is marked failed and the next is tried;
    /// a refused bind is returned at once, as every server would refuse it.
    pub(crate) async fn open(&self, account: Option<&ServiceAccount>) -> Result<Opened, DirectoryError> {
        let mut last_error = None;
        for server in self.candidates() {
            step!("connecting to {} ({})", self.servers[server].url, self.why_chosen(server));
            match self.open_on(server, account).await {
                Ok(connection) => {
                    self.mark_answering(server);
                    return Ok(Opened { connection, server });
                }
                Err(error @ DirectoryError::Unavailable(_)) => {
                    self.mark_failed(server, &error);
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error
            .unwrap_or_else(|| DirectoryError::Unavailable("no directory server configured".into())))
    }

    /// Server indexes in the order to try them: those answering (or whose
    /// time out is over) in the configured order, then those still passed over.
    fn candidates(&self) -> Vec<usize> {
        let (passed_over, answering): (Vec<usize>, Vec<usize>) =
            (0..self.servers.len()).partition(|&server| self.is_passed_over(server));
        answering.into_iter().chain(passed_over).collect()
    }

    pub(crate) fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// Why `server` is the one tried now, in words.
    fn why_chosen(&self, server: usize) -> &'static str {
        match (server, self.is_passed_over(server)) {
            (0, false) => "the first in ldap.url",
            (_, false) => "those before it in ldap.url failed within ldap.skip_failed_server_for",
            (_, true) => "it failed recently, but every server before it failed too",
        }
    }

    /// The server a new connection would go to first: a connection to any
    /// other is worth replacing, which is how service falls back to the
    /// first server once it is back.
    pub(crate) fn preferred(&self) -> usize {
        (0..self.servers.len()).find(|&server| !self.is_passed_over(server)).unwrap_or(0)
    }

    /// Whether `server` failed recently enough to be passed over.
    pub(crate) fn is_passed_over(&self, server: usize) -> bool {
        self.failed_at(server).is_some_and(|at| at.elapsed() < self.skip_failed_for)
    }

    pub(crate) fn url(&self, server: usize) -> &str {
        &self.servers[server].url
    }

    /// Each server's URL, and whether it is in use (not passed over).
    pub(crate) fn health(&self) -> Vec<(String, bool)> {
        (0..self.servers.len())
            .map(|server| (self.servers[server].url.clone(), !self.is_passed_over(server)))
            .collect()
    }

    fn failed_at(&self, server: usize) -> Option<Instant> {
        *self.servers[server].failed_at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection to `server` alone, bound as `account` when given.
    /// Leaves no mark on the server's health: failover is [`Connector::open`]'s.
    pub(crate) async fn open_on(
        &self,
        server: usize,
        account: Option<&ServiceAccount>,
    ) -> Result<Ldap, DirectoryError> {
        let url = &self.servers[server].url;
        let mut settings =
            LdapConnSettings::new().set_conn_timeout(self.connect_timeout).set_starttls(self.starttls);
        match &self.tls {
            Ok(Some(tls)) => settings = settings.set_config(tls.clone()),
            Ok(None) => {}
            Err(e) => return Err(DirectoryError::Unavailable(format!("could not connect to {url}: {e}"))),
        }
        // ldap3's connect timeout covers the TCP connect only; this covers
        // the TLS handshake and StartTLS too. A failed StartTLS is an error
        // here: ldap3 never falls back to plain text.
        let started = Instant::now();
        let (conn, mut ldap) = self.connect(url, LdapConnAsync::with_settings(settings, url)).await?;
        step!("connected to {url} in {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                debug!(error = %e, "directory connection ended");
            }
        });
        // A server that failed must answer LDAP before it counts as back: a
        // frozen one still accepts TCP connections. The service account's
        // bind is such an answer; without one, read the root DSE.
        if account.is_none() && self.failed_at(server).is_some() {
            let probe = ldap.with_timeout(self.timeout).search(
                "",
                ldap3::Scope::Base,
                "(objectClass=*)",
                vec!["1.1"],
            );
            if let Err(e) = probe.await {
                return Err(DirectoryError::Unavailable(format!("{url} still does not answer: {e}")));
            }
        }
        if let Some(account) = account {
            let result = ldap
                .with_timeout(self.timeout)
                .simple_bind(&account.dn, account.password.expose())
                .await
                .map_err(|e| DirectoryError::from_client(SERVICE_BIND, e))?;
            service_bind_succeeded(&result, account, url)?;
            step!("bound as the service account, {}", account.dn);
        }
        Ok(ldap)
    }

    /// `connecting` to `url`, TLS and StartTLS included, within
    /// `ldap.connect_timeout`. Any failure is the server's.
    async fn connect<C>(
        &self,
        url: &str,
        connecting: impl Future<Output = Result<C, LdapError>>,
    ) -> Result<C, DirectoryError> {
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(DirectoryError::Unavailable(format!(
                "could not connect to {url}: {}",
                why_not_connected(&e)
            ))),
            Err(_) => {
                let waited = self.connect_timeout;
                Err(DirectoryError::Unavailable(format!(
                    "could not connect to {url}: no answer within {waited:?}"
                )))
            }
        }
    }

    /// Passes over `server` for a while. Logged once per outage, not per request.
    pub(crate) fn mark_failed(&self, server: usize, why: &dyn std::fmt::Display) {
        let entry = &self.servers[server];
        let mut failed_at = entry.failed_at.lock().unwrap_or_else(|e| e.into_inner());
        if failed_at.is_none() {
            warn!(server = %entry.url, error = %why, "directory server failed; passing over it for {:?}", self.skip_failed_for);
        }
        *failed_at = Some(Instant::now());
    }

    fn mark_answering(&self, server: usize) {
        let entry = &self.servers[server];
        let mut failed_at = entry.failed_at.lock().unwrap_or_else(|e| e.into_inner());
        if failed_at.take().is_some() {
            info!(server = %entry.url, "directory server answers again");
        }
    }
}

const SERVICE_BIND: &str = "service account bind";

/// `Ok` if the service account's bind succeeded; otherwise the error, and
/// a warning naming the settings to check, as the bind will fail the same
/// way on every server.
fn service_bind_succeeded(
    result: &LdapResult,
    account: &ServiceAccount,
    url: &str,
) -> Result<(), DirectoryError> {
    if meaning(result.rc) == Meaning::Success {
        return Ok(());
    }
    let error = DirectoryError::from_result(SERVICE_BIND, result);
    warn!(%error, bind_dn = %account.dn, server = %url, "the service account cannot bind; check ldap.bind_dn and its password");
    Err(error)
}

/// Why a connection could not be opened, in words: a refused certificate
/// as [`tls::Refusal`] tells it, never as rustls's `Debug` rendering.
fn why_not_connected(error: &LdapError) -> String {
    if let Some(refusal) = tls::refusal_in(error) {
        return refusal.to_string();
    }
    match error {
        LdapError::Io { source } => source.to_string(),
        other => other.to_string(),
    }
}
