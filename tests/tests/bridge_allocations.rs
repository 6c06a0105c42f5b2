//! A `tracing` span outside a sampled trace costs the bridge no allocation: counted by a global
//! allocator that watches the test's own thread. One test in this binary, so that no other
//! test's tracer is installed while it counts with none.

use traced::bridge::TracingLayer;
use traced::testing::Capture;
use traced::{Config, Context, Sampler, SpanId, TraceId};
use tracing_subscriber::layer::SubscriberExt as _;

#[path = "support/allocations.rs"]
mod allocations;

use allocations::allocations_in;

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
