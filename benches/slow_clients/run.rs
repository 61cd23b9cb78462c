//! One run: what to start, the three phases, and what to read once the
//! attack is over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::attack::{Attack, raise_open_files_limit};
use crate::bridge::{Bridge, CREDENTIALS, Cache};
use crate::directory::Directory;
use crate::logins::Logins;
use crate::options::Options;
use crate::report::{Held, Report, Setup};
use crate::service;
use crate::workload::Workload;

/// How long the attack may stay short of its target without gaining a
/// connection before the measurement starts anyway: what the service
/// cannot take by then, it will not take.
const PLATEAU: Duration = Duration::from_secs(10);

/// The longest wait, after the attack, for the service to close the
/// connections it accepted.
const SETTLE: Duration = Duration::from_secs(10);

/// Runs every phase and prints the report; whether every answer was right.
pub async fn run(options: &Options) -> bool {
    eprintln!("starting slapd with {} users", options.users);
    let directory = Directory::start(options.users);
    let bridge = Bridge::start(&directory, Cache::Default, "service");
    let (pid, port) = (bridge.pid(), bridge.address.port());
    // Raised after the service started, so that it keeps the limit it was given.
    let own_limit = raise_open_files_limit().map_err(|e| e.to_string());
    let setup = Setup {
        service_pid: pid,
        service_limit: service::open_files_limit(pid),
        own_limit,
        idle: options.idle,
        trickle: options.trickle,
    };
    let logins = Logins {
        address: bridge.address,
        workload: Arc::new(Workload::new(options.users)),
        concurrency: options.concurrency,
        rate: options.rate,
    };
    // Directory connections opened and caches filled before measuring.
    let warmup = logins.measure(Duration::from_secs(1)).await;

    eprintln!("before the attack: {:?}", options.before);
    let before = logins.measure(options.before).await;
    let sockets_before = service::sockets(pid, port);

    let authorization = base64_credentials();
    let attack = Attack::start(bridge.address, options.idle, options.trickle, &authorization);
    let ramp = ramp_up(&attack, options.ramp).await;
    eprintln!("during the attack ({} connections open): {:?}", attack.open(), options.during);
    let reopens_before = attack.reopens();
    let started = Instant::now();
    let (during, average_open) = sampling_open(&attack, logins.measure(options.during)).await;
    let sockets_during = service::sockets(pid, port);
    let held = Held {
        ramp,
        average_open,
        open_at_end: attack.open(),
        target: attack.target,
        reopens: attack.reopens(),
        reopens_per_second: (attack.reopens() - reopens_before) as f64 / started.elapsed().as_secs_f64(),
        connect_failures: attack.connect_failures(),
    };
    attack.stop().await;

    // Before the logins of the last phase, which would be counted too.
    let settled = Instant::now();
    let mut sockets_after = service::sockets(pid, port);
    while sockets_after.1 > 0 && settled.elapsed() < SETTLE {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sockets_after = service::sockets(pid, port);
    }
    let settled = settled.elapsed();

    eprintln!("after the attack: {:?}", options.after);
    let after = logins.measure(options.after).await;
    let report = Report {
        setup,
        warmup,
        before,
        during,
        after,
        held,
        peak_resident_kb: bridge.peak_resident_kb(),
        sockets: [sockets_before, sockets_during, sockets_after],
        settled,
        metrics: service::scrape(bridge.address).await,
    };
    report.print()
}

/// Waits until the attack holds all its connections, has gained none for
/// [`PLATEAU`], or `limit` has passed; how many it held then, and after how long.
async fn ramp_up(attack: &Attack, limit: Duration) -> (usize, Duration) {
    let started = Instant::now();
    let (mut most, mut gained) = (0, started);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let open = attack.open();
        if open > most {
            (most, gained) = (open, Instant::now());
        }
        if open >= attack.target || gained.elapsed() >= PLATEAU || started.elapsed() >= limit {
            return (open, started.elapsed());
        }
    }
}

/// Runs `measuring`, sampling the attack's open connections ten times a
/// second meanwhile; its result, and the mean of the samples.
async fn sampling_open<T>(attack: &Attack, measuring: impl Future<Output = T>) -> (T, f64) {
    let mut measuring = std::pin::pin!(measuring);
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    let (mut sum, mut samples) = (0, 0);
    loop {
        tokio::select! {
            result = &mut measuring => return (result, sum as f64 / samples.max(1) as f64),
            _ = ticks.tick() => (sum, samples) = (sum + attack.open(), samples + 1),
        }
    }
}

fn base64_credentials() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(CREDENTIALS)
}
