//! What `#[traced]` costs per call, side by side with its peers, on a tiny function.
//!
//! Run: `cargo bench -p traced --bench call_overhead`. Every row is the same `add` function:
//! bare, under `#[traced]` in each tracer state (sampled with two tags fixed at the call site, and
//! with one of them computed), under `tracing::instrument`, under
//! `fastrace::trace`, and as raw `rustracing` / `rustracing_jaeger` spans. Sampled rows print on
//! stderr how many spans they made and how many their consumer got (traced: how many its bounded
//! queue dropped), so a fast row can be told from one that lost its spans.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use traced::testing::Discard;
use traced::{Config, Sampler};

/// Sampled rows start a new trace every this many calls. fastrace keeps at most 10240 spans under
/// one local parent and drops the rest, so one root for millions of calls would measure its drop
/// path. Each row pays for its roots, amortised over their calls: a trace is part of the price,
/// and every sampled row pays the same share of it.
const CALLS_PER_TRACE: u64 = 32;

/// Sampled rows stop the clock every this many calls and let their consumer thread catch up.
/// A single thread making nothing but spans outruns any consumer; without the pause the rows would
/// measure, past the first full queue, a drop path (traced) or an ever-growing backlog (fastrace,
/// rustracing_jaeger) rather than the cost of a recorded call.
const CALLS_PER_CATCH_UP: u64 = 1 << 15;

/// traced's queue: room for the spans of one stretch between catch-ups even if the reporter
/// thread took none, so that the sampled row never drops.
const QUEUE_SIZE: usize = 1 << 16;

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

/// One tag from the call site and one computed from an argument, as most tagged functions have.
#[traced::traced(tags(db.type = "mongo", n = a))]
fn traced_computed(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[traced::traced]
fn traced_computed_trace(calls: u64) {
    for i in 0..calls {
        black_box(traced_computed(black_box(i), 1));
    }
}

/// Times `iters` calls under one unsampled root, whose own cost stays outside the clock: the row
/// is what a function deep in an unsampled request pays.
#[traced::traced]
fn traced_unsampled_trace(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(traced_add(black_box(1), black_box(2)));
    }
    start.elapsed()
}

#[tracing::instrument]
fn tracing_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[fastrace::trace]
fn fastrace_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// Times `iters` calls made as traces of up to `CALLS_PER_TRACE` calls each (`trace(n)` makes one
/// root and `n` calls under it), running `catch_up` off the clock every `CALLS_PER_CATCH_UP`
/// calls and at the end. Returns the time and the number of spans made, roots included.
fn time_traces(
    iters: u64,
    mut trace: impl FnMut(u64),
    mut catch_up: impl FnMut(),
) -> (Duration, u64) {
    let (mut timed, mut spans) = (Duration::ZERO, 0);
    let mut left = iters;
    while left > 0 {
        let stretch = left.min(CALLS_PER_CATCH_UP);
        let start = Instant::now();
        let mut calls_left = stretch;
        while calls_left > 0 {
            let calls = calls_left.min(CALLS_PER_TRACE);
            trace(calls);
            calls_left -= calls;
            spans += calls + 1;
        }
        timed += start.elapsed();
        catch_up();
        left -= stretch;
    }
    (timed, spans)
}

/// Counts and forgets; the count shows fastrace really recorded (its `enable` feature is on).
struct DiscardReporter;

static FASTRACE_REPORTED: AtomicU64 = AtomicU64::new(0);

impl fastrace::collector::Reporter for DiscardReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        FASTRACE_REPORTED.fetch_add(spans.len() as u64, Ordering::Relaxed);
    }
}

fn tracer(sampler: Sampler) -> traced::TracerGuard {
    traced::init(
        Config::new("bench")
            .sampler(sampler)
            .queue_size(QUEUE_SIZE)
            .sink(Discard),
    )
    .expect("installs the bench tracer")
}

fn traced_rows(group: &mut BenchmarkGroup<'_, WallTime>) {
    // First, before any tracer is installed in this process.
    group.bench_function("traced/no_tracer", |b| {
        b.iter(|| traced_add(black_box(1), black_box(2)))
    });

    let guard = tracer(Sampler::never());
    // Every call is a root here, so every call pays the sampling decision: new ids, the sampler,
    // and entering the unsampled context so that its callees follow it.
    group.bench_function("traced/unsampled", |b| {
        b.iter(|| traced_add(black_box(1), black_box(2)))
    });
    group.bench_function("traced/unsampled_child", |b| {
        b.iter_custom(traced_unsampled_trace)
    });
    drop(guard);

    let guard = tracer(Sampler::always());
    let mut made = 0;
    group.bench_function("traced/sampled_2_tags", |b| {
        b.iter_custom(|iters| {
            let (timed, spans) = time_traces(iters, traced_trace, || {
                guard.flush();
            });
            made += spans;
            timed
        });
    });
    // The same with one of the two tags computed at run time: kept in the record itself.
    group.bench_function("traced/sampled_computed_tag", |b| {
        b.iter_custom(|iters| {
            let (timed, spans) = time_traces(iters, traced_computed_trace, || {
                guard.flush();
            });
            made += spans;
            timed
        });
    });
    guard.flush();
    let metrics = guard.metrics();
    drop(guard);
    eprintln!(
        "traced/sampled_2_tags and sampled_computed_tag: {made} spans made, {} finished, {} \
         reported, {} dropped",
        metrics.spans_finished, metrics.spans_reported, metrics.spans_dropped
    );
}

fn tracing_rows(group: &mut BenchmarkGroup<'_, WallTime>) {
    use tracing_subscriber::layer::{Identity, SubscriberExt};

    group.bench_function("tracing/no_subscriber", |b| {
        b.iter(|| tracing_add(black_box(1), black_box(2)))
    });
    // A registry with no layer never frees its closed spans (tokio-rs/tracing#900): the row would
    // measure its ever-growing slab, page faults included, not a span. Every real subscriber has
    // a layer; the no-op one is the cheapest. Scoped, not global: the global default can be set
    // once per process.
    let subscriber = tracing_subscriber::registry().with(Identity::new());
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("tracing/registry", |b| {
            b.iter(|| tracing_add(black_box(1), black_box(2)))
        });
    });
}

fn fastrace_rows(group: &mut BenchmarkGroup<'_, WallTime>) {
    use fastrace::prelude::*;

    // First, before a reporter is set: fastrace records nothing until then.
    group.bench_function("fastrace/no_root", |b| {
        b.iter(|| fastrace_add(black_box(1), black_box(2)))
    });
    fastrace::set_reporter(DiscardReporter, fastrace::collector::Config::default());
    let mut made = 0;
    group.bench_function("fastrace/sampled", |b| {
        b.iter_custom(|iters| {
            let trace = |calls| {
                let root = Span::root("root", SpanContext::random());
                let parent = root.set_local_parent();
                for i in 0..calls {
                    black_box(fastrace_add(black_box(i), 1));
                }
                drop(parent);
                drop(root);
            };
            let (timed, spans) = time_traces(iters, trace, fastrace::flush);
            made += spans;
            timed
        });
    });
    fastrace::flush();
    eprintln!(
        "fastrace/sampled: {made} spans made, {} reported",
        FASTRACE_REPORTED.load(Ordering::Relaxed)
    );
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
    let backlog = spans.clone();
    // Another thread empties the unbounded channel, as traced's reporter thread empties traced's
    // queue, so that the row measures the calling thread alone.
    let drain = std::thread::spawn(move || {
        let mut received = 0_u64;
        loop {
            match spans.try_recv() {
                Ok(span) => {
                    drop(span);
                    received += 1;
                }
                Err(e) if e.is_disconnected() => return received,
                // Polling rather than a blocking `recv`: a parked receiver would make every send
                // pay a futex wake, which measures the consumer's choice, not rustracing.
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    let mut made = 0;
    group.bench_function("rustracing_jaeger/sampled_child_2_tags", |b| {
        b.iter_custom(|iters| {
            let trace = |calls| {
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
            };
            let catch_up = || {
                while !backlog.is_empty() {
                    std::thread::sleep(Duration::from_millis(1));
                }
            };
            let (timed, spans) = time_traces(iters, trace, catch_up);
            made += spans;
            timed
        });
    });
    drop(tracer);
    let received = drain.join().expect("the drain thread does not panic");
    eprintln!("rustracing_jaeger/sampled_child_2_tags: {made} spans made, {received} received");
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
