//! Reporting: the one background thread per tracer that takes finished spans from the queue,
//! batches them and hands them to a [`Sink`]. All I/O and encoding happen here, never on the
//! application's threads.

pub(crate) mod agent;
mod collector;
mod console;
mod encode;
#[cfg(feature = "otlp")]
mod otlp;
mod post;
mod sink;
mod tee;
mod thread;
pub(crate) mod thrift;

pub use agent::{AgentSink, Protocol};
pub use collector::{Auth, CollectorSink};
pub use console::ConsoleSink;
#[cfg(feature = "otlp")]
pub use otlp::{Compression, OtlpProtocol, OtlpSink};
pub use sink::{Batch, Process, Sent, Sink, SinkError};
pub use tee::Tee;

/// Checks a collector endpoint, for the configuration's errors.
pub(crate) fn collector_endpoint(url: &str) -> Result<(), String> {
    collector::Endpoint::parse(url).map(drop)
}
pub(crate) use thread::spawn;
