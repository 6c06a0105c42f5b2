//! Two sinks fed the same batches: the destination, and a second one: a console log of every
//! span (`JAEGER_REPORTER_LOG_SPANS`), or a second backend (Jaeger and an OTLP backend at once,
//! while moving from one to the other).

use std::fmt;

use super::sink::{Batch, Sent, Sink, SinkError};

/// Sends every batch to `primary` and to `also`. Only the primary's result counts in the
/// metrics (sent, failed): the second is a copy, not the delivery.
///
/// With the `otlp` feature, an `OtlpSink` goes in either place the same way:
///
/// ```no_run
/// use traced::report::{AgentSink, CollectorSink, Protocol, Tee};
///
/// let old = AgentSink::new("jaeger-agent:6831", Protocol::Compact).unwrap();
/// let new = CollectorSink::new("http://jaeger-v2:14268/api/traces").unwrap();
/// let _tracer = traced::init(traced::Config::new("api").sink(Tee::new(new, old))).unwrap();
/// ```
pub struct Tee<A, B> {
    pub(crate) primary: A,
    pub(crate) also: B,
}

impl<A: Sink, B: Sink> Tee<A, B> {
    /// Both sinks: `primary`, whose result counts, and `also`.
    pub fn new(primary: A, also: B) -> Self {
        Tee { primary, also }
    }
}

impl<A, B> fmt::Debug for Tee<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tee").finish_non_exhaustive()
    }
}

impl<A: Sink, B: Sink> Sink for Tee<A, B> {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        let _ = self.also.send(batch);
        self.primary.send(batch)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let _ = self.also.flush();
        self.primary.flush()
    }
}
