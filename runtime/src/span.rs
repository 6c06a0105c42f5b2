//! The hot path: what every `#[traced]` call runs. A span guard is started (parent lookup,
//! sampling branch, and only when sampled: ids, clock, one allocation), entered around the body,
//! and finished when dropped.
//!
//! Unsampled calls stop at the branch: the child of an unsampled parent leaves the current
//! context as it is (its descendants see the same unsampled parent), so it costs a thread-local
//! read and nothing else.

use std::any::Any;
use std::borrow::Cow;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::mem::ManuallyDrop;
use std::time::{Instant, UNIX_EPOCH};

use rustracing::log::LogField;

use crate::context::Context;
use crate::current::{self, RecordSlot, Scope};
use crate::finished::{FinishedSpan, Log};
use crate::ids;
use crate::tag::{IntoTagValue, StaticTag, TagValue};
use crate::tracer::{self, Tracer};

/// What a call site knows at compile time; generated as a `static` next to each traced
/// function, so a call reads it and never builds it.
#[doc(hidden)]
#[derive(Debug)]
pub struct Callsite {
    pub name: &'static str,
    pub tags: &'static [StaticTag],
    pub follows_from: bool,
}

/// A started span, finished when dropped. Generated code owns one per traced call, and the HTTP
/// integrations one per request.
#[doc(hidden)]
pub struct SpanGuard {
    /// The context the body runs under; invalid and without baggage when the body keeps the
    /// current context (no tracer, or an unsampled ambient parent).
    cx: ManuallyDrop<UnsafeCell<Context>>,
    /// The record of a sampled span; empty otherwise, and after finishing.
    slot: ManuallyDrop<RecordSlot>,
}

impl SpanGuard {
    /// No span: the body runs in whatever context is current.
    #[inline]
    pub(crate) const fn off() -> SpanGuard {
        SpanGuard {
            cx: ManuallyDrop::new(UnsafeCell::new(Context::NONE)),
            slot: ManuallyDrop::new(Cell::new(None)),
        }
    }

    /// A span under the current span of this thread or task (or a new root).
    #[inline]
    pub(crate) fn start(callsite: &'static Callsite) -> SpanGuard {
        match tracer::get() {
            None => SpanGuard::off(),
            Some(tracer) => {
                current::with(|parent| Self::start_under(tracer, callsite, parent, false))
            }
        }
    }

    /// A span under `parent`, or under the current span when `parent` holds no span.
    #[inline]
    pub(crate) fn start_explicit(callsite: &'static Callsite, parent: &Context) -> SpanGuard {
        match tracer::get() {
            None => SpanGuard::off(),
            Some(tracer) if parent.is_valid() => Self::start_under(tracer, callsite, parent, true),
            Some(tracer) => {
                current::with(|parent| Self::start_under(tracer, callsite, parent, false))
            }
        }
    }

    #[inline(always)]
    fn start_under(
        tracer: &'static Tracer,
        callsite: &'static Callsite,
        parent: &Context,
        explicit: bool,
    ) -> SpanGuard {
        if parent.is_valid() {
            if parent.is_sampled() {
                return Self::sampled(tracer, callsite, parent.child(ids::span_id()), parent);
            }
            if !explicit {
                return SpanGuard::off();
            }
            // An explicit unsampled parent becomes current, so that untouched code below follows
            // it rather than whatever was current before.
            return SpanGuard::entering(parent.clone());
        }
        Self::root(tracer, callsite, parent)
    }

    #[inline(never)]
    fn root(tracer: &'static Tracer, callsite: &'static Callsite, carry: &Context) -> SpanGuard {
        let trace_id = ids::trace_id();
        let sampled = tracer.sampler.sample(trace_id);
        let cx = Context::root(trace_id, ids::span_id(), sampled, carry);
        if sampled {
            Self::sampled(tracer, callsite, cx, carry)
        } else {
            // Entered all the same: descendants must see the unsampled decision, not re-sample
            // themselves as roots of orphan fragments.
            SpanGuard::entering(cx)
        }
    }

    #[inline]
    fn entering(cx: Context) -> SpanGuard {
        SpanGuard {
            cx: ManuallyDrop::new(UnsafeCell::new(cx)),
            slot: ManuallyDrop::new(Cell::new(None)),
        }
    }

    #[inline(never)]
    fn sampled(
        tracer: &'static Tracer,
        callsite: &'static Callsite,
        cx: Context,
        parent: &Context,
    ) -> SpanGuard {
        tracer.counters.started.add(1);
        let is_root = !cx.parent_id.is_valid();
        let start = Instant::now();
        let mut record = Box::new(FinishedSpan {
            tracer,
            name: Cow::Borrowed(callsite.name),
            trace_id: cx.trace_id,
            span_id: cx.span_id,
            parent_id: cx.parent_id,
            flags: cx.flags,
            follows_from: callsite.follows_from && !is_root,
            static_tags: [
                callsite.tags,
                if is_root { &tracer.sampler_tags } else { &[] },
            ],
            tags: Vec::new(),
            logs: Vec::new(),
            start,
            end: start,
            wall_start: UNIX_EPOCH,
        });
        if let Some(debug_id) = parent.debug_id() {
            record.set_tag(
                "jaeger-debug-id",
                TagValue::String(Cow::Owned(debug_id.to_owned())),
            );
        }
        SpanGuard {
            cx: ManuallyDrop::new(UnsafeCell::new(cx)),
            slot: ManuallyDrop::new(Cell::new(Some(record))),
        }
    }

    /// `true` when this span is recorded: tags and logs given to it are kept.
    #[inline]
    pub(crate) fn is_sampled(&self) -> bool {
        // SAFETY: a `Cell<Option<Box<_>>>` is read in place without moving: the pointer is only
        // compared with null, no reference escapes.
        unsafe { (*self.slot.as_ptr()).is_some() }
    }

    #[inline]
    pub(crate) fn enters_scope(&self) -> bool {
        // SAFETY: the context is swapped only while a `Scope` lives, and scopes borrow `self`
        // for their whole life, so no scope is alive during a `&self` method.
        let cx = unsafe { &*self.cx.get() };
        cx.is_valid() || cx.extra.is_some()
    }

    /// The context of this span, for code that takes a `Context` argument. Without a span of
    /// its own (no tracer, or an unsampled ambient parent), the current context.
    pub(crate) fn context(&self) -> Context {
        if self.enters_scope() {
            // SAFETY: as in `enters_scope`.
            unsafe { (*self.cx.get()).clone() }
        } else {
            Context::current()
        }
    }

    /// Runs `f` on the record, if this span is sampled.
    #[inline]
    pub(crate) fn with_record(&self, f: impl FnOnce(&mut FinishedSpan)) {
        if let Some(mut record) = self.slot.take() {
            f(&mut record);
            self.slot.set(Some(record));
        }
    }

    pub(crate) fn set_tag(&self, key: impl Into<Cow<'static, str>>, value: impl IntoTagValue) {
        self.with_record(|r| r.set_tag(key, value.into_tag_value()));
    }

    /// Marks the span failed: `error = true` and a log with `event = error`, the error's kind
    /// and message, as the OpenTracing conventions ask.
    pub(crate) fn record_error(&self, kind: &str, message: &dyn fmt::Display) {
        self.with_record(|r| {
            r.set_tag("error", TagValue::Boolean(true));
            r.logs.push(Log::new(vec![
                LogField::new("event", "error"),
                LogField::new("error.kind", kind.to_owned()),
                LogField::new("message", message.to_string()),
            ]));
        });
    }

    #[cold]
    pub(crate) fn record_panic(&self, payload: &(dyn Any + Send)) {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        self.record_error("panic", &message);
    }

    /// Runs `f` with this span current; a panic in `f` is recorded on the span and resumed.
    #[inline]
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        if !self.enters_scope() {
            return f();
        }
        if self.is_sampled() {
            return self.in_recorded_scope(f);
        }
        let _scope = Scope::enter(&self.cx, None);
        f()
    }

    /// The sampled case of `in_scope`, out of line so the unsampled path stays small.
    #[inline(never)]
    fn in_recorded_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _scope = Scope::enter(&self.cx, Some(&self.slot));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(value) => value,
            Err(payload) => {
                self.record_panic(&*payload);
                std::panic::resume_unwind(payload)
            }
        }
    }

    /// Enters this span's scope until the returned value is dropped (for `poll`).
    #[inline]
    pub(crate) fn enter(&self) -> Option<Scope<'_>> {
        self.enters_scope()
            .then(|| Scope::enter(&self.cx, self.is_sampled().then_some(&self.slot)))
    }
}

impl Drop for SpanGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some(record) = self.slot.take() {
            finish(record);
        }
        // The fields are `ManuallyDrop` so that a guard without a span (no tracer, unsampled)
        // drops inline in a couple of compares, not through an out-of-line drop glue call.
        if self.cx.get_mut().extra.is_some() {
            // SAFETY: dropped once, here; the guard is not used after `drop`.
            unsafe { ManuallyDrop::drop(&mut self.cx) };
        }
    }
}

#[inline(never)]
fn finish(mut record: Box<FinishedSpan>) {
    record.end = Instant::now();
    record.tracer.submit(record);
}

impl fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanGuard")
            .field("sampled", &self.is_sampled())
            .finish_non_exhaustive()
    }
}
