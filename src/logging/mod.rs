//! How log lines are written: plain text on a terminal or a pipe, the
//! journal's own fields under systemd, or JSON when configured.
//!
//! - `batched`: standard error, written in batches.

mod batched;

use std::io::IsTerminal;
use std::sync::LazyLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{Log, LogFormat};
use batched::Batched;

/// Starts logging as `log` says. With `auto`, systemd's `JOURNAL_STREAM`
/// (set when standard error goes to the journal) selects journald.
pub fn init(log: &Log) {
    let registry = tracing_subscriber::registry().with(EnvFilter::new(&log.level));
    let journald = match log.format {
        LogFormat::Journald => true,
        LogFormat::Auto => std::env::var_os("JOURNAL_STREAM").is_some(),
        LogFormat::Plain | LogFormat::Json => false,
    };
    if journald {
        match tracing_journald::layer() {
            // Fields as the README names them (USER=romeo, OUTCOME=false),
            // not behind the layer's default F_ prefix.
            Ok(layer) => return registry.with(layer.with_field_prefix(None)).init(),
            Err(e) => {
                eprintln!("auth-http-ldap: the journal cannot be reached ({e}); logging to standard error")
            }
        }
    }
    start_flushing();
    let stderr = &*STDERR;
    match log.format {
        LogFormat::Json => registry.with(fmt::layer().json().with_writer(stderr)).init(),
        _ => {
            registry.with(fmt::layer().with_writer(stderr).with_ansi(std::io::stderr().is_terminal())).init()
        }
    }
}

static STDERR: LazyLock<Batched<std::io::Stderr>> = LazyLock::new(|| Batched::new(std::io::stderr()));

/// Writes the log lines that wait in a batch. Called before the process
/// ends, and by the panic hook: a line must not die with the process.
pub fn flush() {
    STDERR.flush();
}

/// Writes each batch at most [`batched::LATEST`] after its first line.
fn start_flushing() {
    let flushing = std::thread::Builder::new().name("log-flush".into()).spawn(|| {
        loop {
            std::thread::sleep(batched::LATEST);
            flush();
        }
    });
    if let Err(e) = flushing {
        STDERR.stop_batching();
        eprintln!(
            "auth-http-ldap: cannot start the thread that writes log lines in batches ({e}); each is written at once"
        );
    }
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |panic| {
        flush();
        report(panic);
    }));
}
