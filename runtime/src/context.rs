//! `Context`: the identity of a span (trace id, span id, sampling flags, baggage) as it is passed
//! between functions, tasks, threads and services.

use std::fmt;
use std::sync::Arc;

use crate::ids::{self, SpanId, TraceId};

const FLAG_SAMPLED: u8 = 0b01;
const FLAG_DEBUG: u8 = 0b10;
/// Not a Jaeger flag: an unsampled root whose ids are not made yet. Its ids are needed only if
/// its context leaves the span guard and the thread-local (to be propagated, or passed on as a
/// value), so they are made then, and an unsampled request that never propagates never pays
/// for them. Such a context never escapes as a value: [`Context::current`] and the guard's
/// `context` give it ids first.
const FLAG_PENDING: u8 = 0b1000_0000;

/// What travels with a context besides its ids; rare, so it lives behind one shared pointer and
/// a context without it costs no allocation to copy.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Extra {
    /// Baggage items in insertion order; keys are unique.
    pub(crate) baggage: Vec<(String, String)>,
    /// W3C `tracestate`, passed through unchanged.
    pub(crate) tracestate: Option<String>,
    /// Jaeger `jaeger-debug-id` of a request that forced sampling; recorded as a tag on the first
    /// span started under it, and not inherited further.
    pub(crate) debug_id: Option<String>,
}

impl Extra {
    /// What a child inherits of `extra`: all but the debug id; nothing when that leaves it empty.
    #[inline(never)]
    fn inherited(extra: &Arc<Extra>) -> Option<Arc<Extra>> {
        if extra.debug_id.is_none() {
            return Some(Arc::clone(extra));
        }
        let mut inherited = Extra::clone(extra);
        inherited.debug_id = None;
        (inherited != Extra::default()).then(|| Arc::new(inherited))
    }
}

/// The context of a span: which trace it belongs to, its own id, its parent's, whether the trace
/// is sampled, and the baggage that flows to every descendant.
///
/// This is what `#[traced]` functions pass on, explicitly (a `cx: &Context` parameter, the way
/// Go's `context.Context` carries spans) or implicitly (the current span of the thread or async
/// task, [`Context::current`]). It is cheap to clone: a few integers and, only when baggage or
/// trace state is present, one reference count.
///
/// ```
/// use traced::Context;
///
/// let cx = Context::current();
/// assert!(!cx.is_valid()); // no span is running here
/// let cx = cx.with_baggage("tenant", "acme");
/// assert_eq!(cx.baggage("tenant"), Some("acme"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_id: SpanId,
    pub(crate) flags: u8,
    pub(crate) extra: Option<Arc<Extra>>,
}

impl Context {
    /// The empty context: no trace. A span started under it is a new root.
    pub const NONE: Context = Context {
        trace_id: TraceId::new(0, 0),
        span_id: SpanId::new(0),
        parent_id: SpanId::new(0),
        flags: 0,
        extra: None,
    };

    /// A context for a span that was started elsewhere (another process), as read from a
    /// propagation header. Returns `None` for an all-zero trace or span id.
    pub fn remote(trace_id: TraceId, span_id: SpanId, sampled: bool) -> Option<Context> {
        if !trace_id.is_valid() || !span_id.is_valid() {
            return None;
        }
        Some(Context {
            trace_id,
            span_id,
            parent_id: SpanId::new(0),
            flags: if sampled { FLAG_SAMPLED } else { 0 },
            extra: None,
        })
    }

    /// `true` when this context belongs to a trace (its trace and span ids are set).
    #[inline]
    pub fn is_valid(&self) -> bool {
        self.span_id.is_valid()
    }

    /// The trace this context belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span this context is the context of.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The parent of that span, when it has one and it is known.
    pub fn parent_id(&self) -> Option<SpanId> {
        self.parent_id.is_valid().then_some(self.parent_id)
    }

    /// `true` when the trace is recorded: spans under this context are reported.
    #[inline]
    pub fn is_sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// `true` when sampling was forced for this trace (Jaeger's debug flag).
    pub fn is_debug(&self) -> bool {
        self.flags & FLAG_DEBUG != 0
    }

    /// The Jaeger flags byte: bit 0 sampled, bit 1 debug.
    pub fn flags(&self) -> u8 {
        self.flags & (FLAG_SAMPLED | FLAG_DEBUG)
    }

    /// `true` when a span started under this context is to be made: the trace is sampled, or
    /// there is no trace yet (a new root). `false` inside an unsampled trace, where a call costs
    /// this test and nothing else.
    #[inline]
    pub(crate) fn starts_spans(&self) -> bool {
        self.is_sampled() || (!self.is_valid() && self.flags & FLAG_PENDING == 0)
    }

    /// `true` for a context that says nothing: no ids, no decision, no baggage.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        !self.is_valid() && self.flags == 0 && self.extra.is_none()
    }

    /// `true` for an unsampled root whose ids are not made yet (see `FLAG_PENDING`).
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.flags & FLAG_PENDING != 0
    }

    /// A copy with the Jaeger flags byte set to `flags` (bit 0 sampled, bit 1 debug; debug
    /// implies sampled).
    #[must_use]
    pub fn with_flags(mut self, flags: u8) -> Context {
        self.flags = if flags & FLAG_DEBUG != 0 {
            flags | FLAG_SAMPLED
        } else {
            flags
        };
        self
    }

    /// The value of the baggage item `key`, if set on this context or an ancestor.
    pub fn baggage(&self, key: &str) -> Option<&str> {
        let extra = self.extra.as_deref()?;
        extra
            .baggage
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every baggage item, in the order they were set.
    pub fn baggage_items(&self) -> impl Iterator<Item = (&str, &str)> {
        self.extra
            .iter()
            .flat_map(|e| e.baggage.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A copy with the baggage item `key` set to `value`. Spans started under the copy, here or
    /// in services it is propagated to, carry the item.
    #[must_use]
    pub fn with_baggage(mut self, key: impl Into<String>, value: impl Into<String>) -> Context {
        self.set_baggage(key.into(), value.into());
        self
    }

    pub(crate) fn set_baggage(&mut self, key: String, value: String) {
        let extra = Arc::make_mut(self.extra.get_or_insert_with(Default::default));
        match extra.baggage.iter_mut().find(|(k, _)| *k == key) {
            Some(item) => item.1 = value,
            None => extra.baggage.push((key, value)),
        }
    }

    /// The W3C `tracestate` received with this context, passed on unchanged.
    pub fn tracestate(&self) -> Option<&str> {
        self.extra.as_deref()?.tracestate.as_deref()
    }

    /// A copy carrying the W3C `tracestate` value `state`.
    #[must_use]
    pub fn with_tracestate(mut self, state: impl Into<String>) -> Context {
        Arc::make_mut(self.extra.get_or_insert_with(Default::default)).tracestate =
            Some(state.into());
        self
    }

    /// The Jaeger debug id (`jaeger-debug-id` header) that forced sampling of this trace.
    pub fn debug_id(&self) -> Option<&str> {
        self.extra.as_deref()?.debug_id.as_deref()
    }

    /// A copy that forces sampling (sampled and debug flags) and records `debug_id` on the
    /// next span started under it, so the trace can be found by that id.
    #[must_use]
    pub fn with_debug_id(mut self, debug_id: impl Into<String>) -> Context {
        self.flags |= FLAG_SAMPLED | FLAG_DEBUG;
        Arc::make_mut(self.extra.get_or_insert_with(Default::default)).debug_id =
            Some(debug_id.into());
        self
    }

    /// The context of a new span `span_id` under this one: same trace, flags and baggage.
    #[inline]
    pub(crate) fn child(&self, span_id: SpanId) -> Context {
        Context {
            trace_id: self.trace_id,
            span_id,
            parent_id: self.span_id,
            flags: self.flags,
            extra: self.inherited_extra(),
        }
    }

    /// What a span started under this context inherits of its extras: all but the debug id,
    /// which is recorded on that first span only.
    ///
    /// The usual context has no extras: that test is inline in every span's start, the rest out
    /// of line. Whole, it was a call of its own on every sampled span (`perf`: 3% of the
    /// sampled row's samples, `call_overhead`).
    #[inline]
    fn inherited_extra(&self) -> Option<Arc<Extra>> {
        self.extra.as_ref().and_then(Extra::inherited)
    }

    /// The root of a new sampled trace, with the baggage and the debug flag `carry` has.
    pub(crate) fn sampled_root(trace_id: TraceId, span_id: SpanId, carry: &Context) -> Self {
        Context {
            trace_id,
            span_id,
            parent_id: SpanId::new(0),
            flags: FLAG_SAMPLED | (carry.flags & FLAG_DEBUG),
            extra: carry.inherited_extra(),
        }
    }

    /// The root of a new unsampled trace, its ids made when first needed. `trace_id` is the
    /// one the sampler saw, if it needed one.
    #[inline]
    pub(crate) fn unsampled_root(trace_id: TraceId, carry: &Context) -> Self {
        Context {
            trace_id,
            span_id: SpanId::new(0),
            parent_id: SpanId::new(0),
            flags: FLAG_PENDING,
            extra: carry.extra.clone(),
        }
    }

    /// Gives a pending unsampled root its ids (see `FLAG_PENDING`).
    #[inline]
    pub(crate) fn make_ids(&mut self) {
        if self.flags & FLAG_PENDING != 0 {
            self.make_pending_ids();
        }
    }

    #[cold]
    fn make_pending_ids(&mut self) {
        if !self.trace_id.is_valid() {
            self.trace_id = ids::trace_id();
        }
        self.span_id = ids::span_id();
        self.flags &= !FLAG_PENDING;
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_valid() && self.extra.is_none() {
            return f.write_str("Context(none)");
        }
        let mut s = f.debug_struct("Context");
        s.field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("parent_id", &self.parent_id)
            .field("sampled", &self.is_sampled());
        if self.is_debug() {
            s.field("debug", &true);
        }
        if let Some(extra) = &self.extra {
            if !extra.baggage.is_empty() {
                s.field("baggage", &extra.baggage);
            }
            if let Some(state) = &extra.tracestate {
                s.field("tracestate", state);
            }
        }
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_text_round_trips_in_both_widths() {
        for text in [
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00000000000000010000000000000002",
        ] {
            assert_eq!(text.parse::<TraceId>().unwrap().to_string(), text);
        }
        assert_eq!("a".parse::<TraceId>().unwrap(), TraceId::new(0, 10));
        assert_eq!(
            "a".parse::<TraceId>().unwrap().to_string(),
            "000000000000000a"
        );
    }

    #[test]
    fn malformed_ids_are_errors_not_panics() {
        for bad in [
            "",
            "0",
            "00000000000000000000000000000000",
            "xyz",
            "+1",
            "-1",
        ] {
            assert!(bad.parse::<TraceId>().is_err(), "{bad:?}");
            assert!(bad.parse::<SpanId>().is_err(), "{bad:?}");
        }
        assert!("1".repeat(33).parse::<TraceId>().is_err());
        assert!("1".repeat(17).parse::<SpanId>().is_err());
        let err = "z"
            .repeat(10_000)
            .parse::<TraceId>()
            .unwrap_err()
            .to_string();
        assert!(err.len() < 200, "error messages stay small: {err}");
    }

    #[test]
    fn child_inherits_trace_flags_and_baggage_but_not_the_debug_id() {
        let parent = Context::remote(TraceId::new(1, 2), SpanId::new(3), true)
            .unwrap()
            .with_baggage("k", "v")
            .with_debug_id("dbg");
        let child = parent.child(SpanId::new(4));
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_eq!(child.parent_id(), Some(SpanId::new(3)));
        assert!(child.is_sampled() && child.is_debug());
        assert_eq!(child.baggage("k"), Some("v"));
        assert_eq!(child.debug_id(), None);
    }

    #[test]
    fn baggage_is_copy_on_write() {
        let a = Context::NONE.with_baggage("k", "1");
        let b = a.clone().with_baggage("k", "2");
        assert_eq!(a.baggage("k"), Some("1"));
        assert_eq!(b.baggage("k"), Some("2"));
        assert_eq!(b.baggage_items().count(), 1);
    }
}
