//! The span of a sync call: started and made current in one call out of line, left and finished
//! in one when dropped. Pinned where generated code makes it, so that its drop, which takes its
//! record off the thread's open-span stack, is sure to run before its memory is reused.
//!
//! Async bodies keep a [`SpanGuard`] instead, moved into the future that enters it around every
//! poll ([`crate::local::instrument`]).

use std::marker::{PhantomData, PhantomPinned};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::pin::Pin;

use crate::context::Context;
use crate::local::current::{self, Leaving};
use crate::local::guard::{Callsite, SpanGuard};
use crate::local::queue;

// Why one type that starts and enters, rather than a guard and a scope entered from it, each a
// call out of line (`Entered`, before): two calls where one will do, each reaching the
// thread-local and saving registers of its own. Measured with `call_overhead`'s sampled row and
// `callgrind` (instructions per sampled call, the calling thread): see the README's run-time
// section.
/// A sync call's span, current from its start until it is dropped.
///
/// Only generated code makes one, in a `pin!` slot: the open-span stack points at its record
/// while it is current, so it must not move (it is `!Unpin`) or outlive its thread (`!Send`), and
/// pinned, it is dropped before its memory is reused, even if the pin is forgotten.
#[doc(hidden)]
pub struct SyncSpan {
    /// Never dropped as such: [`SyncSpan::finish`] closes it, after which it holds nothing.
    guard: ManuallyDrop<SpanGuard>,
    /// Set while the span's scope is entered.
    entered: bool,
    _pinned: PhantomPinned,
    _this_thread: PhantomData<*const ()>,
}

impl SyncSpan {
    /// No span yet; started in place by [`SyncSpan::start_call`].
    #[inline]
    #[must_use]
    pub fn off() -> SyncSpan {
        SyncSpan {
            guard: ManuallyDrop::new(SpanGuard::off()),
            entered: false,
            _pinned: PhantomPinned,
            _this_thread: PhantomData,
        }
    }

    /// Starts the span of a call under the current span (or a new root), and makes it current.
    ///
    /// Inline, the two tests that end most calls that start nothing (no tracer; inside an
    /// unsampled trace): two loads.
    #[inline]
    pub fn start_call(self: Pin<&mut Self>, callsite: &'static Callsite) {
        if queue::get().is_some() && current::starts_spans() {
            // SAFETY: starting writes the span in place; nothing is moved out.
            unsafe { self.get_unchecked_mut() }.start_out_of_line(callsite);
        }
    }

    #[inline(never)]
    fn start_out_of_line(&mut self, callsite: &'static Callsite) {
        let Some(tracer) = queue::get() else {
            return;
        };
        let guard = &mut *self.guard;
        // SAFETY: the context and record returned are the guard's, which is pinned (see the
        // type's doc) and left by `finish` before it is closed.
        self.entered = unsafe {
            current::start_and_enter(|parent| {
                // Inside an unsampled trace nothing starts (the inline test above said so, but
                // it read a mirror; this reads the context itself).
                if parent.starts_spans() {
                    guard.begin_inline(tracer, callsite, parent, false);
                }
                guard.scope()
            })
        };
    }

    /// Starts the span of a call under an explicit `Context` argument, and makes it current.
    #[inline(never)]
    pub fn start_call_under(self: Pin<&mut Self>, callsite: &'static Callsite, parent: &Context) {
        // SAFETY: as in `start_call`.
        let this = unsafe { self.get_unchecked_mut() };
        this.guard.start_explicit(callsite, parent);
        if let Some((cx, span)) = this.guard.scope() {
            // SAFETY: as in `start_out_of_line`.
            this.entered = unsafe { current::enter(cx, span) };
        }
    }

    /// The context an explicit `Context` parameter is rebound to inside the body: this span's
    /// (current now), or the argument itself when this call has no span of its own.
    #[must_use]
    pub fn rebind(&self, original: &Context) -> Context {
        if self.entered {
            Context::current()
        } else {
            self.guard.rebind(original)
        }
    }

    /// Runs a sync body, which the span is already current for. The closure gives `return` and
    /// `?` a target before the function returns, so the result can be recorded.
    #[inline]
    pub fn run<R, F: FnOnce() -> R>(&self, body: F) -> R {
        body()
    }

    /// Leaves the span's scope and finishes it: one call out of line.
    #[inline(never)]
    fn finish(&mut self) {
        if std::mem::take(&mut self.entered) {
            if let Some((cx, _)) = self.guard.scope() {
                // SAFETY: entered with this context pointer, still valid: the guard is pinned.
                unsafe { current::leave(cx, Leaving::Call) };
            }
        }
        self.guard.close_inline();
    }
}

impl Deref for SyncSpan {
    type Target = SpanGuard;

    /// The guard, for what generated code does with a started span (tags, the result).
    #[inline]
    fn deref(&self) -> &SpanGuard {
        &self.guard
    }
}

impl Drop for SyncSpan {
    #[inline]
    fn drop(&mut self) {
        if self.guard.enters_scope() {
            self.finish();
        }
    }
}

impl std::fmt::Debug for SyncSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.guard.fmt(f)
    }
}
