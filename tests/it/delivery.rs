//! Delivery to Jaeger, checked with a decoder no one here wrote (Apache `thrift` and the thrift
//! classes shipped in Uber's `jaeger-client`, run as a receiver by `tests/interop/`): every
//! field of a span round-trips over the agent's UDP protocols (compact and binary) and the
//! collector's HTTP one; datagrams stay within the packet limit; a span too large for one is
//! shortened, not lost; the collector's authentication, content type and retries.

use crate::support;

use std::time::Duration;

use serde_json::Value;
use support::Peer;
use traced::report::{Auth, Protocol};
use traced::{Config, Context, Sampler, SpanId, TraceId, traced};

const TRACE_HIGH: u64 = 0x8bf9_2f35_77b3_4da6;
const TRACE_LOW: u64 = 0xa3ce_929d_0e0e_4736;
const REMOTE_PARENT: u64 = 0x00f0_67aa_0ba9_02b7;

#[traced(kind = server, tags(
    text = "gallery",
    flag = true,
    count = -42,
    ratio = 0.25,
    long_text = "x".repeat(300),
))]
fn handle(cx: &Context) -> Result<(), std::io::Error> {
    let _ = cx;
    traced::log_fields([("event", "cache miss"), ("key", "images/7")]);
    background();
    Err(std::io::Error::other("disk on fire"))
}

#[traced(follows_from)]
fn background() {}

fn remote_parent() -> Context {
    Context::remote(
        TraceId::new(TRACE_HIGH, TRACE_LOW),
        SpanId::new(REMOTE_PARENT),
        true,
    )
    .expect("valid ids")
    // Sampled and debug: both flag bits travel.
    .with_flags(3)
}

/// Thrift ids are signed; the bits are the same.
fn signed(id: u64) -> i64 {
    i64::from_ne_bytes(id.to_ne_bytes())
}

fn spans(out: &Value) -> Vec<&Value> {
    assert_eq!(out["errors"], serde_json::json!([]), "decoding errors");
    out["batches"]
        .as_array()
        .expect("batches")
        .iter()
        .flat_map(|b| b["spans"].as_array().expect("spans"))
        .collect()
}

fn named<'a>(spans: &[&'a Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["operationName"] == name)
        .unwrap_or_else(|| panic!("a span {name:?}"))
}

fn tag<'a>(span: &'a Value, key: &str) -> &'a Value {
    span["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("a tag {key:?} in {span}"))
}

/// Every field of the two spans `handle` makes, as the receiver decoded them.
fn check_round_trip(out: &Value) {
    let batch = &out["batches"][0];
    assert_eq!(batch["process"]["serviceName"], "delivery-test");
    let process_tags = batch["process"]["tags"].as_array().unwrap();
    assert!(
        process_tags
            .iter()
            .any(|t| t["key"] == "region" && t["str"] == "eu-west-1")
    );
    assert!(
        process_tags.iter().any(|t| t["key"] == "jaeger.version"
            && t["str"].as_str().unwrap().starts_with("Rust-traced-"))
    );
    assert!(process_tags.iter().any(|t| t["key"] == "hostname"));

    let spans = spans(out);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let handle = named(&spans, "handle");
    let background = named(&spans, "background");
    assert_eq!(handle["traceIdHigh"], signed(TRACE_HIGH));
    assert_eq!(handle["traceIdLow"], signed(TRACE_LOW));
    assert_eq!(handle["parentSpanId"], signed(REMOTE_PARENT));
    assert_eq!(handle["flags"], 3);
    assert_eq!(background["flags"], 3);
    assert_eq!(handle["references"], serde_json::json!([]));
    assert!(
        handle["startTime"].as_i64().unwrap() > 1_600_000_000_000_000,
        "microseconds"
    );
    assert!(handle["duration"].as_i64().unwrap() >= 0);

    assert_eq!(tag(handle, "text")["type"], "STRING");
    assert_eq!(tag(handle, "text")["str"], "gallery");
    assert_eq!(tag(handle, "flag")["type"], "BOOL");
    assert_eq!(tag(handle, "flag")["bool"], true);
    assert_eq!(tag(handle, "count")["type"], "LONG");
    assert_eq!(tag(handle, "count")["long"], -42);
    assert_eq!(tag(handle, "ratio")["type"], "DOUBLE");
    assert_eq!(tag(handle, "ratio")["double"], 0.25);
    assert_eq!(tag(handle, "span.kind")["str"], "server");
    assert_eq!(tag(handle, "error")["bool"], true);
    assert_eq!(
        tag(handle, "long_text")["str"].as_str().unwrap().len(),
        256,
        "cut to the default max tag value length"
    );

    let logs = handle["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 2);
    assert!(logs[0]["timestamp"].as_i64().unwrap() >= handle["startTime"].as_i64().unwrap());
    assert_eq!(logs[0]["fields"][0]["key"], "event");
    assert_eq!(logs[0]["fields"][0]["str"], "cache miss");
    assert_eq!(logs[0]["fields"][1]["str"], "images/7");
    let error = &logs[1]["fields"];
    assert_eq!(error[0]["str"], "error");
    assert_eq!(error[2]["key"], "message");
    assert_eq!(error[2]["str"], "disk on fire");

    assert_eq!(background["parentSpanId"], handle["spanId"]);
    assert_eq!(background["traceIdHigh"], signed(TRACE_HIGH));
    let reference = &background["references"][0];
    assert_eq!(reference["refType"], "FOLLOWS_FROM");
    assert_eq!(reference["spanId"], handle["spanId"]);
    assert_eq!(reference["traceIdLow"], signed(TRACE_LOW));
    assert_eq!(reference["traceIdHigh"], signed(TRACE_HIGH));
}

fn config() -> Config {
    Config::new("delivery-test")
        .sampler(Sampler::never())
        .tag("region", "eu-west-1")
}

#[test]
fn every_field_round_trips_over_udp_compact_and_binary() {
    let _exclusive = traced::testing::exclusive();
    for (name, protocol) in [("compact", Protocol::Compact), ("binary", Protocol::Binary)] {
        let receiver = Peer::start("jaeger_receiver.py", &["udp", name, "2", "30"]);
        let guard =
            traced::init(config().agent_with(format!("127.0.0.1:{}", receiver.port), protocol))
                .unwrap();
        let _ = handle(&remote_parent());
        drop(guard);
        let out: Value = serde_json::from_str(&receiver.finish()).unwrap();
        check_round_trip(&out);
    }
}

#[test]
fn every_field_round_trips_over_http_with_auth_and_a_retry() {
    let _exclusive = traced::testing::exclusive();
    // The first request is answered 500: the batch is sent again.
    let receiver = Peer::start("jaeger_receiver.py", &["http", "2", "30", "1"]);
    let guard = traced::init(config().collector(
        format!("http://127.0.0.1:{}/api/traces", receiver.port),
        Auth::Basic {
            user: "ann".into(),
            password: "secret".into(),
        },
    ))
    .unwrap();
    let _ = handle(&remote_parent());
    assert!(guard.flush());
    let metrics = guard.metrics();
    assert_eq!(metrics.spans_reported, 2, "{metrics:?}");
    assert_eq!(metrics.spans_failed, 0);
    drop(guard);
    let out: Value = serde_json::from_str(&receiver.finish()).unwrap();
    check_round_trip(&out);
    let headers = out["headers"].as_array().unwrap();
    assert_eq!(headers.len(), 2, "one 500, one retry");
    for h in headers {
        assert_eq!(h["content-type"], "application/x-thrift");
        assert_eq!(h["authorization"], "Basic YW5uOnNlY3JldA==");
    }
}

#[traced]
fn big(i: u32) -> u32 {
    traced::tag("payload", format!("{i:0>250}"));
    i
}

#[traced]
fn huge() {
    for i in 0..2000 {
        traced::log(format!("line {i} {}", "y".repeat(100)));
    }
}

#[test]
fn ten_thousand_large_spans_arrive_in_datagrams_within_the_limit_and_a_huge_one_is_shortened() {
    let _exclusive = traced::testing::exclusive();
    let limit = 8192;
    let receiver = Peer::start("jaeger_receiver.py", &["udp", "compact", "10001", "120"]);
    let guard = traced::init(
        Config::new("packets")
            .sampler(Sampler::always())
            .agent(format!("127.0.0.1:{}", receiver.port))
            .max_packet_size(limit)
            .queue_size(16_384),
    )
    .unwrap();
    for i in 0..10_000 {
        big(i);
        if i % 1000 == 999 {
            // Paced like a service rather than a loop: the receiver is one Python thread.
            assert!(guard.flush());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    huge();
    assert!(guard.flush());
    let metrics = guard.metrics();
    drop(guard);
    assert_eq!(metrics.spans_dropped, 0, "{metrics:?}");
    let out: Value = serde_json::from_str(&receiver.finish()).unwrap();
    let sizes: Vec<u64> = out["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert!(sizes.iter().all(|&s| s <= limit as u64), "{sizes:?}");
    assert_eq!(metrics.batches_sent, sizes.len() as u64);
    let spans = spans(&out);
    assert_eq!(
        spans.iter().filter(|s| s["operationName"] == "big").count(),
        10_000
    );
    let mut ids: Vec<i64> = spans
        .iter()
        .map(|s| s["spanId"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10_001, "every span once");
    let huge = named(&spans, "huge");
    let note = tag(huge, "traced.truncated")["str"].as_str().unwrap();
    assert!(note.contains("of 2000 logs"), "{note}");
    assert!(huge["logs"].as_array().unwrap().len() < 2000);
}
