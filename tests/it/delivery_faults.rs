//! Delivery under faults: a process returning from `main` loses no span; a collector that
//! answers 500 or hangs past the timeout is retried; a collector or agent that is down and comes
//! back gets the spans made after it is back, with what was lost counted; a burst past the queue
//! while the collector hangs is dropped and counted exactly. Nothing panics, and the
//! application never waits.

use crate::support;

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use serde_json::Value;
use support::Peer;
use traced::report::CollectorSink;
use traced::{Config, Sampler, traced};

#[traced]
fn work(i: u32) -> u32 {
    i
}

fn span_count(out: &Value, name: &str) -> usize {
    assert_eq!(out["errors"], serde_json::json!([]), "decoding errors");
    out["batches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["spans"].as_array().unwrap())
        .filter(|s| s["operationName"] == name)
        .count()
}

/// A port nothing listens on (just released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config() -> Config {
    Config::new("faults").sampler(Sampler::always())
}

#[test]
fn a_process_returning_from_main_delivers_every_span() {
    let receiver = Peer::start("jaeger_receiver.py", &["udp", "compact", "10000", "60"]);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_shutdown_child"))
        .arg(format!("127.0.0.1:{}", receiver.port))
        .status()
        .expect("runs the child");
    assert!(status.success());
    let out: Value = serde_json::from_str(&receiver.finish()).unwrap();
    assert_eq!(span_count(&out, "work"), 10_000);
}

#[test]
fn a_collector_answering_500_then_hanging_past_the_timeout_is_retried() {
    let _exclusive = traced::testing::exclusive();
    // Two failures: a 500 after hanging 2 s (the client gives up at 300 ms), then a plain 500.
    let receiver = Peer::start("jaeger_receiver.py", &["http", "3", "30", "2", "2"]);
    let sink = CollectorSink::new(&format!("http://127.0.0.1:{}/api/traces", receiver.port))
        .unwrap()
        .timeout(Duration::from_millis(300))
        .retries(4, Duration::from_millis(50));
    let guard = traced::init(config().sink(sink)).unwrap();
    for i in 0..3 {
        work(i);
    }
    assert!(guard.flush());
    let metrics = guard.metrics();
    assert_eq!(
        (metrics.spans_reported, metrics.spans_failed),
        (3, 0),
        "{metrics:?}"
    );
    drop(guard);
    let out: Value = serde_json::from_str(&receiver.finish()).unwrap();
    assert_eq!(span_count(&out, "work"), 3);
    assert!(
        out["headers"].as_array().unwrap().len() >= 3,
        "two failures, then success"
    );
}

#[test]
fn a_collector_that_is_down_fails_counted_and_gets_the_spans_made_once_it_is_back() {
    let _exclusive = traced::testing::exclusive();
    let port = free_port();
    let sink = CollectorSink::new(&format!("http://127.0.0.1:{port}/api/traces"))
        .unwrap()
        .timeout(Duration::from_millis(500))
        .retries(1, Duration::from_millis(20));
    let guard = traced::init(config().sink(sink)).unwrap();
    work(1);
    assert!(guard.flush());
    let down = guard.metrics();
    assert_eq!((down.spans_reported, down.spans_failed), (0, 1), "{down:?}");
    let error = down.last_error.expect("the failure is kept");
    assert!(
        error.contains(&format!("127.0.0.1:{port}")) && error.contains("2 attempts"),
        "{error}"
    );

    let port_text = port.to_string();
    let receiver = Peer::start_with_env(
        "jaeger_receiver.py",
        &["http", "1", "30"],
        &[("RECEIVER_PORT", &port_text)],
    );
    work(2);
    assert!(guard.flush());
    let up = guard.metrics();
    assert_eq!((up.spans_reported, up.spans_failed), (1, 1), "{up:?}");
    drop(guard);
    let out: Value = serde_json::from_str(&receiver.finish()).unwrap();
    assert_eq!(span_count(&out, "work"), 1);
}

#[test]
fn an_agent_restarted_mid_run_gets_the_spans_made_after_it_is_back() {
    let _exclusive = traced::testing::exclusive();
    let first = Peer::start("jaeger_receiver.py", &["udp", "compact", "100", "30"]);
    let port = first.port;
    let guard = traced::init(config().agent(format!("127.0.0.1:{port}"))).unwrap();
    for i in 0..100 {
        work(i);
    }
    assert!(guard.flush());
    let out: Value = serde_json::from_str(&first.finish()).unwrap();
    assert_eq!(span_count(&out, "work"), 100);

    // Down: spans sent now are lost (UDP cannot tell, or the kernel reports the refusal).
    for i in 0..100 {
        work(i);
    }
    assert!(guard.flush());

    let port_text = port.to_string();
    let second = Peer::start_with_env(
        "jaeger_receiver.py",
        &["udp", "compact", "100", "30"],
        &[("RECEIVER_PORT", &port_text)],
    );
    for i in 0..100 {
        work(i);
    }
    assert!(guard.flush());
    let metrics = guard.metrics();
    drop(guard);
    let out: Value = serde_json::from_str(&second.finish()).unwrap();
    assert_eq!(span_count(&out, "work"), 100, "delivery resumed");
    assert_eq!(metrics.spans_finished, 300);
    assert_eq!(
        metrics.spans_reported + metrics.spans_failed + metrics.spans_dropped,
        300,
        "{metrics:?}"
    );
}

#[test]
fn a_burst_past_the_queue_while_the_collector_hangs_is_dropped_and_counted_exactly() {
    let _exclusive = traced::testing::exclusive();
    // A collector that accepts connections and never answers, until the test ends.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    let mut buf = [0; 4096];
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_millis(50)))
                        .unwrap();
                    let _ = stream.read(&mut buf);
                    held.push(stream);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            if held.len() >= 3 {
                break;
            }
        }
    });
    let sink = CollectorSink::new(&format!("http://127.0.0.1:{port}/api/traces"))
        .unwrap()
        .timeout(Duration::from_secs(1))
        .retries(0, Duration::ZERO);
    let queue = 128;
    let guard = traced::init(
        config()
            .sink(sink)
            .queue_size(queue)
            .flush_interval(Duration::from_millis(10)),
    )
    .unwrap();
    // The first span takes the reporter into the hanging request.
    work(0);
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..(10 * queue as u32) {
        work(i);
    }
    let burst = guard.metrics();
    assert!(burst.spans_dropped >= (9 * queue) as u64, "{burst:?}");
    assert!(guard.flush());
    let settled = guard.metrics();
    drop(guard);
    hold.join().unwrap();
    let made = 1 + 10 * queue as u64;
    assert_eq!(settled.spans_started, made);
    assert_eq!(settled.spans_finished, made);
    assert_eq!(
        settled.spans_reported + settled.spans_failed + settled.spans_dropped,
        made,
        "{settled:?}"
    );
}

#[test]
fn an_unresolvable_agent_is_an_error_at_init_and_an_unresolvable_collector_is_retried() {
    let _exclusive = traced::testing::exclusive();
    let error = traced::init(config().agent("no-such-host.invalid:6831"))
        .expect_err("the agent's host does not resolve")
        .to_string();
    assert!(
        error.starts_with("cannot report to the Jaeger agent at \"no-such-host.invalid:6831\""),
        "{error}"
    );

    let sink = CollectorSink::new("http://no-such-host.invalid:14268/api/traces")
        .unwrap()
        .retries(1, Duration::from_millis(10));
    let guard = traced::init(config().sink(sink)).expect("starts, and keeps trying");
    work(1);
    assert!(guard.flush());
    let metrics = guard.metrics();
    assert_eq!(metrics.spans_failed, 1, "{metrics:?}");
    assert!(
        metrics
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("no-such-host.invalid")),
        "{metrics:?}"
    );
}
