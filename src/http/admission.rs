//! Which connections a listener keeps open when clients hold many of them.
//!
//! Prosody writes each request whole on a new connection, so its
//! connections are *incomplete* (accepted, request not yet read) for a
//! moment only: a round trip or two more for a TLS handshake. A client that
//! opens connections and sends nothing, or a byte now and then, keeps its
//! connections incomplete. Such connections have a budget of their own
//! (`http.max_incomplete_connections`): when it is full, one is closed to
//! make room for the new one, so a new connection, Prosody's among them, is
//! always accepted and read. The one closed is the oldest of the *source*
//! holding the most incomplete connections, so that a remote Prosody with a
//! few handshakes under way keeps them while an attacker's thousands go
//! first. A connection leaves the budget once its whole request (headers and
//! body) has arrived, and is then served to the end.
//!
//! A source is an IPv4 address or an IPv6 /64, the block one host is
//! usually given. Beyond the budget, `http.max_connections` bounds all open
//! connections: when it is reached and none is incomplete, the new
//! connection is refused (closed at once). And
//! `http.max_incomplete_per_address` refuses a new connection from a source
//! that already holds that many incomplete ones, except from loopback, where
//! every local client, Prosody too, shares one address.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::metrics::Metrics;

/// How often, at most, each kind of warning is logged; each connection
/// closed or refused is logged at debug only, as an attack makes thousands
/// a second.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The bounds one listener (or group of listeners) applies.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// All open connections.
    pub open: usize,
    /// Connections whose request has not all arrived.
    pub incomplete: usize,
    /// Incomplete connections from one source other than loopback; 0 for no limit.
    pub incomplete_per_address: usize,
}

/// Why a new connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `http.max_connections` open, every one with its request read.
    Full,
    /// Its source holds `http.max_incomplete_per_address` incomplete connections.
    PerAddress,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Full => "max-connections",
            Refused::PerAddress => "max-incomplete-per-address",
        }
    }
}

/// Where connections come from, for counting: an IPv4 address (an IPv4
/// address seen through IPv6 included), or an IPv6 /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Source(IpAddr);

impl Source {
    fn of(client: IpAddr) -> Source {
        match client.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !(u128::MAX >> 64);
                Source(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Source(v4),
        }
    }

    fn is_loopback(self) -> bool {
        // ::1's /64 is ::, which no other host can use.
        self.0.is_loopback() || self.0 == IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    }
}

pub struct Admission {
    limits: Limits,
    state: Mutex<State>,
    metrics: Option<Arc<Metrics>>,
    /// When each kind of warning was last logged, in seconds since `started`.
    warned: [AtomicU64; 3],
    started: Instant,
}

/// The kinds of warning, as indices into `warned`.
const WARN_FULL: usize = 0;
const WARN_PER_ADDRESS: usize = 1;
const WARN_CLOSED_EARLY: usize = 2;

#[derive(Default)]
struct State {
    next_id: u64,
    /// Every open connection, by id.
    open: HashMap<u64, Entry>,
    /// The incomplete connections of each source that has any. Ids grow with
    /// time, so each set's first is that source's oldest.
    incomplete: HashMap<Source, BTreeSet<u64>>,
    /// Each source in `incomplete` by how many it holds, to find the largest.
    by_count: BTreeSet<(usize, Source)>,
    incomplete_total: usize,
}

struct Entry {
    source: Source,
    /// Never sent on: dropping it tells the connection to close.
    _close_when_dropped: oneshot::Sender<()>,
}

/// An admitted connection's place in its [`Admission`]; dropping it gives
/// the place up.
pub struct Admitted {
    arrival: Arrival,
    /// Completes when the connection is closed to make room for a newer one.
    pub closed_early: oneshot::Receiver<()>,
}

/// Marks an admitted connection's request as all arrived ([`Arrival::arrived`]).
/// Handed to the request handler with the request.
#[derive(Clone)]
pub struct Arrival {
    admission: Arc<Admission>,
    id: u64,
}

impl Admission {
    pub fn new(limits: Limits, metrics: Option<Arc<Metrics>>) -> Arc<Self> {
        Arc::new(Admission {
            limits,
            state: Mutex::new(State::default()),
            metrics,
            warned: std::array::from_fn(|_| AtomicU64::new(u64::MAX)),
            started: Instant::now(),
        })
    }

    /// Admits a new connection from `client`, closing an incomplete one if
    /// that is what makes room, or refuses it.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Admitted, Refused> {
        let source = Source::of(client);
        let mut state = self.lock();
        let limited = self.limits.incomplete_per_address > 0 && !source.is_loopback();
        if limited && state.incomplete_of(source) >= self.limits.incomplete_per_address {
            drop(state);
            return Err(self.refused(client, Refused::PerAddress));
        }
        let mut closed = 0;
        while state.incomplete_total >= self.limits.incomplete || state.open.len() >= self.limits.open {
            let Some(id) = state.to_close() else {
                drop(state);
                return Err(self.refused(client, Refused::Full));
            };
            state.forget(id);
            closed += 1;
        }
        let id = state.next_id;
        state.next_id += 1;
        let (close, closed_early) = oneshot::channel();
        state.open.insert(id, Entry { source, _close_when_dropped: close });
        state.add_incomplete(source, id);
        self.publish(&state);
        drop(state);
        if closed > 0 {
            self.closed_early(closed);
        }
        Ok(Admitted { arrival: Arrival { admission: self.clone(), id }, closed_early })
    }

    /// Connections open, and how many of them are incomplete.
    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.open.len(), state.incomplete_total)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, state: &State) {
        if let Some(metrics) = &self.metrics {
            metrics.connections(state.open.len(), state.incomplete_total);
        }
    }

    fn refused(&self, client: IpAddr, why: Refused) -> Refused {
        if let Some(metrics) = &self.metrics {
            metrics.refused_connection(why.as_str());
        }
        debug!(%client, reason = why.as_str(), outcome = "refused", "connection");
        match why {
            Refused::Full => self.warn_now_and_then(WARN_FULL, || {
                warn!(
                    max_connections = self.limits.open,
                    "refusing new connections: http.max_connections are open, each serving a request"
                )
            }),
            Refused::PerAddress => self.warn_now_and_then(WARN_PER_ADDRESS, || {
                warn!(
                    %client,
                    max_incomplete_per_address = self.limits.incomplete_per_address,
                    "refusing new connections from an address that holds http.max_incomplete_per_address connections without a complete request"
                )
            }),
        }
        why
    }

    fn closed_early(&self, count: usize) {
        if let Some(metrics) = &self.metrics {
            metrics.closed_early_connections(count as u64);
        }
        debug!(count, outcome = "closed-early", "closed an incomplete connection to make room");
        self.warn_now_and_then(WARN_CLOSED_EARLY, || {
            warn!(
                max_incomplete_connections = self.limits.incomplete,
                max_connections = self.limits.open,
                "closing connections that have not sent a complete request, to make room for new ones: clients are holding connections open without sending"
            )
        });
    }

    /// Runs `warn` unless the warning of that `kind` ran less than
    /// [`WARN_EVERY`] ago.
    fn warn_now_and_then(&self, kind: usize, warn: impl FnOnce()) {
        let now = self.started.elapsed().as_secs();
        let last = self.warned[kind].load(Ordering::Relaxed);
        let due = last == u64::MAX || now >= last + WARN_EVERY.as_secs();
        if due && self.warned[kind].compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            warn();
        }
    }
}

impl State {
    fn incomplete_of(&self, source: Source) -> usize {
        self.incomplete.get(&source).map_or(0, BTreeSet::len)
    }

    /// The incomplete connection to close to make room: the oldest of the
    /// source holding the most.
    fn to_close(&self) -> Option<u64> {
        let &(_, source) = self.by_count.last()?;
        self.incomplete.get(&source)?.first().copied()
    }

    fn add_incomplete(&mut self, source: Source, id: u64) {
        let ids = self.incomplete.entry(source).or_default();
        let before = ids.len();
        ids.insert(id);
        self.by_count.remove(&(before, source));
        self.by_count.insert((before + 1, source));
        self.incomplete_total += 1;
    }

    /// Takes `id` out of the incomplete ones, if it is there.
    fn remove_incomplete(&mut self, source: Source, id: u64) {
        let Some(ids) = self.incomplete.get_mut(&source) else { return };
        let before = ids.len();
        if !ids.remove(&id) {
            return;
        }
        self.by_count.remove(&(before, source));
        if ids.is_empty() {
            self.incomplete.remove(&source);
        } else {
            self.by_count.insert((before - 1, source));
        }
        self.incomplete_total -= 1;
    }

    /// Removes connection `id`, dropping its `close` sender: if it is
    /// still running, that tells it to close.
    fn forget(&mut self, id: u64) {
        if let Some(entry) = self.open.remove(&id) {
            self.remove_incomplete(entry.source, id);
        }
    }
}

impl Admitted {
    pub fn arrival(&self) -> Arrival {
        self.arrival.clone()
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let admission = &self.arrival.admission;
        let mut state = admission.lock();
        state.forget(self.arrival.id);
        admission.publish(&state);
    }
}

impl Arrival {
    /// The whole request has arrived: the connection leaves the budget of
    /// incomplete ones, and is no longer closed to make room. Once is enough.
    pub fn arrived(&self) {
        let admission = &self.admission;
        let mut state = admission.lock();
        if let Some(source) = state.open.get(&self.id).map(|entry| entry.source) {
            state.remove_incomplete(source, self.id);
            admission.publish(&state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const REMOTE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    fn admission(open: usize, incomplete: usize, per_address: usize) -> Arc<Admission> {
        Admission::new(Limits { open, incomplete, incomplete_per_address: per_address }, None)
    }

    fn was_closed(admitted: &mut Admitted) -> bool {
        matches!(admitted.closed_early.try_recv(), Err(oneshot::error::TryRecvError::Closed))
    }

    #[test]
    fn a_full_budget_closes_the_oldest_incomplete_connection() {
        let admission = admission(100, 2, 0);
        let mut first = admission.admit(LOOPBACK).unwrap();
        let mut second = admission.admit(LOOPBACK).unwrap();
        let mut third = admission.admit(LOOPBACK).unwrap();
        assert!(was_closed(&mut first), "the oldest made room");
        assert!(!was_closed(&mut second) && !was_closed(&mut third));
        assert_eq!(admission.counts(), (2, 2));
        drop(first);
        assert_eq!(admission.counts(), (2, 2), "a closed connection is not counted twice");
    }

    #[test]
    fn a_connection_whose_request_arrived_is_never_closed_to_make_room() {
        let admission = admission(100, 1, 0);
        let mut serving = admission.admit(LOOPBACK).unwrap();
        serving.arrival().arrived();
        serving.arrival().arrived();
        let mut idle = admission.admit(LOOPBACK).unwrap();
        let _newer = admission.admit(LOOPBACK).unwrap();
        assert!(!was_closed(&mut serving));
        assert!(was_closed(&mut idle));
        assert_eq!(admission.counts(), (2, 1));
    }

    #[test]
    fn at_max_connections_with_none_incomplete_a_new_one_is_refused() {
        let admission = admission(2, 2, 0);
        let serving: Vec<_> = (0..2).map(|_| admission.admit(LOOPBACK).unwrap()).collect();
        serving.iter().for_each(|admitted| admitted.arrival().arrived());
        assert_eq!(admission.admit(LOOPBACK).err(), Some(Refused::Full));
        drop(serving);
        assert_eq!(admission.counts(), (0, 0));
        assert!(admission.admit(LOOPBACK).is_ok(), "room again once they close");
    }

    #[test]
    fn the_per_address_limit_spares_loopback_and_other_addresses() {
        let admission = admission(100, 100, 2);
        let _held: Vec<_> = (0..2).map(|_| admission.admit(REMOTE).unwrap()).collect();
        assert_eq!(admission.admit(REMOTE).err(), Some(Refused::PerAddress));
        assert!(admission.admit("192.0.2.8".parse().unwrap()).is_ok());
        let loopback: Vec<_> = (0..5).map(|_| admission.admit(LOOPBACK)).collect();
        assert!(loopback.iter().all(Result::is_ok));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!((0..5).all(|_| admission.admit(mapped).is_ok()), "IPv4 loopback seen through IPv6");
    }

    #[test]
    fn the_source_holding_the_most_loses_its_oldest_first() {
        let admission = admission(100, 4, 0);
        let mut prosody = admission.admit(REMOTE).unwrap();
        let attacker: IpAddr = "198.51.100.9".parse().unwrap();
        let mut flood: Vec<_> = (0..3).map(|_| admission.admit(attacker).unwrap()).collect();
        let _more = admission.admit(attacker).unwrap();
        assert!(!was_closed(&mut prosody), "older, but its source holds one");
        assert!(was_closed(&mut flood[0]), "the flood's oldest made room");
        assert!(!was_closed(&mut flood[1]));
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_source() {
        let admission = admission(100, 100, 2);
        let first: IpAddr = "2001:db8:1:2::a".parse().unwrap();
        let second: IpAddr = "2001:db8:1:2:ffff::b".parse().unwrap();
        let _held = [admission.admit(first).unwrap(), admission.admit(second).unwrap()];
        assert_eq!(admission.admit("2001:db8:1:2::c".parse().unwrap()).err(), Some(Refused::PerAddress));
        assert!(admission.admit("2001:db8:1:3::c".parse().unwrap()).is_ok(), "another /64");
        let loopback: Vec<_> = (0..5).map(|_| admission.admit(IpAddr::V6(Ipv6Addr::LOCALHOST))).collect();
        assert!(loopback.iter().all(Result::is_ok), "::1 is never limited");
    }

    #[test]
    fn the_metrics_count_what_was_closed_and_refused() {
        let metrics = Arc::new(Metrics::new());
        let limits = Limits { open: 2, incomplete: 2, incomplete_per_address: 1 };
        let admission = Admission::new(limits, Some(metrics.clone()));
        let serving = admission.admit(LOOPBACK).unwrap();
        serving.arrival().arrived();
        let _remote = admission.admit(REMOTE).unwrap();
        assert_eq!(admission.admit(REMOTE).err(), Some(Refused::PerAddress));
        // At max_connections: the remote one, incomplete, makes room.
        let local = admission.admit(LOOPBACK).unwrap();
        local.arrival().arrived();
        assert_eq!(admission.admit(LOOPBACK).err(), Some(Refused::Full));
        let text = metrics.render();
        for line in [
            "auth_http_ldap_http_connections_open 2\n",
            "auth_http_ldap_http_connections_incomplete 0\n",
            "auth_http_ldap_http_connections_closed_early_total 1\n",
            "auth_http_ldap_http_connections_refused_total{reason=\"max-connections\"} 1\n",
            "auth_http_ldap_http_connections_refused_total{reason=\"max-incomplete-per-address\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn a_complete_request_frees_its_address_budget() {
        let admission = admission(100, 100, 1);
        let first = admission.admit(REMOTE).unwrap();
        first.arrival().arrived();
        assert!(admission.admit(REMOTE).is_ok());
    }
}
