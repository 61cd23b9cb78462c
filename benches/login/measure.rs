//! Driving one kind of request at a fixed concurrency for a fixed time, and
//! what came of it: throughput, latency percentiles, errors.

use std::future::Future;
use std::time::{Duration, Instant};

/// Longer than any deadline the bridge has: past it, a request is an error
/// rather than a hung benchmark.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// One client: a connection or two of its own, and one request at a time.
pub trait Worker: Send + 'static {
    /// One request, checked: an error says what was wrong with the answer.
    fn request(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

#[derive(Clone, Copy)]
pub struct Timing {
    /// Run before measuring: connections opened, caches and pools filled.
    pub warmup: Duration,
    pub measured: Duration,
}

pub struct Run {
    /// Requests that started in the measured window, and how long each took, sorted.
    latencies: Vec<Duration>,
    /// From the start of the measured window to the end of its last request.
    elapsed: Duration,
    /// Requests answered right, in the warm-up too.
    pub answered: usize,
    /// In the warm-up too: no run may have any.
    pub errors: usize,
    pub first_error: Option<String>,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn requests(&self) -> usize {
        self.latencies.len()
    }

    /// The latency that `fraction` of requests did not exceed (nearest rank).
    pub fn percentile(&self, fraction: f64) -> Duration {
        let rank = (fraction * self.latencies.len() as f64).ceil() as usize;
        self.latencies.get(rank.saturating_sub(1)).copied().unwrap_or_default()
    }
}

/// Runs `workers`, one task each, for the warm-up and then the measured window.
pub async fn measure<W: Worker>(workers: Vec<W>, timing: Timing) -> Run {
    let start = Instant::now();
    let window = start + timing.warmup;
    let end = window + timing.measured;
    let tasks: Vec<_> = workers.into_iter().map(|worker| tokio::spawn(drive(worker, window, end))).collect();
    let mut run =
        Run { latencies: Vec::new(), elapsed: Duration::ZERO, answered: 0, errors: 0, first_error: None };
    let mut last_finished = window;
    for task in tasks {
        let driven = task.await.expect("a worker panicked");
        run.latencies.extend(driven.latencies);
        run.answered += driven.answered;
        run.errors += driven.errors;
        run.first_error = run.first_error.or(driven.first_error);
        last_finished = last_finished.max(driven.last_finished);
    }
    run.elapsed = last_finished - window;
    run.latencies.sort_unstable();
    run
}

struct Driven {
    latencies: Vec<Duration>,
    answered: usize,
    errors: usize,
    first_error: Option<String>,
    last_finished: Instant,
}

async fn drive<W: Worker>(mut worker: W, window: Instant, end: Instant) -> Driven {
    let mut driven =
        Driven { latencies: Vec::new(), answered: 0, errors: 0, first_error: None, last_finished: window };
    loop {
        let started = Instant::now();
        if started >= end {
            return driven;
        }
        let outcome = match tokio::time::timeout(REQUEST_LIMIT, worker.request()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {REQUEST_LIMIT:?}")),
        };
        let finished = Instant::now();
        if let Err(error) = outcome {
            driven.errors += 1;
            driven.first_error.get_or_insert(error);
        } else {
            driven.answered += 1;
            if started >= window {
                driven.latencies.push(finished - started);
                driven.last_finished = finished;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let latencies = (1..=1000).map(Duration::from_millis).collect();
        let run =
            Run { latencies, elapsed: Duration::from_secs(2), answered: 1000, errors: 0, first_error: None };
        assert_eq!(run.percentile(0.5), Duration::from_millis(500));
        assert_eq!(run.percentile(0.99), Duration::from_millis(990));
        assert_eq!(run.percentile(0.999), Duration::from_millis(999));
        assert_eq!(run.per_second(), 500.0);
    }
}
