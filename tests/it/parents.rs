//! Which span is the parent: an explicit `Context` parameter first (rebound to the child inside
//! the body, Go's `StartSpanFromContext`), else the ambient current span of the thread or async
//! task, else a new root subject to the sampler.

use traced::testing::Capture;
use traced::{Config, Context, FutureExt as _, ReferenceKind, Sampler, SpanId, TraceId, traced};

#[traced]
fn leaf() -> Context {
    Context::current()
}

#[traced]
fn middle() -> Context {
    leaf();
    Context::current()
}

#[traced]
fn top() {
    middle();
}

#[test]
fn nested_calls_form_one_trace_of_children() {
    let capture = Capture::install();
    top();
    let (top, middle, leaf) = (
        capture.span("top"),
        capture.span("middle"),
        capture.span("leaf"),
    );
    assert_eq!(top.parent_id(), None);
    assert_eq!(top.reference_kind(), None);
    assert_eq!(middle.parent_id(), Some(top.span_id()));
    assert_eq!(middle.reference_kind(), Some(ReferenceKind::ChildOf));
    assert_eq!(leaf.parent_id(), Some(middle.span_id()));
    assert!(
        [&middle, &leaf]
            .iter()
            .all(|s| s.trace_id() == top.trace_id())
    );
    assert_ne!(top.span_id(), middle.span_id());
}

#[test]
fn the_current_context_inside_a_traced_fn_is_its_own_span() {
    let capture = Capture::install();
    let inside = middle();
    let span = capture.span("middle");
    assert_eq!(inside.span_id(), span.span_id());
    assert_eq!(inside.trace_id(), span.trace_id());
    assert!(
        !Context::current().is_valid(),
        "the scope ends with the call"
    );
}

#[traced]
fn by_value(cx: Context) -> Context {
    cx
}

#[traced]
fn by_reference(cx: &Context) -> SpanId {
    by_value(cx.clone());
    cx.span_id()
}

#[traced(context = parent)]
fn named(parent: &Context, _other: Context) -> Context {
    parent.clone()
}

#[traced]
fn mutable(mut cx: Context) -> Context {
    cx = cx.with_baggage("seen", "yes");
    cx
}

fn remote_parent(sampled: bool) -> Context {
    Context::remote(TraceId::new(0, 0xabc), SpanId::new(0x123), sampled).unwrap()
}

#[test]
fn an_explicit_context_is_the_parent_and_is_rebound_to_the_child() {
    let capture = Capture::install();
    let parent = remote_parent(true);
    let seen = by_value(parent.clone());
    let span = capture.span("by_value");
    assert_eq!(span.trace_id(), parent.trace_id());
    assert_eq!(span.parent_id(), Some(parent.span_id()));
    assert_eq!(
        seen.span_id(),
        span.span_id(),
        "inside, `cx` is the child's context"
    );
}

#[test]
fn a_context_passed_by_reference_makes_the_next_call_a_grandchild() {
    let capture = Capture::install();
    let parent = remote_parent(true);
    let inside = by_reference(&parent);
    let (outer, inner) = (capture.span("by_reference"), capture.span("by_value"));
    assert_eq!(outer.parent_id(), Some(parent.span_id()));
    assert_eq!(inside, outer.span_id());
    assert_eq!(inner.parent_id(), Some(outer.span_id()));
}

#[test]
fn an_explicit_context_wins_over_the_ambient_span() {
    let capture = Capture::install();
    let ambient = remote_parent(true);
    let explicit = Context::remote(TraceId::new(0, 0xdef), SpanId::new(0x456), true).unwrap();
    ambient.in_scope(|| by_value(explicit.clone()));
    let span = capture.span("by_value");
    assert_eq!(span.trace_id(), explicit.trace_id());
    assert_eq!(span.parent_id(), Some(explicit.span_id()));
}

#[test]
fn context_names_the_parent_parameter() {
    let capture = Capture::install();
    let parent = remote_parent(true);
    let other = Context::remote(TraceId::new(0, 0xdef), SpanId::new(0x456), true).unwrap();
    let _ = named(&parent, other);
    assert_eq!(capture.span("named").parent_id(), Some(parent.span_id()));
}

#[test]
fn a_mut_context_parameter_stays_mutable() {
    let capture = Capture::install();
    let seen = mutable(remote_parent(true));
    assert_eq!(seen.baggage("seen"), Some("yes"));
    assert_eq!(seen.span_id(), capture.span("mutable").span_id());
}

#[test]
fn an_invalid_explicit_context_falls_back_to_the_ambient_span() {
    let capture = Capture::install();
    let ambient = remote_parent(true);
    ambient.in_scope(|| by_value(Context::NONE));
    assert_eq!(
        capture.span("by_value").parent_id(),
        Some(ambient.span_id())
    );
}

#[test]
fn without_any_parent_a_call_starts_a_new_trace() {
    let capture = Capture::install();
    leaf();
    leaf();
    let spans = capture.spans_named("leaf");
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| s.parent_id().is_none()));
    assert_ne!(spans[0].trace_id(), spans[1].trace_id());
    // The root carries the sampling decision, as Jaeger clients do.
    assert_eq!(spans[0].tag("sampler.type"), Some("const".into()));
}

#[test]
fn an_unsampled_root_leaves_no_orphan_children() {
    let capture = Capture::with_config(Config::new("test").sampler(Sampler::never()));
    top();
    by_reference(&Context::current());
    assert!(capture.spans().is_empty(), "{:?}", capture.spans());
}

#[traced]
fn unsampled_root_reads_its_context_twice() -> (Context, Context, Context) {
    let first = Context::current();
    let from_leaf = leaf();
    (first, Context::current(), from_leaf)
}

#[traced]
fn unsampled_root_passes_its_context(cx: &Context) -> (Context, Context) {
    (cx.clone(), Context::current())
}

#[traced]
async fn unsampled_async_root() -> (Context, Context) {
    let before = Context::current();
    tokio::task::yield_now().await;
    (before, Context::current())
}

#[test]
fn an_unsampled_root_gets_ids_when_asked_and_keeps_them() {
    let _capture = Capture::with_config(Config::new("test").sampler(Sampler::never()));
    let (first, second, from_leaf) = unsampled_root_reads_its_context_twice();
    assert!(first.is_valid() && !first.is_sampled(), "{first:?}");
    assert_eq!(first.flags(), 0);
    assert_eq!(first.parent_id(), None);
    assert_eq!(second, first, "the same ids on every read");
    assert_eq!(
        from_leaf, first,
        "an unsampled child runs in its parent's context"
    );
    assert!(!Context::current().is_valid(), "left when the root returns");

    let (other, _, _) = unsampled_root_reads_its_context_twice();
    assert_ne!(
        other.trace_id(),
        first.trace_id(),
        "each root its own trace"
    );

    let (rebound, current) = unsampled_root_passes_its_context(&Context::NONE);
    assert!(rebound.is_valid() && !rebound.is_sampled(), "{rebound:?}");
    assert_eq!(current, rebound);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (before, after) = runtime.block_on(unsampled_async_root());
    assert!(before.is_valid(), "{before:?}");
    assert_eq!(after, before, "ids made in one poll are kept for the next");
}

#[test]
fn a_remote_parent_decides_sampling_for_its_children() {
    let capture = Capture::install();
    let unsampled = remote_parent(false);
    unsampled.in_scope(top);
    by_value(unsampled.clone());
    assert!(
        capture.spans().is_empty(),
        "the sampler is not asked again: {:?}",
        capture.spans()
    );

    let capture_never = {
        drop(capture);
        Capture::with_config(Config::new("test").sampler(Sampler::never()))
    };
    remote_parent(true).in_scope(top);
    assert_eq!(
        capture_never.spans().len(),
        3,
        "a sampled remote parent is honoured"
    );
}

#[test]
fn inside_an_unsampled_explicit_parent_the_ambient_span_is_not_used() {
    let capture = Capture::install();
    let ambient = Context::remote(TraceId::new(0, 0xdef), SpanId::new(0x456), true).unwrap();
    ambient.in_scope(|| by_reference(&remote_parent(false)));
    assert!(capture.spans().is_empty(), "{:?}", capture.spans());
}

#[traced]
async fn async_leaf() -> std::thread::ThreadId {
    tokio::task::yield_now().await;
    std::thread::current().id()
}

#[traced]
async fn async_parent() -> Vec<std::thread::ThreadId> {
    let mut threads = vec![std::thread::current().id()];
    for _ in 0..20 {
        threads.push(async_leaf().await);
        tokio::time::sleep(std::time::Duration::from_micros(50)).await;
        // A sync traced call in async code: a child of the task's span.
        leaf();
    }
    threads
}

#[test]
fn the_async_task_span_is_the_parent_across_awaits_and_worker_threads() {
    let capture = Capture::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let handles: Vec<_> = (0..8).map(|_| runtime.spawn(async_parent())).collect();
    let threads: Vec<_> = runtime.block_on(async {
        let mut all = Vec::new();
        for handle in handles {
            all.extend(handle.await.unwrap());
        }
        all
    });
    drop(runtime);
    let spans = capture.spans();
    let parents: Vec<_> = spans
        .iter()
        .filter(|s| s.operation_name() == "async_parent")
        .collect();
    assert_eq!(parents.len(), 8);
    for parent in &parents {
        assert_eq!(parent.parent_id(), None);
        let children: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_id() == Some(parent.span_id()))
            .collect();
        assert_eq!(
            children.len(),
            40,
            "20 async and 20 sync children under each task's span"
        );
        assert!(children.iter().all(|c| c.trace_id() == parent.trace_id()));
    }
    let distinct: std::collections::HashSet<_> = threads.into_iter().collect();
    // Not asserted: the scheduler decides. Reported to show what the test exercised.
    eprintln!("ran on {} worker threads", distinct.len());
}

#[test]
fn a_spawned_task_stays_in_the_trace_when_wrapped() {
    let capture = Capture::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let parent = remote_parent(true);
    parent.in_scope(|| {
        let wrapped = runtime.spawn(async_leaf().in_current_context());
        runtime.block_on(wrapped).unwrap();
        let bare = runtime.spawn(async_leaf());
        runtime.block_on(bare).unwrap();
    });
    let spans = capture.spans_named("async_leaf");
    assert_eq!(spans.len(), 2);
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.parent_id() == Some(parent.span_id()))
            .count(),
        1
    );
    assert_eq!(
        spans.iter().filter(|s| s.parent_id().is_none()).count(),
        1,
        "unwrapped: a new root"
    );
}

#[traced]
fn spawns_threads() -> SpanId {
    let wrapped = std::thread::spawn(Context::current().wrap(leaf));
    let bare = std::thread::spawn(leaf);
    wrapped.join().unwrap();
    bare.join().unwrap();
    Context::current().span_id()
}

#[test]
fn a_spawned_thread_stays_in_the_trace_when_wrapped() {
    let capture = Capture::install();
    let parent = spawns_threads();
    let leaves = capture.spans_named("leaf");
    assert_eq!(leaves.len(), 2);
    assert_eq!(
        leaves
            .iter()
            .filter(|s| s.parent_id() == Some(parent))
            .count(),
        1
    );
    assert_eq!(leaves.iter().filter(|s| s.parent_id().is_none()).count(), 1);
}

#[traced(follows_from)]
fn background_job() {}

#[test]
fn follows_from_references_the_parent_without_child_of() {
    let capture = Capture::install();
    remote_parent(true).in_scope(background_job);
    let span = capture.span("background_job");
    assert_eq!(span.parent_id(), Some(SpanId::new(0x123)));
    assert_eq!(span.reference_kind(), Some(ReferenceKind::FollowsFrom));
}
