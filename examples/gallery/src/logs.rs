//! The services' log lines: `tracing`'s, on stderr, each line written inside a trace starting
//! with that trace's and span's ids (as Jaeger shows them); and `tracing` spans, such as
//! tower-http's on the store, in traced's traces through the bridge.

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the process's `tracing` subscriber: traced's bridge (every span and event, as spans
/// and logs of the trace), and `INFO` lines and above on stderr with trace ids. Stdout stays
/// for the one `listening on` line the launcher reads.
pub fn init() {
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(traced::bridge::WithTraceIds::default())
        .with_filter(LevelFilter::INFO);
    let _ = tracing_subscriber::registry()
        .with(traced::bridge::TracingLayer::new())
        .with(lines)
        .try_init();
}
