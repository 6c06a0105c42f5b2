//! What the lock-free ring is built on: the standard library's atomics and cells or, under
//! `cfg(traced_loom)`, loom's model-checked twins, so that the ring's tests run every
//! interleaving of its threads (`RUSTFLAGS="--cfg traced_loom" cargo test -p traced --lib
//! --release loom`). Miri is not installable on the machines this is built on, so loom is what
//! checks the orderings and the slots' hand-over. The cfg is not plain `loom`: tokio, a
//! dev-dependency, reads that one too and does not build under it.

#[cfg(traced_loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(traced_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
/// The tracer's list of rings, which a thread locks to register a ring and the drain to copy.
#[cfg(traced_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(traced_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(not(traced_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// `std::cell::UnsafeCell` with loom's access API: each access is a closure given the pointer,
/// which loom's own type checks against the other threads' accesses.
#[cfg(not(traced_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(traced_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Reads through the pointer `f` is given.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Writes through the pointer `f` is given.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
