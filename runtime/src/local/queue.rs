//! The tracer's per-thread half: the installed tracer as every call finds it (one atomic load),
//! and the bounded queue of finished spans each thread owns, through which they reach the
//! reporter thread. The cold half (install, flush, shutdown, draining) is `crate::tracer`.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;

use crate::local::counters::Counters;
use crate::local::record::{written, SpanRecord};
use crate::local::ring::{Producer, Ring};
use crate::local::sync;
use crate::sampler::Sampler;
use crate::tag::StaticTag;

/// Spans a thread's first ring holds (48 KiB), unless `queue_size` is smaller.
const FIRST_RING: usize = 256;

/// The ring a busy thread settles at (384 KiB), unless `queue_size` is smaller: small
/// enough to stay in cache as the thread writes its way round it, large enough that waking the
/// reporter (a system call on this thread, microseconds) comes once every 1,024 spans. Rings
/// grow past it only when one fills (a reporter kept off a core, a burst), and come back to it
/// once the reporter keeps up again: a ring of 16,384 cycled through costs a sampled request
/// about 2 µs more in cache misses (`http_middleware` bench).
const STEADY_RING: usize = 2048;

/// Looks at a ring larger than the steady size that find little waiting before it is made
/// steady again: 64 spans a look, so 65,536 spans, not to trade rings back and forth on every
/// burst (each a fresh allocation whose pages fault in as they are first written).
const CALM_LOOKS: u32 = 1024;

/// The installed tracer, or null. Tracers are leaked, never freed: a span that loaded the pointer
/// just before an uninstall may still push into its queue, and a leaked queue is always valid.
pub(crate) static TRACER: AtomicPtr<Tracer> = AtomicPtr::new(ptr::null_mut());

/// The tracer spans go to, if one is installed.
#[inline]
pub(crate) fn get() -> Option<&'static Tracer> {
    let tracer = TRACER.load(Ordering::Acquire);
    // SAFETY: non-null pointers come from `Box::leak` in `install` and are never freed.
    unsafe { tracer.as_ref() }
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
    /// One ring per thread that has finished a span (and, for a moment, the smaller rings a
    /// thread has outgrown until they are drained), holding spans by value: finishing a span
    /// moves it into memory that is already there rather than allocating (and the reporter
    /// freeing, from another thread) a box per span. Locked when a thread registers or grows its
    /// ring and when the reporter drains, never when a span is pushed.
    rings: sync::Mutex<Vec<Arc<Ring>>>,
    /// A thread's first ring: most threads never need more.
    first_ring: usize,
    /// The ring a busy thread settles at.
    steady_ring: usize,
    /// The largest ring a thread may grow to (`queue_size`).
    ring_size: usize,
    /// Spans finished while their thread's thread-locals were being torn down, when its ring
    /// can no longer be reached. Rare, so a lock is fine; bounded by `ring_size`.
    pub(crate) orphans: Mutex<Vec<SpanRecord>>,
    pub(crate) sampler: Sampler,
    /// `sampler.type` and `sampler.param`, put on every sampled root span.
    pub(crate) sampler_tags: [StaticTag; 2],
    pub(crate) counters: Counters,
    /// Set when the reporter has drained for the last time: later spans are dropped, counted.
    closed: AtomicBool,
    reporter: OnceLock<Thread>,
    pub(crate) control: Mutex<Control>,
    pub(crate) control_changed: Condvar,
}

/// This thread's end of its ring, and the tracer the ring belongs to.
struct Local {
    tracer: *const Tracer,
    producer: Producer,
    /// Spans pushed since the fill level was last looked at.
    pushed: u32,
    /// Spans pushed between two looks at the fill level: often enough that the ring cannot
    /// fill between two looks, rarely enough that the look (a read of the reporter's index,
    /// a cache line another core writes) stays out of most calls.
    look_every: u32,
    /// Consecutive looks that found a ring larger than the steady size nearly empty.
    calm_looks: u32,
}

impl Local {
    fn new(tracer: &Tracer, ring: Arc<Ring>) -> Self {
        Local {
            tracer,
            look_every: u32::try_from(ring.capacity() / 8)
                .unwrap_or(u32::MAX)
                .clamp(1, 64),
            producer: Producer::new(ring),
            pushed: 0,
            calm_looks: 0,
        }
    }
}

#[cfg(not(traced_loom))]
thread_local! {
    /// Only `Tracer::submit` touches it, and nothing it calls re-enters `submit`.
    static LOCAL: UnsafeCell<Option<Local>> = const { UnsafeCell::new(None) };
}

// loom's twin, dropped as each of its model's threads ends (its macro takes no `const` block).
#[cfg(traced_loom)]
::loom::thread_local! {
    static LOCAL: UnsafeCell<Option<Local>> = UnsafeCell::new(None);
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Tracer {
    pub(crate) fn new(sampler: Sampler, queue_size: usize) -> Self {
        let ring_size = queue_size.max(1).next_power_of_two();
        let first_ring = ring_size.min(FIRST_RING);
        Tracer {
            rings: sync::Mutex::default(),
            first_ring,
            steady_ring: ring_size.min(STEADY_RING),
            ring_size,
            orphans: Mutex::default(),
            sampler_tags: sampler.tags(),
            sampler,
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            reporter: OnceLock::new(),
            control: Mutex::default(),
            control_changed: Condvar::new(),
        }
    }

    /// The rings the reporter drains, locked.
    pub(crate) fn rings(&self) -> sync::MutexGuard<'_, Vec<Arc<Ring>>> {
        self.rings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_reporter(&self, thread: Thread) {
        let _ = self.reporter.set(thread);
    }

    /// Hands a finished span to the reporter thread (see [`Tracer::submit_with`]).
    #[cfg(any(test, feature = "rustracing"))]
    pub(crate) fn submit(&self, span: SpanRecord) {
        self.submit_with(|slot| {
            slot.write(span);
        });
    }

    /// Hands the finished span `write` writes to the reporter thread. Never blocks: when this
    /// thread's ring is full the span is dropped and counted. `write` is called once, on the
    /// place the span is to go, and writes the whole span there: a guard's record is written
    /// out of the guard straight into the ring's slot. Before, the record went guard -> stack ->
    /// `submit`'s argument -> slot, three copies where one will do, each re-reading what had
    /// just been written.
    #[inline]
    pub(crate) fn submit_with(&self, write: impl FnOnce(&mut MaybeUninit<SpanRecord>)) {
        if self.closed.load(Ordering::Relaxed) {
            self.counters.dropped.add(1);
            drop(written(write));
            return;
        }
        let mut write = Some(write);
        let _ = LOCAL.try_with(|local| {
            // SAFETY: see `LOCAL`: no other reference to it is alive.
            let local = unsafe { &mut *local.get() };
            let write = write.take().expect("taken once");
            match local {
                Some(local) if ptr::eq(local.tracer, self) => self.push_with(local, write),
                _ => self.register(local, written(write)),
            }
        });
        if let Some(write) = write {
            self.orphan(written(write));
        }
    }

    #[inline]
    fn push(&self, local: &mut Local, span: SpanRecord) {
        self.push_with(local, |slot| {
            slot.write(span);
        });
    }

    #[inline]
    fn push_with(&self, local: &mut Local, write: impl FnOnce(&mut MaybeUninit<SpanRecord>)) {
        if let Err(write) = local.producer.push_with(write) {
            let span = written(write);
            let capacity = local.producer.capacity();
            if capacity < self.ring_size {
                // The reporter is late: room rather than a lost span.
                self.resize(local, (capacity * 4).min(self.ring_size), Some(span));
            } else {
                self.counters.dropped.add(1);
                self.wake_reporter();
                drop(span);
            }
            return;
        }
        local.pushed += 1;
        if local.pushed >= local.look_every {
            local.pushed = 0;
            self.look(local);
        }
    }

    /// Looks at how much of this thread's ring waits, and acts on it. The reporter wakes on its
    /// own every flush interval, and early when half a steady ring waits. A thread that fills a
    /// quarter of a smaller ring between two drains is a busy one: it gets a larger ring rather
    /// than paying for a wake every few dozen spans. A ring that grew past the steady size
    /// because the reporter was late goes back to it once the reporter keeps up.
    ///
    /// Why half: each wake is a system call on this thread and a drain on the other core
    /// while this one runs. Woken at a quarter, the sampled row of `call_overhead` was 64 ns,
    /// at half 52 ns (medians of four interleaved runs); `http_middleware`'s sampled request
    /// stayed within its runs' spread (3.8 and 3.5 µs, medians of six). The half left free is
    /// still a thousand spans of room for the reporter to be scheduled before the ring grows.
    #[inline]
    fn look(&self, local: &mut Local) {
        let waiting = local.producer.waiting();
        let capacity = local.producer.capacity();
        let steady = self.steady_ring;
        if capacity < steady && waiting >= (capacity / 4).max(1) {
            self.resize(local, (capacity * 4).min(steady), None);
            return;
        }
        if waiting >= (capacity.min(steady) / 2).max(1) {
            self.wake_reporter();
        }
        if capacity > steady {
            if waiting < steady / 2 {
                local.calm_looks += 1;
                if local.calm_looks >= CALM_LOOKS {
                    self.resize(local, steady, None);
                }
            } else {
                local.calm_looks = 0;
            }
        }
    }

    /// This thread's first span for this tracer: gives it a ring. The ring of a previous tracer,
    /// if any, is abandoned to that tracer's reporter, which drains it and lets it go.
    #[cold]
    #[inline(never)]
    fn register(&self, local: &mut Option<Local>, span: SpanRecord) {
        let local = local.insert(self.new_local(self.first_ring));
        self.push(local, span);
    }

    /// A new ring of `capacity` spans, which the reporter will drain from now on, and this
    /// thread's end of it.
    fn new_local(&self, capacity: usize) -> Local {
        let ring = Arc::new(Ring::new(capacity));
        self.rings().push(Arc::clone(&ring));
        Local::new(self, ring)
    }

    /// Gives this thread a new, empty ring of `capacity` spans, into which `span`, if any,
    /// goes. The old ring is abandoned to the reporter, which drains it (before the new one:
    /// rings drain in the order they came) and lets it go. A thread resizes a few times when it
    /// starts and when its reporter falls behind and catches up, so the allocation and the lock
    /// stay off the hot path.
    #[cold]
    #[inline(never)]
    fn resize(&self, local: &mut Local, capacity: usize, span: Option<SpanRecord>) {
        *local = self.new_local(capacity);
        if let Some(span) = span {
            let pushed = local.producer.push(span);
            debug_assert!(pushed.is_ok(), "a new ring has room");
        }
    }

    #[cold]
    fn orphan(&self, span: SpanRecord) {
        let mut orphans = lock(&self.orphans);
        if orphans.len() < self.ring_size {
            orphans.push(span);
        } else {
            self.counters.dropped.add(1);
        }
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn wake_reporter(&self) {
        if let Some(thread) = self.reporter.get() {
            thread.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::record::test_span;

    /// The ids of what the reporter would drain now, in order.
    fn drained(tracer: &Tracer) -> Vec<u64> {
        let mut ids = Vec::new();
        // SAFETY: no reporter runs for the tracers of these tests; the test is the one consumer.
        unsafe { tracer.drain(|span| ids.push(span.span_id().get())) };
        ids
    }

    /// Submits `count` spans from a new thread, which then exits, and returns what the reporter
    /// would drain, in order.
    fn submit_from_a_thread(tracer: &'static Tracer, count: u64) -> Vec<u64> {
        std::thread::spawn(move || (1..=count).for_each(|id| tracer.submit(test_span(id))))
            .join()
            .unwrap();
        drained(tracer)
    }

    #[test]
    fn a_busy_thread_queue_grows_fourfold_up_to_the_queue_size() {
        // Not installed, and no reporter: nothing drains until the test does.
        let tracer: &'static Tracer = Box::leak(Box::new(Tracer::new(Sampler::always(), 1024)));
        assert_eq!(tracer.first_ring, FIRST_RING);
        let ids = submit_from_a_thread(tracer, 2000);
        // Nothing drains: the first ring (256) grows once a quarter of it waits, after 64
        // spans; the next 1024 fill the largest ring, and the rest are dropped.
        assert_eq!(
            ids,
            (1..=64 + 1024).collect::<Vec<_>>(),
            "every kept span, in order"
        );
        assert_eq!(tracer.counters.dropped.get(), 2000 - 64 - 1024);
        assert!(
            tracer.rings().is_empty(),
            "drained rings of exited threads are freed"
        );
    }

    #[test]
    fn a_ring_outgrows_the_steady_size_while_the_reporter_is_late_and_comes_back_to_it() {
        let tracer: &'static Tracer = Box::leak(Box::new(Tracer::new(Sampler::always(), 16_384)));
        let capacities = || {
            tracer
                .rings()
                .iter()
                .map(|ring| ring.capacity())
                .collect::<Vec<_>>()
        };
        let mut ids = Vec::new();
        // The test is a reporter that takes nothing for 20,000 spans. The ring grows to the
        // steady size as the thread proves busy, then fourfold each time it fills: 256, 1024,
        // 2048, 8192, 16,384, with room for 26,944 in all.
        for id in 1..=20_000 {
            tracer.submit(test_span(id));
        }
        assert_eq!(tracer.counters.dropped.get(), 0, "rings grew instead");
        assert_eq!(capacities(), [256, 1024, 2048, 8192, 16_384]);
        ids.extend(drained(tracer));
        assert_eq!(capacities(), [16_384], "outgrown rings go once drained");
        // Now drained every 64 spans: after enough calm looks the ring is the steady size again.
        for round in 0..=u64::from(CALM_LOOKS) {
            for i in 0..64 {
                tracer.submit(test_span(20_001 + round * 64 + i));
            }
            ids.extend(drained(tracer));
        }
        assert_eq!(capacities(), [STEADY_RING]);
        let made = 20_000 + (u64::from(CALM_LOOKS) + 1) * 64;
        assert!(ids.iter().copied().eq(1..=made), "all, in order");
    }

    #[test]
    fn a_queue_size_below_the_first_ring_is_the_whole_queue() {
        let tracer: &'static Tracer = Box::leak(Box::new(Tracer::new(Sampler::always(), 10)));
        let ids = submit_from_a_thread(tracer, 100);
        assert_eq!(ids, (1..=16).collect::<Vec<_>>());
        assert_eq!(tracer.counters.dropped.get(), 100 - 16);
    }
}

/// The tracer's own submit and drain under loom (see `local/sync.rs`): a thread's slot, its
/// rings growing while the drain runs, and the thread exiting with spans queued.
#[cfg(all(test, traced_loom))]
mod loom_models {
    use super::*;
    use crate::local::record::test_span;

    #[test]
    fn spans_of_a_thread_that_grows_its_ring_and_exits_are_drained_once_in_order() {
        ::loom::model(|| {
            // Rings of 1, then 2, then 4 spans, so three spans make the thread grow twice.
            let mut tracer = Tracer::new(Sampler::always(), 4);
            tracer.first_ring = 1;
            tracer.steady_ring = 2;
            let tracer: &'static Tracer = Box::leak(Box::new(tracer));
            let thread = ::loom::thread::spawn(move || {
                (1..=3).for_each(|id| tracer.submit(test_span(id)));
            });
            let mut seen = Vec::new();
            loop {
                // SAFETY: this thread is the tracer's one drain.
                unsafe { tracer.drain(|span| seen.push(span.span_id().get())) };
                // Until the thread's spans are all out and its last ring forgotten.
                if seen.len() == 3 && tracer.rings().is_empty() {
                    break;
                }
                ::loom::thread::yield_now();
            }
            thread.join().unwrap();
            assert_eq!(seen, [1, 2, 3]);
            assert_eq!(tracer.counters.dropped.get(), 0);
        });
    }
}
