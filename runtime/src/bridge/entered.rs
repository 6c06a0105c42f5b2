//! The bridged spans this thread has entered, each with what was current before it: a `tracing`
//! span is entered and left in two calls (`on_enter`, `on_exit`), so what it replaced waits here
//! in between.

use std::cell::RefCell;

use tracing_core::span::Id;

use crate::context::Context;
use crate::local::current::{self, Replaced};

thread_local! {
    static ENTERED: RefCell<Vec<(Id, Replaced)>> = const { RefCell::new(Vec::new()) };
}

/// Makes `cx`, the context of span `id`, current on this thread until [`exit`] of `id`.
pub(crate) fn enter(id: &Id, cx: Context) {
    let _ = ENTERED.try_with(|entered| {
        let replaced = current::replace(cx);
        entered.borrow_mut().push((id.clone(), replaced));
    });
}

/// Leaves the latest entry of span `id`. Spans are left in the reverse order they were entered
/// (guards and `Instrument` do so); one left out of order hands what it replaced to the entry
/// above it, which puts that back when it is left, as the registry's own span stack does.
pub(crate) fn exit(id: &Id) {
    let _ = ENTERED.try_with(|entered| {
        let mut entered = entered.borrow_mut();
        let Some(at) = entered.iter().rposition(|(e, _)| e == id) else {
            return;
        };
        let (_, replaced) = entered.remove(at);
        match entered.get_mut(at) {
            Some((_, above)) => *above = replaced,
            None => current::restore(replaced),
        }
    });
}
