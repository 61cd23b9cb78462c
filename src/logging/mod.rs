//! How log lines are written: plain text on a terminal or a pipe, the
//! journal's own fields under systemd, or JSON when configured.
//!
//! - `batched`: standard error, written in batches.
//!
//! Fields that carry what a client sent are recorded as strings and numbers,
//! never with `Debug`: JSON and the journal then hold the value itself
//! (`"user":"romeo"`, `USER=romeo`), and the plain format quotes it.

mod batched;

use std::io::IsTerminal;
use std::sync::LazyLock;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

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
        LogFormat::Json => registry.with(json_lines(stderr)).init(),
        _ => registry.with(plain_lines(stderr, std::io::stderr().is_terminal())).init(),
    }
}

/// One line of `key=value` fields per event. A string field is quoted and
/// its control characters escaped (tracing-subscriber writes it with
/// `Debug`): a user name stays visible to the last odd character, and one
/// holding a newline cannot start a line of its own. `colours` for a terminal.
pub fn plain_lines<S, W>(writer: W, colours: bool) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer().with_writer(writer).with_ansi(colours)
}

/// One JSON object per line, the event's fields at the top beside
/// `timestamp`, `level` and `target`, so that a pipeline reads `.user`
/// rather than `.fields.user`.
pub fn json_lines<S, W>(writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer().json().flatten_event(true).with_writer(writer)
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
