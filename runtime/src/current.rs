//! The ambient current span of a thread: the context new spans take as parent when no explicit
//! `Context` is given, and the open span that `traced::tag` and `traced::log` write to.
//!
//! Async code sees the same thing because its wrappers ([`crate::Instrumented`],
//! [`crate::WithContext`]) enter their context around every poll, on whatever worker thread
//! runs it.

use std::cell::{Cell, UnsafeCell};
use std::ptr;

use crate::context::Context;
use crate::finished::FinishedSpan;

/// The recording slot of an open sampled span. The span guard owns it; while the guard's scope is
/// entered, the thread-local below points at it so `traced::tag` can reach the span.
pub(crate) type RecordSlot = Cell<Option<Box<FinishedSpan>>>;

struct Current {
    cx: UnsafeCell<Context>,
    span: Cell<*const RecordSlot>,
}

thread_local! {
    static CURRENT: Current = const {
        Current { cx: UnsafeCell::new(Context::NONE), span: Cell::new(ptr::null()) }
    };
}

/// Runs `f` with the current context.
///
/// `f` must not enter or leave a scope; every caller is crate code that only reads the context.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&Context) -> R) -> R {
    let mut f = Some(f);
    // SAFETY: the context is only mutated by `Scope` and `modify`, which never run while a
    // reference from here is alive: `f` is crate code that does neither.
    match CURRENT.try_with(|c| (f.take().unwrap())(unsafe { &*c.cx.get() })) {
        Ok(r) => r,
        // Called from a thread-local destructor after ours was torn down: nothing is current.
        Err(_) => (f.take().unwrap())(&Context::NONE),
    }
}

/// Changes the current context in place (baggage set by `traced::set_baggage`).
pub(crate) fn modify(f: impl FnOnce(&mut Context)) {
    // SAFETY: as in `with`: no other reference to the context is alive while `f` runs.
    let _ = CURRENT.try_with(|c| f(unsafe { &mut *c.cx.get() }));
}

/// Runs `f` on the open span of this thread's current scope, if it is recorded.
pub(crate) fn with_open_span(f: impl FnOnce(&mut FinishedSpan)) {
    let _ = CURRENT.try_with(|c| {
        let slot = c.span.get();
        if slot.is_null() {
            return;
        }
        // SAFETY: a non-null pointer is set only by `Scope::enter`, which borrows the slot for as
        // long as the pointer stays installed, and is reset when that scope ends.
        let slot = unsafe { &*slot };
        if let Some(mut span) = slot.take() {
            f(&mut span);
            slot.set(Some(span));
        }
    });
}

/// An entered scope: while it lives, `cx` is this thread's current context and `span` its open
/// span. Dropping it puts back what was there before, including any baggage the scope added to
/// the context it owns.
pub(crate) struct Scope<'a> {
    cx: &'a UnsafeCell<Context>,
    prev_span: *const RecordSlot,
    entered: bool,
}

impl<'a> Scope<'a> {
    /// Makes the context in `cx` current by swapping it into the thread-local; the previous
    /// context waits in `cx` until the scope ends.
    #[inline]
    pub(crate) fn enter(cx: &'a UnsafeCell<Context>, span: Option<&'a RecordSlot>) -> Self {
        let entered = CURRENT.try_with(|c| {
            // SAFETY: the two cells are distinct (one is thread-local, the other owned by the
            // caller and borrowed for 'a) and no reference into either is alive during the swap.
            unsafe { ptr::swap(c.cx.get(), cx.get()) };
            c.span
                .replace(span.map_or(ptr::null(), |slot| slot as *const RecordSlot))
        });
        match entered {
            Ok(prev_span) => Scope {
                cx,
                prev_span,
                entered: true,
            },
            // The thread is being torn down: run without a current span rather than panic.
            Err(_) => Scope {
                cx,
                prev_span: ptr::null(),
                entered: false,
            },
        }
    }
}

impl Drop for Scope<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.entered {
            return;
        }
        let cx = self.cx;
        let prev_span = self.prev_span;
        let _ = CURRENT.try_with(|c| {
            // SAFETY: as in `enter`.
            unsafe { ptr::swap(c.cx.get(), cx.get()) };
            c.span.set(prev_span);
        });
    }
}
