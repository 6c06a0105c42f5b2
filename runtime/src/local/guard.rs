//! The hot path: what every `#[traced]` call runs. A span guard is started (parent lookup,
//! sampling branch, and only when sampled: ids, clock, the record built in place), entered around
//! the body, and finished when dropped: the record moves into the tracer's queue.
//!
//! Unsampled calls stop at the branch: the child of an unsampled parent leaves the current
//! context as it is (its descendants see the same unsampled parent), so it costs a thread-local
//! read and nothing else. A guard says what it holds in one byte, and the rest of it is left
//! uninitialised when it holds nothing, so that the paths without a span write, read and drop
//! that byte and nothing else.

use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::ptr;

use crate::context::Context;
use crate::ids;
use crate::local::current::{self, Leaving, Scope};
use crate::local::panics;
use crate::local::queue::{self, Tracer};
use crate::local::record::{SpanRecord, NO_INLINE_TAGS};
use crate::tag::{IntoTagValue, StaticTag, TagValue};

/// What a call site knows at compile time; generated as a `static` next to each traced
/// function, so a call reads it and never builds it.
#[doc(hidden)]
#[derive(Debug)]
pub struct Callsite {
    pub name: &'static str,
    pub tags: &'static [StaticTag],
    pub follows_from: bool,
}

/// What a guard holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// No span: the body runs in whatever context is current.
    Off,
    /// A context to enter around the body, recording nothing (an unsampled root, or an explicit
    /// unsampled parent).
    Enter,
    /// A sampled span: a context to enter and the record being built.
    Record,
}

// Why a kind byte and `MaybeUninit` fields rather than an enum (issue 18, item 6): an enum
// (`Off`, `Enter { cx }`, `Record { cx, record, tracer, began_unwinding }`, in `ManuallyDrop`
// so the drop glue is not an out-of-line call on every path, `Enter` dropped in place) was
// measured on 2026-12-03, `<bench binary> --bench traced/`, before and after interleaved three
// times each, criterion medians of the three (ns per call): no tracer 3.26 / 3.14, unsampled
// root 19.4 / 20.1, inside an unsampled trace 3.06 / 3.45, sampled with two tags 67.1 / 97.3.
// A variant is built whole and written at once, so the record is built on the stack and copied
// in, and moved out whole to finish; here it is built in place. Without `ManuallyDrop` even the
// no-tracer row went 3 -> 4-5 ns (the glue's call).
/// A started span, finished when dropped. Generated code owns one per traced call, and the HTTP
/// integrations one per request.
#[doc(hidden)]
pub struct SpanGuard {
    kind: Kind,
    /// Set when the span was started while its thread was already unwinding (a traced call
    /// in a `Drop` run by a panic): that panic is not this span's failure.
    began_unwinding: bool,
    /// Initialised unless `kind` is `Off`. Swapped with the thread's current context while the
    /// scope is entered.
    cx: UnsafeCell<MaybeUninit<Context>>,
    /// Initialised when `kind` is `Record`; moved out when the span finishes.
    record: UnsafeCell<MaybeUninit<SpanRecord>>,
    /// Where the record goes; initialised when `kind` is `Record`.
    tracer: MaybeUninit<&'static Tracer>,
}

impl SpanGuard {
    /// No span. Guards are made empty and started in place: a guard is large, and returning a
    /// started one by value would copy it on every call.
    ///
    /// A function, not a constant: a constant is materialised whole, uninitialised bytes as
    /// zeros, where this writes one byte.
    #[inline]
    #[must_use]
    pub fn off() -> SpanGuard {
        SpanGuard {
            kind: Kind::Off,
            began_unwinding: false,
            cx: UnsafeCell::new(MaybeUninit::uninit()),
            record: UnsafeCell::new(MaybeUninit::uninit()),
            tracer: MaybeUninit::uninit(),
        }
    }

    /// Starts a span under the current span of this thread or task (or a new root).
    #[inline(always)]
    pub(crate) fn start(&mut self, callsite: &'static Callsite) {
        debug_assert_eq!(self.kind, Kind::Off);
        if let Some(tracer) = queue::get() {
            self.start_ambient(tracer, callsite);
        }
    }

    /// Starts a span under `parent`, or under the current span when `parent` holds no span.
    #[inline(always)]
    pub(crate) fn start_explicit(&mut self, callsite: &'static Callsite, parent: &Context) {
        debug_assert_eq!(self.kind, Kind::Off);
        if let Some(tracer) = queue::get() {
            // An empty context names no parent: the ambient one is used. One without ids that
            // carries a decision or baggage (read from a request that sent only those) is a
            // parent all the same: the root started under it honours them.
            if parent.is_empty() {
                self.start_ambient(tracer, callsite);
            } else {
                self.begin(tracer, callsite, parent, true);
            }
        }
    }

    /// Starts a span under `parent`, a new root when it names none, never under the ambient
    /// span: for a request from another process, or a `tracing` span given no parent.
    #[cfg(any(feature = "http", feature = "tracing"))]
    pub(crate) fn start_remote(&mut self, callsite: &'static Callsite, parent: &Context) {
        debug_assert_eq!(self.kind, Kind::Off);
        if let Some(tracer) = queue::get() {
            self.begin(tracer, callsite, parent, true);
        }
    }

    /// Starts a span under the current span of this thread or task (or a new root).
    #[inline(always)]
    fn start_ambient(&mut self, tracer: &'static Tracer, callsite: &'static Callsite) {
        current::with(|parent| {
            // Inline, the common case deep in a request that is not sampled: nothing to do.
            if parent.starts_spans() {
                self.begin(tracer, callsite, parent, false);
            }
        });
    }

    #[inline(never)]
    fn begin(
        &mut self,
        tracer: &'static Tracer,
        callsite: &'static Callsite,
        parent: &Context,
        explicit: bool,
    ) {
        self.begin_inline(tracer, callsite, parent, explicit);
    }

    /// `begin`, inlined into [`crate::local::sync_span`]'s start, which enters the span in the
    /// same call.
    #[inline(always)]
    pub(crate) fn begin_inline(
        &mut self,
        tracer: &'static Tracer,
        callsite: &'static Callsite,
        parent: &Context,
        explicit: bool,
    ) {
        if parent.is_pending() {
            // An unsampled root made elsewhere (a caller that said "do not sample"): followed,
            // not re-sampled. Only explicit parents get here; an ambient one stops at
            // `starts_spans`.
            self.enter_context(parent.clone());
        } else if !parent.is_valid() {
            self.root(tracer, callsite, parent);
        } else if parent.is_sampled() {
            self.record(tracer, callsite, parent.child(ids::span_id()), parent);
        } else if explicit {
            // An explicit unsampled parent becomes current, so that untouched code below follows
            // it rather than whatever was current before.
            self.enter_context(parent.clone());
        }
    }

    #[inline]
    fn root(&mut self, tracer: &'static Tracer, callsite: &'static Callsite, carry: &Context) {
        // A caller may force sampling without naming a trace (Jaeger's `jaeger-debug-id`, B3's
        // `b3: 1`): its decision stands in for the sampler's.
        let (sampled, trace_id) = if carry.is_sampled() {
            (true, None)
        } else {
            tracer.sampler.sample()
        };
        if sampled {
            let trace_id = trace_id.unwrap_or_else(ids::trace_id);
            let cx = Context::sampled_root(trace_id, ids::span_id(), carry);
            self.record(tracer, callsite, cx, carry);
        } else {
            // Entered all the same: descendants must see the unsampled decision, not re-sample
            // themselves as roots of orphan fragments.
            let trace_id = trace_id.unwrap_or_default();
            self.enter_context(Context::unsampled_root(trace_id, carry));
        }
    }

    #[inline]
    fn enter_context(&mut self, cx: Context) {
        self.cx.get_mut().write(cx);
        self.kind = Kind::Enter;
    }

    // Inlined into `begin`, so that the new context's ids come in registers, not through memory.
    #[inline(always)]
    fn record(
        &mut self,
        tracer: &'static Tracer,
        callsite: &'static Callsite,
        cx: Context,
        parent: &Context,
    ) {
        // The context and the record are written into the guard first thing, from the
        // registers the ids were made in. Written later (after the calls below), the context
        // went through the stack and was copied in with loads wider than the stores that had
        // just written it, a store-forwarding stall (`perf`: a fifth of `begin`'s samples).
        let is_root = !cx.parent_id.is_valid();
        let record = self.record.get_mut().write(SpanRecord {
            callsite,
            more: None,
            trace_id: cx.trace_id,
            span_id: cx.span_id,
            parent_id: cx.parent_id,
            sampler_tags: is_root.then_some(&tracer.sampler_tags),
            start: fastant::Instant::ZERO,
            end: fastant::Instant::ZERO,
            wall_start: 0,
            flags: cx.flags,
            inline_len: 0,
            inline_tags: NO_INLINE_TAGS,
        });
        let cx = self.cx.get_mut().write(cx);
        tracer.counters.started.add_one();
        if let Some(state) = cx.tracestate() {
            record.more().trace_state = Some(state.to_owned());
        }
        if let Some(debug_id) = parent.debug_id() {
            record.set_tag(
                "jaeger-debug-id",
                TagValue::String(Cow::Owned(debug_id.to_owned())),
            );
        }
        // Last, so that building the span is not part of its duration.
        record.start = fastant::Instant::now();
        self.began_unwinding = std::thread::panicking();
        self.tracer.write(tracer);
        self.kind = Kind::Record;
    }

    /// `true` when this span is recorded: tags and logs given to it are kept.
    #[inline]
    pub(crate) fn is_sampled(&self) -> bool {
        self.kind == Kind::Record
    }

    #[inline]
    pub(crate) fn enters_scope(&self) -> bool {
        self.kind != Kind::Off
    }

    /// The context of this span, for code that takes a `Context` argument. Without a span of
    /// its own (no tracer, or an unsampled ambient parent), the current context.
    pub(crate) fn context(&self) -> Context {
        if self.enters_scope() {
            // SAFETY: the cell's pointer is valid for `self`'s life; swapped only while a
            // `Scope` lives, and scopes borrow `self` for their whole life, so none is alive
            // during `&self`; nor is any other reference to it.
            let slot = unsafe { &mut *self.cx.get() };
            // SAFETY: initialised when `kind` is not `Off`.
            let cx = unsafe { slot.assume_init_mut() };
            cx.make_ids();
            cx.clone()
        } else {
            Context::current()
        }
    }

    /// Gives this span's context its ids, in place (an unsampled root's are made only when
    /// needed). For a guard whose own scope is never entered: the `tracing` bridge keeps the
    /// guard and enters copies of its context ([`SpanGuard::context_unentered`]), where a second
    /// copy kept beside the guard cost a clone per span and 48 more bytes to move.
    #[cfg(feature = "tracing")]
    pub(crate) fn make_ids(&mut self) {
        if self.enters_scope() {
            // SAFETY: initialised when `kind` is not `Off`; `&mut self` excludes any scope.
            unsafe { self.cx.get_mut().assume_init_mut() }.make_ids();
        }
    }

    /// This span's context, read in place; `None` without a span.
    ///
    /// # Safety
    /// No scope of this guard may be entered while the reference lives (the guard's own scopes
    /// swap the context out through the cell).
    #[cfg(feature = "tracing")]
    pub(crate) unsafe fn context_unentered(&self) -> Option<&Context> {
        if !self.enters_scope() {
            return None;
        }
        // SAFETY: the cell's pointer is valid for `self`'s life, and the caller keeps the scopes
        // that write through it out.
        let slot = unsafe { &*self.cx.get() };
        // SAFETY: initialised when `kind` is not `Off`.
        Some(unsafe { slot.assume_init_ref() })
    }

    /// Runs `f` on the record, if this span is sampled.
    #[inline]
    pub(crate) fn with_record(&self, f: impl FnOnce(&mut SpanRecord)) {
        if self.is_sampled() {
            // SAFETY: the cell's pointer is valid for `self`'s life. The only other access is
            // through the thread-local pointer of an entered scope, and no scope is entered while
            // crate code holding `&self` runs `f`.
            let slot = unsafe { &mut *self.record.get() };
            // SAFETY: initialised when `kind` is `Record`.
            f(unsafe { slot.assume_init_mut() });
        }
    }

    pub(crate) fn set_tag(&self, key: impl Into<Cow<'static, str>>, value: impl IntoTagValue) {
        self.with_record(|r| r.set_tag(key, value.into_tag_value()));
    }

    /// Marks the span failed (see [`SpanRecord::set_error`]).
    pub(crate) fn record_error(&self, kind: &str, message: &dyn fmt::Display) {
        self.with_record(|r| r.set_error(kind, message));
    }

    /// The context to make current for this span, and its record when sampled (else null);
    /// `None` without a span.
    #[inline(always)]
    pub(crate) fn scope(&self) -> Option<(*mut Context, *mut SpanRecord)> {
        if !self.enters_scope() {
            return None;
        }
        let record = if self.is_sampled() {
            self.record.get().cast::<SpanRecord>()
        } else {
            ptr::null_mut()
        };
        Some((self.cx.get().cast::<Context>(), record))
    }

    /// Runs `body` with this span current (the HTTP integrations' calls of the inner service).
    #[cfg(feature = "http")]
    pub(crate) fn run<R>(&self, body: impl FnOnce() -> R) -> R {
        let _scope = self.enter_if_any(Leaving::Call);
        body()
    }

    /// Enters this span's scope until the returned value is dropped.
    #[inline]
    pub(crate) fn enter_if_any(&self, leaving: Leaving) -> Option<Scope<'_>> {
        // SAFETY: the context (and the record, when sampled) are initialised, and the scope
        // borrows `self`, so they stay in place and are reached only through the scope until it
        // ends.
        self.scope()
            .map(|(cx, record)| unsafe { Scope::enter(cx, record, leaving) })
    }

    /// Finishes the span: the record goes to the tracer's queue.
    #[inline(never)]
    fn close(&mut self) {
        self.close_inline();
    }

    /// `close`, inlined into [`crate::local::sync_span`]'s end, which leaves the span's scope in
    /// the same call. Does nothing without a span.
    #[inline(always)]
    pub(crate) fn close_inline(&mut self) {
        if self.kind == Kind::Off {
            return;
        }
        if self.kind == Kind::Record {
            let end = fastant::Instant::now();
            // Dropped by an unwinding panic that started inside this span: it failed.
            if std::thread::panicking() && !self.began_unwinding {
                self.with_record(|record| record.set_error("panic", &panics::message()));
            }
            // SAFETY: initialised when `kind` is `Record`.
            let tracer = unsafe { self.tracer.assume_init() };
            let slot = self.record.get_mut();
            tracer.submit_with(|to| {
                // SAFETY: initialised when `kind` is `Record`, and read out once: `kind`
                // becomes `Off` below, before anything else can look at the guard.
                let r = unsafe { slot.assume_init_mut() };
                // Field by field, with `end` from its register, rather than a read of the whole
                // and `end` set on the copy: LLVM copies a record this size (168 bytes) with a
                // `memcpy` call, and these fields with a few vector moves.
                // SAFETY: the fields that own something are read out once, as the whole record
                // would be.
                let more = unsafe { ptr::read(&r.more) };
                let to = to.write(SpanRecord {
                    callsite: r.callsite,
                    more,
                    trace_id: r.trace_id,
                    span_id: r.span_id,
                    parent_id: r.parent_id,
                    sampler_tags: r.sampler_tags,
                    start: r.start,
                    end,
                    wall_start: r.wall_start,
                    flags: r.flags,
                    inline_len: r.inline_len,
                    // Nothing written: the tags in use are copied below, one by one.
                    inline_tags: NO_INLINE_TAGS,
                });
                let used = usize::from(r.inline_len);
                for (to, from) in to.inline_tags.iter_mut().zip(&r.inline_tags[..used]) {
                    // SAFETY: the first `inline_len` are initialised, and read out once, as
                    // `more` is.
                    to.write(unsafe { from.assume_init_read() });
                }
            });
        }
        // SAFETY: initialised when `kind` is not `Off`; dropped once, as `kind` becomes `Off`.
        unsafe { self.cx.get_mut().assume_init_drop() };
        self.kind = Kind::Off;
    }
}

impl Drop for SpanGuard {
    #[inline]
    fn drop(&mut self) {
        if self.kind != Kind::Off {
            self.close();
        }
    }
}

impl fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanGuard")
            .field("sampled", &self.is_sampled())
            .finish_non_exhaustive()
    }
}
