//! The reporter thread: drains the queue, batches, sends, answers flush and shutdown requests.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use super::sink::{Batch, Process, Sink};
use crate::local::record::SpanRecord;
use crate::tracer::Tracer;

/// Spans handed to the sink in one call at most; the sink splits them into datagrams.
const MAX_BATCH: usize = 1024;

pub(crate) fn spawn(
    tracer: &'static Tracer,
    sink: Box<dyn Sink>,
    process: Process,
    flush_interval: Duration,
) -> std::io::Result<()> {
    let handle = std::thread::Builder::new()
        .name("traced-reporter".into())
        .spawn(move || {
            Reporter {
                tracer,
                sink,
                process,
                buffer: Vec::new(),
                flush_interval,
            }
            .run()
        })?;
    tracer.set_reporter(handle.thread().clone());
    Ok(())
}

struct Reporter {
    tracer: &'static Tracer,
    sink: Box<dyn Sink>,
    process: Process,
    buffer: Vec<SpanRecord>,
    flush_interval: Duration,
}

impl Reporter {
    fn run(mut self) {
        let mut oldest: Option<Instant> = None;
        loop {
            let (ticket, flushed, shutdown) = {
                let control = self
                    .tracer
                    .control
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                (control.flush_requested, control.flushed, control.shutdown)
            };
            if shutdown {
                // Spans finishing from now on are dropped and counted, not left in the queue.
                self.tracer.close();
            }
            if self.drain() && oldest.is_none() {
                oldest = Some(Instant::now());
            }
            let due = oldest.is_some_and(|t| t.elapsed() >= self.flush_interval);
            if due || ticket > flushed || shutdown {
                self.send();
                oldest = None;
            }
            if ticket > flushed || shutdown {
                if let Err(e) = self.sink.flush() {
                    self.tracer.counters.set_last_error(e.to_string());
                }
                let mut control = self
                    .tracer
                    .control
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                control.flushed = control.flushed.max(ticket);
                control.stopped = shutdown;
                drop(control);
                self.tracer.control_changed.notify_all();
                if shutdown {
                    return;
                }
            }
            let wait = oldest.map_or(self.flush_interval, |t| {
                self.flush_interval.saturating_sub(t.elapsed())
            });
            std::thread::park_timeout(wait.max(Duration::from_millis(1)));
        }
    }

    /// Moves every queued span into the buffer, and sends it when a batch is full. Returns `true`
    /// when the buffer went from empty to not.
    ///
    /// The rings are emptied before anything is sent: encoding and sending take far longer than
    /// taking spans off a ring, and a ring left holding spans meanwhile is one that overflows
    /// when its thread bursts. The buffer is bounded all the same, by the rings' capacity.
    fn drain(&mut self) -> bool {
        let was_empty = self.buffer.is_empty();
        let before = self.buffer.len();
        // SAFETY: this thread is the tracer's one reporter.
        unsafe { self.tracer.drain(|span| self.buffer.push(span)) };
        // Counted once a drain: an atomic add per span was the drain's one read-modify-write.
        let received = self.buffer.len() - before;
        self.tracer.counters.received.add(received as u64);
        if self.buffer.len() >= MAX_BATCH {
            self.send();
        }
        was_empty && !self.buffer.is_empty()
    }

    /// Hands the buffer to the sink, `MAX_BATCH` spans at a time.
    fn send(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        // One clock anchor per batch turns the counter reading of every span into wall time.
        let anchor = fastant::Anchor::new();
        for span in &mut self.buffer {
            // A span made elsewhere (reported from rustracing) knows its start already.
            if span.wall_start == 0 {
                span.wall_start = span.start.as_unix_nanos(&anchor);
            }
        }
        let counters = &self.tracer.counters;
        for spans in self.buffer.chunks(MAX_BATCH) {
            let batch = Batch {
                process: &self.process,
                spans,
            };
            match self.sink.send(&batch) {
                Ok(sent) => {
                    counters.reported.add(spans.len() as u64);
                    counters.bytes.add(sent.bytes);
                    counters.batches.add(sent.batches);
                }
                Err(e) => {
                    counters.failed.add(spans.len() as u64);
                    counters.set_last_error(e.to_string());
                }
            }
        }
        self.buffer.clear();
    }
}
