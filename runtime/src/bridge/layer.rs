//! `TracingLayer`: the `tracing-subscriber` layer that makes `tracing` spans traced spans and
//! their events logs, sharing one current context with `#[traced]`.

use std::fmt;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::callsites;
use super::fields::{EventLog, SpanFields};
use super::span::Bridged;
use crate::context::Context;
use crate::local::current;
use crate::local::guard::SpanGuard;
use crate::local::queue;

/// A [`Layer`] that puts `tracing` spans and events into traced's traces.
///
/// Add it to a [`tracing_subscriber::Registry`]; with a tracer installed ([`crate::init`]):
///
/// - each `tracing` span becomes a span of the current trace, named as in the macro, with its
///   fields as typed tags (integers, floats, booleans and strings as such, `Display` (`%x`) and
///   `Debug` (`?x`) values as text) and those recorded later with `Span::record` added;
/// - its parent is the span current where it is made: an entered `tracing` span or a running
///   `#[traced]` function, whichever is innermost (or the span named by `parent:`), so a
///   `#[traced]` call inside an entered `tracing` span is its child and the other way round,
///   across `.await`s (`tracing::Instrument` and [`FutureExt`](crate::FutureExt), in either
///   nesting), spawned tasks and threads that carry either context;
/// - each event becomes a log on the current span: `level`, `message`, then its fields;
/// - as OpenTelemetry's `tracing` layer does: a span field `otel.name` renames the span,
///   `otel.kind` or `span.kind` (`server`, `client`, `producer`, `consumer`) sets `span.kind`,
///   `otel.status_code = "ERROR"` sets `error = true`, and a span field or an event field named
///   `error` marks the span failed (`error = true` and an `event = error` log).
///
/// Inside an unsampled trace a `tracing` span records nothing and allocates nothing; with no
/// tracer installed the layer does nothing but check for one.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let capture = traced::testing::Capture::install();
/// let subscriber = tracing_subscriber::registry().with(traced::bridge::TracingLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("resize", width = 640).entered();
///     tracing::info!(cached = false, "thumbnail made");
/// });
/// let span = capture.span("resize");
/// assert_eq!(span.tag("width"), Some(traced::TagValue::Integer(640)));
/// assert_eq!(span.logs()[0].field("message"), Some("thumbnail made"));
/// ```
///
/// A `#[traced]` function's own tags and logs go on its span; inside a `tracing` span, use
/// `Span::record` and events (`traced::tag` and `traced::log` write to traced's spans only).
#[derive(Default)]
pub struct TracingLayer {
    /// Made by [`TracingLayer::new`] alone.
    _private: (),
}

impl TracingLayer {
    /// The layer.
    pub fn new() -> TracingLayer {
        TracingLayer::default()
    }

    /// Starts the traced span of a new `tracing` span in `guard`; `None` when there is none to
    /// start (no tracer, an unsampled trace, or a parent that is not bridged).
    fn start<S>(
        &self,
        guard: &mut SpanGuard,
        attrs: &Attributes<'_>,
        ctx: &LayerContext<'_, S>,
    ) -> Option<()>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        queue::get()?;
        if attrs.is_contextual() {
            // Checked before looking up the call site: inside an unsampled trace, all there is.
            if !current::starts_spans() {
                return None;
            }
            guard.start(callsites::get(attrs.metadata()));
        } else if let Some(parent) = attrs.parent() {
            let parent = ctx.span(parent)?;
            let parent = parent.extensions().get::<Bridged>()?.context().clone();
            if !parent.is_sampled() {
                return None;
            }
            guard.start_explicit(callsites::get(attrs.metadata()), &parent);
        } else {
            // `parent: None`: a root, whatever is current.
            guard.start_remote(callsites::get(attrs.metadata()), &Context::NONE);
        }
        Some(())
    }
}

impl fmt::Debug for TracingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingLayer").finish_non_exhaustive()
    }
}

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut bridged = Bridged::off();
        if self.start(bridged.guard(), attrs, &ctx).is_none() || !bridged.started() {
            return;
        }
        bridged.with_record(|record| attrs.record(&mut SpanFields(record)));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(bridged);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        // No tracer, no bridged spans: skip the lookup, as `on_enter` does.
        if queue::get().is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(bridged) = extensions.get_mut::<Bridged>() {
            bridged.with_record(|record| values.record(&mut SpanFields(record)));
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        // No tracer, no bridged spans: skip the lookup.
        if queue::get().is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        if let Some(bridged) = extensions.get::<Bridged>() {
            current::enter_bridged(id.into_u64(), bridged.context());
        }
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        current::exit_bridged(id.into_u64());
    }

    // No `on_close`: the registry drops a span's extensions as it closes it, and dropping the
    // bridged span finishes it (its record goes to the tracer's queue). Looking the span up to
    // remove it first would cost every span a slab read and a lock, bridged or not.

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if queue::get().is_none() {
            return;
        }
        if let Some(parent) = event.parent() {
            let Some(span) = ctx.span(parent) else { return };
            let mut extensions = span.extensions_mut();
            if let Some(bridged) = extensions.get_mut::<Bridged>() {
                let log = EventLog::of(event);
                bridged.with_record(|record| log.write(record));
            }
            return;
        }
        if !event.is_contextual() {
            return;
        }
        // The current span: traced's own when one is open (entering a bridged span hides it),
        // else the bridged span whose context is current.
        let Some(span_id) = current::with(|cx| cx.is_sampled().then_some(cx.span_id)) else {
            return;
        };
        let mut log = Some(EventLog::of(event));
        current::with_open_span(|record| {
            if let Some(log) = log.take() {
                log.write(record);
            }
        });
        let Some(log) = log else { return };
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(bridged) = extensions.get_mut::<Bridged>() {
            if bridged.context().span_id == span_id {
                bridged.with_record(|record| log.write(record));
            }
        }
    }
}
