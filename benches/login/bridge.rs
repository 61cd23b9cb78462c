//! auth-http-ldap itself: the release binary, run with the default
//! configuration but for what it must be told (the directory, the API
//! credentials) and, for one of the two, the user_exists cache turned off.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::directory::{Directory, PEOPLE, SERVICE_DN, SERVICE_PASSWORD};

pub const CREDENTIALS: &str = "prosody:bench-secret";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// As configured by default.
    Default,
    /// No user_exists cache: every question goes to the directory.
    Off,
}

pub struct Bridge {
    child: Child,
    pub address: SocketAddr,
}

impl Bridge {
    pub fn start(directory: &Directory, cache: Cache, name: &str) -> Bridge {
        let config = directory.path(&format!("{name}.toml"));
        let mut toml = format!(
            r#"[http]
listen = "127.0.0.1:0"
credentials = "{CREDENTIALS}"
[ldap]
url = "{url}"
bind_dn = "{SERVICE_DN}"
bind_password = "{SERVICE_PASSWORD}"
[users]
base_dn = "{PEOPLE}"
"#,
            url = directory.url()
        );
        if cache == Cache::Off {
            toml.push_str("[cache]\nuser_exists_ttl = \"0s\"\nuser_exists_negative_ttl = \"0s\"\n");
        }
        std::fs::write(&config, toml).expect("write the configuration");
        // Its log lines go to a file, as they would to the journal.
        let log = directory.path(&format!("{name}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_auth-http-ldap"))
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the log file"))
            .spawn()
            .expect("start auth-http-ldap");
        match listening_address(&log) {
            Ok(address) => Bridge { child, address },
            Err(log) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("auth-http-ldap did not start within 20 s:\n{log}");
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most memory the process has held resident, in kB (`VmHWM`).
    pub fn peak_resident_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:")?.trim().strip_suffix(" kB")?.parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// The sum of the samples of the counter `family` (its full name, as
    /// `/metrics` gives it, without `_total`): 0 when it has none, as
    /// `/metrics` leaves out a family with no samples.
    pub async fn counter(&self, family: &str) -> u64 {
        let text = crate::http_load::get(self.address, CREDENTIALS, "/metrics").await;
        let samples = format!("{family}_total");
        text.lines()
            .filter(|line| line.strip_prefix(&samples).is_some_and(|rest| rest.starts_with(['{', ' '])))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address the service logs when it starts listening; the log so far
/// if it has not within 20 s.
fn listening_address(log: &Path) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let address = text.lines().find_map(|line| {
            let start = line.find("listen=")? + "listen=".len();
            line[start..].split_whitespace().next()?.parse().ok()
        });
        if let Some(address) = address {
            return Ok(address);
        }
        if Instant::now() > deadline {
            return Err(text);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
