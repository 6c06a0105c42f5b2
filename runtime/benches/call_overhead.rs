//! What `#[traced]` costs per call, side by side with its peers, on a tiny function.
//!
//! Run: `cargo bench -p traced --bench call_overhead`. Every row is the same `add` function:
//! bare, under `#[traced]` in each tracer state, under `tracing::instrument`, under
//! `fastrace::trace`, and as raw `rustracing_jaeger` spans.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use traced::report::{Batch, Sent, Sink, SinkError};
use traced::{Config, Sampler};

/// Sampled rows start a new trace every this many calls: fastrace stops recording past its
/// per-trace span limit, so a single root for millions of calls would measure its drop path.
const CALLS_PER_TRACE: u64 = 32;

fn plain(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[traced::traced]
fn traced_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[traced::traced(tags(db.type = "mongo", rows = 3))]
fn traced_tagged(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[traced::traced]
fn traced_trace(calls: u64) {
    for i in 0..calls {
        black_box(traced_tagged(black_box(i), 1));
    }
}

#[tracing::instrument]
fn tracing_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[fastrace::trace]
fn fastrace_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// Accepts and forgets: the rows measure the application thread, not a backend.
struct Discard;

impl Sink for Discard {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        Ok(Sent {
            bytes: 0,
            batches: batch.len() as u64,
        })
    }
}

struct DiscardReporter;

impl fastrace::collector::Reporter for DiscardReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

fn tracer(sampler: Sampler) -> traced::TracerGuard {
    traced::init(
        Config::new("bench")
            .sampler(sampler)
            .queue_size(1 << 16)
            .sink(Discard),
    )
    .expect("installs the bench tracer")
}

fn traced_rows(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function("traced/no_tracer", |b| {
        b.iter(|| traced_add(black_box(1), black_box(2)))
    });

    let guard = tracer(Sampler::never());
    group.bench_function("traced/unsampled", |b| {
        b.iter(|| traced_add(black_box(1), black_box(2)))
    });
    drop(guard);

    let guard = tracer(Sampler::always());
    group.bench_function("traced/sampled_2_tags", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let mut left = iters;
            while left > 0 {
                // The root span of each trace counts, amortised, as fastrace's root does.
                let calls = left.min(CALLS_PER_TRACE);
                traced_trace(calls);
                left -= calls;
            }
            start.elapsed()
        });
    });
    let metrics = guard.metrics();
    drop(guard);
    eprintln!(
        "traced/sampled_2_tags: {} spans finished, {} dropped by the bounded queue",
        metrics.spans_finished, metrics.spans_dropped
    );
}

fn tracing_rows(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function("tracing/no_subscriber", |b| {
        b.iter(|| tracing_add(black_box(1), black_box(2)))
    });
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        group.bench_function("tracing/registry", |b| {
            b.iter(|| tracing_add(black_box(1), black_box(2)))
        });
    });
}

fn fastrace_rows(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function("fastrace/no_root", |b| {
        b.iter(|| fastrace_add(black_box(1), black_box(2)))
    });
    fastrace::set_reporter(DiscardReporter, fastrace::collector::Config::default());
    group.bench_function("fastrace/sampled", |b| {
        b.iter_custom(|iters| {
            use fastrace::prelude::*;
            let start = Instant::now();
            let mut left = iters;
            while left > 0 {
                let calls = left.min(CALLS_PER_TRACE);
                let root = Span::root("root", SpanContext::random());
                {
                    let _parent = root.set_local_parent();
                    for i in 0..calls {
                        black_box(fastrace_add(black_box(i), 1));
                    }
                }
                drop(root);
                left -= calls;
            }
            start.elapsed()
        });
    });
    fastrace::flush();
}

fn rustracing_rows(group: &mut BenchmarkGroup<'_, WallTime>) {
    use rustracing::sampler::{AllSampler, NullSampler};
    use rustracing::tag::Tag;

    let (tracer, spans) = rustracing_jaeger::Tracer::new(NullSampler);
    group.bench_function("rustracing/unsampled", |b| {
        b.iter(|| {
            let span = tracer.span("add").start();
            black_box(plain(black_box(1), black_box(2)));
            drop(span);
        });
    });
    drop(spans);

    let (tracer, spans) = rustracing_jaeger::Tracer::new(AllSampler);
    group.bench_function("rustracing_jaeger/sampled_child_2_tags", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let mut left = iters;
            while left > 0 {
                let calls = left.min(CALLS_PER_TRACE);
                let root = tracer.span("root").start();
                for i in 0..calls {
                    let span = root.child("add", |options| {
                        options
                            .tag(Tag::new("db.type", "mongo"))
                            .tag(Tag::new("rows", 3i64))
                            .start()
                    });
                    black_box(plain(black_box(i), 1));
                    drop(span);
                }
                drop(root);
                left -= calls;
                // The channel is unbounded: empty it, outside the measured calls' hot loop.
                spans.try_iter().for_each(drop);
            }
            start.elapsed()
        });
    });
}

fn call_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("call_overhead");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("plain", |b| b.iter(|| plain(black_box(1), black_box(2))));
    traced_rows(&mut group);
    tracing_rows(&mut group);
    fastrace_rows(&mut group);
    rustracing_rows(&mut group);
    group.finish();
}

criterion_group!(benches, call_overhead);
criterion_main!(benches);
