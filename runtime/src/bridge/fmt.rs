//! `WithTraceIds`: `tracing-subscriber`'s log lines, each naming the trace and span it was
//! written in, with the ids that are reported.

use std::fmt;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::span::Bridged;
use crate::context::Context;

/// An event format for [`tracing_subscriber::fmt`](mod@tracing_subscriber::fmt) that starts every line written inside a
/// trace with `trace_id=... span_id=... `, then the line of the format it wraps
/// ([`Format::default()`] unless given another).
///
/// The ids are those of the span current where the event is written (traced's or a bridged
/// `tracing` span's, or the span named by `parent:`), as [`Context::current`] gives them and as
/// Jaeger shows them: lowercase hex, a 128-bit trace id in 32 digits, a 64-bit one in 16. Lines
/// outside a trace are unchanged.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
/// use traced::bridge::{TracingLayer, WithTraceIds};
///
/// let subscriber = tracing_subscriber::registry().with(TracingLayer::new()).with(
///     tracing_subscriber::fmt::layer()
///         .without_time()
///         .event_format(WithTraceIds::new(tracing_subscriber::fmt::format().compact())),
/// );
/// # drop(subscriber);
/// ```
///
/// Loggers of other kinds write the same ids from [`Context::current`]:
///
/// ```
/// let cx = traced::Context::current();
/// if cx.is_valid() {
///     eprintln!("trace_id={} span_id={} cache miss", cx.trace_id(), cx.span_id());
/// }
/// ```
///
/// The ids come first so that the wrapped format is left as it is; a format that must stay
/// machine-readable as a whole (JSON) should take the ids from [`Context::current`] instead.
#[derive(Debug, Clone)]
pub struct WithTraceIds<E = Format> {
    inner: E,
}

/// The ids, then `tracing-subscriber`'s default line.
impl Default for WithTraceIds {
    fn default() -> Self {
        WithTraceIds::new(Format::default())
    }
}

impl<E> WithTraceIds<E> {
    /// Wraps the event format `inner`.
    pub fn new(inner: E) -> WithTraceIds<E> {
        WithTraceIds { inner }
    }
}

impl<S, N, E> FormatEvent<S, N> for WithTraceIds<E>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    E: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let cx = match event.parent() {
            Some(parent) => ctx.span(parent).and_then(|span| {
                let extensions = span.extensions();
                extensions.get::<Bridged>().map(|b| b.context().clone())
            }),
            None if event.is_contextual() => Some(Context::current()),
            None => None,
        };
        if let Some(cx) = cx.filter(Context::is_valid) {
            write!(
                writer,
                "trace_id={} span_id={} ",
                cx.trace_id(),
                cx.span_id()
            )?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}
