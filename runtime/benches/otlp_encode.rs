//! How many finished spans per second `OtlpSink` encodes into an `ExportTraceServiceRequest`
//! body (the reporter thread's share of an OTLP export, without the network): protobuf, JSON,
//! and protobuf gzipped, on batches of 1,024 real spans (a name and two tags, as in
//! `reporter_throughput`).
//!
//! Run: `cargo bench -p traced --features otlp --bench otlp_encode`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use traced::report::{Batch, Compression, OtlpProtocol, OtlpSink, Process};

/// Spans per batch: what the reporter hands its sink at most.
const BATCH: usize = 1024;

#[traced::traced(tags(db.type = "mongo", rows = 3))]
fn get_all_images(i: u64) -> u64 {
    i
}

#[traced::traced]
fn request() {
    for i in 0..BATCH as u64 - 1 {
        get_all_images(i);
    }
}

fn encode(c: &mut Criterion) {
    let spans = {
        let capture = traced::testing::Capture::install();
        request();
        capture.spans()
    };
    assert_eq!(spans.len(), BATCH);
    let process = Process::new("bench");
    let batch = Batch::new(&process, &spans);
    let sink = OtlpSink::new(OtlpSink::DEFAULT_ENDPOINT).expect("a valid endpoint");
    let mut group = c.benchmark_group("otlp_encode");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, sink) in [
        ("protobuf", sink),
        (
            "json",
            OtlpSink::new(OtlpSink::DEFAULT_ENDPOINT)
                .unwrap()
                .protocol(OtlpProtocol::Json),
        ),
        (
            "protobuf_gzip",
            OtlpSink::new(OtlpSink::DEFAULT_ENDPOINT)
                .unwrap()
                .compression(Compression::Gzip),
        ),
    ] {
        println!("{name}: {} bytes a batch", sink.body(&batch).len());
        group.bench_function(name, |b| b.iter(|| black_box(sink.body(black_box(&batch)))));
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
