//! Reporting: the one background thread per tracer that takes finished spans from the queue,
//! batches them and hands them to a [`Sink`]. All I/O and encoding happen here, never on the
//! application's threads.

pub(crate) mod agent;
mod console;
mod sink;
mod thread;
pub(crate) mod thrift;

pub use agent::{AgentSink, Protocol};
pub use console::ConsoleSink;
pub use sink::{Batch, Process, Sent, Sink, SinkError};
pub(crate) use thread::spawn;
