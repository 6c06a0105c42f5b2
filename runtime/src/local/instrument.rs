//! Carrying the current span through async code: a future wrapper enters its context around
//! every poll, on whatever thread polls it, and leaves it before returning, so the context
//! follows the task across `.await`s and worker threads and never leaks into other tasks.

use std::cell::UnsafeCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use crate::context::Context;
use crate::local::current::{Entered, Leaving, Scope};
use crate::local::guard::SpanGuard;

pin_project! {
    /// The body of a traced `async fn`, polled inside its span.
    ///
    /// Completes with the body's output and the span, so the caller can record the result before
    /// the span finishes. Dropped before completing, it finishes the span tagged
    /// `cancelled = true`.
    #[doc(hidden)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        // Declared after `inner`, so the body (and the spans it holds) is dropped first.
        span: Pending,
    }
}

/// The span of an unfinished future; tags it cancelled if dropped while still here.
struct Pending(Option<SpanGuard>);

// SAFETY: only `poll` (through `&mut`) and `drop` touch the guard; a shared `&Instrumented` gives
// no access to it, so sharing one between threads shares nothing. Without this, every future
// holding a traced call would stop being `Sync`.
unsafe impl Sync for Pending {}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(span) = self.0.take() {
            span.set_tag("cancelled", true);
        }
    }
}

impl<F> Instrumented<F> {
    pub(crate) fn new(inner: F, span: SpanGuard) -> Self {
        Instrumented {
            inner,
            span: Pending(Some(span)),
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = (F::Output, SpanGuard);

    /// Generic, so compiled at every traced `async fn`: only the projection and the inner poll
    /// are here; entering the span and taking it back are one non-generic function each.
    ///
    /// No inline hint (LLVM decides): with `#[inline]` a release build inlined each traced
    /// future's poll into its caller's, whose optimisation time grows faster than its size;
    /// with `#[inline(never)]` a library compiled every poll itself, where otherwise its callers
    /// compile only those they use. `benches/compile_time/run.py --n 300`, release rebuilds,
    /// `#[inline(never)]` / none, plain: library 2.57 / 1.67 / 0.32 s, `--application` 3.28 /
    /// 2.98 / 0.69 s (`#[inline]` was 4.14 s against 2.48 for `#[inline(never)]` with `--n 200
    /// --application`).
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let slot: *mut Option<SpanGuard> = &mut this.span.0;
        // Declared before the scope, so that on a panic it runs after the scope has put the
        // caller's context back.
        let on_unwind = FinishOnUnwind(slot);
        // SAFETY: `slot` points into the pinned future, valid for this call; only `on_unwind`
        // touches it again, after the scope that borrows the guard has ended.
        let scope = enter(unsafe { &*slot });
        let polled = this.inner.poll(cx);
        drop(scope);
        std::mem::forget(on_unwind);
        match polled {
            // SAFETY: as above; no reference into the slot is alive now.
            Poll::Ready(output) => Poll::Ready((output, finished(unsafe { &mut *slot }))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Makes the span of an `Instrumented` current for one poll.
#[inline]
fn enter(slot: &Option<SpanGuard>) -> Entered<'_> {
    match slot {
        Some(span) => Entered::enter(span),
        None => polled_after_completion(),
    }
}

/// The span of an `Instrumented` whose body completed, handed back to record the result.
#[inline]
fn finished(slot: &mut Option<SpanGuard>) -> SpanGuard {
    match slot.take() {
        Some(span) => span,
        None => polled_after_completion(),
    }
}

#[cold]
#[inline(never)]
fn polled_after_completion() -> ! {
    panic!("`Instrumented` polled after completion")
}

/// Finishes an `Instrumented`'s span when a poll unwinds: the span's guard, dropped while the
/// thread panics, records the panic. Done then, not when the future is dropped, because the
/// executor may catch the panic and keep the task (and the span) around; dropped later, the
/// span would say `cancelled`. Forgotten when the poll returns normally, so it costs nothing
/// then.
struct FinishOnUnwind(*mut Option<SpanGuard>);

impl Drop for FinishOnUnwind {
    fn drop(&mut self) {
        // SAFETY: only alive during `poll`, where the pointer is valid, and dropped (on unwind)
        // after the scope that borrowed the guard.
        drop(unsafe { (*self.0).take() });
    }
}

pin_project! {
    /// A future that runs with a given context current: spans it starts are children of that
    /// context. Made by [`FutureExt::in_current_context`] and [`FutureExt::with_context`].
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        cx: ContextCell,
    }
}

/// A context to enter; swapped with the thread's current context while entered, so baggage set
/// by the wrapped code persists across polls.
struct ContextCell(UnsafeCell<Context>);

// SAFETY: the cell is only touched through `&mut` access to the future that owns it (poll), on
// the polling thread; the context itself is `Send`.
unsafe impl Send for ContextCell {}
// SAFETY: no `&self` method of the future reads or writes the cell.
unsafe impl Sync for ContextCell {}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _scope = Scope::enter_cell(&this.cx.0, Leaving::Poll);
        this.inner.poll(cx)
    }
}

/// Carries the current context into futures that run elsewhere: spawned tasks, select arms,
/// futures stored and polled later.
///
/// A spawned task starts with no current span of its own; wrap it to keep it in the trace:
///
/// ```
/// use traced::FutureExt as _;
///
/// # async fn work() {}
/// # async fn demo() {
/// tokio::spawn(work().in_current_context());
/// # }
/// ```
pub trait FutureExt: Future + Sized {
    /// Runs this future with the context current now (at the call, not at the first poll).
    fn in_current_context(self) -> WithContext<Self> {
        self.with_context(Context::current())
    }

    /// Runs this future with `cx` current.
    fn with_context(self, cx: Context) -> WithContext<Self> {
        WithContext {
            inner: self,
            cx: ContextCell(UnsafeCell::new(cx)),
        }
    }
}

impl<F: Future> FutureExt for F {}

impl Context {
    /// Runs `f` with this context current: spans started inside are its children.
    ///
    /// ```
    /// use traced::Context;
    ///
    /// let cx = Context::NONE.with_baggage("user", "42");
    /// cx.in_scope(|| assert_eq!(Context::current().baggage("user"), Some("42")));
    /// assert_eq!(Context::current().baggage("user"), None);
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let cell = UnsafeCell::new(self.clone());
        let _scope = Scope::enter_cell(&cell, Leaving::Call);
        f()
    }

    /// Wraps `f` so that it runs with this context current, wherever it is called: the way to
    /// keep a spawned thread in the trace.
    ///
    /// ```
    /// use traced::Context;
    ///
    /// let handle = std::thread::spawn(Context::current().wrap(|| {
    ///     // spans started here are children of the span that spawned the thread
    /// }));
    /// handle.join().unwrap();
    /// ```
    pub fn wrap<R>(self, f: impl FnOnce() -> R) -> impl FnOnce() -> R {
        move || self.in_scope(f)
    }
}
