//! How many finished spans per second the reporter's agent sink encodes and sends over UDP,
//! thrift compact and binary, next to `rustracing_jaeger`'s own `JaegerCompactReporter` and
//! `JaegerBinaryReporter` used directly on the same kind of spans (a name and two tags), in one
//! run. The sink runs on one thread, as the reporter does; a second thread drains the receiving
//! socket, as an agent would.
//!
//! Run: `cargo bench -p traced --bench reporter_throughput`.

use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rustracing::tag::Tag;
use traced::report::{AgentSink, Batch, Process, Protocol, Sink};

/// Spans per batch: what the reporter hands its sink at most.
const BATCH: usize = 1024;
/// Spans per `report` call of rustracing_jaeger, which sends each call as one datagram: as many
/// as fit the agent's 65,000 bytes with room to spare.
const DIRECT_CHUNK: usize = 256;

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

/// Real finished spans, made by the tracer and kept by a test capture: one request's children
/// and the request itself.
fn traced_spans() -> Vec<traced::SpanRecord> {
    let capture = traced::testing::Capture::install();
    request();
    capture.spans()
}

fn rustracing_spans() -> Vec<rustracing_jaeger::span::FinishedSpan> {
    let (tracer, finished) = rustracing_jaeger::Tracer::new(rustracing::sampler::AllSampler);
    for _ in 0..BATCH {
        let span = tracer
            .span("get_all_images")
            .tag(Tag::new("db.type", "mongo"))
            .tag(Tag::new("rows", 3i64))
            .start();
        drop(span);
    }
    finished.try_iter().collect()
}

/// A socket standing in for the agent, drained by its own thread until dropped.
struct Agent {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Agent {
    fn start() -> Agent {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("binds");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let addr = socket.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0; 1 << 17];
                while !stop.load(Ordering::Relaxed) {
                    let _ = socket.recv(&mut buf);
                }
            })
        };
        Agent {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn bench(c: &mut Criterion) {
    let spans = traced_spans();
    let direct_spans = rustracing_spans();
    assert_eq!((spans.len(), direct_spans.len()), (BATCH, BATCH));
    let agent = Agent::start();
    let process = Process::new("bench");

    let mut group = c.benchmark_group("reporter_throughput");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, protocol) in [("compact", Protocol::Compact), ("binary", Protocol::Binary)] {
        let mut sink = AgentSink::new(agent.addr, protocol).expect("a sink");
        group.bench_function(format!("traced/{name}"), |b| {
            b.iter(|| black_box(sink.send(&Batch::new(&process, &spans)).expect("sent")))
        });
    }

    let mut compact =
        rustracing_jaeger::reporter::JaegerCompactReporter::new("bench").expect("a reporter");
    compact.set_agent_addr(agent.addr);
    group.bench_function("rustracing_jaeger/compact", |b| {
        b.iter(|| {
            for chunk in direct_spans.chunks(DIRECT_CHUNK) {
                compact.report(chunk).expect("reported");
            }
        })
    });
    let mut binary =
        rustracing_jaeger::reporter::JaegerBinaryReporter::new("bench").expect("a reporter");
    binary.set_agent_addr(agent.addr);
    group.bench_function("rustracing_jaeger/binary", |b| {
        b.iter(|| {
            for chunk in direct_spans.chunks(DIRECT_CHUNK) {
                binary.report(chunk).expect("reported");
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
