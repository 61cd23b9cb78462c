//! The slow-client benchmark: Prosody's logins while one local process
//! holds thousands of connections to auth-http-ldap that never finish
//! their request, as any user on the machine could.
//!
//! It starts a throwaway slapd and the service with its default settings
//! (only the directory and the API credentials are set), then measures
//! logins made as Prosody makes them, a new connection each, in three
//! phases: before the attack, during it once it has opened all it can (a
//! service that queues what it cannot take may leave some connects
//! waiting), and after it has stopped. The attack ([`attack`]) runs on a runtime of its own:
//! - `--idle` connections that never finish their headers, half of them
//!   sending part of a request line and headers, half sending nothing;
//! - `--trickle` POSTs with whole headers announcing a 200-byte body that
//!   then comes one byte a second;
//! - each one the service closes is opened again at once.
//!
//! It prints each phase's logins, wrong answers and latencies, the
//! service's peak memory, the connections it holds before, at the end of
//! and after the attack, and its connection metrics, each beside its
//! target. Only a wrong answer (a
//! refused connection and a timeout count as one) makes it fail: the
//! targets are printed as PASS or MISS. `scripts/slow-clients` runs it.

// Cargo builds a benchmark with `cfg(test)` but no test harness, so the
// unit tests of these modules compile to nothing here, leaving their
// imports unused.
#![cfg_attr(test, allow(unused_imports))]

mod attack;
mod logins;
mod options;
mod report;
mod run;
mod service;

// Shared with the login benchmark, which uses more of them than this one.
#[allow(dead_code)]
#[path = "../login/bridge.rs"]
mod bridge;
#[allow(dead_code)]
#[path = "../login/directory.rs"]
mod directory;
#[allow(dead_code)]
#[path = "../login/http_load.rs"]
mod http_load;
#[allow(dead_code)]
#[path = "../login/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "../login/workload.rs"]
mod workload;

use std::process::ExitCode;

const USAGE: &str = "usage: scripts/slow-clients [--idle N] [--trickle N] [--seconds S] [--before S] \
[--after S] [--ramp S] [--users N] [--concurrency N] [--rate N]";

fn main() -> ExitCode {
    let options = match options::Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if runtime.block_on(run::run(&options)) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
