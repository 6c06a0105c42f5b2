//! Panics recorded on the spans they cross, without a `catch_unwind` at every traced call.
//!
//! A guard dropped while its thread unwinds marks its span failed. The message comes from a panic
//! hook, installed with the first tracer and chained to the hook that was there before (so the
//! usual "thread panicked at" line still prints): it keeps the payload's text in a thread-local
//! for the guards that unwind after it.
//!
//! Why not `catch_unwind` around each body, as before: it is a generic function instantiated at
//! every traced call site (compile time, measured in `benches/compile_time`), and it needs the
//! body in a closure, which hides a `#[track_caller]` function's caller from the code inside it.

use std::cell::RefCell;
use std::sync::Once;

thread_local! {
    /// The text of this thread's latest panic, as the hook saw it.
    static MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// What a span's log says when the hook did not see the panic (a hook set after traced's
/// replaced it).
const UNKNOWN: &str = "a panic whose message a later panic hook kept";

/// Installs the hook, once per process. Called when a tracer is installed, never while panicking
/// (which `std::panic::set_hook` refuses).
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "Box<dyn Any>".to_owned());
            // During thread teardown the slot may be gone: the guards then log `UNKNOWN`.
            let _ = MESSAGE.try_with(|m| *m.borrow_mut() = Some(text));
            previous(info);
        }));
    });
}

/// The message of the panic this thread is unwinding from, for the span it crosses.
pub(crate) fn message() -> String {
    MESSAGE
        .try_with(|m| m.borrow().clone())
        .ok()
        .flatten()
        .unwrap_or_else(|| UNKNOWN.to_owned())
}
