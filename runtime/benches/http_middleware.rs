//! What `TraceLayer` adds to a request: a hello-world axum handler called in process (no
//! network, so the row is the middleware and not the kernel), without a layer, with a
//! pass-through layer, with `TraceLayer` for a sampled caller and for an unsampled one, in one
//! run; and the propagator's header reading alone.
//!
//! Run: `cargo bench -p traced --features axum --bench http_middleware`.

use std::hint::black_box;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower::ServiceExt as _;
use traced::testing::Discard;
use traced::{Config, Sampler};

fn router() -> Router {
    Router::new().route("/v0/images/{id}", get(|| async { "hello" }))
}

fn request() -> Request<Body> {
    Request::get("/v0/images/7")
        .header(
            "uber-trace-id",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
        )
        .body(Body::empty())
        .expect("a valid request")
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("http_middleware");
    let call = |router: &Router| {
        let router = router.clone();
        runtime.block_on(async move { black_box(router.oneshot(request()).await) })
    };

    // Reading a request's context alone: every format's headers looked up, the Jaeger one parsed.
    let headers = request().headers().clone();
    let propagator = traced::propagation::Propagator::default();
    group.bench_function("extract_only", |b| {
        b.iter(|| black_box(propagator.extract(&headers)))
    });
    let plain = router();
    group.bench_function("no_layer", |b| b.iter(|| call(&plain)));
    // Any layer costs something in axum (the route's service is wrapped and cloned per
    // request): a pass-through layer shows how much, so the next rows can be read as that plus
    // what tracing adds.
    let passthrough = router().layer(tower::util::MapRequestLayer::new(|req: Request<Body>| req));
    group.bench_function("passthrough_layer", |b| b.iter(|| call(&passthrough)));

    let traced_app = router().layer(traced::http::TraceLayer::new());
    // The caller's header says sampled; under `never` the remote decision still wins, so the
    // unsampled row sends an unsampled header instead.
    let guard = traced::init(
        Config::new("bench")
            .sampler(Sampler::always())
            .sink(Discard),
    )
    .expect("installs the bench tracer");
    group.bench_function("layer_sampled", |b| b.iter(|| call(&traced_app)));
    guard.flush();
    drop(guard);

    let guard = traced::init(Config::new("bench").sampler(Sampler::never()).sink(Discard))
        .expect("installs the bench tracer");
    let unsampled = |router: &Router| {
        let router = router.clone();
        let req = Request::get("/v0/images/7")
            .header(
                "uber-trace-id",
                "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:0",
            )
            .body(Body::empty())
            .expect("a valid request");
        runtime.block_on(async move { black_box(router.oneshot(req).await) })
    };
    group.bench_function("layer_unsampled", |b| b.iter(|| unsampled(&traced_app)));
    drop(guard);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
