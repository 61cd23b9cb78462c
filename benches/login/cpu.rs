//! CPU time used by each process during a run, from /proc: where the
//! machine's two cores went, per request.

use std::time::Duration;

/// The clock tick of /proc/PID/stat: USER_HZ, 100 on every Linux build.
const TICK: Duration = Duration::from_millis(10);

/// CPU time (user and system) of the server measured (none for the
/// ceiling, which is this process), slapd and this load generator.
#[derive(Clone, Copy, Default)]
pub struct CpuTimes {
    pub server: Duration,
    pub slapd: Duration,
    pub generator: Duration,
}

impl CpuTimes {
    pub fn now(server: Option<u32>, slapd: u32) -> CpuTimes {
        CpuTimes {
            server: server.map_or(Duration::ZERO, |pid| used(&pid.to_string())),
            slapd: used(&slapd.to_string()),
            generator: used("self"),
        }
    }

    /// The time used since `earlier`, divided among `requests`.
    pub fn per_request(self, earlier: CpuTimes, requests: usize) -> CpuTimes {
        let share = |later: Duration, earlier: Duration| (later - earlier) / requests.max(1) as u32;
        CpuTimes {
            server: share(self.server, earlier.server),
            slapd: share(self.slapd, earlier.slapd),
            generator: share(self.generator, earlier.generator),
        }
    }
}

/// User and system time of process `pid` (or "self") so far.
fn used(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the parenthesised command name, which may hold spaces;
    // utime and stime are the 14th and 15th fields of the line.
    let fields: Vec<&str> =
        stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<u32>().ok()).unwrap_or(0);
    TICK * (ticks(11) + ticks(12))
}
