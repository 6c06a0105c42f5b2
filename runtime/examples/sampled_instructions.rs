//! A sampled call under `#[traced]` and under `fastrace::trace`, for counting instructions:
//! wall-clock rows on a shared VM move by a third from run to run, instruction counts do not.
//!
//! ```sh
//! cargo build --release -p traced --example sampled_instructions
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/sampled.out \
//!     --toggle-collect='sampled_instructions::run_*' \
//!     target/release/examples/sampled_instructions 32768
//! callgrind_annotate --inclusive=yes /tmp/sampled.out | grep 'sampled_instructions::run_'
//! ```
//!
//! Each `run_*` makes the given number of sampled spans the way `call_overhead`'s sampled rows do
//! (a tiny function, a new trace every 32 calls): divide its inclusive count by that number for
//! the instructions one sampled call costs the calling thread. The reporter's and fastrace's
//! collector's threads are not counted.

use std::hint::black_box;

use traced::testing::Discard;
use traced::{Config, Sampler};

/// Calls per trace, as in `call_overhead`.
const CALLS_PER_TRACE: u64 = 32;

#[traced::traced(tags(db.type = "mongo", rows = 3))]
fn traced_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[traced::traced]
fn traced_trace(calls: u64) {
    for i in 0..calls {
        black_box(traced_add(black_box(i), 1));
    }
}

#[fastrace::trace]
fn fastrace_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// Forgets what fastrace reports.
struct Forget;

impl fastrace::collector::Reporter for Forget {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

/// `spans` sampled `#[traced]` calls.
#[inline(never)]
fn run_traced(spans: u64) {
    for _ in 0..spans / CALLS_PER_TRACE {
        traced_trace(CALLS_PER_TRACE);
    }
}

/// `spans` sampled `fastrace::trace` calls.
#[inline(never)]
fn run_fastrace(spans: u64) {
    use fastrace::prelude::{Span, SpanContext};

    for _ in 0..spans / CALLS_PER_TRACE {
        let root = Span::root("root", SpanContext::random());
        let parent = root.set_local_parent();
        for i in 0..CALLS_PER_TRACE {
            black_box(fastrace_add(black_box(i), 1));
        }
        drop(parent);
        drop(root);
    }
}

fn main() {
    let spans: u64 = std::env::args()
        .nth(1)
        .map_or(32_768, |n| n.parse().expect("a number of spans"));
    let tracer = traced::init(
        Config::new("sampled_instructions")
            .sampler(Sampler::always())
            .queue_size(1 << 16)
            .sink(Discard),
    )
    .expect("installs the tracer");
    fastrace::set_reporter(Forget, fastrace::collector::Config::default());
    run_traced(spans);
    tracer.flush();
    run_fastrace(spans);
    fastrace::flush();
    let metrics = tracer.metrics();
    println!(
        "traced: {} spans reported, {} dropped",
        metrics.spans_reported, metrics.spans_dropped
    );
}
