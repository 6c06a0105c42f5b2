//! A service tracing with rustracing_jaeger adopts traced one function at a time: one trace
//! runs through rustracing spans and `#[traced]` spans, and all of them are reported through
//! traced's tracer.
#![cfg(feature = "rustracing")]

use rustracing::sampler::AllSampler;
use rustracing::span::BaggageItem;
use rustracing::tag::Tag;
use traced::testing::Capture;
use traced::{traced, Context, ReferenceKind, TagValue};

/// A function the service has moved to traced, called from rustracing code and calling it.
#[traced(tags(layer = "traced"))]
fn resize(cx: &Context, tracer: &rustracing_jaeger::Tracer) -> Option<String> {
    let _ = cx;
    traced::tag("tenant", traced::baggage("tenant").unwrap_or_default());
    let here = traced::rustracing::span_context(&Context::current());
    let mut query = tracer
        .span("SELECT images")
        .child_of(&here)
        .tag(Tag::new("db.rows", 3i64))
        .start();
    query.log(|log| {
        log.std().event("cache miss");
    });
    let _audit = tracer.span("audit").follows_from(&here).start();
    query
        .get_baggage_item("tenant")
        .map(|item| item.value().to_owned())
}

#[test]
fn rustracing_spans_and_traced_spans_share_one_trace_and_one_reporter() {
    let capture = Capture::install();
    let (tracer, finished) = rustracing_jaeger::Tracer::new(AllSampler);
    let (trace_id, request_id, tenant_downstream);
    {
        let mut request = tracer
            .span("GET /images")
            .tag(Tag::new("http.method", "GET"))
            .tag(Tag::new("ratio", 0.5))
            .tag(Tag::new("ok", true))
            .start();
        request.set_baggage_item(|| BaggageItem::new("tenant", "acme"));
        let state = request.context().unwrap().state();
        trace_id = traced::TraceId::new(state.trace_id().high, state.trace_id().low);
        request_id = state.span_id();
        let parent = traced::rustracing::context(request.context().unwrap()).unwrap();
        tenant_downstream = resize(&parent, &tracer);
    }
    drop(tracer);
    // Reported by hand here, to compare each with what rustracing finished.
    let finished: Vec<_> = finished.try_iter().collect();
    assert_eq!(finished.len(), 3, "the request, the query and the audit");
    for span in &finished {
        assert!(traced::rustracing::report(span));
    }

    assert_eq!(
        tenant_downstream.as_deref(),
        Some("acme"),
        "baggage reaches rustracing again"
    );
    let spans = capture.spans();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    assert!(spans.iter().all(|s| s.trace_id() == trace_id), "{spans:#?}");
    let (request, resize, query, audit) = (
        capture.span("GET /images"),
        capture.span("resize"),
        capture.span("SELECT images"),
        capture.span("audit"),
    );
    assert_eq!(request.span_id().get(), request_id);
    assert_eq!(request.parent_id(), None);
    assert_eq!(resize.parent_id(), Some(request.span_id()));
    assert_eq!(resize.reference_kind(), Some(ReferenceKind::ChildOf));
    assert_eq!(query.parent_id(), Some(resize.span_id()));
    assert_eq!(query.reference_kind(), Some(ReferenceKind::ChildOf));
    assert_eq!(audit.parent_id(), Some(resize.span_id()));
    assert_eq!(audit.reference_kind(), Some(ReferenceKind::FollowsFrom));
    assert!(spans.iter().all(|s| s.flags() & 1 == 1), "all sampled");

    assert_eq!(request.tag("http.method"), Some(TagValue::from("GET")));
    assert_eq!(request.tag("ratio"), Some(TagValue::Float(0.5)));
    assert_eq!(request.tag("ok"), Some(TagValue::Boolean(true)));
    assert_eq!(resize.tag("layer"), Some(TagValue::from("traced")));
    assert_eq!(resize.tag("tenant"), Some(TagValue::from("acme")));
    assert_eq!(query.tag("db.rows"), Some(TagValue::Integer(3)));
    assert_eq!(query.logs().len(), 1);
    assert_eq!(query.logs()[0].field("event"), Some("cache miss"));
    // Times as rustracing took them, to the nanosecond.
    for span in &finished {
        let ours = capture.span(span.operation_name());
        assert_eq!(ours.start_time(), span.start_time(), "{ours:?}");
        for (ours, theirs) in ours.logs().iter().zip(span.logs()) {
            assert_eq!(ours.time(), theirs.time());
        }
    }

    let metrics = capture.metrics();
    assert_eq!(
        metrics.spans_started, 4,
        "counted like other spans: {metrics:?}"
    );
}

#[test]
fn the_forwarder_reports_every_span_until_the_rustracing_tracer_is_dropped() {
    let capture = Capture::install();
    let (tracer, finished) = rustracing_jaeger::Tracer::new(AllSampler);
    let forwarder = traced::rustracing::forward(finished);
    {
        let root = tracer.span("root").start();
        let _child = root.child("child", |options| options.start());
    }
    drop(tracer);
    assert_eq!(forwarder.join().unwrap(), 2);
    let (root, child) = (capture.span("root"), capture.span("child"));
    assert_eq!(child.parent_id(), Some(root.span_id()));
    assert_eq!(child.trace_id(), root.trace_id());
}

#[test]
fn unsampled_and_empty_contexts_convert_to_nothing() {
    assert!(traced::rustracing::span_context(&Context::NONE).is_none());
    let unsampled = Context::remote(traced::TraceId::new(0, 7), traced::SpanId::new(9), false);
    assert!(traced::rustracing::span_context(&unsampled.unwrap()).is_none());
}
