//! The `Sink` trait: where a batch of finished spans goes (a Jaeger agent, a collector, memory).

use std::fmt;
use std::sync::Arc;

use crate::local::record::SpanRecord;
use crate::tag::{Tag, TagValue};

/// The process that reported the spans: its service name and tags (`hostname`, `ip`,
/// `jaeger.version`, and those from `JAEGER_TAGS`).
#[derive(Clone, Debug)]
pub struct Process {
    pub(crate) service_name: String,
    pub(crate) tags: Vec<Tag>,
}

impl Process {
    /// A process named `service_name`, with the tags Jaeger clients put on it (`hostname`,
    /// `ip`, `jaeger.version`), for sinks tested or measured on their own.
    pub fn new(service_name: impl Into<String>) -> Self {
        Process {
            service_name: service_name.into(),
            tags: crate::host::process_tags(Vec::new(), None),
        }
    }

    /// The service name.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The process tags.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &TagValue)> {
        self.tags.iter().map(|t| (t.name(), t.value()))
    }
}

/// Finished spans of one process, handed to a [`Sink`] together.
#[derive(Debug)]
pub struct Batch<'a> {
    pub(crate) process: &'a Process,
    pub(crate) spans: &'a [SpanRecord],
}

impl<'a> Batch<'a> {
    /// A batch of `spans` reported by `process`, for sinks tested or measured on their own.
    pub fn new(process: &'a Process, spans: &'a [SpanRecord]) -> Self {
        Batch { process, spans }
    }

    /// The reporting process.
    pub fn process(&self) -> &'a Process {
        self.process
    }

    /// The spans, in the order they finished.
    pub fn spans(&self) -> impl ExactSizeIterator<Item = &'a SpanRecord> {
        self.spans.iter()
    }

    /// How many spans there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// `true` when there is none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// What a sink sent for one batch, for the self-metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Bytes written to the network (0 for sinks that write nowhere).
    pub bytes: u64,
    /// Datagrams or requests sent.
    pub batches: u64,
}

/// A failure to send, kept as the last error in [`crate::Metrics`].
#[derive(Clone, Debug)]
pub struct SinkError(Arc<str>);

impl SinkError {
    /// An error with this message.
    pub fn new(message: impl fmt::Display) -> Self {
        SinkError(message.to_string().into())
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SinkError {}

/// Where finished spans go. Called only on the reporter thread, so an implementation may block
/// (within its own timeouts) and needs no locking of its own.
///
/// A new backend (OTLP, a file) is one more implementation of this trait.
///
/// ```
/// use traced::report::{Batch, Sent, Sink, SinkError};
///
/// /// Prints one line per span.
/// struct Print;
///
/// impl Sink for Print {
///     fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
///         for span in batch.spans() {
///             println!("{} {} {:?}", span.trace_id(), span.operation_name(), span.duration());
///         }
///         Ok(Sent::default())
///     }
/// }
/// ```
pub trait Sink: Send + 'static {
    /// Sends one batch.
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError>;

    /// Makes sure everything sent so far has left the process. Called on [`crate::flush`] and
    /// at shutdown.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

impl Sink for Box<dyn Sink> {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        (**self).send(batch)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }
}
