//! One run of the benchmark: what to start, what to measure in which order,
//! and the options that size it.

use std::sync::Arc;
use std::time::Duration;

use crate::bridge::{Bridge, CREDENTIALS, Cache};
use crate::ceiling::Ceiling;
use crate::cpu::CpuTimes;
use crate::directory::Directory;
use crate::empty_server::EmptyServer;
use crate::http_load::{Ask, HttpWorker};
use crate::measure::{Timing, Worker, measure};
use crate::report::{Level, Measured, Totals};
use crate::workload::Workload;

pub struct Options {
    users: u64,
    timing: Timing,
    levels: Vec<usize>,
}

/// Runs every measurement and prints the report; whether every answer was right.
pub async fn run(options: &Options) -> bool {
    eprintln!("starting slapd with {} users", options.users);
    let directory = Directory::start(options.users);
    let bridge = Bridge::start(&directory, Cache::Default, "bridge");
    let uncached = Bridge::start(&directory, Cache::Off, "bridge-without-cache");
    let empty = EmptyServer::start();
    let ceiling = Ceiling::connect(&directory.url()).await;
    let workload = Arc::new(Workload::new(options.users));
    let timing = options.timing;
    let http = |address, ask, concurrency| -> Vec<HttpWorker> {
        (0..concurrency).map(|_| HttpWorker::new(address, CREDENTIALS, ask, &workload)).collect()
    };

    println!("{}", machine(options, &directory));
    let mut levels = Vec::new();
    for &concurrency in &options.levels {
        eprintln!("concurrency {concurrency}");
        let mut ceiling_workers = Vec::new();
        for _ in 0..concurrency {
            ceiling_workers.push(ceiling.worker(&workload).await);
        }
        let slapd = directory.pid();
        let ceiling = measured(ceiling_workers, timing, None, slapd).await;
        let check_password = http(bridge.address, Ask::CheckPassword, concurrency);
        let check_password = measured(check_password, timing, Some(bridge.pid()), slapd).await;
        let user_exists_uncached = http(uncached.address, Ask::UserExists, concurrency);
        let user_exists_uncached = measured(user_exists_uncached, timing, Some(uncached.pid()), slapd).await;
        // Every user asked about once, so that every answer is in the cache.
        fill_cache(http(bridge.address, Ask::UserExists, 16), options.users).await;
        let user_exists_cached = http(bridge.address, Ask::UserExists, concurrency);
        let user_exists_cached = measured(user_exists_cached, timing, Some(bridge.pid()), slapd).await;
        // The empty server's time counts as the load generator's: they share a process.
        let empty_server =
            measured(http(empty.address, Ask::Anything, concurrency), timing, None, slapd).await;
        levels.push(Level {
            concurrency,
            ceiling,
            check_password,
            user_exists_uncached,
            user_exists_cached,
            empty_server,
        });
    }
    let totals = Totals {
        peak_resident_kb: bridge.peak_resident_kb(),
        answered_early: bridge.counter("auth_http_ldap_logins_answered_early").await,
    };
    crate::report::print(&levels, &totals)
}

/// `workers` measured, with the CPU time that `server` (if any), slapd and
/// this process used per request meanwhile.
async fn measured<W: Worker>(workers: Vec<W>, timing: Timing, server: Option<u32>, slapd: u32) -> Measured {
    let before = CpuTimes::now(server, slapd);
    let run = measure(workers, timing).await;
    let cpu = CpuTimes::now(server, slapd).per_request(before, run.answered);
    Measured { run, cpu }
}

/// Asks `requests` questions, spread over `workers`, measuring nothing.
async fn fill_cache(workers: Vec<HttpWorker>, requests: u64) {
    let per_worker = requests.div_ceil(workers.len() as u64);
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                for _ in 0..per_worker {
                    worker.request().await.expect("user_exists while filling the cache");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a worker panicked");
    }
}

/// What the run was on, for the report.
fn machine(options: &Options, directory: &Directory) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let timing = options.timing;
    format!(
        "{model}, {cores} cores, Linux {}; slapd (pid {}) with {} users; {:?} measured per run after {:?} of warm-up\n",
        kernel.trim(),
        directory.pid(),
        options.users,
        timing.measured,
        timing.warmup
    )
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            users: 10_000,
            timing: Timing { warmup: Duration::from_secs(1), measured: Duration::from_secs(5) },
            levels: vec![1, 16, 64],
        };
        while let Some(arg) = args.next() {
            // `cargo bench` passes `--bench` to every benchmark.
            if arg == "--bench" {
                continue;
            }
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            let seconds = |text: String| {
                text.parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or(format!("{arg}: not a number of seconds: {text}"))
            };
            match arg.as_str() {
                "--users" => options.users = value()?.parse().map_err(|_| format!("{arg}: not a number"))?,
                "--seconds" => options.timing.measured = seconds(value()?)?,
                "--warmup" => options.timing.warmup = seconds(value()?)?,
                "--levels" => {
                    options.levels = value()?
                        .split(',')
                        .map(|level| {
                            level.trim().parse().map_err(|_| format!("--levels: not a number: {level}"))
                        })
                        .collect::<Result<_, _>>()?
                }
                _ => return Err(format!("unknown argument: {arg}")),
            }
        }
        if options.users == 0 || options.levels.contains(&0) {
            return Err("--users and every level must be at least 1".into());
        }
        Ok(options)
    }
}
