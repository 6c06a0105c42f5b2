//! A `tracing` span outside a sampled trace costs the bridge no allocation, and one in a sampled
//! trace with two short fields only the registry's box for its extension: counted by a global
//! allocator that watches the test's own thread. One test in this binary, so that no other
//! test's tracer is installed while it counts with none.

use traced::bridge::TracingLayer;
use traced::testing::Capture;
use traced::{Config, Context, Sampler, SpanId, TagValue, TraceId};
use tracing_subscriber::layer::SubscriberExt as _;

#[path = "support/allocations.rs"]
mod allocations;

use allocations::allocations_in;

/// A span with fields, entered, with an event inside, left and closed.
fn span_with_an_event() {
    let span = tracing::info_span!("query", rows = 3, table = "images");
    span.in_scope(|| tracing::info!(cached = true, "read"));
}

/// The same span, entered and left with no event.
fn span_with_two_fields() {
    let span = tracing::info_span!("query", rows = 3, table = "images");
    span.in_scope(|| ());
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

        // The same span in a sampled trace is recorded, and its event's log allocates. Without
        // the event, its two fields (an integer, a short string) are kept in the span's record:
        // the one allocation is the registry's box for the bridge's extension.
        let capture = Capture::install();
        let sampled = Context::remote(TraceId::new(0, 7), SpanId::new(9), true).unwrap();
        sampled.in_scope(|| {
            assert!(allocations_in(span_with_an_event) > 0);
            // Its call site's first use (tracing's registration, the bridge's call site).
            span_with_two_fields();
            assert_eq!(allocations_in(span_with_two_fields), 1, "with two fields");
        });
        let spans = capture.spans_named("query");
        assert_eq!(spans.len(), 3);
        for span in &spans {
            assert_eq!(span.parent_id(), Some(SpanId::new(9)));
            let tags: Vec<_> = span
                .tags()
                .filter(|(k, _)| !k.starts_with("code."))
                .collect();
            assert_eq!(
                tags,
                [
                    ("rows", TagValue::Integer(3)),
                    ("table", TagValue::from("images")),
                ]
            );
        }
    });
}
