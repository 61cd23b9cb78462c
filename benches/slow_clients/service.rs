//! What the service holds, seen from outside: its sockets and limits in
//! /proc, and its metrics, read without failing if they are not there.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::bridge::CREDENTIALS;

/// The state of a listening socket in /proc/net/tcp.
const LISTENING: &str = "0A";

/// How long a scrape of `/metrics` may take before it counts as missing.
const SCRAPE_LIMIT: Duration = Duration::from_secs(5);

/// The process's open sockets, and among them the connections it accepted
/// on `port`: the rest are its listeners and its directory connections,
/// whose number the pool may change.
pub fn sockets(pid: u32, port: u16) -> (usize, usize) {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return (0, 0) };
    let inodes: HashSet<String> = entries
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| Some(target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned()))
        .collect();
    let tables: String = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .map(|table| std::fs::read_to_string(table).unwrap_or_default())
        .collect();
    let accepted = tables.lines().filter(|line| is_accepted(line, port, &inodes)).count();
    (inodes.len(), accepted)
}

/// Whether `line` of /proc/net/tcp is a connection to `port`, not its
/// listener, held by one of `inodes`. Its fields: number, local address and
/// port, remote, state, queues, timer, retransmits, uid, timeout, inode.
fn is_accepted(line: &str, port: u16, inodes: &HashSet<String>) -> bool {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local_port = fields.get(1).and_then(|local| u16::from_str_radix(local.rsplit(':').next()?, 16).ok());
    local_port == Some(port)
        && fields.get(3) != Some(&LISTENING)
        && fields.get(9).is_some_and(|inode| inodes.contains(*inode))
}

/// The `Max open files` line of /proc/PID/limits: soft and hard limits.
pub fn open_files_limit(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    limits
        .lines()
        .find_map(|line| {
            let mut values = line.strip_prefix("Max open files")?.split_whitespace();
            Some(format!("soft {}, hard {}", values.next()?, values.next()?))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The text of `/metrics`, or why there is none.
pub async fn scrape(address: SocketAddr) -> Result<String, String> {
    // The benchmark's client panics on anything but a 200: in a task of
    // its own, that panic is an error here.
    let get = tokio::spawn(crate::http_load::get(address, CREDENTIALS, "/metrics"));
    match tokio::time::timeout(SCRAPE_LIMIT, get).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(_)) => Err("failed".into()),
        Err(_) => Err(format!("no answer within {SCRAPE_LIMIT:?}")),
    }
}

/// The sum of the samples named `name` in `metrics`: `None` if the service
/// has no such metric, 0 for a family declared without samples. (The
/// service's encoder leaves out a labelled family with no samples at all,
/// so `None` can also mean none counted yet.)
pub fn sample(metrics: &str, name: &str) -> Option<f64> {
    let mut found = false;
    let mut sum = 0.0;
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix(name) else { continue };
        if let Some(value) = rest.starts_with(['{', ' ']).then(|| rest.rsplit(' ').next()).flatten() {
            found = true;
            sum += value.parse::<f64>().unwrap_or(0.0);
        }
    }
    // A counter's TYPE line names it without `_total`.
    let family = name.strip_suffix("_total").unwrap_or(name);
    let declared = metrics.lines().any(|line| {
        line.strip_prefix("# TYPE ")
            .and_then(|rest| rest.strip_prefix(family))
            .is_some_and(|rest| rest.starts_with(' '))
    });
    (found || declared).then_some(sum)
}

#[cfg(test)]
mod tests {
    use super::sample;

    #[test]
    fn tells_a_missing_metric_from_one_without_samples() {
        let metrics = "# HELP a_requests Requests.\n# TYPE a_requests counter\n\
a_requests_total{method=\"x\"} 2\na_requests_total{method=\"y\"} 3\n\
# TYPE a_refused counter\n# TYPE a_open gauge\na_open 7\na_open_max 9\n";
        assert_eq!(sample(metrics, "a_requests_total"), Some(5.0));
        assert_eq!(sample(metrics, "a_refused_total"), Some(0.0));
        assert_eq!(sample(metrics, "a_open"), Some(7.0));
        assert_eq!(sample(metrics, "a_closed_total"), None);
        assert_eq!(sample(metrics, "a_ope"), None);
    }
}
