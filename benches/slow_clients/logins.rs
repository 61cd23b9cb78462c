//! Logins as Prosody makes them (a new connection each, the request in one
//! write), at a steady pace, each answer checked: `true` for the right
//! password, `false` for a wrong one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bridge::CREDENTIALS;
use crate::http_load::{Ask, HttpWorker};
use crate::measure::Worker;
use crate::workload::Workload;

/// Past this a login counts as a wrong answer: Prosody would have given up.
const LOGIN_LIMIT: Duration = Duration::from_secs(10);

/// The logins of one phase.
#[derive(Default)]
pub struct Phase {
    /// How long each login took, right or wrong, sorted.
    latencies: Vec<Duration>,
    pub wrong: usize,
    /// What was wrong with the first few wrong answers.
    pub errors: Vec<String>,
}

impl Phase {
    pub fn sent(&self) -> usize {
        self.latencies.len()
    }

    /// The latency that `fraction` of logins did not exceed (nearest rank).
    pub fn percentile(&self, fraction: f64) -> Duration {
        let rank = (fraction * self.latencies.len() as f64).ceil() as usize;
        self.latencies.get(rank.saturating_sub(1)).copied().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

pub struct Logins {
    pub address: SocketAddr,
    pub workload: Arc<Workload>,
    pub concurrency: usize,
    /// Logins started per second, at most, over all workers.
    pub rate: f64,
}

impl Logins {
    /// Logins started over `length`; each one started is waited for.
    pub async fn measure(&self, length: Duration) -> Phase {
        let end = Instant::now() + length;
        let interval = Duration::from_secs_f64(self.concurrency as f64 / self.rate);
        let tasks: Vec<_> = (0..self.concurrency)
            .map(|i| {
                let worker = HttpWorker::new(self.address, CREDENTIALS, Ask::CheckPassword, &self.workload);
                // Spread over the interval, so logins do not start in bursts.
                let first = Instant::now() + interval.mul_f64(i as f64 / self.concurrency as f64);
                tokio::spawn(drive(worker, first, interval, end))
            })
            .collect();
        let mut phase = Phase::default();
        for task in tasks {
            let driven = task.await.expect("a login worker panicked");
            phase.latencies.extend(driven.latencies);
            phase.wrong += driven.wrong;
            phase.errors.extend(driven.errors);
        }
        phase.latencies.sort_unstable();
        phase.errors.truncate(3);
        phase
    }
}

async fn drive(mut worker: HttpWorker, first: Instant, interval: Duration, end: Instant) -> Phase {
    let mut phase = Phase::default();
    let mut next = first;
    while next < end {
        tokio::time::sleep_until(next.into()).await;
        let started = Instant::now();
        let outcome = match tokio::time::timeout(LOGIN_LIMIT, worker.request()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {LOGIN_LIMIT:?}")),
        };
        phase.latencies.push(started.elapsed());
        if let Err(error) = outcome {
            phase.wrong += 1;
            if phase.errors.len() < 3 {
                phase.errors.push(error);
            }
        }
        // A slow login delays the next rather than piling them up, as
        // with Prosody's one user waiting for an answer.
        next = (next + interval).max(Instant::now());
    }
    phase
}
