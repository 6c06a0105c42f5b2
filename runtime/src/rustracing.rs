//! Adopting traced in a service that already traces with rustracing and rustracing_jaeger, one
//! function at a time (feature `rustracing`): its span contexts converted to and from traced's
//! [`Context`], and its finished spans reported through traced's tracer, so rustracing spans and
//! `#[traced]` spans share traces and one reporter.
//!
//! A rustracing span, a `#[traced]` child of it, and a rustracing grandchild, all in one trace:
//!
//! ```
//! use rustracing::sampler::AllSampler;
//! use traced::{traced, Context};
//!
//! #[traced]
//! fn resize(cx: &Context, tracer: &rustracing_jaeger::Tracer) {
//!     let _ = cx;
//!     // A rustracing span under this function's span.
//!     let _encode = tracer
//!         .span("encode")
//!         .child_of(&traced::rustracing::span_context(&Context::current()))
//!         .start();
//! }
//!
//! let capture = traced::testing::Capture::install();
//! let (tracer, finished) = rustracing_jaeger::Tracer::new(AllSampler);
//! let forwarder = traced::rustracing::forward(finished);
//! {
//!     let request = tracer.span("request").start();
//!     let parent = traced::rustracing::context(request.context().unwrap()).unwrap();
//!     resize(&parent, &tracer);
//! }
//! drop(tracer); // the forwarder ends once every span of the rustracing tracer is reported
//! assert_eq!(forwarder.join().unwrap(), 2);
//!
//! let (request, resize, encode) =
//!     (capture.span("request"), capture.span("resize"), capture.span("encode"));
//! assert_eq!(resize.parent_id(), Some(request.span_id()));
//! assert_eq!(encode.parent_id(), Some(resize.span_id()));
//! assert_eq!(encode.trace_id(), request.trace_id());
//! ```

use std::borrow::Cow;
use std::thread::JoinHandle;
use std::time::UNIX_EPOCH;

use ::rustracing::tag::TagValue as TheirValue;
use rustracing_jaeger::span::{
    FinishedSpan, SpanContext, SpanContextState, SpanContextStateBuilder, SpanReceiver,
};

use crate::context::Context;
use crate::ids::{SpanId, TraceId};
use crate::local::guard::Callsite;
use crate::local::record::{Log, SpanRecord, NO_INLINE_TAGS};
use crate::tag::{LogField, Tag, TagValue};

/// The rustracing_jaeger span context of `cx`, to start a rustracing span as a child (or
/// follower) of a traced span: pass it to `child_of`, which takes the `Option` as it is.
///
/// `None` when `cx` is not the context of a sampled span (no tracer installed, an unsampled
/// trace, [`Context::NONE`]): rustracing has no unsampled contexts, so a span started under
/// `None` is a root, sampled by rustracing's sampler (none is, with its `PassiveSampler`).
/// The baggage goes along; the debug flag goes with a debug id, as rustracing_jaeger keeps it.
///
/// ```
/// use rustracing::sampler::AllSampler;
/// use traced::{Context, SpanId, TraceId};
///
/// let cx = Context::remote(TraceId::new(1, 2), SpanId::new(3), true).unwrap();
/// let (tracer, _finished) = rustracing_jaeger::Tracer::new(AllSampler);
/// let span = tracer
///     .span("child")
///     .child_of(&traced::rustracing::span_context(&cx))
///     .start();
/// let state = span.context().unwrap().state();
/// assert_eq!((state.trace_id().high, state.trace_id().low), (1, 2));
/// assert_ne!(state.span_id(), 3, "a span of its own, whose parent is 3");
///
/// assert!(traced::rustracing::span_context(&Context::NONE).is_none());
/// ```
pub fn span_context(cx: &Context) -> Option<SpanContext> {
    if !cx.is_valid() || !cx.is_sampled() {
        return None;
    }
    let trace_id = rustracing_jaeger::span::TraceId {
        high: cx.trace_id().high(),
        low: cx.trace_id().low(),
    };
    let mut state = SpanContextStateBuilder::new()
        .trace_id(trace_id)
        .span_id(cx.span_id().get());
    if let Some(id) = cx.debug_id() {
        state = state.debug_id(id.to_owned());
    }
    let baggage = cx
        .baggage_items()
        .map(|(k, v)| ::rustracing::span::BaggageItem::new(k, v))
        .collect();
    Some(SpanContext::new(state.finish(), baggage))
}

/// traced's [`Context`] of a rustracing_jaeger span context, to call a `#[traced]` function (or
/// start any traced span) as a child of a rustracing span: the trace and span ids, the flags,
/// the baggage and the debug id. `None` when an id is zero (no valid context).
///
/// ```
/// use rustracing::sampler::AllSampler;
///
/// let (tracer, _finished) = rustracing_jaeger::Tracer::new(AllSampler);
/// let span = tracer.span("request").start();
/// let state = span.context().unwrap().state();
/// let cx = traced::rustracing::context(span.context().unwrap()).unwrap();
/// assert_eq!(cx.span_id().get(), state.span_id());
/// assert_eq!(cx.trace_id().low(), state.trace_id().low);
/// assert!(cx.is_sampled());
/// ```
pub fn context(span_context: &SpanContext) -> Option<Context> {
    let state = span_context.state();
    let cx = Context::remote(
        trace_id(state),
        SpanId::new(state.span_id()),
        state.is_sampled(),
    )?
    .with_flags(state.flags());
    let cx = match state.debug_id() {
        Some(id) => cx.with_debug_id(id),
        None => cx,
    };
    Some(
        span_context
            .baggage_items()
            .iter()
            .fold(cx, |cx, item| cx.with_baggage(item.name(), item.value())),
    )
}

fn trace_id(state: &SpanContextState) -> TraceId {
    let id = state.trace_id();
    TraceId::new(id.high, id.low)
}

/// The call sites of reported rustracing spans: their names are set at run time.
static CHILD_OF: Callsite = Callsite {
    name: "",
    tags: &[],
    follows_from: false,
};
static FOLLOWS_FROM: Callsite = Callsite {
    name: "",
    tags: &[],
    follows_from: true,
};

/// Reports a finished rustracing_jaeger span through the installed traced tracer, as one of its
/// own: counted as started, queued, batched and sent by its reporter with the `#[traced]`
/// spans. The span keeps what rustracing_jaeger's own reporter would send: its ids, its parent
/// (the first sampled reference, `ChildOf` or `FollowsFrom`), flags, times, tags (and
/// `jaeger-debug-id` for a debug id) and logs.
///
/// Returns `false` when no tracer is installed (the span is dropped) or the span is not
/// sampled.
pub fn report(span: &FinishedSpan) -> bool {
    let Some(tracer) = crate::tracer::get() else {
        return false;
    };
    let state = span.context().state();
    if !state.is_sampled() {
        return false;
    }
    let parent = span.references().iter().find(|r| r.span().is_sampled());
    let duration = span
        .finish_time()
        .duration_since(span.start_time())
        .unwrap_or_default();
    let wall_start = span
        .start_time()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut record = SpanRecord {
        callsite: if parent.is_some_and(|r| r.is_follows_from()) {
            &FOLLOWS_FROM
        } else {
            &CHILD_OF
        },
        more: None,
        trace_id: trace_id(state),
        span_id: SpanId::new(state.span_id()),
        parent_id: SpanId::new(parent.map_or(0, |r| r.span().span_id())),
        sampler_tags: None,
        // Only the difference of the two is read (`duration`); the start on the wall clock is
        // known already, and the reporter keeps it.
        start: fastant::Instant::ZERO,
        end: fastant::Instant::ZERO
            .checked_add(duration)
            .unwrap_or(fastant::Instant::ZERO),
        // At least 1: 0 asks the reporter to work it out from `start`.
        wall_start: wall_start.max(1),
        flags: state.flags(),
        inline_len: 0,
        inline_tags: NO_INLINE_TAGS,
    };
    let more = record.more();
    more.name = Some(span.operation_name().to_owned());
    more.tags = span
        .tags()
        .iter()
        .map(|t| Tag::new(t.name().to_owned(), value(t.value())))
        .collect();
    if let Some(id) = state.debug_id() {
        more.tags.push(Tag::new("jaeger-debug-id", id.to_owned()));
    }
    more.logs = span
        .logs()
        .iter()
        .map(|log| Log {
            time: log.time(),
            fields: log
                .fields()
                .iter()
                .map(|f| LogField::new(f.name().to_owned(), f.value().to_owned()))
                .collect(),
        })
        .collect();
    tracer.counters.started.add_one();
    tracer.submit(record);
    true
}

fn value(value: &TheirValue) -> TagValue {
    match value {
        TheirValue::String(s) => TagValue::String(Cow::Owned(s.to_string())),
        TheirValue::Boolean(b) => TagValue::Boolean(*b),
        TheirValue::Integer(i) => TagValue::Integer(*i),
        TheirValue::Float(f) => TagValue::Float(*f),
    }
}

/// Reports every span rustracing_jaeger's tracer finishes (see [`report`]), on a thread of its
/// own, until the tracer and every span of it are dropped; the thread's result is how many
/// spans it reported. This is what a service passes the receiver of
/// `rustracing_jaeger::Tracer::new` to, instead of one of rustracing_jaeger's reporters.
///
/// # Panics
///
/// If the thread cannot be started.
pub fn forward(spans: SpanReceiver) -> JoinHandle<u64> {
    std::thread::Builder::new()
        .name("traced-rustracing".into())
        .spawn(move || {
            let mut reported = 0;
            for span in spans {
                reported += u64::from(report(&span));
            }
            reported
        })
        .expect("a thread for the rustracing spans")
}
