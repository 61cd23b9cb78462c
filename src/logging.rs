//! How log lines are written: plain text on a terminal or a pipe, the
//! journal's own fields under systemd, or JSON when configured.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{Log, LogFormat};

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
    match log.format {
        LogFormat::Json => registry.with(fmt::layer().json().with_writer(std::io::stderr)).init(),
        _ => registry
            .with(fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal()))
            .init(),
    }
}
