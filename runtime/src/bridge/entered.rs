//! The bridged spans this thread has entered, each with what was current before it: a `tracing`
//! span is entered and left in two calls (`on_enter`, `on_exit`), so what it replaced waits here
//! in between.

use std::cell::RefCell;

use tracing_core::span::Id;

use crate::context::Context;
use crate::local::current::{self, Replaced};

/// An entered span, and what was current before it.
struct Entry {
    id: Id,
    replaced: Replaced,
}

thread_local! {
    static ENTERED: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Makes a copy of `cx`, the context of span `id`, current on this thread until [`exit`] of `id`.
pub(crate) fn enter(id: &Id, cx: &Context) {
    let _ = ENTERED.try_with(|entered| {
        let mut entered = entered.borrow_mut();
        // Written into its slot, where `push` made the entry on the stack first (growing the
        // vector is a call between making the value and storing it) and copied it in, with
        // loads wider than the stores that had just written it. With `replace` inlined and
        // `exit` in place: enter, replace, exit and restore went from 12.8% to 4.4% of the
        // calling thread's `perf` samples of a bridged span; criterion, interleaved, 416 -> 369
        // ns (2026-12-03).
        entered.reserve(1);
        let len = entered.len();
        entered.spare_capacity_mut()[0].write(Entry {
            id: id.clone(),
            replaced: current::replace(cx),
        });
        // SAFETY: the entry at `len` is initialised just above, within the capacity reserved.
        unsafe { entered.set_len(len + 1) };
    });
}

/// Leaves the latest entry of span `id`. Spans are left in the reverse order they were entered
/// (guards and `Instrument` do so); one left out of order hands what it replaced to the entry
/// above it, which puts that back when it is left, as the registry's own span stack does.
pub(crate) fn exit(id: &Id) {
    let _ = ENTERED.try_with(|entered| {
        let mut entered = entered.borrow_mut();
        let Some(at) = entered.iter().rposition(|e| e.id == *id) else {
            return;
        };
        let (left, above) = entered[at..].split_first_mut().expect("`at` is an index");
        match above.first_mut() {
            // What the left span replaced goes to the entry above; the left span's own context
            // comes back in its place, to be dropped with its entry.
            Some(above) => std::mem::swap(&mut above.replaced, &mut left.replaced),
            None => current::restore(&mut left.replaced),
        }
        // In place when it is the last (spans are left in order): `remove` copies the entry out
        // to drop it.
        if at + 1 == entered.len() {
            entered.truncate(at);
        } else {
            entered.remove(at);
        }
    });
}
