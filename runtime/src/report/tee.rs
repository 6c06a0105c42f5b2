//! Two sinks fed the same batches: the destination, and a console log of every span
//! (`JAEGER_REPORTER_LOG_SPANS`).

use super::sink::{Batch, Sent, Sink, SinkError};

/// Sends every batch to `primary` and to `also`. Only the primary's result counts in the
/// metrics: the log is a convenience, not the delivery.
pub(crate) struct Tee<A, B> {
    pub(crate) primary: A,
    pub(crate) also: B,
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
