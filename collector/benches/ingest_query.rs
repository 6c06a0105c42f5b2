//! The collector's speed: spans ingested per second over loopback UDP (a datagram of 100
//! two-tag spans, thrift compact, as traced and Jaeger clients send them: received, decoded,
//! stored; eviction included once the store is full), the decoder alone, and the latency of
//! fetching a 1,000-span trace from the query API (JSON rendering and HTTP included).
//!
//! Run: `cargo bench -p traced-collector --bench ingest_query`.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rustracing_jaeger::thrift::{agent, jaeger};
use thrift_codec::CompactEncode;
use thrift_codec::message::Message;
use traced_collector::thrift::{Protocol, decode_emit_batch};
use traced_collector::{Collector, Config};

const SPANS_PER_DATAGRAM: usize = 100;

fn span(trace: i64, id: i64) -> jaeger::Span {
    jaeger::Span {
        trace_id_low: trace,
        trace_id_high: 7,
        span_id: id,
        parent_span_id: if id > 1 { 1 } else { 0 },
        operation_name: "get_all_images".into(),
        references: Vec::new(),
        flags: 1,
        start_time: 1_700_000_000_000_000 + id,
        duration: 1_000 + id,
        tags: vec![
            jaeger::Tag::String {
                key: "db.type".into(),
                value: "mongo".into(),
            },
            jaeger::Tag::Long {
                key: "rows".into(),
                value: 3,
            },
        ],
        logs: Vec::new(),
    }
}

/// A datagram of `spans` spans of `trace`, numbered from `first`.
fn datagram_from(trace: i64, first: i64, spans: usize) -> Vec<u8> {
    let batch = jaeger::Batch {
        process: jaeger::Process {
            service_name: "bench".into(),
            tags: Vec::new(),
        },
        spans: (first..first + spans as i64)
            .map(|id| span(trace, id))
            .collect(),
    };
    let mut out = Vec::new();
    Message::from(agent::EmitBatchNotification { batch })
        .compact_encode(&mut out)
        .expect("encodes");
    out
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let collector = runtime
        .block_on(Collector::start(Config::ephemeral()))
        .expect("starts");
    let mut group = c.benchmark_group("collector");

    let one = datagram_from(1, 1, SPANS_PER_DATAGRAM);
    group.throughput(Throughput::Elements(SPANS_PER_DATAGRAM as u64));
    group.bench_function("decode_compact_datagram", |b| {
        b.iter(|| decode_emit_batch(&one, Protocol::Compact).expect("decodes"))
    });

    // Datagrams of distinct traces, sent over loopback and waited for: end to end.
    let sender = UdpSocket::bind("127.0.0.1:0").expect("binds");
    let target = collector.udp_compact_addr();
    let datagrams: Vec<Vec<u8>> = (1..=64)
        .map(|t| datagram_from(t, 1, SPANS_PER_DATAGRAM))
        .collect();
    group.bench_function("ingest_udp_loopback", |b| {
        b.iter_custom(|iters| {
            let stats = collector.stats();
            let before = stats.spans.load(std::sync::atomic::Ordering::Relaxed);
            let start = Instant::now();
            for i in 0..iters {
                let d = &datagrams[i as usize % datagrams.len()];
                sender.send_to(d, target).expect("sends");
                // Paced so the socket buffer never overflows: the bench measures ingest, not
                // the kernel dropping datagrams.
                if i % 8 == 7 {
                    let want = before + (i + 1) * SPANS_PER_DATAGRAM as u64;
                    while stats.spans.load(std::sync::atomic::Ordering::Relaxed) < want {
                        std::hint::spin_loop();
                    }
                }
            }
            let want = before + iters * SPANS_PER_DATAGRAM as u64;
            let deadline = Instant::now() + Duration::from_secs(30);
            while stats.spans.load(std::sync::atomic::Ordering::Relaxed) < want {
                assert!(Instant::now() < deadline, "datagrams lost");
                std::hint::spin_loop();
            }
            start.elapsed()
        })
    });

    // One trace of 1,000 spans, fetched whole.
    let big: Vec<Vec<u8>> = (0..10)
        // Distinct span ids: the same span delivered twice is shown once.
        .map(|i| {
            datagram_from(
                999_999,
                1 + i * SPANS_PER_DATAGRAM as i64,
                SPANS_PER_DATAGRAM,
            )
        })
        .collect();
    for d in &big {
        sender.send_to(d, target).expect("sends");
        std::thread::sleep(Duration::from_millis(5));
    }
    let trace_id = traced::TraceId::new(7, 999_999);
    while collector.store().trace(trace_id).map_or(0, |t| t.len()) < 1_000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("render_trace_of_1000_spans", |b| {
        b.iter(|| {
            let spans = collector.store().trace(trace_id).expect("stored");
            serde_json::to_vec(&traced_collector::json::trace(&spans)).expect("renders")
        })
    });
    let query = collector.query_addr();
    group.bench_function("query_trace_of_1000_spans", |b| {
        b.iter(|| {
            let mut stream = TcpStream::connect(query).expect("connects");
            write!(
                stream,
                "GET /api/traces/{trace_id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .expect("writes");
            let mut body = Vec::new();
            stream.read_to_end(&mut body).expect("reads");
            assert!(body.len() > 100_000);
            body
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
