//! Standard error, written in batches. A write to standard error is a
//! system call, and under load one per request line cost more than
//! formatting the line (see the README's Performance section). Lines at
//! `info` and below wait in a buffer until it holds [`BATCH_BYTES`] or
//! [`LATEST`] has passed, as nginx's buffered `access_log` does. A warning
//! or an error is written at once, after whatever waits, so that lines keep
//! their order and trouble is never late.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// A batch this large is written without waiting for the next flush.
pub const BATCH_BYTES: usize = 32 * 1024;

/// How long a line may wait in the buffer.
pub const LATEST: Duration = Duration::from_millis(100);

/// Lines waiting for `sink`.
pub struct Batched<W: Write> {
    state: Mutex<State<W>>,
    /// Every line is written at once: nothing would flush a batch.
    unbatched: AtomicBool,
}

struct State<W> {
    sink: W,
    waiting: Vec<u8>,
}

/// One line's writer, as the formatting layer asks for it.
pub struct Line<'a, W: Write> {
    batched: &'a Batched<W>,
    urgent: bool,
}

impl<W: Write> Batched<W> {
    pub fn new(sink: W) -> Self {
        let state = Mutex::new(State { sink, waiting: Vec::with_capacity(BATCH_BYTES) });
        Batched { state, unbatched: AtomicBool::new(false) }
    }

    /// From now on, writes every line at once.
    pub fn stop_batching(&self) {
        self.unbatched.store(true, Ordering::Relaxed);
        self.flush();
    }

    /// Writes whatever waits.
    pub fn flush(&self) {
        self.lock().write_waiting();
    }

    fn lock(&self) -> MutexGuard<'_, State<W>> {
        // A panic while the lock was held leaves nothing inconsistent: at
        // worst a line written twice or half.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<W: Write> State<W> {
    fn write_waiting(&mut self) {
        if !self.waiting.is_empty() {
            // Nowhere to report a failure to write a log line.
            let _ = self.sink.write_all(&self.waiting);
            let _ = self.sink.flush();
            self.waiting.clear();
        }
    }
}

impl<W: Write + 'static> MakeWriter<'_> for &'static Batched<W> {
    type Writer = Line<'static, W>;

    fn make_writer(&self) -> Self::Writer {
        Line { batched: self, urgent: true }
    }

    fn make_writer_for(&self, meta: &Metadata<'_>) -> Self::Writer {
        Line { batched: self, urgent: *meta.level() <= Level::WARN }
    }
}

impl<W: Write> Write for Line<'_, W> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut state = self.batched.lock();
        state.waiting.extend_from_slice(line);
        let unbatched = self.batched.unbatched.load(Ordering::Relaxed);
        if self.urgent || unbatched || state.waiting.len() >= BATCH_BYTES {
            state.write_waiting();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A sink the test can read while the writer holds it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn write_at(batched: &Batched<Shared>, level: Level, line: &str) {
        let mut writer = Line { batched, urgent: level <= Level::WARN };
        writer.write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn info_lines_wait_for_a_flush_and_warnings_do_not() {
        let sink = Shared::default();
        let batched = Batched::new(sink.clone());
        write_at(&batched, Level::INFO, "one\n");
        write_at(&batched, Level::INFO, "two\n");
        assert_eq!(sink.text(), "");
        batched.flush();
        assert_eq!(sink.text(), "one\ntwo\n");
        write_at(&batched, Level::INFO, "three\n");
        write_at(&batched, Level::WARN, "four\n");
        assert_eq!(sink.text(), "one\ntwo\nthree\nfour\n", "a warning goes at once, after what waited");
        write_at(&batched, Level::ERROR, "five\n");
        assert_eq!(sink.text(), "one\ntwo\nthree\nfour\nfive\n");
    }

    #[test]
    fn unbatched_lines_are_written_at_once() {
        let sink = Shared::default();
        let batched = Batched::new(sink.clone());
        write_at(&batched, Level::INFO, "one\n");
        batched.stop_batching();
        assert_eq!(sink.text(), "one\n");
        write_at(&batched, Level::INFO, "two\n");
        assert_eq!(sink.text(), "one\ntwo\n");
    }

    #[test]
    fn a_full_batch_is_written_without_waiting() {
        let sink = Shared::default();
        let batched = Batched::new(sink.clone());
        let line = format!("{}\n", "x".repeat(1023));
        for _ in 0..BATCH_BYTES / line.len() - 1 {
            write_at(&batched, Level::INFO, &line);
        }
        assert_eq!(sink.text(), "");
        write_at(&batched, Level::INFO, &line);
        assert_eq!(sink.text().len(), BATCH_BYTES);
    }
}
