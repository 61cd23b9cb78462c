//! Prints the [`crate::steps`] of a call as they happen, each with the
//! time since the call began, and every warning or error the service logs
//! on the way, to standard output.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::steps;

pub(super) struct Printed {
    started: Instant,
}

impl Printed {
    pub(super) fn new() -> Self {
        Printed { started: Instant::now() }
    }
}

impl<S: Subscriber> Layer<S> for Printed {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        let is_step = metadata.target() == steps::TARGET;
        if !is_step && *metadata.level() > Level::WARN {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let label = match *metadata.level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            _ => "",
        };
        let elapsed = self.started.elapsed().as_secs_f64() * 1000.0;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{elapsed:>9.1} ms  {label}{}{}", line.message, line.fields);
    }
}

/// An event's message, and its other fields as `name=value`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}
