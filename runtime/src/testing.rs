//! Test capture: a tracer that keeps finished spans in memory, so tests can assert on names,
//! ids, parents, tags and logs.
//!
//! The spans take the real path (queue, reporter thread, sink); only the destination is memory.
//! There is one global tracer per process, so captures are taken one at a time: a second
//! `Capture::install` waits until the first capture is dropped. A test that installs a tracer
//! itself (`traced::init`), or makes traced calls with none installed, holds [`exclusive`] for
//! as long, so that no capture runs beside it. Under `cargo nextest`, where every test is its
//! own process, they never wait.
//!
//! ```
//! #[traced::traced(tags(db.type = "mongo"))]
//! fn get_all_images() -> Vec<String> {
//!     Vec::new()
//! }
//!
//! let capture = traced::testing::Capture::install();
//! get_all_images();
//! let span = capture.span("get_all_images");
//! assert_eq!(span.tag("db.type"), Some("mongo".into()));
//! assert_eq!(span.parent_id(), None);
//! ```

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::local::record::SpanRecord;
use crate::report::{Batch, Sent, Sink, SinkError};
use crate::{Config, Metrics, Sampler, TracerGuard};

/// Serializes the tests that use the global tracer: captures and [`exclusive`]'s holders.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The process's global tracer to this test alone until the returned guard is dropped: every
/// [`Capture`] takes the same turn. For a test that installs its own tracer with
/// [`crate::init`] (a real sink, a queue size to fill), or makes traced calls with no tracer
/// installed: in a test binary whose tests run as threads, its spans would otherwise land in a
/// neighbour's capture, or the neighbour's in its sink.
///
/// Not reentrant: a test holding it must not also make a [`Capture`] (that waits for ever).
/// A test that panicked while holding it does not block the next one.
///
/// ```
/// let _exclusive = traced::testing::exclusive();
/// let guard = traced::init(traced::Config::new("own-sink").sink(traced::testing::Discard))
///     .expect("installs");
/// drop(guard);
/// ```
pub fn exclusive() -> Exclusive {
    Exclusive {
        _turn: ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner),
    }
}

/// The turn [`exclusive`] gives: the global tracer is the holder's until this is dropped.
#[derive(Debug)]
#[must_use = "the turn ends when the guard is dropped"]
pub struct Exclusive {
    _turn: MutexGuard<'static, ()>,
}

type Store = Arc<Mutex<Vec<SpanRecord>>>;

/// The sink of a capture: clones every span into memory.
struct CaptureSink(Store);

impl Sink for CaptureSink {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        let mut store = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        store.extend(batch.spans().cloned());
        Ok(Sent {
            bytes: 0,
            batches: 1,
        })
    }
}

/// A sink that accepts every batch and keeps nothing: for measuring what tracing costs the
/// application (benchmarks, load checks), with no backend in the figures.
///
/// ```
/// let _config = traced::Config::new("bench").sink(traced::testing::Discard);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl Sink for Discard {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        Ok(Sent {
            bytes: 0,
            batches: batch.len() as u64,
        })
    }
}

/// An installed tracer whose spans are kept in memory. Dropping it uninstalls the tracer.
#[derive(Debug)]
pub struct Capture {
    store: Store,
    guard: Option<TracerGuard>,
    _turn: Exclusive,
}

impl Capture {
    /// Installs a capturing tracer that samples every trace.
    ///
    /// # Panics
    ///
    /// If a tracer not made by a capture is installed (by [`crate::init`]).
    pub fn install() -> Capture {
        Self::with_config(Config::new("test").sampler(Sampler::always()))
    }

    /// Installs a capturing tracer with the given settings (sampler, queue size); the
    /// destination is replaced by memory.
    ///
    /// # Panics
    ///
    /// If a tracer not made by a capture is installed, or `config` is invalid.
    pub fn with_config(config: Config) -> Capture {
        let turn = exclusive();
        let store = Store::default();
        let config = config
            .sink(CaptureSink(store.clone()))
            .flush_interval(Duration::from_millis(50))
            .disabled(false);
        let guard = match crate::init(config) {
            Ok(guard) => guard,
            Err(e) => panic!("cannot install the capturing tracer: {e}"),
        };
        Capture {
            store,
            guard: Some(guard),
            _turn: turn,
        }
    }

    fn flush(&self) {
        let flushed = self.guard.as_ref().map_or(true, TracerGuard::flush);
        assert!(
            flushed,
            "the capture's reporter did not flush within its timeout"
        );
    }

    /// Every span finished so far, in the order they finished.
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.flush();
        self.store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Like [`Capture::spans`], and forgets them.
    pub fn take(&self) -> Vec<SpanRecord> {
        self.flush();
        std::mem::take(&mut *self.store.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The one finished span named `name`.
    ///
    /// # Panics
    ///
    /// If there is none, or more than one: the message lists what was captured.
    pub fn span(&self, name: &str) -> SpanRecord {
        let spans = self.spans();
        let matching: Vec<&SpanRecord> = spans
            .iter()
            .filter(|s| s.operation_name() == name)
            .collect();
        if let [span] = matching[..] {
            return span.clone();
        }
        let names: Vec<&str> = spans.iter().map(SpanRecord::operation_name).collect();
        panic!(
            "expected one span named {name:?}, found {}; captured: {names:?}",
            matching.len()
        )
    }

    /// Every finished span named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<SpanRecord> {
        self.spans()
            .into_iter()
            .filter(|s| s.operation_name() == name)
            .collect()
    }

    /// The capturing tracer's self-metrics.
    pub fn metrics(&self) -> Metrics {
        self.guard
            .as_ref()
            .map(TracerGuard::metrics)
            .unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // Uninstall before the turn passes to the next capture.
        drop(self.guard.take());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::{exclusive, Capture};

    #[test]
    fn a_capture_waits_for_the_holder_of_exclusive() {
        let turn = exclusive();
        let (installed, wait) = mpsc::channel();
        let capturer = std::thread::spawn(move || {
            let capture = Capture::install();
            installed.send(()).unwrap();
            drop(capture);
        });
        // Were the turn not shared, the capture would install at once and this would receive.
        assert_eq!(
            wait.recv_timeout(Duration::from_millis(200)),
            Err(mpsc::RecvTimeoutError::Timeout),
            "a capture installed while another test held the tracer"
        );
        drop(turn);
        wait.recv().expect("installs once the turn is given back");
        capturer.join().unwrap();
    }
}
