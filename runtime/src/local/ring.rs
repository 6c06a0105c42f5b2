//! Per-thread rings of finished spans: each thread that records spans owns one, and the reporter
//! thread drains them all.
//!
//! One queue shared by every thread costs a compare-and-swap on a contended index per span, and
//! the slot it fills was last written by the reporter (the shared queue's slot stamps), so each
//! push waited for a cache line held dirty by another core. A ring with one producer and one
//! consumer needs neither: the producer writes the slot and publishes it with a plain store, and
//! the consumer only reads slots.

use std::mem::MaybeUninit;

use crate::local::record::{written, SpanRecord};
use crate::local::sync::{AtomicBool, AtomicUsize, Ordering, UnsafeCell};

/// Keeps the two indices on separate cache lines (two lines: adjacent-line prefetchers pair
/// them), so that the producer publishing and the consumer catching up do not contend.
#[repr(align(128))]
struct Padded<T>(T);

/// One span's place, on cache lines of its own (192 bytes for a 168-byte record): a line shared
/// by two slots would pass between the producer writing one and the consumer reading the other.
#[repr(align(64))]
struct Slot(UnsafeCell<MaybeUninit<SpanRecord>>);

pub(crate) struct Ring {
    slots: Box<[Slot]>,
    mask: usize,
    /// Next slot the consumer reads; written by the consumer only.
    head: Padded<AtomicUsize>,
    /// Next slot the producer writes; written by the producer only.
    tail: Padded<AtomicUsize>,
    /// Set when the producing thread has exited: once empty, the ring can be forgotten.
    abandoned: AtomicBool,
}

// SAFETY: slots are handed from the one producer to the one consumer through the release store
// of `tail` and back through the release store of `head`; a slot is never accessed by both.
unsafe impl Sync for Ring {}

impl Ring {
    /// A ring with room for at least `capacity` spans (rounded up to a power of two).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1).next_power_of_two();
        Ring {
            slots: (0..capacity)
                .map(|_| Slot(UnsafeCell::new(MaybeUninit::uninit())))
                .collect(),
            mask: capacity - 1,
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            abandoned: AtomicBool::new(false),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Spans waiting in the ring (a snapshot: both ends move).
    pub(crate) fn len(&self) -> usize {
        let head = self.head.0.load(Ordering::Acquire);
        self.tail.0.load(Ordering::Acquire).wrapping_sub(head)
    }

    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    /// Hands every span waiting now to `f`, oldest first.
    ///
    /// The producer's index is read once, not once a span: while the reporter drained a ring
    /// span by span, each read of `tail` took its cache line from the producer, whose next
    /// store to it then waited for the line to come back; stores leave a core in order, so
    /// every later store of the calling thread waited behind that one. Read once, the sampled
    /// row of `call_overhead` went from 64-75 ns to 50-61 ns (three interleaved runs each).
    /// Slots go back to the producer every `FREE_EVERY` spans, not one by one, for the same
    /// reason.
    ///
    /// # Safety
    /// Only one thread, the consumer, may ever drain a ring.
    pub(crate) unsafe fn drain(&self, mut f: impl FnMut(SpanRecord)) {
        /// Gives the slots read so far back to the producer when dropped, also when `f`
        /// panics: a span moved out of its slot is never read out of it again.
        struct Freed<'a> {
            head: &'a AtomicUsize,
            at: usize,
        }
        impl Drop for Freed<'_> {
            fn drop(&mut self) {
                self.head.store(self.at, Ordering::Release);
            }
        }

        let mut freed = Freed {
            head: &self.head.0,
            at: self.head.0.load(Ordering::Relaxed),
        };
        let tail = self.tail.0.load(Ordering::Acquire);
        while freed.at != tail {
            let span = self.slots[freed.at & self.mask].0.with(|slot| {
                // SAFETY: the slot's pointer is valid for the ring's life; slots in
                // `head..tail` are the consumer's alone until `head` moves past them.
                let slot = unsafe { &*slot };
                // SAFETY: slots in `head..tail` were written and published by the producer's
                // release store of `tail`; the producer does not touch them again until `head`
                // moves past them, and it moves past this one before `f` sees the span.
                unsafe { slot.assume_init_read() }
            });
            freed.at = freed.at.wrapping_add(1);
            if freed.at % FREE_EVERY == 0 {
                freed.head.store(freed.at, Ordering::Release);
            }
            f(span);
        }
    }
}

/// Spans a drain takes before it gives their slots back: seldom enough that the producer's
/// look at `head` (every 64 spans, `queue.rs`) rarely finds its line moved, often enough that a
/// long drain does not keep a busy producer out of the slots already read.
const FREE_EVERY: usize = 64;

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no producer or consumer is left, and this thread is both.
        unsafe { self.drain(drop) };
    }
}

/// The producing end of a ring, owned by one thread.
pub(crate) struct Producer {
    ring: std::sync::Arc<Ring>,
    /// The producer's copy of `tail`, which only it writes.
    tail: usize,
    /// The consumer's `head` as last read: re-read only when the ring looks full, so that a push
    /// does not touch the consumer's cache line.
    head: usize,
}

impl Producer {
    pub(crate) fn new(ring: std::sync::Arc<Ring>) -> Self {
        Producer {
            ring,
            tail: 0,
            head: 0,
        }
    }

    /// Spans the ring holds.
    pub(crate) fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Appends `span`, or gives it back when the ring is full.
    #[inline]
    // Given back by value to be retried or dropped: a box would be an allocation per span.
    #[allow(clippy::result_large_err)]
    pub(crate) fn push(&mut self, span: SpanRecord) -> Result<(), SpanRecord> {
        self.push_with(|slot| {
            slot.write(span);
        })
        .map_err(written)
    }

    /// Appends the span `write` writes, whole, straight into the ring's slot (a span guard's
    /// record is copied once, from the guard to the slot, and only the parts it uses); gives
    /// `write` back, uncalled, when the ring is full.
    #[inline]
    pub(crate) fn push_with<F: FnOnce(&mut MaybeUninit<SpanRecord>)>(
        &mut self,
        write: F,
    ) -> Result<(), F> {
        if self.tail.wrapping_sub(self.head) >= self.ring.capacity() {
            self.head = self.ring.head.0.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.head) >= self.ring.capacity() {
                return Err(write);
            }
        }
        self.ring.slots[self.tail & self.ring.mask]
            .0
            .with_mut(|slot| {
                // SAFETY: the slot at `tail` is outside `head..tail`, so the consumer is done with
                // it (its release store of `head` ordered its read before our acquire load above)
                // and will not read it until the store below publishes it.
                write(unsafe { &mut *slot });
            });
        self.tail = self.tail.wrapping_add(1);
        self.ring.tail.0.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Spans waiting for the consumer. Reads the consumer's index, a cache line another core
    /// writes: call it now and then, not on every push.
    pub(crate) fn waiting(&mut self) -> usize {
        self.head = self.ring.head.0.load(Ordering::Acquire);
        self.tail.wrapping_sub(self.head)
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.ring.abandoned.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::record::test_span as span;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::Arc;

    /// The ids of the spans `ring` holds now, drained (the loom models' consumer too).
    pub(super) fn drained(ring: &Ring) -> Vec<u64> {
        let mut ids = Vec::new();
        // SAFETY: each test has one consumer, the thread calling this.
        unsafe { ring.drain(|span| ids.push(span.span_id().get())) };
        ids
    }

    #[test]
    fn the_producer_sees_what_waits_for_the_consumer() {
        let ring = Arc::new(Ring::new(8));
        let mut producer = Producer::new(ring.clone());
        assert!(producer.push(span(1)).is_ok());
        assert_eq!(producer.waiting(), 1);
        assert!(producer.push(span(2)).is_ok());
        assert_eq!(producer.waiting(), 2);
        // SAFETY: this test is the only consumer.
        unsafe { ring.drain(drop) };
        assert_eq!(producer.waiting(), 0);
    }

    #[test]
    fn spans_come_out_in_order_and_a_full_ring_gives_the_span_back() {
        let ring = Arc::new(Ring::new(3));
        assert_eq!(ring.capacity(), 4);
        let mut producer = Producer::new(ring.clone());
        for id in 1..=4 {
            assert!(producer.push(span(id)).is_ok());
        }
        let refused = producer.push(span(5)).expect_err("the ring is full");
        assert_eq!(refused.span_id().get(), 5);
        assert_eq!(producer.waiting(), 4);
        assert_eq!(drained(&ring), [1, 2, 3, 4]);
        assert!(
            producer.push(refused).is_ok(),
            "drained slots are free again"
        );
        assert!(producer.push(span(6)).is_ok());
        assert_eq!(drained(&ring), [5, 6]);
        assert!(!ring.is_abandoned());
        drop(producer);
        assert!(ring.is_abandoned());
    }

    #[test]
    fn a_consumer_on_another_thread_gets_every_span_once() {
        let ring = Arc::new(Ring::new(64));
        let consumer = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while seen.len() < 10_000 {
                    seen.extend(drained(&ring));
                    std::thread::yield_now();
                }
                seen
            })
        };
        let mut producer = Producer::new(ring.clone());
        for id in 1..=10_000 {
            let mut s = span(id);
            while let Err(back) = producer.push(s) {
                s = back;
                std::thread::yield_now();
            }
        }
        let seen = consumer.join().expect("consumer");
        assert_eq!(seen, (1..=10_000).collect::<Vec<_>>());
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn a_long_drain_gives_slots_back_as_it_goes() {
        let ring = Arc::new(Ring::new(2 * FREE_EVERY));
        let mut producer = Producer::new(ring.clone());
        for id in 1..=2 * FREE_EVERY as u64 {
            assert!(producer.push(span(id)).is_ok());
        }
        let mut pushed_during_the_drain = Vec::new();
        // SAFETY: this test is the only consumer.
        unsafe {
            ring.drain(|taken| {
                let id = taken.span_id().get();
                pushed_during_the_drain.push((id, producer.push(span(1000 + id)).is_ok()));
            });
        }
        let room: Vec<u64> = pushed_during_the_drain
            .iter()
            .filter(|(_, pushed)| *pushed)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(
            room,
            (FREE_EVERY as u64..=2 * FREE_EVERY as u64).collect::<Vec<_>>(),
            "slots come back {FREE_EVERY} at a time, the first before the drain ends"
        );
        assert_eq!(
            drained(&ring),
            (1000 + FREE_EVERY as u64..=1000 + 2 * FREE_EVERY as u64).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_drain_cut_short_by_a_panic_never_hands_out_a_span_twice() {
        let ring = Arc::new(Ring::new(8));
        let mut producer = Producer::new(ring.clone());
        for id in 1..=4 {
            assert!(producer.push(span(id)).is_ok());
        }
        let mut seen = Vec::new();
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: this test is the only consumer.
            unsafe {
                ring.drain(|taken| {
                    let id = taken.span_id().get();
                    assert_ne!(id, 2, "the consumer fails on span 2");
                    seen.push(id);
                });
            }
        }));
        assert!(panicked.is_err());
        assert_eq!(seen, [1]);
        assert_eq!(drained(&ring), [3, 4], "span 2 went with the panic, once");
    }

    #[test]
    fn spans_left_in_a_dropped_ring_are_dropped_with_it() {
        let ring = Arc::new(Ring::new(8));
        let mut producer = Producer::new(ring.clone());
        let mut s = span(1);
        s.set_tag("owned", crate::tag::TagValue::String("x".repeat(10).into()));
        assert!(producer.push(s).is_ok());
        drop(producer);
        assert_eq!(ring.len(), 1);
        // Dropping the ring drops the span once (its tag's string with it). Miri, which would
        // check that, is not installable on the machines this is built on; the loom models
        // below check the ring's threads instead.
        drop(ring);
    }
}

/// Every interleaving of the ring's two threads, up to `LOOM_MAX_PREEMPTIONS` preemptions
/// (`RUSTFLAGS="--cfg traced_loom" cargo test -p traced --lib --release loom`): loom's cells
/// report a slot read before the producer published it or written before the consumer was done
/// with it, and the assertions a span lost, duplicated or out of order.
#[cfg(all(test, traced_loom))]
mod loom_models {
    use super::tests::drained;
    use super::{Producer, Ring};
    use crate::local::record::test_span as span;
    use ::loom::sync::Mutex;
    use ::loom::thread;
    use std::sync::Arc;

    #[test]
    fn a_span_pushed_into_a_full_ring_waits_and_each_comes_out_once_in_order() {
        ::loom::model(|| {
            let ring = Arc::new(Ring::new(2));
            let producer = thread::spawn({
                let ring = Arc::clone(&ring);
                move || {
                    let mut producer = Producer::new(ring);
                    for id in 1..=3 {
                        let mut s = span(id);
                        while let Err(back) = producer.push(s) {
                            s = back;
                            thread::yield_now();
                        }
                    }
                }
            });
            let mut seen = Vec::new();
            while seen.len() < 3 {
                seen.extend(drained(&ring));
                thread::yield_now();
            }
            producer.join().unwrap();
            assert_eq!(seen, [1, 2, 3]);
            assert_eq!(ring.len(), 0);
        });
    }

    /// The tracer's protocol, with its registry of rings as `Tracer::rings` keeps it (a
    /// mutex-held list the drain copies): a thread whose ring fills gives it up for a larger
    /// one (`Tracer::resize`) and later exits with a span queued; the drain reads whether a
    /// ring's thread is gone before emptying it and forgets it only then.
    #[test]
    fn a_ring_given_up_or_left_by_an_exiting_thread_is_drained_in_order_before_it_is_forgotten() {
        ::loom::model(|| {
            let rings: Arc<Mutex<Vec<Arc<Ring>>>> = Arc::default();
            let register = |rings: &Mutex<Vec<Arc<Ring>>>, capacity| {
                let ring = Arc::new(Ring::new(capacity));
                rings.lock().unwrap().push(Arc::clone(&ring));
                Producer::new(ring)
            };
            let mut producer = register(&rings, 1);
            let thread = thread::spawn({
                let rings = Arc::clone(&rings);
                move || {
                    for id in 1..=3 {
                        if let Err(refused) = producer.push(span(id)) {
                            // Full while the drain is late: a larger ring, registered before
                            // the span goes into it; the full one is given up on assignment.
                            producer = register(&rings, producer.capacity() * 2);
                            assert!(producer.push(refused).is_ok(), "a new ring has room");
                        }
                    }
                    // The thread exits with its spans queued.
                }
            });
            let mut seen = Vec::new();
            loop {
                let copy = rings.lock().unwrap().clone();
                if copy.is_empty() {
                    break;
                }
                for ring in &copy {
                    let exited = ring.is_abandoned();
                    seen.extend(drained(ring));
                    if exited {
                        assert_eq!(ring.len(), 0, "a span pushed before the thread left");
                        rings.lock().unwrap().retain(|r| !Arc::ptr_eq(r, ring));
                    }
                }
                thread::yield_now();
            }
            thread.join().unwrap();
            assert_eq!(seen, [1, 2, 3]);
        });
    }
}
