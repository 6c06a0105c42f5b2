//! Calls that are not sampled, and calls with no tracer installed, allocate nothing: counted by
//! a global allocator that watches the test's own thread.

use traced::{Config, Context, Sampler, SpanId, TraceId, traced};

#[path = "support/allocations.rs"]
mod allocations;

use allocations::allocations_in;

#[traced(tags(db.type = "mongo", image.id = %id))]
fn get_image(id: u32) -> Result<u32, String> {
    if id == 0 { Err(String::new()) } else { Ok(id) }
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

    // The count works: a sampled call allocates its record.
    let guard = traced::init(Config::new("alloc-test").sampler(Sampler::always())).unwrap();
    assert!(
        allocations_in(|| {
            std::hint::black_box(handler(&cx));
        }) > 0
    );
    drop(guard);
}
