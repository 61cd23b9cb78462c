//! The figures of a run, each beside its target. Only wrong answers fail
//! the run: timings vary with the machine, so a missed target is printed
//! as MISS for a person to judge.

use std::time::Duration;

use crate::logins::Phase;
use crate::service;

/// How much slower the median login may be during the attack than before it.
const MEDIAN_MARGIN: Duration = Duration::from_millis(100);
/// The slowest login allowed during the attack.
const MAX_DURING: Duration = Duration::from_secs(1);
/// The most memory the service may hold resident, in kB (64 MiB).
const PEAK_RESIDENT_KB: u64 = 64 * 1024;

/// The service's connection metrics, counters with their `_total`.
const METRICS: [&str; 5] = [
    "auth_http_ldap_http_connections_open",
    "auth_http_ldap_http_connections_incomplete",
    "auth_http_ldap_http_connections_closed_early_total",
    "auth_http_ldap_http_connections_refused_total",
    "auth_http_ldap_rejected_connections_total",
];

pub struct Setup {
    pub service_pid: u32,
    /// The service's `Max open files`.
    pub service_limit: String,
    /// This process's soft limit on open files once raised.
    pub own_limit: Result<u64, String>,
    pub idle: usize,
    pub trickle: usize,
}

/// What the attack held.
pub struct Held {
    /// Connections open when the measurement began, and how long after the attack started.
    pub ramp: (usize, Duration),
    /// Over the measured phase.
    pub average_open: f64,
    pub open_at_end: usize,
    pub target: usize,
    /// Connections the service closed, each opened again at once, from the attack's start.
    pub reopens: u64,
    /// Over the measured phase.
    pub reopens_per_second: f64,
    pub connect_failures: (u64, Option<String>),
}

pub struct Report {
    pub setup: Setup,
    pub warmup: Phase,
    pub before: Phase,
    pub during: Phase,
    pub after: Phase,
    pub held: Held,
    pub peak_resident_kb: u64,
    /// The service's open sockets, and the connections among them it
    /// accepted, before the attack, at the end of it, and after it.
    pub sockets: [(usize, usize); 3],
    /// How long after the attack stopped the last count was taken.
    pub settled: Duration,
    pub metrics: Result<String, String>,
}

impl Report {
    /// Prints the report; whether every answer was right.
    pub fn print(&self) -> bool {
        let Setup { service_pid, service_limit, own_limit, idle, trickle } = &self.setup;
        let own_limit = match own_limit {
            Ok(limit) => format!("raised to {limit}"),
            Err(error) => format!("could not be raised: {error}"),
        };
        println!(
            "auth-http-ldap (pid {service_pid}), default http settings; its Max open files: {service_limit}"
        );
        println!(
            "attack, one process (its open-files limit {own_limit}): {idle} idle connections \
({} with part of the headers, {} silent) and {trickle} POSTs trickling their body",
            idle.div_ceil(2),
            idle / 2
        );
        let held = &self.held;
        println!(
            "attack ramp-up: {} of {} connections open after {:.1} s\n",
            held.ramp.0,
            held.target,
            held.ramp.1.as_secs_f64()
        );

        println!("| phase  | logins | wrong | median ms |   p99 ms |   max ms |");
        println!("|--------|-------:|------:|----------:|---------:|---------:|");
        for (name, phase) in [("before", &self.before), ("during", &self.during), ("after", &self.after)] {
            println!(
                "| {name:<6} | {:>6} | {:>5} | {:>9} | {:>8} | {:>8} |",
                phase.sent(),
                phase.wrong,
                ms(phase.percentile(0.5)),
                ms(phase.percentile(0.99)),
                ms(phase.max())
            );
        }
        println!();

        let (before, during) = (self.before.percentile(0.5), self.during.percentile(0.5));
        target(
            during <= before + MEDIAN_MARGIN,
            &format!(
                "median during the attack {} ms, before it {} ms (target: at most {} ms more)",
                ms(during),
                ms(before),
                ms(MEDIAN_MARGIN)
            ),
        );
        target(
            self.during.max() < MAX_DURING,
            &format!(
                "slowest login during the attack {} ms (target: under {} ms)",
                ms(self.during.max()),
                ms(MAX_DURING)
            ),
        );
        target(
            self.peak_resident_kb < PEAK_RESIDENT_KB,
            &format!(
                "service's peak resident memory (VmHWM) {} kB (target: under {PEAK_RESIDENT_KB} kB, 64 MiB)",
                self.peak_resident_kb
            ),
        );
        let [(all_before, accepted_before), (all_during, accepted_during), (all_after, accepted_after)] =
            self.sockets;
        target(
            accepted_after == 0,
            &format!(
                "service's accepted connections before the attack {accepted_before}, at its end \
{accepted_during}, after it {accepted_after} ({:.1} s after it stopped; target: none left)",
                self.settled.as_secs_f64()
            ),
        );
        println!(
            "     (all its sockets, with listeners and directory connections: {all_before}, {all_during}, {all_after})"
        );

        let (failures, first_failure) = &held.connect_failures;
        println!(
            "\nattack connections open (accepted or queued): {:.0} on average during the measurement, {} at its end, of {}",
            held.average_open, held.open_at_end, held.target
        );
        println!(
            "closed by the service and opened again: {} in all, {:.0} a second during the measurement",
            held.reopens, held.reopens_per_second
        );
        match first_failure {
            Some(first) => println!("failed connects: {failures} (the first: {first})"),
            None => println!("failed connects: none"),
        }

        println!("\nservice's metrics after the attack:");
        match &self.metrics {
            Ok(text) => {
                for name in METRICS {
                    match service::sample(text, name) {
                        Some(value) => println!("  {name} {value}"),
                        // prometheus-client leaves out a labelled family
                        // until it has a sample, so absent may mean zero.
                        None => {
                            println!("  {name} absent (not in /metrics, or labelled and none counted yet)")
                        }
                    }
                }
            }
            Err(error) => println!("  /metrics: {error}"),
        }

        let phases = [&self.warmup, &self.before, &self.during, &self.after];
        let wrong: usize = phases.iter().map(|phase| phase.wrong).sum();
        for error in phases.iter().flat_map(|phase| &phase.errors) {
            println!("wrong answer: {error}");
        }
        if wrong > 0 {
            println!("\nFAILED: {wrong} wrong answers (the warm-up's included)");
        }
        wrong == 0
    }
}

fn target(met: bool, figure: &str) {
    println!("{} {figure}", if met { "PASS" } else { "MISS" });
}

/// Milliseconds to a tenth: a login on an idle machine takes less than one.
fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}
