//! The `tracing` bridge (feature `tracing`): spans and events of `tracing`-instrumented code
//! (hyper, tower-http, tonic, sqlx, a service's own `#[instrument]` functions and `info!` lines)
//! join traced's traces, and log lines name their trace.
//!
//! [`TracingLayer`] turns `tracing` spans into traced spans and events into logs; it enters a
//! bridged span's context into traced's current context whenever the `tracing` span is entered,
//! so both kinds of span find their parent in one place. [`WithTraceIds`] adds `trace_id=...
//! span_id=...` to `tracing-subscriber`'s log lines.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! tracing_subscriber::registry()
//!     .with(traced::bridge::TracingLayer::new())
//!     .with(tracing_subscriber::fmt::layer().event_format(traced::bridge::WithTraceIds::default()))
//!     .init();
//! ```

mod callsites;
mod fields;
mod fmt;
mod layer;
mod span;

pub use fmt::WithTraceIds;
pub use layer::TracingLayer;
