//! What `TraceLayer` adds to a request: a hello-world axum handler called in process (no
//! network, so the row is the middleware and not the kernel), without the layer, with it under a
//! tracer that samples nothing, and under one that samples everything, in one run.
//!
//! Run: `cargo bench -p traced --features axum --bench http_middleware`.

use std::hint::black_box;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower::ServiceExt as _;
use traced::report::{Batch, Sent, Sink, SinkError};
use traced::{Config, Sampler};

/// Accepts and forgets: the rows measure the request path, not a backend.
struct Discard;

impl Sink for Discard {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        Ok(Sent {
            bytes: 0,
            batches: batch.len() as u64,
        })
    }
}

fn app(traced: bool) -> Router {
    let router = Router::new().route("/v0/images/{id}", get(|| async { "hello" }));
    if traced {
        router.layer(traced::http::TraceLayer::new())
    } else {
        router
    }
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

    let plain = app(false);
    group.bench_function("no_layer", |b| b.iter(|| call(&plain)));

    let traced_app = app(true);
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
