//! Which connections a listener keeps open when clients hold many of them.
//!
//! Prosody writes each request whole on a new connection, so its
//! connections are *incomplete* (accepted, request not yet read) for a
//! moment only. A client that opens connections and sends nothing, or a
//! byte now and then, keeps its connections incomplete. Such connections
//! have a budget of their own (`http.max_incomplete_connections`): when it
//! is full, the oldest incomplete connection is closed to make room for the
//! new one, so a new connection, Prosody's among them, is always accepted
//! and read. A connection leaves the budget once its whole request (headers
//! and body) has arrived, and is then served to the end.
//!
//! Beyond that, `http.max_connections` bounds all open connections: when
//! it is reached and none is incomplete, the new connection is refused
//! (closed at once). And `http.max_incomplete_per_address` refuses a new
//! connection from an address that already holds that many incomplete ones,
//! except from loopback, where every local client, Prosody too, shares one
//! address.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::metrics::Metrics;

/// How often, at most, a full budget is reported at warning level; each
/// connection closed or refused is logged at debug only, as an attack
/// makes thousands a second.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The bounds one listener (or group of listeners) applies.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// All open connections.
    pub open: usize,
    /// Connections whose request has not all arrived.
    pub incomplete: usize,
    /// Incomplete connections from one address other than loopback; 0 for no limit.
    pub incomplete_per_address: usize,
}

/// Why a new connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `http.max_connections` open, every one with its request read.
    Full,
    /// Its address holds `http.max_incomplete_per_address` incomplete connections.
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

pub struct Admission {
    limits: Limits,
    state: Mutex<State>,
    metrics: Option<Arc<Metrics>>,
    /// Seconds since `started` when a full budget was last warned about.
    warned_at: AtomicU64,
    started: Instant,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Every open connection, by id. Ids grow with time, so the first
    /// entry of `incomplete` is the oldest incomplete connection.
    open: HashMap<u64, Entry>,
    incomplete: BTreeMap<u64, ()>,
    incomplete_by_address: HashMap<IpAddr, usize>,
}

struct Entry {
    client: IpAddr,
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
            warned_at: AtomicU64::new(u64::MAX),
            started: Instant::now(),
        })
    }

    /// Admits a new connection from `client`, closing the oldest incomplete
    /// one if that is what makes room, or refuses it.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Admitted, Refused> {
        let mut state = self.lock();
        let limited = self.limits.incomplete_per_address > 0 && !client.to_canonical().is_loopback();
        if limited
            && state.incomplete_by_address.get(&client).copied().unwrap_or(0)
                >= self.limits.incomplete_per_address
        {
            drop(state);
            return Err(self.refused(client, Refused::PerAddress));
        }
        let mut closed = 0;
        while state.incomplete.len() >= self.limits.incomplete || state.open.len() >= self.limits.open {
            let Some((&oldest, ())) = state.incomplete.first_key_value() else {
                drop(state);
                return Err(self.refused(client, Refused::Full));
            };
            state.forget(oldest);
            closed += 1;
        }
        let id = state.next_id;
        state.next_id += 1;
        let (close, closed_early) = oneshot::channel();
        state.open.insert(id, Entry { client, _close_when_dropped: close });
        state.incomplete.insert(id, ());
        *state.incomplete_by_address.entry(client).or_default() += 1;
        self.publish(&state);
        drop(state);
        if closed > 0 {
            self.closed_early(closed);
        }
        Ok(Admitted { arrival: Arrival { admission: self.clone(), id }, closed_early })
    }

    /// Connections open, and how many of them are incomplete.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.open.len(), state.incomplete.len())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, state: &State) {
        if let Some(metrics) = &self.metrics {
            metrics.connections(state.open.len(), state.incomplete.len());
        }
    }

    fn refused(&self, client: IpAddr, why: Refused) -> Refused {
        if let Some(metrics) = &self.metrics {
            metrics.refused_connection(why.as_str());
        }
        debug!(%client, reason = why.as_str(), outcome = "refused", "connection");
        self.warn_now_and_then(|| match why {
            Refused::Full => warn!(
                max_connections = self.limits.open,
                "refusing new connections: http.max_connections are open, each serving a request"
            ),
            Refused::PerAddress => warn!(
                %client,
                max_incomplete_per_address = self.limits.incomplete_per_address,
                "refusing new connections from an address that holds http.max_incomplete_per_address connections without a complete request"
            ),
        });
        why
    }

    fn closed_early(&self, count: usize) {
        if let Some(metrics) = &self.metrics {
            metrics.closed_early_connections(count as u64);
        }
        debug!(count, outcome = "closed-early", "closed the oldest incomplete connection to make room");
        self.warn_now_and_then(|| {
            warn!(
                max_incomplete_connections = self.limits.incomplete,
                max_connections = self.limits.open,
                "closing the oldest connections that have not sent a complete request, to make room for new ones: clients are holding connections open without sending"
            )
        });
    }

    /// Runs `warn` unless it ran less than [`WARN_EVERY`] ago.
    fn warn_now_and_then(&self, warn: impl FnOnce()) {
        let now = self.started.elapsed().as_secs();
        let last = self.warned_at.load(Ordering::Relaxed);
        let due = last == u64::MAX || now >= last + WARN_EVERY.as_secs();
        if due && self.warned_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            warn();
        }
    }
}

impl State {
    /// Removes connection `id`, dropping its `close` sender: if it is
    /// still running, that tells it to close.
    fn forget(&mut self, id: u64) {
        let Some(entry) = self.open.remove(&id) else { return };
        if self.incomplete.remove(&id).is_some() {
            self.uncount_incomplete(entry.client);
        }
    }

    fn uncount_incomplete(&mut self, client: IpAddr) {
        if let Some(count) = self.incomplete_by_address.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                self.incomplete_by_address.remove(&client);
            }
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
        if state.incomplete.remove(&self.id).is_some()
            && let Some(client) = state.open.get(&self.id).map(|entry| entry.client)
        {
            state.uncount_incomplete(client);
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
    fn a_complete_request_frees_its_address_budget() {
        let admission = admission(100, 100, 1);
        let first = admission.admit(REMOTE).unwrap();
        first.arrival().arrived();
        assert!(admission.admit(REMOTE).is_ok());
    }
}
