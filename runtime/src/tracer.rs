//! The global tracer: installed by [`crate::init`], found by every span with one atomic load, and
//! the bounded queue through which finished spans reach the reporter thread.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;

use crate::finished::FinishedSpan;
use crate::metrics::Counters;
use crate::sampler::Sampler;
use crate::tag::StaticTag;

/// The installed tracer, or null. Tracers are leaked, never freed: a span that loaded the pointer
/// just before an uninstall may still push into its queue, and a leaked queue is always valid.
static TRACER: AtomicPtr<Tracer> = AtomicPtr::new(ptr::null_mut());

/// The tracer spans go to, if one is installed.
#[inline]
pub(crate) fn get() -> Option<&'static Tracer> {
    let tracer = TRACER.load(Ordering::Acquire);
    // SAFETY: non-null pointers come from `Box::leak` in `install` and are never freed.
    unsafe { tracer.as_ref() }
}

/// Makes `tracer` the global one, unless one is installed already.
pub(crate) fn install(tracer: Tracer) -> Result<&'static Tracer, Box<Tracer>> {
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

/// Requests from the application to the reporter thread (flush, shutdown) and its answers.
#[derive(Default)]
pub(crate) struct Control {
    /// Flush requests made so far; the reporter answers by raising `flushed` to this number.
    pub(crate) flush_requested: u64,
    pub(crate) flushed: u64,
    pub(crate) shutdown: bool,
    pub(crate) stopped: bool,
}

pub(crate) struct Tracer {
    /// Spans by value: a slot is allocated once, when the tracer is made, so finishing a span moves
    /// it into memory that is already there rather than allocating (and the reporter freeing,
    /// from another thread) a box per span.
    queue: ArrayQueue<FinishedSpan>,
    pub(crate) sampler: Sampler,
    /// `sampler.type` and `sampler.param`, put on every sampled root span.
    pub(crate) sampler_tags: [StaticTag; 2],
    pub(crate) counters: Counters,
    /// Set when the reporter has drained for the last time: later spans are dropped, counted.
    closed: AtomicBool,
    reporter: OnceLock<Thread>,
    pub(crate) control: Mutex<Control>,
    pub(crate) control_changed: Condvar,
    /// Spans a thread pushes between two looks at the queue's fill level.
    wake_every: u32,
}

thread_local! {
    /// Spans this thread pushed since it last woke the reporter.
    static PUSHED: Cell<u32> = const { Cell::new(0) };
}

impl Tracer {
    pub(crate) fn new(sampler: Sampler, queue_size: usize) -> Self {
        let queue_size = queue_size.max(1);
        Tracer {
            queue: ArrayQueue::new(queue_size),
            sampler_tags: sampler.tags(),
            sampler,
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            reporter: OnceLock::new(),
            control: Mutex::default(),
            control_changed: Condvar::new(),
            // Look often enough that the queue cannot fill between two looks of one thread.
            wake_every: u32::try_from(queue_size / 8)
                .unwrap_or(u32::MAX)
                .clamp(1, 64),
        }
    }

    pub(crate) fn set_reporter(&self, thread: Thread) {
        let _ = self.reporter.set(thread);
    }

    /// Hands a finished span to the reporter thread. Never blocks: when the queue is full the span
    /// is dropped and counted.
    #[inline]
    pub(crate) fn submit(&self, span: FinishedSpan) {
        if self.closed.load(Ordering::Relaxed) {
            self.counters.dropped.add(1);
            return;
        }
        if let Err(span) = self.queue.push(span) {
            self.counters.dropped.add(1);
            self.wake_reporter();
            drop(span);
            return;
        }
        // The reporter wakes on its own every flush interval; it is woken early only when the
        // queue is half full. Waking a parked thread is a system call, too dear to make every
        // few spans; looking at the fill level reads the queue's contended indices, so a thread
        // looks only every `wake_every` spans.
        let pushed = PUSHED.try_with(|n| {
            let pushed = n.get() + 1;
            n.set(if pushed >= self.wake_every { 0 } else { pushed });
            pushed
        });
        if pushed.map_or(true, |n| n >= self.wake_every)
            && self.queue.len() >= self.queue.capacity() / 2
        {
            self.wake_reporter();
        }
    }

    pub(crate) fn pop(&self) -> Option<FinishedSpan> {
        self.queue.pop()
    }

    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn wake_reporter(&self) {
        if let Some(thread) = self.reporter.get() {
            thread.unpark();
        }
    }

    fn control(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until every span finished before the call has been handed to the sink, or until
    /// `timeout`. Returns `false` on timeout.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut control = self.control();
        if control.stopped {
            return self.queue.is_empty();
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
