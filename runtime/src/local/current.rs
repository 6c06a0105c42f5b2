//! The ambient current span of a thread: the context new spans take as parent when no explicit
//! `Context` is given, and the open span that `traced::tag` and `traced::log` write to.
//!
//! Async code sees the same thing because its wrappers ([`crate::Instrumented`],
//! [`crate::WithContext`]) enter their context around every poll, on whatever worker thread
//! runs it.

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr;

use crate::context::Context;
use crate::local::guard::SpanGuard;
use crate::local::record::SpanRecord;

struct Current {
    cx: UnsafeCell<Context>,
    /// One entry for every scope entered and not yet left, innermost last: the record of its
    /// sampled span (owned by the span's guard), or null when the scope records nothing. The
    /// last entry is the open span.
    ///
    /// A stack, not one pointer whose previous value each scope keeps to put back: scopes are
    /// not always left in the order they were entered (a `tracing` span entered inside a traced
    /// function and left after it returned), and a kept pointer, put back late, pointed at a
    /// record whose guard was gone. A scope keeps the stack's depth instead, and leaving cuts the
    /// stack back to it, so an entry never outlives the scope that pushed it.
    open: UnsafeCell<Vec<*mut SpanRecord>>,
}

thread_local! {
    static CURRENT: Current = const {
        Current { cx: UnsafeCell::new(Context::NONE), open: UnsafeCell::new(Vec::new()) }
    };
    /// `starts_spans()` of the context in `CURRENT`, set after every change to it: a
    /// thread-local without a destructor is one load, the test a traced call makes inline,
    /// where reading `CURRENT` (which has one) also inlines its lazy registration.
    static STARTS_SPANS: Cell<bool> = const { Cell::new(true) };
}

impl Drop for Current {
    fn drop(&mut self) {
        // Torn down, the current context is `Context::NONE` (see `with`), which starts spans.
        STARTS_SPANS.with(|starts| starts.set(true));
    }
}

/// What is current once this thread's thread-local is torn down (in another thread-local's
/// destructor): nothing.
static NONE: Context = Context::NONE;

/// `true` when a call on this thread may start a span: no current span yet (a new root), or a
/// sampled one. `false` inside an unsampled trace, where a traced call does nothing more.
#[inline(always)]
pub(crate) fn starts_spans() -> bool {
    STARTS_SPANS.with(Cell::get)
}

/// Mirrors the current context into `STARTS_SPANS` after `with_mut` may have changed it (scopes
/// and `replace` set it from the context they bring in, and put the old value back).
#[inline]
fn mirror(current: &Context) {
    STARTS_SPANS.with(|starts| starts.set(current.starts_spans()));
}

impl Context {
    /// The context of the span running now on this thread or async task, or [`Context::NONE`]
    /// (carrying only baggage, if some was set) when there is none.
    pub fn current() -> Context {
        with_mut(|cx| {
            cx.make_ids();
            cx.clone()
        })
    }
}

/// Runs `f` with the current context.
///
/// `f` must not enter or leave a scope; every caller is crate code that only reads the context.
#[inline(always)]
pub(crate) fn with<R>(f: impl FnOnce(&Context) -> R) -> R {
    let cx = CURRENT
        .try_with(|c| c.cx.get().cast_const())
        .unwrap_or(&NONE);
    // SAFETY: the context is only mutated by `Scope` and `with_mut`, which never run while a
    // reference from here is alive: `f` is crate code that does neither.
    f(unsafe { &*cx })
}

/// Runs `f` with the current context, which it may change (give a pending root its ids, set
/// baggage).
pub(crate) fn with_mut<R>(f: impl FnOnce(&mut Context) -> R) -> R {
    let mut f = Some(f);
    match CURRENT.try_with(|c| {
        // SAFETY: as in `with`: no other reference to the context is alive while `f` runs.
        let cx = unsafe { &mut *c.cx.get() };
        let r = (f.take().expect("called once"))(cx);
        mirror(cx);
        r
    }) {
        Ok(r) => r,
        // Torn down: a fresh empty context, which nothing keeps.
        Err(_) => (f.take().expect("called once"))(&mut Context::default()),
    }
}

/// Runs `f` on the open span of this thread's current scope, if it is recorded.
pub(crate) fn with_open_span(f: impl FnOnce(&mut SpanRecord)) {
    let _ = CURRENT.try_with(|c| {
        // SAFETY: the stack is reached only here and by scopes (`push`, `cut`), never while
        // another reference to it is alive; `f` is crate code that enters no scope.
        let open = unsafe { &*c.open.get() };
        if let Some(&span) = open.last() {
            if !span.is_null() {
                // SAFETY: a non-null entry is pushed only by `Scope::enter`, whose caller keeps
                // the record alive and otherwise untouched until that scope ends, and a scope
                // that ends cuts the stack back below its entry.
                f(unsafe { &mut *span });
            }
        }
    });
}

impl Current {
    /// Pushes a scope's entry; returns the depth the stack is to be cut back to when it ends.
    #[inline]
    fn push(&self, span: *mut SpanRecord) -> usize {
        // SAFETY: see `with_open_span`.
        let open = unsafe { &mut *self.open.get() };
        let depth = open.len();
        open.push(span);
        depth
    }

    /// Cuts the stack back to `depth`, dropping the entries of the scope that pushed at that
    /// depth and of any still above it (scopes left out of order).
    #[inline]
    fn cut(&self, depth: usize) {
        // SAFETY: see `with_open_span`.
        unsafe { &mut *self.open.get() }.truncate(depth);
    }
}

/// What entering a scope replaced, put back when it is left: the depth of the open-span stack
/// before the scope's entry, and `STARTS_SPANS` (read back from the context just swapped in, it
/// was a store-to-load stall on every enter and leave).
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    depth: usize,
    prev_starts: bool,
}

/// Makes `*cx` this thread's current context, by swapping it into the thread-local (the
/// previous context waits in `*cx`), and `span` (when not null) the open span. `None` when the
/// thread-local is torn down: nothing is entered then.
///
/// # Safety
/// `cx` and a non-null `span` must stay valid, unmoved and otherwise unaccessed until [`leave`]
/// with the returned entry.
#[inline(always)]
pub(crate) unsafe fn enter(cx: *mut Context, span: *mut SpanRecord) -> Option<Entry> {
    // SAFETY: the caller's promise is `enter_in`'s.
    CURRENT.try_with(|c| unsafe { enter_in(c, cx, span) }).ok()
}

/// `enter`, with the thread-local at hand.
///
/// # Safety
/// As for [`enter`].
#[inline(always)]
unsafe fn enter_in(c: &Current, cx: *mut Context, span: *mut SpanRecord) -> Entry {
    // SAFETY: the caller's context is valid (see `enter`), and read before the swap.
    let starts = unsafe { (*cx).starts_spans() };
    // SAFETY: the two contexts are distinct (one is thread-local, the other the caller's) and
    // no reference into either is alive during the swap.
    unsafe { ptr::swap_nonoverlapping(c.cx.get(), cx, 1) };
    Entry {
        depth: c.push(span),
        prev_starts: STARTS_SPANS.with(|s| s.replace(starts)),
    }
}

/// Leaves what [`enter`] entered: the context comes back to `*cx`, and what was current before
/// is current again.
///
/// # Safety
/// `cx` is the pointer `entry` was entered with, still valid.
#[inline(always)]
pub(crate) unsafe fn leave(cx: *mut Context, entry: Entry) {
    let _ = CURRENT.try_with(|c| {
        // SAFETY: as in `enter_in`.
        unsafe { ptr::swap_nonoverlapping(c.cx.get(), cx, 1) };
        STARTS_SPANS.with(|s| s.set(entry.prev_starts));
        c.cut(entry.depth);
    });
}

/// Runs `start` with the current context (the new span's parent), and enters the context (and
/// record) it returns, reaching the thread-local once for both: a sync call's start, which
/// begins its span and makes it current in one call out of line.
///
/// # Safety
/// What `start` returns must be valid as [`enter`] requires, until [`leave`] with the entry.
#[inline(always)]
pub(crate) unsafe fn start_and_enter(
    start: impl FnOnce(&Context) -> Option<(*mut Context, *mut SpanRecord)>,
) -> Option<Entry> {
    // A pointer out of `try_with`, so that `start` (most of a sampled call's start, inlined
    // here) has one call site: called in both arms of a `match`, it was not inlined.
    let current = CURRENT.try_with(ptr::from_ref).ok();
    // SAFETY: the thread-local lives until the thread ends, past this call.
    let current = current.map(|c| unsafe { &*c });
    // SAFETY: as in `with`, no other reference into the context is alive: `start` is crate code
    // that neither enters nor leaves a scope, and the reference ends before the swap.
    let parent = current.map_or(&NONE, |c| unsafe { &*c.cx.get() });
    let (cx, span) = start(parent)?;
    // SAFETY: the caller vouches for what `start` returned.
    current.map(|c| unsafe { enter_in(c, cx, span) })
}

/// An entered scope: while it lives, `cx` is this thread's current context and `span` its open
/// span. Dropping it puts back what was there before, including any baggage the scope added to
/// the context it owns.
pub(crate) struct Scope<'a> {
    cx: *mut Context,
    /// `None` when the thread-local was torn down and nothing was entered.
    entry: Option<Entry>,
    _borrow: PhantomData<&'a mut Context>,
}

impl<'a> Scope<'a> {
    /// Makes the context in `cx` current by swapping it into the thread-local; the previous
    /// context waits in `cx` until the scope ends.
    #[inline]
    pub(crate) fn enter_cell(cx: &'a UnsafeCell<Context>) -> Self {
        // SAFETY: the cell is borrowed for the scope's life, and a shared cell is only ever
        // accessed through scopes, one at a time on its owner's thread.
        unsafe { Scope::enter(cx.get(), ptr::null_mut()) }
    }

    /// Makes `*cx` current, and `*span` (when not null) the open span, until the scope is dropped.
    ///
    /// # Safety
    /// `cx` and a non-null `span` must stay valid, unmoved and otherwise unaccessed for `'a`.
    #[inline]
    pub(crate) unsafe fn enter(cx: *mut Context, span: *mut SpanRecord) -> Self {
        Scope {
            cx,
            // SAFETY: the caller keeps both valid for `'a`, and the scope leaves within it.
            entry: unsafe { enter(cx, span) },
            _borrow: PhantomData,
        }
    }
}

impl Drop for Scope<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(entry) = self.entry {
            // SAFETY: entered with `self.cx`, valid for the scope's life.
            unsafe { leave(self.cx, entry) };
        }
    }
}

/// A scope entered and left out of line, for an async body's poll, compiled at every traced
/// `async fn`: there each is one call behind a byte test, where a `Scope` would inline the
/// thread-local's access twice. (A sync body's span enters itself: `crate::local::sync_span`.)
#[must_use]
pub(crate) struct Entered<'a>(ManuallyDrop<Option<Scope<'a>>>);

impl<'a> Entered<'a> {
    /// Enters the scope of `span`'s context, if it has one.
    #[inline]
    pub(crate) fn enter(span: &'a SpanGuard) -> Self {
        if span.enters_scope() {
            Entered::enter_out_of_line(span)
        } else {
            Entered(ManuallyDrop::new(None))
        }
    }

    #[inline(never)]
    fn enter_out_of_line(span: &'a SpanGuard) -> Self {
        Entered(ManuallyDrop::new(span.enter_if_any()))
    }

    // The scope in `ManuallyDrop`, dropped here: otherwise the drop glue of every function
    // holding an `Entered` would drop the (then empty) `Option<Scope>` itself, inlining the
    // thread-local's access and its destructor registration there.
    #[inline(never)]
    fn leave(&mut self) {
        // SAFETY: dropped once: `Entered` is being dropped, and this is its only drop of it.
        unsafe { ManuallyDrop::drop(&mut self.0) };
    }
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.0.is_some() {
            self.leave();
        }
    }
}

/// What a scope entered by [`replace`] took the place of, to be put back by [`restore`]: for a
/// scope entered and left in two separate calls (a `tracing` span's enter and exit, in
/// `crate::bridge`), which a borrowing [`Scope`] cannot span.
#[cfg(feature = "tracing")]
pub(crate) struct Replaced {
    cx: Context,
    /// The open-span stack's depth before `replace` pushed its (empty) entry.
    depth: usize,
    /// `STARTS_SPANS` before, put back by `restore` (as a `Scope` does).
    starts: bool,
}

/// Makes a copy of `cx` current with no open span (tags and logs of untouched code go nowhere
/// until a span of traced's own is entered); returns what was current.
///
/// Inlined, so that its caller writes what was current straight where it keeps it (the bridge's
/// stack of entered spans): made here and returned, it went through the stack twice, with loads
/// wider than the stores before them (`perf`, 2026-12-03: a fifth of the bridge's enter).
#[cfg(feature = "tracing")]
#[inline(always)]
pub(crate) fn replace(cx: &Context) -> Replaced {
    CURRENT
        .try_with(|c| Replaced {
            // SAFETY: no reference into the thread's context is alive: only `with`, `with_mut`
            // and scopes reach it, and none of them is running here.
            cx: std::mem::replace(unsafe { &mut *c.cx.get() }, cx.clone()),
            depth: c.push(ptr::null_mut()),
            starts: STARTS_SPANS.with(|s| s.replace(cx.starts_spans())),
        })
        .unwrap_or_else(|_| Replaced {
            cx: cx.clone(),
            depth: 0,
            starts: true,
        })
}

/// Puts back what [`replace`] replaced, in place: `replaced` then holds the context `replace`
/// made current, to be dropped.
#[cfg(feature = "tracing")]
pub(crate) fn restore(replaced: &mut Replaced) {
    let _ = CURRENT.try_with(|c| {
        // SAFETY: as in `replace`.
        unsafe { ptr::swap(c.cx.get(), &mut replaced.cx) };
        STARTS_SPANS.with(|s| s.set(replaced.starts));
        c.cut(replaced.depth);
    });
}

#[cfg(test)]
mod tests {
    use std::cell::UnsafeCell;

    use super::{starts_spans, with, with_open_span, Scope};
    use crate::context::Context;
    use crate::ids::{SpanId, TraceId};
    use crate::local::record::test_span;

    fn mirrored() -> bool {
        let expected = with(Context::starts_spans);
        assert_eq!(
            starts_spans(),
            expected,
            "the mirror and the context disagree"
        );
        expected
    }

    #[test]
    fn the_inline_test_follows_the_current_context_through_nested_scopes() {
        let trace = TraceId::new(1, 2);
        let sampled = UnsafeCell::new(Context::sampled_root(trace, SpanId::new(3), &Context::NONE));
        let unsampled = UnsafeCell::new(Context::unsampled_root(trace, &Context::NONE));
        assert!(mirrored(), "nothing current: a call starts a root");
        {
            let _outer = Scope::enter_cell(&sampled);
            assert!(mirrored());
            {
                let _inner = Scope::enter_cell(&unsampled);
                assert!(!mirrored(), "inside an unsampled trace nothing starts");
                // Giving the pending root its ids changes the context, not the answer.
                let _ = Context::current();
                assert!(!mirrored());
            }
            assert!(mirrored(), "left: the sampled span is current again");
        }
        assert!(mirrored());
    }

    /// The id of the open span's record, if there is one.
    fn open_span() -> Option<SpanId> {
        let mut id = None;
        with_open_span(|record| id = Some(record.span_id()));
        id
    }

    #[test]
    fn a_scope_left_out_of_order_takes_the_open_spans_of_the_scopes_above_it() {
        let cx = Context::sampled_root(TraceId::new(1, 2), SpanId::new(3), &Context::NONE);
        let (outer_cx, inner_cx) = (UnsafeCell::new(cx.clone()), UnsafeCell::new(cx));
        let (mut outer, mut inner) = (test_span(1), test_span(2));
        // SAFETY: the contexts and records outlive the scopes and are not touched while entered.
        let outer_scope = unsafe { Scope::enter(outer_cx.get(), &mut outer) };
        // SAFETY: as above.
        let inner_scope = unsafe { Scope::enter(inner_cx.get(), &mut inner) };
        assert_eq!(open_span(), Some(SpanId::new(2)));
        drop(outer_scope);
        assert_eq!(
            open_span(),
            None,
            "nothing is open once the outer scope is left"
        );
        drop(inner_scope);
        assert_eq!(
            open_span(),
            None,
            "the inner scope, left late, puts back nothing"
        );
    }

    /// A `tracing` span entered inside a traced function and left after it returned (a function
    /// returning `EnteredSpan`): what it put back was a pointer to the function's record, whose
    /// guard was gone, and `traced::tag` wrote through it.
    #[cfg(feature = "tracing")]
    #[test]
    fn a_replaced_scope_restored_after_the_span_under_it_ended_leaves_no_open_span() {
        use super::{replace, restore};

        let cx = UnsafeCell::new(Context::sampled_root(
            TraceId::new(1, 2),
            SpanId::new(3),
            &Context::NONE,
        ));
        let mut record = test_span(1);
        // SAFETY: the context and record outlive the scope and are not touched while entered.
        let function = unsafe { Scope::enter(cx.get(), &mut record) };
        let mut bridged = replace(&Context::NONE);
        assert_eq!(
            open_span(),
            None,
            "a bridged span has no record of traced's"
        );
        drop(function);
        restore(&mut bridged);
        assert_eq!(
            open_span(),
            None,
            "the function's span ended: nothing is open, not its record"
        );
    }

    #[cfg(feature = "tracing")]
    #[test]
    fn the_inline_test_follows_a_replaced_context_and_its_restoring() {
        use super::{replace, restore};

        let unsampled = Context::unsampled_root(TraceId::new(1, 2), &Context::NONE);
        let mut replaced = replace(&unsampled);
        assert!(!mirrored());
        restore(&mut replaced);
        assert!(mirrored());
    }
}
