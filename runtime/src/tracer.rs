//! The tracer's cold half: installing it (see [`crate::init`]), flushing, shutting down, and the
//! reporter's side of the per-thread queues (`crate::local::queue` is the calls' side).

use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub(crate) use crate::local::queue::{get, Tracer};
use crate::local::queue::{lock, Control, TRACER};
use crate::local::record::SpanRecord;

/// Makes `tracer` the global one, unless one is installed already.
pub(crate) fn install(tracer: Tracer) -> Result<&'static Tracer, Box<Tracer>> {
    crate::local::panics::install_hook();
    let leaked: &'static mut Tracer = Box::leak(Box::new(tracer));
    match TRACER.compare_exchange(ptr::null_mut(), leaked, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Ok(leaked),
        Err(_) => {
            // SAFETY: `leaked` was never published; taking it back is taking back our own box.
            Err(unsafe { Box::from_raw(leaked) })
        }
    }
}

/// Removes `tracer` as the global one: new spans stop going to it.
pub(crate) fn uninstall(tracer: &'static Tracer) {
    let _ = TRACER.compare_exchange(
        ptr::from_ref(tracer).cast_mut(),
        ptr::null_mut(),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
}

impl Tracer {
    /// Passes every waiting span to `f`, oldest first within each thread, and forgets the rings
    /// of threads that have exited once they are empty.
    ///
    /// # Safety
    /// Only one thread, the tracer's reporter, may drain: each ring has one consumer.
    pub(crate) unsafe fn drain(&self, mut f: impl FnMut(SpanRecord)) {
        // A copy, so that threads registering are not held up while the rings drain.
        let rings = self.rings().clone();
        let mut exited = false;
        for ring in &rings {
            // Read before draining: every span pushed before the thread exited is then seen.
            exited |= ring.is_abandoned();
            // SAFETY: the caller is the one consumer.
            unsafe { ring.drain(&mut f) };
        }
        if exited {
            self.rings()
                .retain(|ring| !ring.is_abandoned() || ring.len() > 0);
        }
        let orphans = std::mem::take(&mut *lock(&self.orphans));
        orphans.into_iter().for_each(f);
    }

    /// Spans finished and not yet drained (a snapshot).
    pub(crate) fn queued(&self) -> usize {
        let in_rings: usize = self.rings().iter().map(|ring| ring.len()).sum();
        in_rings + lock(&self.orphans).len()
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        lock(&self.control)
    }

    /// Waits until every span finished before the call has been handed to the sink, or until
    /// `timeout`. Returns `false` on timeout.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut control = self.control();
        if control.stopped {
            return self.queued() == 0;
        }
        control.flush_requested += 1;
        let ticket = control.flush_requested;
        self.wake_reporter();
        while control.flushed < ticket && !control.stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            control = self
                .control_changed
                .wait_timeout(control, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Asks the reporter thread to drain, flush and stop, and waits for it up to `timeout`.
    pub(crate) fn shut_down(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut control = self.control();
        control.shutdown = true;
        self.wake_reporter();
        while !control.stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            control = self
                .control_changed
                .wait_timeout(control, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}
