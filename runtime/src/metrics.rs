//! Self-metrics: how many spans were started, reported and lost, and why, so that a team can
//! trust (or alert on) what tracing delivers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::PoisonError;

use crate::local::counters::Counters;

/// Trace headers ignored as malformed, oversized or inconsistent, by every propagator of the
/// process (counted where they are read: `crate::propagation`).
pub(crate) static PROPAGATION_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Baggage items dropped for the limits, process-wide.
pub(crate) static BAGGAGE_DROPPED: AtomicU64 = AtomicU64::new(0);

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
    /// Spans the backend took delivery of but rejected (OTLP `partial_success.rejected_spans`).
    /// They are in `spans_reported` too: the request that carried them succeeded.
    pub spans_rejected: u64,
    /// The last error of the sink, if any.
    pub last_error: Option<String>,
    /// Trace headers ignored as malformed, oversized or inconsistent (the request's span became
    /// a new root), by every [`crate::propagation::Propagator`] of the process.
    pub propagation_errors: u64,
    /// Baggage items dropped for the [`crate::propagation::BaggageLimits`], process-wide.
    pub baggage_dropped: u64,
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
            spans_rejected: self.rejected.get(),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            ..Metrics::default()
        }
        .with_process_wide()
    }
}

impl Metrics {
    /// Adds the counters kept for the whole process rather than per tracer.
    pub(crate) fn with_process_wide(mut self) -> Metrics {
        self.propagation_errors = PROPAGATION_ERRORS.load(Ordering::Relaxed);
        self.baggage_dropped = BAGGAGE_DROPPED.load(Ordering::Relaxed);
        self
    }
}
