//! Self-metrics: how many spans were started, reported and lost, and why, so that a team can
//! trust (or alert on) what tracing delivers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// A count that only grows, updated from any thread without a lock.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    /// Sampled spans started.
    pub(crate) started: Counter,
    /// Finished spans lost because the queue was full (or the tracer shut down).
    pub(crate) dropped: Counter,
    /// Finished spans the reporter thread took from the queue.
    pub(crate) received: Counter,
    pub(crate) reported: Counter,
    pub(crate) failed: Counter,
    pub(crate) bytes: Counter,
    pub(crate) batches: Counter,
    pub(crate) last_error: Mutex<Option<String>>,
}

impl Counters {
    pub(crate) fn set_last_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }
}

/// A snapshot of the tracer's self-metrics, from [`crate::metrics`].
///
/// At rest (after [`crate::flush`]), `spans_finished == spans_reported + spans_failed +
/// spans_dropped`: every finished span is accounted for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Sampled spans started.
    pub spans_started: u64,
    /// Sampled spans finished (reported, being reported, failed or dropped).
    pub spans_finished: u64,
    /// Spans the sink accepted.
    pub spans_reported: u64,
    /// Spans dropped because the queue was full: the application never waits for tracing.
    pub spans_dropped: u64,
    /// Spans lost because the sink failed to send them.
    pub spans_failed: u64,
    /// Bytes the sink sent.
    pub bytes_sent: u64,
    /// Batches (UDP datagrams, HTTP requests) the sink sent.
    pub batches_sent: u64,
    /// The last error of the sink, if any.
    pub last_error: Option<String>,
}

impl Counters {
    pub(crate) fn snapshot(&self, queued: usize) -> Metrics {
        let dropped = self.dropped.get();
        Metrics {
            spans_started: self.started.get(),
            spans_finished: self.received.get() + queued as u64 + dropped,
            spans_reported: self.reported.get(),
            spans_dropped: dropped,
            spans_failed: self.failed.get(),
            bytes_sent: self.bytes.get(),
            batches_sent: self.batches.get(),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}
