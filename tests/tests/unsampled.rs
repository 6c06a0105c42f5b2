//! Calls that are not sampled, and calls with no tracer installed, allocate nothing, nor do
//! sampled calls with up to two run-time tags (kept in the span's record): counted by a global
//! allocator that watches the test's own thread.

use traced::testing::Capture;
use traced::{Config, Context, Sampler, SpanId, TagValue, TraceId, traced};

#[path = "support/allocations.rs"]
mod allocations;

use allocations::allocations_in;

#[traced(tags(db.type = "mongo", image.id = %id))]
fn get_image(id: u32) -> Result<u32, String> {
    if id == 0 { Err(String::new()) } else { Ok(id) }
}

#[traced(tags(db.type = "mongo", image.id = id, cached = id.is_multiple_of(2)))]
fn lookup(id: u32) -> u32 {
    id + 1
}

#[traced(tags(images = n))]
fn list(n: u32) -> u32 {
    (0..n).map(lookup).sum()
}

#[traced]
fn handler(cx: &Context) -> u32 {
    get_image(7).unwrap_or_default() + get_image(8).unwrap_or_default() + cx.flags() as u32
}

#[traced]
async fn async_handler() -> u32 {
    get_image(9).unwrap_or_default()
}

fn poll_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => unreachable!("the handler never waits"),
    }
}

#[test]
fn unsampled_and_untraced_calls_allocate_nothing() {
    let _exclusive = traced::testing::exclusive();
    let cx = Context::NONE;
    // Warm up thread-locals (the id generator, the current context) outside the count.
    handler(&cx);
    assert_eq!(
        allocations_in(|| {
            std::hint::black_box(handler(&cx));
        }),
        0,
        "no tracer"
    );
    assert_eq!(
        allocations_in(|| {
            std::hint::black_box(poll_once(async_handler()));
        }),
        0,
        "no tracer, async"
    );

    let guard = traced::init(Config::new("alloc-test").sampler(Sampler::never())).unwrap();
    handler(&cx);
    assert_eq!(
        allocations_in(|| {
            std::hint::black_box(handler(&cx));
        }),
        0,
        "unsampled roots"
    );
    assert_eq!(
        allocations_in(|| {
            std::hint::black_box(poll_once(async_handler()));
        }),
        0,
        "unsampled async"
    );
    let remote = Context::remote(TraceId::new(0, 1), SpanId::new(2), false).unwrap();
    assert_eq!(
        allocations_in(|| {
            std::hint::black_box(handler(&remote));
        }),
        0,
        "unsampled remote parent"
    );
    assert_eq!(guard.metrics().spans_started, 0);
    drop(guard);

    // The count works: a sampled call with a tag made from its `Display` text allocates that
    // text.
    let guard = traced::init(Config::new("alloc-test").sampler(Sampler::always())).unwrap();
    assert!(
        allocations_in(|| {
            std::hint::black_box(handler(&cx));
        }) > 0
    );
    drop(guard);
}

#[test]
fn sampled_calls_with_up_to_two_computed_tags_allocate_nothing_on_their_thread() {
    let capture = Capture::install();
    // Warm up this thread's ring, its shard of the started count and its id generator.
    list(1);
    let made = allocations_in(|| {
        std::hint::black_box(list(2));
    });
    assert_eq!(
        made, 0,
        "a root and two children, two computed tags each at most"
    );
    let lists = capture.spans_named("list");
    assert_eq!(lists.len(), 2);
    let root = &lists[1];
    assert_eq!(root.tag("images"), Some(TagValue::Integer(2)));
    let children: Vec<_> = capture
        .spans_named("lookup")
        .into_iter()
        .filter(|s| s.parent_id() == Some(root.span_id()))
        .collect();
    assert_eq!(children.len(), 2);
    let tags: Vec<_> = children[1].tags().collect();
    assert_eq!(
        tags,
        [
            ("db.type", TagValue::from("mongo")),
            ("image.id", TagValue::Integer(1)),
            ("cached", TagValue::Boolean(false)),
        ]
    );
}
