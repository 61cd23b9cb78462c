//! The options that size a run, and their defaults.

use std::time::Duration;

pub struct Options {
    /// Connections that never finish their headers.
    pub idle: usize,
    /// POSTs whose body comes one byte a second.
    pub trickle: usize,
    /// Logins measured before the attack.
    pub before: Duration,
    /// Logins measured while the attack is fully open.
    pub during: Duration,
    /// Logins measured once the attack has stopped.
    pub after: Duration,
    /// The longest wait for the attack to open all its connections.
    pub ramp: Duration,
    pub users: u64,
    /// Logins in flight at once.
    pub concurrency: usize,
    /// Logins started per second, at most, over all of them.
    pub rate: f64,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            idle: 3000,
            trickle: 300,
            before: Duration::from_secs(10),
            during: Duration::from_secs(30),
            after: Duration::from_secs(10),
            ramp: Duration::from_secs(30),
            users: 1000,
            concurrency: 2,
            rate: 20.0,
        };
        while let Some(arg) = args.next() {
            // `cargo bench` passes `--bench` to every benchmark.
            if arg == "--bench" {
                continue;
            }
            let text = args.next().ok_or(format!("{arg} needs a value"))?;
            let number = || text.parse::<u64>().map_err(|_| format!("{arg}: not a number: {text}"));
            let positive = || {
                text.parse::<f64>()
                    .ok()
                    .filter(|n| *n > 0.0)
                    .ok_or(format!("{arg}: not a positive number: {text}"))
            };
            match arg.as_str() {
                "--idle" => options.idle = number()? as usize,
                "--trickle" => options.trickle = number()? as usize,
                "--seconds" => options.during = Duration::from_secs_f64(positive()?),
                "--before" => options.before = Duration::from_secs_f64(positive()?),
                "--after" => options.after = Duration::from_secs_f64(positive()?),
                "--ramp" => options.ramp = Duration::from_secs_f64(positive()?),
                "--users" => options.users = number()?,
                "--concurrency" => options.concurrency = number()? as usize,
                "--rate" => options.rate = positive()?,
                _ => return Err(format!("unknown argument: {arg}")),
            }
        }
        if options.users == 0 || options.concurrency == 0 {
            return Err("--users and --concurrency must be at least 1".into());
        }
        Ok(options)
    }
}
