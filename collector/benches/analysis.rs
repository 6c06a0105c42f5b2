//! The analysis' speed over a full store: 100,000 spans in 20,000 five-span traces of the
//! gallery's thumbnail request (API server and client spans, the store's handler, its read and
//! thumbnail; one request in ten slow), each span with the tags a traced service sends.
//! Measured from the store as the API answers (reading the stored spans in place, under the
//! store's lock): slow-versus-typical attribution of the API's endpoint, latency per operation,
//! the service graph; what copying the spans out instead would cost; and one trace's critical
//! path.
//!
//! Run: `cargo bench -p traced-collector --bench analysis`.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use traced::TraceId;
use traced_collector::analysis::{self, Window, attribution, critical_path, dependencies, latency};
use traced_collector::model::{KeyValue, Process, Span, Value};
use traced_collector::{Limits, Store};

const TRACES: u64 = 20_000;

fn process(service: &str) -> Arc<Process> {
    Arc::new(Process {
        service_name: service.into(),
        tags: vec![KeyValue {
            key: "hostname".into(),
            value: Value::Str("gallery-1".into()),
        }],
    })
}

/// The store the benchmark reads: `TRACES` traces, 10 ms apart.
fn store() -> Store {
    let (api, blobs) = (process("gallery-api"), process("gallery-store"));
    let store = Store::new(Limits {
        max_spans: 200_000,
        max_bytes: 1 << 30,
    });
    for trace in 0..TRACES {
        let t = 1_700_000_000_000_000 + trace as i64 * 10_000;
        let slow = trace % 10 == 0;
        let thumbnail = if slow { 640_000 } else { 0 };
        let span =
            |id: u64, parent: u64, process: &Arc<Process>, name: &str, start, duration| Span {
                trace_id: TraceId::new(16, trace),
                span_id: id,
                parent_span_id: parent,
                operation_name: name.into(),
                references: Vec::new(),
                flags: 1,
                start_time: t + start,
                duration,
                tags: vec![
                    KeyValue {
                        key: "span.kind".into(),
                        value: Value::Str(if id == 2 { "client" } else { "server" }.into()),
                    },
                    KeyValue {
                        key: "http.status_code".into(),
                        value: Value::I64(200),
                    },
                ],
                logs: Vec::new(),
                process: process.clone(),
            };
        store.add(vec![
            span(
                1,
                0,
                &api,
                "HTTP GET /v0/images/{id}/thumbnail",
                0,
                60_000 + thumbnail,
            ),
            span(2, 1, &api, "HTTP GET", 1_000, 58_000 + thumbnail),
            span(
                3,
                2,
                &blobs,
                "HTTP GET /blobs/{id}/thumbnail",
                2_000,
                56_000 + thumbnail,
            ),
            span(4, 3, &blobs, "read_blob", 3_000, 50_000),
            span(5, 3, &blobs, "make_thumbnail", 53_000, 1_000 + thumbnail),
        ]);
    }
    store
}

fn analysis(c: &mut Criterion) {
    let store = store();
    assert_eq!(store.stats().0, 100_000);
    let window = Window {
        start: 0,
        end: i64::MAX,
    };
    let question = attribution::Question {
        service: "gallery-api".into(),
        operation: "HTTP GET /v0/images/{id}/thumbnail".into(),
        percentile: 95.0,
    };
    let answer = store
        .scan(window.start, window.end, |traces| {
            attribution::attribute(traces, &question)
        })
        .expect("requests");
    assert_eq!(answer.causes[0].operation, "make_thumbnail");
    eprintln!("{}", answer.render());

    let mut group = c.benchmark_group("analysis of 100,000 stored spans");
    group.sample_size(10);
    group.bench_function("attribution (slow vs typical)", |b| {
        b.iter(|| {
            store.scan(window.start, window.end, |traces| {
                attribution::attribute(traces, &question)
            })
        })
    });
    group.bench_function("latency per operation", |b| {
        b.iter(|| {
            store.scan(window.start, window.end, |traces| {
                latency::per_operation(traces, window, &latency::Filter::default())
            })
        })
    });
    group.bench_function("service graph", |b| {
        b.iter(|| {
            store.scan(window.start, window.end, |traces| {
                dependencies::links(traces)
            })
        })
    });
    group.bench_function("copying the traces out of the store", |b| {
        b.iter(|| analysis::traces(&store, window))
    });
    group.finish();

    // The nodes are made once: the walk is what the page asks for on every trace it opens.
    let spans: Vec<Span> = store.trace(TraceId::new(16, 1)).expect("a trace");
    let nodes = critical_path::nodes(&spans);
    c.bench_function("critical path of a 5-span trace", |b| {
        b.iter(|| critical_path::of_trace(&nodes))
    });
}

criterion_group!(benches, analysis);
criterion_main!(benches);
