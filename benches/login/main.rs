//! The login benchmark: auth-http-ldap and the directory it fronts, measured
//! in one run on one machine, so that their ratio holds on a noisy one.
//!
//! It starts a throwaway slapd holding `--users` people, two bridges (one
//! as configured by default, one without the user_exists cache) and an
//! empty hyper server, then at each concurrency measures:
//! - the directory ceiling: the bridge's own work for a login driven
//!   directly with ldap3 ([`ceiling`]);
//! - check_password through the bridge, a new connection per request as
//!   Prosody makes, one login in ten with a wrong password ([`workload`]);
//! - user_exists without the cache, and from the cache;
//! - the empty hyper server.
//!
//! `scripts/bench` runs it, and prints Markdown tables for the README.

// Cargo builds a benchmark with `cfg(test)` but no test harness, so the
// unit tests of these modules compile to nothing here, leaving their imports
// unused; tests/benchmark.rs runs them.
#![cfg_attr(test, allow(unused_imports))]

mod benchmark;
mod bridge;
mod ceiling;
mod cpu;
mod directory;
mod empty_server;
mod http_load;
mod measure;
mod report;
mod workload;

use std::process::ExitCode;

const USAGE: &str = "usage: scripts/bench [--users N] [--seconds S] [--warmup S] [--levels 1,16,64]";

fn main() -> ExitCode {
    let options = match benchmark::Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error}\n{}", USAGE);
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if runtime.block_on(benchmark::run(&options)) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
