//! The benchmark's tables and targets, in Markdown, ready for the README.

use std::time::Duration;

use crate::cpu::CpuTimes;
use crate::measure::Run;

/// A run, and the CPU time each process used per request during it.
pub struct Measured {
    pub run: Run,
    pub cpu: CpuTimes,
}

/// The runs at one concurrency.
pub struct Level {
    pub concurrency: usize,
    pub ceiling: Measured,
    pub check_password: Measured,
    pub user_exists_uncached: Measured,
    pub user_exists_cached: Measured,
    pub empty_server: Measured,
}

impl Level {
    fn runs(&self) -> [(&'static str, &Run); 5] {
        [
            ("directory ceiling", &self.ceiling.run),
            ("check_password", &self.check_password.run),
            ("user_exists without cache", &self.user_exists_uncached.run),
            ("user_exists from cache", &self.user_exists_cached.run),
            ("empty hyper server", &self.empty_server.run),
        ]
    }
}

/// What was measured besides the runs.
pub struct Totals {
    /// The bridge's peak resident memory over every run, in kB.
    pub peak_resident_kb: u64,
    /// Logins the bridge's login guard answered without asking the directory.
    pub answered_early: u64,
}

/// Prints the tables, then each target and whether it was met. Returns
/// whether every answer was right.
pub fn print(levels: &[Level], totals: &Totals) -> bool {
    print_logins(levels);
    print_user_exists(levels);
    print_cpu(levels);
    let requests: usize = levels.iter().flat_map(Level::runs).map(|(_, run)| run.requests()).sum();
    let errors: usize = levels.iter().flat_map(Level::runs).map(|(_, run)| run.errors).sum();
    println!("\nPeak resident memory of auth-http-ldap: {:.1} MB.", totals.peak_resident_kb as f64 / 1024.0);
    println!("Requests measured: {requests}; errors and wrong answers: {errors}.");
    println!("Logins the login guard answered without a bind: {}.", totals.answered_early);
    for level in levels {
        for (name, run) in level.runs() {
            if let Some(error) = &run.first_error {
                println!(
                    "- {name} at concurrency {}: {} errors, the first: {error}",
                    level.concurrency, run.errors
                );
            }
        }
    }
    println!("\n### Targets\n");
    for (target, met) in targets(levels, totals, errors) {
        println!("- {} {target}", if met { "met:   " } else { "MISSED:" });
    }
    errors == 0 && totals.answered_early == 0
}

fn print_logins(levels: &[Level]) {
    println!("### check_password and the directory ceiling\n");
    println!(
        "| concurrency | ceiling logins/s | auth-http-ldap logins/s | ratio | ceiling p50 / p99 | auth-http-ldap p50 / p99 / p99.9 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for level in levels {
        let (ceiling, bridge) = (&level.ceiling.run, &level.check_password.run);
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {} / {} | {} / {} / {} |",
            level.concurrency,
            ceiling.per_second(),
            bridge.per_second(),
            bridge.per_second() / ceiling.per_second(),
            ms(ceiling.percentile(0.5)),
            ms(ceiling.percentile(0.99)),
            ms(bridge.percentile(0.5)),
            ms(bridge.percentile(0.99)),
            ms(bridge.percentile(0.999)),
        );
    }
}

fn print_user_exists(levels: &[Level]) {
    println!("\n### user_exists and an empty hyper server\n");
    println!(
        "| concurrency | empty server req/s | from cache req/s | ratio | without cache req/s | from cache p50 / p99 | without cache p50 / p99 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for level in levels {
        let empty = &level.empty_server.run;
        let (cached, uncached) = (&level.user_exists_cached.run, &level.user_exists_uncached.run);
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.0} | {} / {} | {} / {} |",
            level.concurrency,
            empty.per_second(),
            cached.per_second(),
            cached.per_second() / empty.per_second(),
            uncached.per_second(),
            ms(cached.percentile(0.5)),
            ms(cached.percentile(0.99)),
            ms(uncached.percentile(0.5)),
            ms(uncached.percentile(0.99)),
        );
    }
}

/// Where the machine's time went: CPU per request of each process.
fn print_cpu(levels: &[Level]) {
    println!("\n### CPU time per request: auth-http-ldap / slapd / load generator\n");
    println!(
        "| concurrency | ceiling (no bridge) | check_password | user_exists without cache | user_exists from cache |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let split = |cpu: &CpuTimes| format!("{} / {} / {}", us(cpu.server), us(cpu.slapd), us(cpu.generator));
    for level in levels {
        println!(
            "| {} | {} | {} | {} | {} |",
            level.concurrency,
            split(&level.ceiling.cpu),
            split(&level.check_password.cpu),
            split(&level.user_exists_uncached.cpu),
            split(&level.user_exists_cached.cpu),
        );
    }
}

/// Each target the README promises, as measured, and whether it was met.
/// Ratios get a third decimal here: rounded to two, 0.748 would read as
/// 0.75 beside "MISSED".
fn targets(levels: &[Level], totals: &Totals, errors: usize) -> Vec<(String, bool)> {
    let mut targets = Vec::new();
    for level in levels.iter().filter(|level| level.concurrency >= 16) {
        let ratio = level.check_password.run.per_second() / level.ceiling.run.per_second();
        targets.push((
            format!(
                "check_password at concurrency {}: {ratio:.3} × the ceiling (at least 0.75)",
                level.concurrency
            ),
            ratio >= 0.75,
        ));
    }
    if let Some(level) = levels.iter().find(|level| level.concurrency == 1) {
        let (bridge, ceiling) = (level.check_password.run.percentile(0.5), level.ceiling.run.percentile(0.5));
        let added = bridge.saturating_sub(ceiling);
        targets.push((
            format!(
                "check_password p50 at concurrency 1: {} above the ceiling's (at most 0.20 ms)",
                ms(added)
            ),
            added <= Duration::from_micros(200),
        ));
    }
    if let Some(level) = levels.iter().find(|level| level.concurrency == 64) {
        let tail = level.check_password.run.percentile(0.999);
        targets.push((
            format!("check_password p99.9 at concurrency 64: {} (under 50 ms)", ms(tail)),
            tail < Duration::from_millis(50),
        ));
    }
    for level in levels {
        let ratio = level.user_exists_cached.run.per_second() / level.empty_server.run.per_second();
        targets.push((
            format!(
                "user_exists from cache at concurrency {}: {ratio:.3} × the empty server (at least 0.80)",
                level.concurrency
            ),
            ratio >= 0.8,
        ));
    }
    let peak_mb = totals.peak_resident_kb as f64 / 1024.0;
    targets.push((format!("peak resident memory: {peak_mb:.1} MB (under 30 MB)"), peak_mb < 30.0));
    targets.push((format!("errors and wrong answers: {errors} (none)"), errors == 0));
    targets
}

fn us(duration: Duration) -> String {
    format!("{} µs", duration.as_micros())
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}
