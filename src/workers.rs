//! The threads that serve requests: by default one per core, each running a
//! single-threaded runtime that accepts on listening sockets of its own and
//! drives each request, and the directory connections it uses, from start
//! to end. A login then costs no hand-over between threads, which on a
//! machine shared with the directory is most of what a multi-threaded
//! scheduler would add.
//!
//! What the workers share (the configuration in use, caches, the login
//! guard, metrics and the bound on open connections) is behind locks and
//! atomics; what belongs to one (its share of the connection pools, picked
//! by [`current`]) is used by it alone, unless there are more workers than
//! shares (see [`shares`]).

use std::cell::Cell;
use std::io;
use std::thread;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

thread_local! {
    /// The index of the worker this thread runs; 0 on every other thread.
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The index of the worker running the caller, from 0; 0 outside the
/// workers, as in a multi-threaded runtime that serves on its own.
pub fn current() -> usize {
    INDEX.with(Cell::get)
}

/// How many workers to start: one per core this process may run on (as
/// its CPU affinity and cgroup quota allow).
pub fn per_core() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// Running workers. Dropping them stops them: the tasks still running on
/// them are dropped.
pub struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` workers, at least one.
    pub fn start(count: usize) -> io::Result<Workers> {
        let mut workers = Workers { handles: Vec::new(), stops: Vec::new(), threads: Vec::new() };
        for index in 0..count.max(1) {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            workers.handles.push(runtime.handle().clone());
            workers.stops.push(stop);
            let thread = thread::Builder::new().name(format!("worker-{index}")).spawn(move || {
                INDEX.with(|i| i.set(index));
                // The runtime runs its tasks only while the thread waits here.
                let _ = runtime.block_on(stopped);
            })?;
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// The runtime of each worker, in the order of their indices.
    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stops.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One `T` per worker, or fewer (then workers share them, each worker
/// using the one at its index modulo their number): what a worker uses is
/// [`PerWorker::current`].
pub struct PerWorker<T> {
    items: Vec<T>,
}

impl<T> PerWorker<T> {
    pub fn new(items: Vec<T>) -> Self {
        assert!(!items.is_empty(), "at least one");
        PerWorker { items }
    }

    /// The caller's worker's own.
    pub fn current(&self) -> &T {
        &self.items[current() % self.items.len()]
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

/// The fewest connections in a worker's share of a pool. With fewer, one
/// slow operation holds up most of what its worker asks while the other
/// workers' connections sit idle: past `total / MIN_SHARE` workers, they
/// share.
const MIN_SHARE: usize = 4;

/// `total` divided into at most `parts` shares that differ by at most one,
/// each at least [`MIN_SHARE`] (or `total`, if smaller), so that they add
/// up to `total` (at least 1).
pub fn shares(total: usize, parts: usize) -> Vec<usize> {
    let total = total.max(1);
    let parts = parts.clamp(1, (total / MIN_SHARE).max(1));
    (0..parts).map(|part| total / parts + usize::from(part < total % parts)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_are_never_empty() {
        assert_eq!(shares(16, 2), [8, 8]);
        assert_eq!(shares(9, 2), [5, 4]);
        assert_eq!(shares(16, 64), [4, 4, 4, 4]);
        assert_eq!(shares(7, 2), [7]);
        assert_eq!(shares(1, 4), [1]);
        assert_eq!(shares(0, 4), [1]);
        assert_eq!(shares(7, 0), [7]);
    }

    #[test]
    fn each_worker_knows_its_index_and_stops_when_dropped() {
        let workers = Workers::start(3).expect("workers");
        let indices: Vec<usize> = workers
            .handles()
            .iter()
            .map(|handle| {
                let (sender, receiver) = std::sync::mpsc::channel();
                handle.spawn(async move { sender.send(current()).unwrap() });
                receiver.recv().expect("the worker ran the task")
            })
            .collect();
        assert_eq!(indices, [0, 1, 2]);
        assert_eq!(current(), 0, "not a worker");
        let handle = workers.handles()[1].clone();
        drop(workers);
        let task = handle.spawn(async {});
        assert!(block_on(task).is_err(), "a stopped worker runs nothing");
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }
}
