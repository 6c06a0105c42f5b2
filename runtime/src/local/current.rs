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
    /// The context of the innermost scope entered and not yet left (the top frame's), or, with
    /// no scope entered, the thread's own.
    cx: UnsafeCell<Context>,
    /// One frame for every scope entered and not yet left, innermost last (see [`Frame`]).
    ///
    /// A stack of frames, each naming where its scope keeps the context it replaced, rather
    /// than each scope putting back what it replaced on its own: scopes are not always left in
    /// the order they were entered (a `tracing` span entered inside a traced function and left
    /// after it returned, or held across an `.await`), and a value put back late was a finished
    /// span's context, current again for good, or a scope's own context lost to another's.
    open: UnsafeCell<Vec<Frame>>,
    /// The `tracing` spans entered on this thread and not yet left (`crate::bridge`).
    #[cfg(feature = "tracing")]
    bridged: UnsafeCell<Bridged>,
}

/// An entered scope, on the thread's stack of them.
///
/// While the scope is the innermost, its context is in [`Current::cx`] and `*slot` holds the one
/// it replaced; under another scope, its own context is in the slot of the frame above. Leaving
/// swaps the two back. A frame is on the stack only while its scope keeps `slot` (and `span`)
/// alive: a scope takes its frame off when it is left (a poll, the frames above its own too; see
/// [`Leaving`]).
#[derive(Clone, Copy)]
struct Frame {
    /// The record of the scope's sampled span (owned by the span's guard), or null when the
    /// scope records nothing. The top frame's is the open span.
    span: *mut SpanRecord,
    /// Where the scope keeps the context it replaced: a span guard's cell, or a box of the
    /// bridge's. Scopes entered at once keep distinct places, so it names the frame too.
    slot: *mut Context,
    /// `STARTS_SPANS` of the context in `slot`, put back with it (read back from the context
    /// just swapped in, it was a store-to-load stall on every enter and leave).
    starts: bool,
}

thread_local! {
    static CURRENT: Current = const {
        Current {
            cx: UnsafeCell::new(Context::NONE),
            open: UnsafeCell::new(Vec::new()),
            #[cfg(feature = "tracing")]
            bridged: UnsafeCell::new(Bridged { entered: Vec::new(), spare: Vec::new() }),
        }
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
/// set it from the context they bring in, and put the old value back).
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
    // SAFETY: the context is only mutated by scopes and `with_mut`, which never run while a
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
        // SAFETY: the stack is reached only here and by scopes entering and leaving, never
        // while another reference to it is alive; `f` is crate code that enters no scope.
        let open = unsafe { &*c.open.get() };
        if let Some(top) = open.last() {
            if !top.span.is_null() {
                // SAFETY: a frame is on the stack only while its scope keeps the record alive
                // and otherwise untouched (see `Frame`).
                f(unsafe { &mut *top.span });
            }
        }
    });
}

impl Current {
    /// The stack of frames.
    ///
    /// # Safety
    /// No other reference to it may be alive: only `with_open_span` and scopes entering and
    /// leaving reach it, one at a time, and none of them runs code that reaches it again.
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    unsafe fn open(&self) -> &mut Vec<Frame> {
        // SAFETY: the caller's promise.
        unsafe { &mut *self.open.get() }
    }

    /// Leaves the scope entered with `slot` (see [`leave`]).
    ///
    /// # Safety
    /// As for [`leave`].
    #[inline(always)]
    unsafe fn leave(&self, slot: *mut Context, leaving: Leaving) {
        // SAFETY: see `Current::open`.
        let open = unsafe { self.open() };
        let len = open.len();
        match open.last() {
            Some(&Frame {
                slot: top, starts, ..
            }) if top == slot => {
                // SAFETY: as in `enter_in`.
                unsafe { swap(self.cx.get(), slot) };
                STARTS_SPANS.with(|s| s.set(starts));
                // With the length read before the swap (after it, through pointers the compiler
                // cannot tell apart from the vector's, `pop` read and tested it again).
                // SAFETY: the stack has the frame just read: `len` is at least 1.
                unsafe { open.set_len(len - 1) };
            }
            // SAFETY: the caller's promise.
            _ => unsafe { self.leave_under(slot, leaving) },
        }
    }

    /// Leaves a scope whose frame is under others, or already taken off.
    ///
    /// # Safety
    /// As for [`leave`].
    #[cold]
    #[inline(never)]
    unsafe fn leave_under(&self, slot: *mut Context, leaving: Leaving) {
        // SAFETY: see `Current::open`.
        let open = unsafe { self.open() };
        let Some(at) = open.iter().rposition(|frame| frame.slot == slot) else {
            // Taken off with a poll it was entered in: its context is back in its slot.
            return;
        };
        match leaving {
            Leaving::Call => {
                // Not the top (`leave` saw to that), so there is a frame above, which now
                // keeps what this one replaced; this one's own context comes back to its slot.
                let starts = open[at].starts;
                let above = &mut open[at + 1];
                // SAFETY: both slots are alive while their frames are on the stack (see
                // `Frame`), distinct, and not otherwise referenced now.
                unsafe { swap(slot, above.slot) };
                above.starts = starts;
                open.remove(at);
            }
            Leaving::Poll => {
                // The scopes above are left first, innermost first, each context back in its
                // owner's slot.
                for frame in open[at..].iter().rev() {
                    // SAFETY: as above; and distinct from the thread-local's.
                    unsafe { swap(self.cx.get(), frame.slot) };
                }
                STARTS_SPANS.with(|s| s.set(open[at].starts));
                #[cfg(feature = "tracing")]
                self.forget_bridged(&open[at + 1..]);
                open.truncate(at);
            }
        }
    }
}

#[cfg(feature = "tracing")]
impl Current {
    /// Forgets the `tracing` spans whose frames a poll took off with its own: their exit, if it
    /// comes on this thread, has nothing left to do, and it may never come here (the future
    /// resumed on another thread and left the span there), so that their entries do not pile
    /// up for the thread's life.
    #[cold]
    fn forget_bridged(&self, taken_off: &[Frame]) {
        // SAFETY: as in `enter_bridged`; the caller holds the frames, not this.
        let Bridged { entered, spare } = unsafe { &mut *self.bridged.get() };
        entered.retain(|&(_, slot)| {
            if !taken_off.iter().any(|frame| frame.slot == slot.as_ptr()) {
                return true;
            }
            // SAFETY: its frame was just taken off.
            unsafe { give_back(spare, slot) };
            false
        });
    }
}

/// What leaving a scope does to the scopes entered after it and still entered (`tracing` spans:
/// traced's own scopes are left in order).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Leaving {
    /// A call returns (a traced sync call, `in_scope`): only its own scope is left, as
    /// `tracing`'s registry does. A `tracing` span entered in it and still entered (a returned
    /// `EnteredSpan`) stays current, and puts back what the call replaced when it is left.
    Call,
    /// A poll ends: the scopes entered in it are left with it, so that an `EnteredSpan` held
    /// across an `.await` is not current for whatever the thread runs next (as it is with
    /// `tracing`'s registry). Its exit, in a later poll (here or on another thread), finds
    /// nothing left to do.
    Poll,
}

/// Swaps two contexts.
///
/// A read and two copies: `ptr::swap_nonoverlapping` (and `mem::swap`) swapped in eight-byte
/// pieces in a sync call's start, 4 more instructions per sampled call (`callgrind`, 2026-12-04).
///
/// # Safety
/// Both are valid, distinct, and not otherwise referenced during the swap.
#[inline(always)]
unsafe fn swap(a: *mut Context, b: *mut Context) {
    // SAFETY: the caller's promise; `a`'s value is read out here and written back in `b` below,
    // once, with nothing between that could unwind.
    let held = unsafe { ptr::read(a) };
    // SAFETY: the caller's promise.
    unsafe { ptr::copy_nonoverlapping(b, a, 1) };
    // SAFETY: as above; `b`'s value was moved to `a` and is not dropped here.
    unsafe { ptr::write(b, held) };
}

/// Makes `*cx` this thread's current context, by swapping it into the thread-local (the
/// previous context waits in `*cx`), and `span` (when not null) the open span. `false` when the
/// thread-local is torn down: nothing is entered then.
///
/// # Safety
/// `cx` and a non-null `span` must stay valid, unmoved and otherwise unaccessed until [`leave`]
/// with the same `cx`, and no other scope entered meanwhile may use `cx`.
#[inline(always)]
pub(crate) unsafe fn enter(cx: *mut Context, span: *mut SpanRecord) -> bool {
    // SAFETY: the caller's promise is `enter_in`'s.
    CURRENT
        .try_with(|c| unsafe { enter_in(c, cx, span) })
        .is_ok()
}

/// `enter`, with the thread-local at hand.
///
/// # Safety
/// As for [`enter`].
#[inline(always)]
unsafe fn enter_in(c: &Current, cx: *mut Context, span: *mut SpanRecord) {
    // SAFETY: the caller's context is valid (see `enter`), and read before the swap.
    let starts = unsafe { (*cx).starts_spans() };
    // SAFETY: the two contexts are distinct (one is thread-local, the other the caller's) and
    // no reference into either is alive during the swap.
    unsafe { swap(c.cx.get(), cx) };
    let frame = Frame {
        span,
        slot: cx,
        starts: STARTS_SPANS.with(|s| s.replace(starts)),
    };
    // SAFETY: see `Current::open`.
    unsafe { c.open() }.push(frame);
}

/// Leaves what [`enter`] entered with `cx`: its context comes back to `*cx`, and what was
/// current before is current again. `leaving` says what becomes of scopes entered after it and
/// still entered.
///
/// # Safety
/// `cx` is a pointer a scope was entered with, still valid.
#[inline(always)]
pub(crate) unsafe fn leave(cx: *mut Context, leaving: Leaving) {
    // SAFETY: the caller's promise.
    let _ = CURRENT.try_with(|c| unsafe { c.leave(cx, leaving) });
}

/// Runs `start` with the current context (the new span's parent), and enters the context (and
/// record) it returns, reaching the thread-local once for both: a sync call's start, which
/// begins its span and makes it current in one call out of line. `true` when it entered.
///
/// # Safety
/// What `start` returns must be valid as [`enter`] requires, until [`leave`].
#[inline(always)]
pub(crate) unsafe fn start_and_enter(
    start: impl FnOnce(&Context) -> Option<(*mut Context, *mut SpanRecord)>,
) -> bool {
    // A pointer out of `try_with`, so that `start` (most of a sampled call's start, inlined
    // here) has one call site: called in both arms of a `match`, it was not inlined.
    let current = CURRENT.try_with(ptr::from_ref).ok();
    // SAFETY: the thread-local lives until the thread ends, past this call.
    let current = current.map(|c| unsafe { &*c });
    // SAFETY: as in `with`, no other reference into the context is alive: `start` is crate code
    // that neither enters nor leaves a scope, and the reference ends before the swap.
    let parent = current.map_or(&NONE, |c| unsafe { &*c.cx.get() });
    let Some((cx, span)) = start(parent) else {
        return false;
    };
    let Some(c) = current else {
        return false;
    };
    // SAFETY: the caller vouches for what `start` returned.
    unsafe { enter_in(c, cx, span) };
    true
}

/// An entered scope: while it lives, `cx` is this thread's current context and `span` its open
/// span. Dropping it puts back what was there before, including any baggage the scope added to
/// the context it owns.
pub(crate) struct Scope<'a> {
    cx: *mut Context,
    leaving: Leaving,
    /// `false` when the thread-local was torn down and nothing was entered.
    entered: bool,
    _borrow: PhantomData<&'a mut Context>,
}

impl<'a> Scope<'a> {
    /// Makes the context in `cx` current by swapping it into the thread-local; the previous
    /// context waits in `cx` until the scope ends.
    #[inline]
    pub(crate) fn enter_cell(cx: &'a UnsafeCell<Context>, leaving: Leaving) -> Self {
        // SAFETY: the cell is borrowed for the scope's life, and a shared cell is only ever
        // accessed through scopes, one at a time on its owner's thread.
        unsafe { Scope::enter(cx.get(), ptr::null_mut(), leaving) }
    }

    /// Makes `*cx` current, and `*span` (when not null) the open span, until the scope is dropped.
    ///
    /// # Safety
    /// `cx` and a non-null `span` must stay valid, unmoved and otherwise unaccessed for `'a`.
    #[inline]
    pub(crate) unsafe fn enter(cx: *mut Context, span: *mut SpanRecord, leaving: Leaving) -> Self {
        Scope {
            cx,
            leaving,
            // SAFETY: the caller keeps both valid for `'a`, and the scope leaves within it.
            entered: unsafe { enter(cx, span) },
            _borrow: PhantomData,
        }
    }
}

impl Drop for Scope<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.entered {
            // SAFETY: entered with `self.cx`, valid for the scope's life.
            unsafe { leave(self.cx, self.leaving) };
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
        Entered(ManuallyDrop::new(span.enter_if_any(Leaving::Poll)))
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

/// The `tracing` spans entered on this thread, each with a copy of its context in a box of its
/// own: a `tracing` span is entered and left in two calls (`on_enter`, `on_exit`), so no guard
/// of traced's keeps the context in between; the box is the slot of its frame, which must not
/// move while the frame is on the stack.
#[cfg(feature = "tracing")]
struct Bridged {
    /// Innermost last: the span's id, and the box its frame swaps with.
    entered: Vec<(u64, ptr::NonNull<Context>)>,
    /// Boxes of spans left, holding `Context::NONE`, to be used again: no allocation per enter.
    spare: Vec<ptr::NonNull<Context>>,
}

#[cfg(feature = "tracing")]
impl Drop for Bridged {
    fn drop(&mut self) {
        for slot in self
            .entered
            .drain(..)
            .map(|(_, slot)| slot)
            .chain(self.spare.drain(..))
        {
            // SAFETY: every pointer here came from `Box::leak`, and is freed once, here.
            drop(unsafe { Box::from_raw(slot.as_ptr()) });
        }
    }
}

/// Puts a bridged span's box back among the spare ones, dropping its copy of the span's context.
///
/// # Safety
/// The box's frame is off the stack: nothing else points at it any more.
#[cfg(feature = "tracing")]
unsafe fn give_back(spare: &mut Vec<ptr::NonNull<Context>>, slot: ptr::NonNull<Context>) {
    // SAFETY: the caller's promise; the box holds a valid context, dropped by the assignment.
    unsafe { *slot.as_ptr() = Context::NONE };
    spare.push(slot);
}

/// Makes a copy of `cx`, the context of `tracing` span `id`, current with no open span (tags
/// and logs of untouched code go nowhere until a span of traced's own is entered), until
/// [`exit_bridged`] of `id`.
#[cfg(feature = "tracing")]
pub(crate) fn enter_bridged(id: u64, cx: &Context) {
    let _ = CURRENT.try_with(|c| {
        // SAFETY: reached only here and in `exit_bridged`, neither of which runs the other.
        let bridged = unsafe { &mut *c.bridged.get() };
        let slot = bridged
            .spare
            .pop()
            .unwrap_or_else(|| ptr::NonNull::from(Box::leak(Box::new(Context::NONE))));
        // SAFETY: a box of ours, out of the spare list: nothing else points at it.
        unsafe { *slot.as_ptr() = cx.clone() };
        bridged.entered.push((id, slot));
        // SAFETY: the box stays allocated and is reached only through the frame until
        // `exit_bridged` takes the frame off (or finds it gone) and only then reuses it.
        unsafe { enter_in(c, slot.as_ptr(), ptr::null_mut()) };
    });
}

/// Leaves the latest entry of `tracing` span `id`, and only it, as the registry's own span
/// stack does ([`Leaving::Call`]): a scope entered after it and still entered stays current,
/// and puts back what the span replaced when it is left.
#[cfg(feature = "tracing")]
pub(crate) fn exit_bridged(id: u64) {
    let _ = CURRENT.try_with(|c| {
        // SAFETY: as in `enter_bridged`.
        let bridged = unsafe { &mut *c.bridged.get() };
        let Some(at) = bridged
            .entered
            .iter()
            .rposition(|&(entered, _)| entered == id)
        else {
            return;
        };
        let (_, slot) = bridged.entered.remove(at);
        // SAFETY: entered with the box, allocated until it is freed with `bridged`.
        unsafe { c.leave(slot.as_ptr(), Leaving::Call) };
        // SAFETY: its frame was just taken off (or was already).
        unsafe { give_back(&mut bridged.spare, slot) };
    });
}

#[cfg(test)]
mod tests {
    use std::cell::UnsafeCell;

    use super::{starts_spans, with, with_open_span, Leaving, Scope};
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
            let _outer = Scope::enter_cell(&sampled, Leaving::Call);
            assert!(mirrored());
            {
                let _inner = Scope::enter_cell(&unsampled, Leaving::Call);
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

    /// The current context's span id.
    fn current_span() -> Option<SpanId> {
        with(|cx| cx.is_sampled().then_some(cx.span_id))
    }

    /// A sampled context whose span id is `span`.
    fn root(span: u64) -> Context {
        Context::sampled_root(TraceId::new(1, 2), SpanId::new(span), &Context::NONE)
    }

    /// A scope's cell holding `root(span)`.
    fn sampled(span: u64) -> UnsafeCell<Context> {
        UnsafeCell::new(root(span))
    }

    /// What a cell holds while its scope is not entered: the scope's own context.
    fn held(cell: &UnsafeCell<Context>) -> Option<SpanId> {
        // SAFETY: no scope of the cell is entered while the tests look.
        let cx = unsafe { &*cell.get() };
        cx.is_sampled().then_some(cx.span_id)
    }

    #[test]
    fn a_poll_left_under_other_scopes_takes_them_off_and_puts_back_their_contexts() {
        let (outer, inner) = (sampled(1), sampled(2));
        let (mut outer_record, mut inner_record) = (test_span(1), test_span(2));
        // SAFETY: the contexts and records outlive the scopes and are not touched while entered.
        let outer_scope = unsafe { Scope::enter(outer.get(), &mut outer_record, Leaving::Poll) };
        // SAFETY: as above.
        let inner_scope = unsafe { Scope::enter(inner.get(), &mut inner_record, Leaving::Call) };
        assert_eq!(open_span(), Some(SpanId::new(2)));
        drop(outer_scope);
        assert_eq!(open_span(), None, "nothing is open once the poll is left");
        assert_eq!(current_span(), None, "what was current before both");
        assert!(mirrored());
        assert_eq!(held(&outer), Some(SpanId::new(1)), "the poll's own context");
        assert_eq!(
            held(&inner),
            Some(SpanId::new(2)),
            "the inner scope's own context"
        );
        drop(inner_scope);
        assert_eq!(
            open_span(),
            None,
            "the inner scope, left late, puts back nothing"
        );
        assert_eq!(current_span(), None);
        assert_eq!(held(&inner), Some(SpanId::new(2)));
    }

    /// A `tracing` span entered inside a traced function and left after it returned (a function
    /// returning `EnteredSpan`): what it put back was first a pointer to the function's record,
    /// whose guard was gone (`traced::tag` wrote through it), then the function's context,
    /// current again for good.
    #[cfg(feature = "tracing")]
    #[test]
    fn a_call_returning_under_a_bridged_span_leaves_it_current_until_it_is_left() {
        use super::{enter_bridged, exit_bridged};

        let cx = sampled(3);
        let mut record = test_span(1);
        // SAFETY: the context and record outlive the scope and are not touched while entered.
        let function = unsafe { Scope::enter(cx.get(), &mut record, Leaving::Call) };
        enter_bridged(7, &root(4));
        assert_eq!(
            open_span(),
            None,
            "a bridged span has no record of traced's"
        );
        drop(function);
        assert_eq!(
            current_span(),
            Some(SpanId::new(4)),
            "the returned span is current"
        );
        assert_eq!(
            held(&cx),
            Some(SpanId::new(3)),
            "the function's own context is back"
        );
        exit_bridged(7);
        assert_eq!(current_span(), None, "what was current before the function");
        assert!(mirrored());
        assert_eq!(open_span(), None, "not the function's record");
    }

    /// A `tracing` span entered by a caller and left inside a traced function (the function
    /// drops the caller's `EnteredSpan`): the function's span stays current, and what the
    /// `tracing` span replaced is current once the function returns.
    #[cfg(feature = "tracing")]
    #[test]
    fn a_bridged_span_left_under_a_scope_hands_what_it_replaced_to_that_scope() {
        use super::{enter_bridged, exit_bridged};

        enter_bridged(7, &root(4));
        let cx = sampled(3);
        let mut record = test_span(1);
        // SAFETY: as above.
        let function = unsafe { Scope::enter(cx.get(), &mut record, Leaving::Call) };
        exit_bridged(7);
        assert_eq!(
            current_span(),
            Some(SpanId::new(3)),
            "the function's span is still current"
        );
        assert_eq!(open_span(), Some(SpanId::new(1)), "and its record open");
        drop(function);
        assert_eq!(current_span(), None, "not the left `tracing` span");
        assert!(mirrored());
        assert_eq!(held(&cx), Some(SpanId::new(3)));
    }

    /// A `tracing` span entered in one poll of a traced future and left in a later one (an
    /// `EnteredSpan` held across an `.await`): the poll that ended took it off, and the future's
    /// own context stayed its own (it had become the `tracing` span's, for every later poll).
    #[cfg(feature = "tracing")]
    #[test]
    fn a_bridged_span_held_across_polls_leaves_the_futures_context_its_own() {
        use super::{enter_bridged, exit_bridged};

        let future = sampled(3);
        let first_poll = Scope::enter_cell(&future, Leaving::Poll);
        enter_bridged(7, &root(4));
        drop(first_poll);
        assert_eq!(current_span(), None, "between polls, nothing is current");
        assert_eq!(held(&future), Some(SpanId::new(3)));
        let second_poll = Scope::enter_cell(&future, Leaving::Poll);
        assert_eq!(current_span(), Some(SpanId::new(3)));
        exit_bridged(7);
        assert_eq!(
            current_span(),
            Some(SpanId::new(3)),
            "the future's span is still current"
        );
        drop(second_poll);
        assert_eq!(current_span(), None);
        assert_eq!(held(&future), Some(SpanId::new(3)));
    }

    /// A `tracing` span held across an `.await` whose future resumed on another thread: its exit
    /// comes there, never here, so the poll that took it off forgets it.
    #[cfg(feature = "tracing")]
    #[test]
    fn a_bridged_span_taken_off_by_a_poll_is_not_kept_for_an_exit_on_this_thread() {
        use super::{enter_bridged, exit_bridged, CURRENT};

        let entered = || {
            // SAFETY: nothing else reaches the thread's bridged spans while the test reads.
            CURRENT.with(|c| unsafe { &*c.bridged.get() }.entered.len())
        };
        let future = sampled(3);
        for _ in 0..3 {
            let poll = Scope::enter_cell(&future, Leaving::Poll);
            enter_bridged(7, &root(4));
            assert_eq!(entered(), 1);
            drop(poll);
            assert_eq!(entered(), 0, "forgotten when the poll took its frame off");
            assert_eq!(current_span(), None);
        }
        exit_bridged(7);
        assert_eq!(
            current_span(),
            None,
            "an exit that comes after all changes nothing"
        );
        assert_eq!(held(&future), Some(SpanId::new(3)));
    }

    #[cfg(feature = "tracing")]
    #[test]
    fn bridged_spans_left_out_of_order_leave_the_one_still_entered_current() {
        use super::{enter_bridged, exit_bridged};

        enter_bridged(7, &root(4));
        enter_bridged(8, &root(5));
        exit_bridged(7);
        assert_eq!(current_span(), Some(SpanId::new(5)));
        exit_bridged(8);
        assert_eq!(current_span(), None, "what was current before both");
    }

    /// Random interleavings of traced scopes (nested, as guards and polls are) with `tracing`
    /// spans entered and left in any order, against a model: the live scopes in the order they
    /// were entered, the last one's context current; a call leaves only itself, a poll the
    /// scopes above it too; a `tracing` span's exit leaves its latest live entry.
    #[cfg(feature = "tracing")]
    #[test]
    fn scopes_entered_and_left_in_any_order_keep_the_innermost_live_one_current() {
        use super::{enter_bridged, exit_bridged, CURRENT};

        /// A live scope of the model: its span id, and the `tracing` id of a bridged one.
        #[derive(Clone, Copy, PartialEq, Debug)]
        struct Live {
            span: u64,
            bridged: Option<u64>,
        }

        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut random = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let cells: Vec<UnsafeCell<Context>> = (1..=8).map(sampled).collect();
        for _ in 0..500 {
            let mut live: Vec<Live> = Vec::new();
            // The traced scopes entered, innermost last: its cell's index, and how it leaves.
            let mut scopes: Vec<(usize, Leaving, Scope<'_>)> = Vec::new();
            let mut next_span = 100;
            // Forty random steps, then leaving everything still entered, in a random order.
            for step in 0.. {
                let bridged_live: Vec<u64> = live.iter().filter_map(|l| l.bridged).collect();
                let op = if step < 40 {
                    random(4)
                } else if !bridged_live.is_empty() && (scopes.is_empty() || random(2) == 0) {
                    3
                } else if !scopes.is_empty() {
                    1
                } else {
                    break;
                };
                match op {
                    0 if scopes.len() < cells.len() => {
                        let at = scopes.len();
                        let leaving = if random(2) == 0 {
                            Leaving::Call
                        } else {
                            Leaving::Poll
                        };
                        scopes.push((at, leaving, Scope::enter_cell(&cells[at], leaving)));
                        live.push(Live {
                            span: at as u64 + 1,
                            bridged: None,
                        });
                    }
                    1 if !scopes.is_empty() => {
                        let (at, leaving, scope) = scopes.pop().expect("not empty");
                        drop(scope);
                        let own = Live {
                            span: at as u64 + 1,
                            bridged: None,
                        };
                        let index = live.iter().position(|l| *l == own).expect("live");
                        if leaving == Leaving::Poll {
                            live.truncate(index);
                        } else {
                            live.remove(index);
                        }
                        assert_eq!(held(&cells[at]), Some(SpanId::new(at as u64 + 1)));
                    }
                    2 => {
                        let id = random(3) + 1;
                        next_span += 1;
                        enter_bridged(id, &root(next_span));
                        live.push(Live {
                            span: next_span,
                            bridged: Some(id),
                        });
                    }
                    _ => {
                        let id = if step < 40 {
                            random(3) + 1
                        } else {
                            bridged_live[random(bridged_live.len() as u64) as usize]
                        };
                        exit_bridged(id);
                        if let Some(index) = live.iter().rposition(|l| l.bridged == Some(id)) {
                            live.remove(index);
                        }
                    }
                }
                assert_eq!(current_span(), live.last().map(|l| SpanId::new(l.span)));
                assert!(mirrored());
            }
            assert_eq!(current_span(), None, "all left: nothing is current");
            CURRENT.with(|c| {
                // SAFETY: nothing else reaches the stacks while the test reads them.
                let open = unsafe { &*c.open.get() };
                // SAFETY: as above.
                let bridged = unsafe { &*c.bridged.get() };
                assert!(open.is_empty() && bridged.entered.is_empty());
            });
        }
    }

    #[cfg(feature = "tracing")]
    #[test]
    fn the_inline_test_follows_a_bridged_context_and_its_leaving() {
        use super::{enter_bridged, exit_bridged};

        let unsampled = Context::unsampled_root(TraceId::new(1, 2), &Context::NONE);
        enter_bridged(7, &unsampled);
        assert!(!mirrored());
        exit_bridged(7);
        assert!(mirrored());
    }
}
