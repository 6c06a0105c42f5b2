//! A `tracing` span outside a sampled trace costs the bridge no allocation: counted by a global
//! allocator that watches the test's own thread. One test in this binary, so that no other
//! test's tracer is installed while it counts with none.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use traced::bridge::TracingLayer;
use traced::testing::Capture;
use traced::{Config, Context, Sampler, SpanId, TraceId};
use tracing_subscriber::layer::SubscriberExt as _;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the count is a thread-local `Cell` with a const
// initializer, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, that is from `System.alloc`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// A span with fields, entered, with an event inside, left and closed.
fn span_with_an_event() {
    let span = tracing::info_span!("query", rows = 3, table = "images");
    span.in_scope(|| tracing::info!(cached = true, "read"));
}

#[test]
fn a_tracing_span_outside_a_sampled_trace_allocates_nothing() {
    let subscriber = tracing_subscriber::registry().with(TracingLayer::new());
    tracing::subscriber::with_default(subscriber, || {
        // The registry's own first-use allocations (its slab pages, its stack of entered spans,
        // the call sites' registration) happen once; from then on, only the layers allocate.
        span_with_an_event();
        assert_eq!(allocations_in(span_with_an_event), 0, "with no tracer");

        let capture = Capture::with_config(Config::new("test").sampler(Sampler::never()));
        let unsampled = Context::remote(TraceId::new(0, 7), SpanId::new(9), false).unwrap();
        unsampled.in_scope(|| {
            span_with_an_event();
            assert_eq!(
                allocations_in(span_with_an_event),
                0,
                "in an unsampled trace"
            );
        });
        assert_eq!(capture.spans().len(), 0);
        drop(capture);

        // The same span in a sampled trace is recorded, and that allocates.
        let capture = Capture::install();
        let sampled = Context::remote(TraceId::new(0, 7), SpanId::new(9), true).unwrap();
        sampled.in_scope(|| assert!(allocations_in(span_with_an_event) > 0));
        assert_eq!(capture.span("query").parent_id(), Some(SpanId::new(9)));
    });
}
