//! A `tracing` span (two fields, entered once, closed; and the same without fields) under three
//! subscribers, side by side:
//!
//! - `registry alone`: `tracing-subscriber`'s registry with a no-op layer, the floor any layer
//!   starts from;
//! - `traced bridge/*`: the registry with `traced::bridge::TracingLayer`: with no tracer
//!   installed, inside an unsampled trace, and as a sampled root span (reported through traced's
//!   queue and reporter thread to a sink that discards it);
//! - `tracing-opentelemetry/sampled`: the registry with tracing-opentelemetry's layer over the
//!   OpenTelemetry SDK (always-on sampler, batch processor, an exporter that discards).
//!
//! Run: `cargo bench --manifest-path benches/peers/Cargo.toml --target-dir target/peers
//! --bench bridge`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use traced::bridge::TracingLayer;
use traced::{Config, Context, Sampler, SpanId, TraceId};
use tracing::Dispatch;
use tracing_subscriber::layer::{Identity, SubscriberExt as _};

/// The measured span: made with two fields (an integer and a string), entered, left and closed.
fn one_span() {
    let span = tracing::info_span!("query", rows = 3, table = "images");
    let entered = span.enter();
    black_box(&entered);
    drop(entered);
    drop(span);
}

/// The same span without fields.
fn bare_span() {
    let span = tracing::info_span!("query");
    let entered = span.enter();
    black_box(&entered);
    drop(entered);
    drop(span);
}

/// An exporter that keeps nothing, so that the SDK's own work is what is measured.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracing span");

    let registry = Dispatch::new(tracing_subscriber::registry().with(Identity::new()));
    tracing::dispatcher::with_default(&registry, || {
        group.bench_function("registry alone", |b| b.iter(one_span));
    });

    let bridged = Dispatch::new(tracing_subscriber::registry().with(TracingLayer::new()));
    tracing::dispatcher::with_default(&bridged, || {
        group.bench_function("traced bridge/no tracer", |b| b.iter(one_span));
        let config = Config::new("bench")
            .sampler(Sampler::always())
            .sink(traced::testing::Discard);
        let _tracer = traced::init(config).expect("the tracer installs");
        let unsampled =
            Context::remote(TraceId::new(0, 7), SpanId::new(9), false).expect("valid ids");
        unsampled.in_scope(|| {
            group.bench_function("traced bridge/unsampled", |b| b.iter(one_span));
        });
        group.bench_function("traced bridge/sampled", |b| b.iter(one_span));
        group.bench_function("traced bridge/sampled, no fields", |b| b.iter(bare_span));
    });

    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(Discard)
        .build();
    let otel = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    );
    tracing::dispatcher::with_default(&otel, || {
        group.bench_function("tracing-opentelemetry/sampled", |b| b.iter(one_span));
        group.bench_function("tracing-opentelemetry/sampled, no fields", |b| {
            b.iter(bare_span);
        });
    });
    group.finish();
    let _ = provider.shutdown();
}

criterion_group!(benches, bench);
criterion_main!(benches);
