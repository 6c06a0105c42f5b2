//! The counts the per-call path keeps (spans started, dropped) and the reporter adds to (sent,
//! failed), read together by [`crate::metrics`].

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// A count that only grows, updated from any thread without a lock.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A count every thread adds to on the hot path, sharded by thread: each thread adds to its own
/// shard with a plain load and store (one writer, so no read-modify-write instruction, which
/// would stall the thread until its pending stores drain, and no cache line shared between
/// threads), and readers sum the shards.
#[derive(Default)]
pub(crate) struct ShardedCounter {
    /// Live shards, one per thread that counted; a thread's shard leaves when the thread exits,
    /// its count moving to `retired`.
    shards: Mutex<Vec<Arc<AtomicU64>>>,
    retired: Arc<AtomicU64>,
}

/// This thread's shard, and the counter it belongs to, compared by address: counters live in
/// tracers, which are never freed, so an address is never reused.
struct Shard {
    owner: *const ShardedCounter,
    count: Arc<AtomicU64>,
    retired: Weak<AtomicU64>,
}

impl Drop for Shard {
    /// The thread exits (or counts for another tracer now): its count moves to `retired`. A
    /// reader summing at that instant may miss it; at rest the sum is exact. The emptied shard
    /// is pruned from the list by the next thread that registers.
    fn drop(&mut self) {
        let count = self.count.swap(0, Ordering::Relaxed);
        if let Some(retired) = self.retired.upgrade() {
            retired.fetch_add(count, Ordering::Relaxed);
        }
    }
}

thread_local! {
    static SHARD: RefCell<Option<Shard>> = const { RefCell::new(None) };
}

impl ShardedCounter {
    #[inline]
    pub(crate) fn add_one(&self) {
        let added = SHARD.try_with(|shard| match &*shard.borrow() {
            Some(s) if std::ptr::eq(s.owner, self) => {
                s.count
                    .store(s.count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                true
            }
            _ => false,
        });
        if added != Ok(true) {
            self.add_one_slow();
        }
    }

    /// The first count of this thread for this counter: make and register its shard.
    #[cold]
    fn add_one_slow(&self) {
        let count = Arc::new(AtomicU64::new(1));
        let registered = SHARD.try_with(|shard| {
            let mut shards = self.shards.lock().unwrap_or_else(PoisonError::into_inner);
            // Shards of exited threads hold 0 and only their list entry is left: drop them here.
            shards.retain(|s| Arc::strong_count(s) > 1);
            shards.push(Arc::clone(&count));
            *shard.borrow_mut() = Some(Shard {
                owner: self,
                count: Arc::clone(&count),
                retired: Arc::downgrade(&self.retired),
            });
        });
        if registered.is_err() {
            // The thread is exiting: count straight into the total.
            self.retired.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self) -> u64 {
        let shards = self.shards.lock().unwrap_or_else(PoisonError::into_inner);
        let live: u64 = shards.iter().map(|s| s.load(Ordering::Relaxed)).sum();
        live + self.retired.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    /// Sampled spans started.
    pub(crate) started: ShardedCounter,
    /// Finished spans the reporter thread took from the queue.
    pub(crate) received: Counter,
    /// Finished spans lost because the queue was full (or the tracer shut down).
    pub(crate) dropped: Counter,
    pub(crate) reported: Counter,
    pub(crate) failed: Counter,
    pub(crate) bytes: Counter,
    pub(crate) batches: Counter,
    /// Spans a backend took delivery of and rejected (OTLP `partial_success`).
    pub(crate) rejected: Counter,
    pub(crate) last_error: Mutex<Option<String>>,
}

impl Counters {
    pub(crate) fn set_last_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }
}

#[cfg(test)]
mod tests {
    use super::ShardedCounter;

    #[test]
    fn sharded_counts_are_exact_across_live_and_exited_threads() {
        let counter: &'static ShardedCounter = Box::leak(Box::default());
        let other: &'static ShardedCounter = Box::leak(Box::default());
        std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        for i in 0..10_000 {
                            counter.add_one();
                            if i % 1000 == 0 {
                                // Switching tracers on a thread keeps both counts.
                                other.add_one();
                            }
                        }
                    })
                })
                .collect();
            // Joined one by one: the end of the scope waits for the threads' closures only, not
            // for their thread-locals' destructors, which move each shard's count to `retired`
            // (without this the test failed once here, under load, reading a count in flight).
            for thread in threads {
                thread.join().unwrap();
            }
        });
        counter.add_one();
        assert_eq!(counter.get(), 40_001);
        assert_eq!(other.get(), 40);
        assert!(
            counter.shards.lock().unwrap().len() <= 2,
            "exited threads' shards are pruned"
        );
    }
}
