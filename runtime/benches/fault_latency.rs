//! What a traced call costs the application while the backend is up, down or hanging: p50, p99
//! and p99.9 of single calls of a sampled two-tag function, 10 times 20,000 calls paced over a
//! second each, with the reporter sending to
//! - an agent that is up (a socket drained by its own thread),
//! - an agent that is down (nothing listens: the kernel refuses the datagrams),
//! - a collector that is down (connection refused, retried with backoff),
//! - a collector that hangs (accepts, never answers: every request runs to its timeout).
//!
//! Run: `cargo bench -p traced --bench fault_latency`. Percentiles, not means, so criterion is
//! not used here; every scenario runs in the same process, one after the other.

use std::hint::black_box;
use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use traced::report::CollectorSink;
use traced::{Config, Sampler};

#[traced::traced(tags(db.type = "mongo", rows = 3))]
fn get_all_images(i: u64) -> u64 {
    i
}

const ROUNDS: usize = 10;
const CALLS_PER_ROUND: usize = 20_000;

/// Nanoseconds of each call, `ROUNDS` rounds of `CALLS_PER_ROUND` calls, each round spread over
/// about a second in bursts of 100 (a service, not a loop).
fn measure() -> Vec<u64> {
    let mut samples = Vec::with_capacity(ROUNDS * CALLS_PER_ROUND);
    for _ in 0..ROUNDS {
        for burst in 0..CALLS_PER_ROUND / 100 {
            for i in 0..100 {
                let start = Instant::now();
                black_box(get_all_images(black_box((burst * 100 + i) as u64)));
                samples.push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    samples.sort_unstable();
    samples
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

fn run(name: &str, config: Config) {
    let guard = traced::init(config.sampler(Sampler::always())).expect("installs the tracer");
    let samples = measure();
    let metrics = guard.metrics();
    drop(guard);
    println!(
        "{name:<28} p50 {:>6} ns  p99 {:>6} ns  p99.9 {:>7} ns  max {:>9} ns   reported {:>6} failed {:>6} dropped {:>6}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 0.999),
        samples[samples.len() - 1],
        metrics.spans_reported,
        metrics.spans_failed,
        metrics.spans_dropped,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and wants it quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let up = UdpSocket::bind("127.0.0.1:0").expect("binds");
    up.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let up_addr = up.local_addr().expect("addr");
    let stop = Arc::new(AtomicBool::new(false));
    let drain = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0; 1 << 17];
            while !stop.load(Ordering::Relaxed) {
                let _ = up.recv(&mut buf);
            }
        })
    };
    run("agent up", Config::new("bench").agent(up_addr.to_string()));

    let closed = TcpListener::bind("127.0.0.1:0")
        .expect("binds")
        .local_addr()
        .expect("addr");
    run("agent down", Config::new("bench").agent(closed.to_string()));

    let sink = CollectorSink::new(&format!("http://{closed}/api/traces"))
        .expect("an endpoint")
        .retries(3, Duration::from_millis(100));
    run("collector down", Config::new("bench").sink(sink));

    let hanging = TcpListener::bind("127.0.0.1:0").expect("binds");
    let hanging_addr = hanging.local_addr().expect("addr");
    let holder = std::thread::spawn(move || {
        // Accepts and keeps every connection, answering nothing, until the bench ends.
        let mut held = Vec::new();
        hanging.set_nonblocking(true).expect("nonblocking");
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match hanging.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    let sink = CollectorSink::new(&format!("http://{hanging_addr}/api/traces"))
        .expect("an endpoint")
        .timeout(Duration::from_secs(2))
        .retries(1, Duration::from_millis(100));
    run(
        "collector hanging",
        Config::new("bench")
            .sink(sink)
            .shutdown_timeout(Duration::from_millis(100)),
    );

    stop.store(true, Ordering::Relaxed);
    let _ = drain.join();
    drop(holder);
}
